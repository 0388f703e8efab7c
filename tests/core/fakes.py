"""Fakes for the slow or remote edges of the service (seed 000's test plan).

FakeMusic writes real WAV files (a sine per clip); FakeEmbedder maps a clip's
pitch to a chosen vector, so tests decide exactly how clips relate.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from core.audio import read_audio, write_wav_atomic
from core.providers.base import (
    STAGE_GENERATING,
    GeneratedClip,
    GenerationRequest,
    NamingContext,
    check_cancel,
    clip_seed,
)
from core.providers.capabilities import Capabilities

RATE = 8_000


def dominant_frequency(path: Path) -> int:
    samples, rate = read_audio(path)
    spectrum = np.abs(np.fft.rfft(samples))
    return int(round(np.argmax(spectrum) * rate / len(samples)))


class FakeMusic:
    """Clip i of a call has pitch ``pitches[(offset + i) % len]`` (offset counts earlier clips)."""

    name = "fake"
    model = None
    capabilities = Capabilities(longest_sec=600.0, sample_rate=RATE, channels=1)

    def __init__(self, pitches: Sequence[int] = (200, 400, 800), *, produce: int | None = None) -> None:
        self.pitches = list(pitches)
        self.produce = produce  # clips actually produced per call (None: as asked)
        self.calls: list[dict] = []
        self.made = 0
        self.before_clip: Callable[[int], None] | None = None

    def generate_batch(self, prompt, num_clips, duration_sec, request: GenerationRequest | None = None):
        request = request or GenerationRequest()
        out_dir = request.out_dir or Path(tempfile.mkdtemp())
        self.calls.append(
            {
                "prompt": prompt,
                "num_clips": num_clips,
                "references": list(request.references),
                "seed": request.seed,
            }
        )
        count = num_clips if self.produce is None else min(self.produce, num_clips)
        clips = []
        for i in range(count):
            check_cancel(request.cancel)
            if self.before_clip is not None:
                self.before_clip(i)
            pitch = self.pitches[self.made % len(self.pitches)]
            self.made += 1
            t = np.arange(int(duration_sec * RATE)) / RATE
            path = write_wav_atomic(out_dir / f"clip-{i}.wav", 0.3 * np.sin(2 * np.pi * pitch * t), RATE)
            clip = GeneratedClip(
                path, duration_sec, prompt, seed=clip_seed(request.seed, i), recipe={"pitch": pitch}
            )
            clips.append(clip)
            if request.progress:
                request.progress(STAGE_GENERATING, i + 1, num_clips)
            if request.on_clip:
                request.on_clip(i, clip)
        return clips


class FakeEmbedder:
    name = "fake-embedder"

    def __init__(self, vectors: dict[int, Sequence[float]], space: str = "fake-v1") -> None:
        self.vectors = {k: np.asarray(v, dtype=np.float32) for k, v in vectors.items()}
        self.space = space
        self.embedded: list[Path] = []

    def embed_audio(self, audio_path: Path) -> np.ndarray:
        self.embedded.append(Path(audio_path))
        return self.vectors[dominant_frequency(audio_path)]

    def embed_text(self, text: str) -> np.ndarray:
        return np.zeros_like(next(iter(self.vectors.values())))


class FakeNamer:
    name = "fake-namer"

    def __init__(self, labels: Sequence[str] = ("Alpha Idea", "Beta Idea", "Gamma Idea")) -> None:
        self.labels = list(labels)
        self.calls = 0

    def name_cluster(self, prompts: list[str], context: NamingContext | None = None) -> str:
        label = self.labels[self.calls % len(self.labels)]
        self.calls += 1
        return label


class FlakyNamer(FakeNamer):
    """Raises on its first call, then behaves."""

    def name_cluster(self, prompts, context=None):
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("the model server went away")
        return self.labels[(self.calls - 2) % len(self.labels)]


class JunkNamer(FakeNamer):
    def name_cluster(self, prompts, context=None):
        self.calls += 1
        return "\x1b[31m!!! ???\x1b[0m"


class FixedNamer(FakeNamer):
    """A fallback namer that says which call it served."""

    name = "fixed"

    def name_cluster(self, prompts, context=None):
        self.calls += 1
        return f"Fallback {self.calls}"
