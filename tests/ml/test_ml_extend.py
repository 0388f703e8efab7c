"""Extending a clip with MusicGen (windowed continuation) on a tiny random model."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from core.audio import write_wav_atomic
from core.errors import CancelledError
from core.providers.base import STAGE_GENERATING, ExtendRequest, GenerationRequest, ReferenceClip
from core.settings import Settings
from core.windowed import window_count
from tests.ml.conftest import needs_torch
from tests.ml.tiny_models import MUSICGEN_RATE
from tests.seams import assert_seamless

pytestmark = [pytest.mark.ml, needs_torch]

PROMPT = "lofi warm beat with soft drums | energy=0.50 | density=0.50 | duration=2.0s"


def make(settings: Settings, model: Path) -> Any:
    from core.providers import musicgen

    return musicgen.create(settings, model=str(model))


def source_clip(provider: Any, tmp_path: Path, seconds: float = 2.0) -> Path:
    (clip,) = provider.generate_batch(PROMPT, 1, seconds, GenerationRequest(seed=3, out_dir=tmp_path / "src"))
    return clip.audio_path


def request(source: Path, to_sec: float, out: Path, **changes: Any) -> ExtendRequest:
    values: dict[str, Any] = {
        "source": ReferenceClip(source),
        "to_sec": to_sec,
        "prompt": PROMPT,
        "seed": 7,
        "out_dir": out,
        "stride_sec": 1.0,
        "overlap_sec": 0.4,
    }
    values.update(changes)
    return ExtendRequest(**values)


def test_windowed_continuation_has_the_exact_length_counts_windows_and_is_seamless(
    settings: Settings, tiny_musicgen: Path, tmp_path: Path
) -> None:
    provider = make(settings, tiny_musicgen)
    source = source_clip(provider, tmp_path)
    calls: list[tuple[str, int, int]] = []
    clip = provider.extend_clip(request(source, 5.3, tmp_path / "out", progress=lambda *a: calls.append(a)))
    samples, rate = sf.read(str(clip.audio_path), dtype="float32")
    assert rate == MUSICGEN_RATE and samples.shape == (round(5.3 * MUSICGEN_RATE),)
    windows = window_count(2 * MUSICGEN_RATE, round(5.3 * MUSICGEN_RATE), MUSICGEN_RATE)
    assert windows == 4
    assert [c for c in calls if c[0] == STAGE_GENERATING] == [(STAGE_GENERATING, i, 4) for i in range(5)]
    # The source is kept as it was up to the first seam.
    original, _ = sf.read(str(source), dtype="float32")
    np.testing.assert_allclose(samples[: round(1.6 * rate)], original[: round(1.6 * rate)], atol=1e-4)
    assert clip.recipe["window_sec"] > 0 and clip.recipe["overlap_sec"] == pytest.approx(0.4)
    # Same seed, same clip.
    again = provider.extend_clip(request(source, 5.3, tmp_path / "again"))
    np.testing.assert_array_equal(sf.read(str(again.audio_path), dtype="float32")[0], samples)
    seams = [(end - 0.4, end) for end in (2.0, 3.0, 4.0, 5.0)]
    assert_seamless(samples, rate, seams)


def test_stereo_model_extends_in_stereo(
    settings: Settings, tiny_musicgen_stereo: Path, tmp_path: Path
) -> None:
    provider = make(settings, tiny_musicgen_stereo)
    source = source_clip(provider, tmp_path, 1.0)
    clip = provider.extend_clip(request(source, 2.5, tmp_path / "out"))
    info = sf.info(str(clip.audio_path))
    assert info.channels == 2 and info.frames == round(2.5 * MUSICGEN_RATE)


def test_an_imported_clip_at_another_rate_is_continued_at_the_model_rate(
    settings: Settings, tiny_musicgen: Path, tmp_path: Path
) -> None:
    provider = make(settings, tiny_musicgen)
    t = np.arange(2 * 44_100) / 44_100
    stereo = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], axis=1) * 0.3
    source = write_wav_atomic(tmp_path / "mine.wav", stereo.astype(np.float32), 44_100)
    clip = provider.extend_clip(request(source, 3.0, tmp_path / "out"))
    info = sf.info(str(clip.audio_path))
    assert info.samplerate == MUSICGEN_RATE and info.channels == 1 and info.frames == 3 * MUSICGEN_RATE


def test_cancel_mid_way_leaves_no_file(settings: Settings, tiny_musicgen: Path, tmp_path: Path) -> None:
    provider = make(settings, tiny_musicgen)
    source = source_clip(provider, tmp_path)
    cancel = threading.Event()

    def progress(stage: str, done: int, total: int) -> None:
        if stage == STAGE_GENERATING and done == 1:
            cancel.set()

    out = tmp_path / "out"
    with pytest.raises(CancelledError):
        provider.extend_clip(request(source, 6.0, out, progress=progress, cancel=cancel))
    assert not out.exists() or list(out.iterdir()) == []
