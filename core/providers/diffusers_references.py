"""The reference clips a diffusers engine varies (core.providers._diffusers.prepare_batch,
core.providers.diffusers_extend).

- ``reference_audio``: a reference clip read, resampled with soxr on the CPU,
  mixed to the model's channels and cut or padded to a length. Not
  ``torchaudio.functional.resample`` on the model's device, as diffusers'
  examples do: no torchaudio runs beside torch 2.13 (checked 2026-11-30: PyPI
  has no 2.12 or 2.13; its 2.11.1 wheel is built against CUDA torch and fails
  to load ``libc10_cuda.so`` beside the CPU torch).
- ``blended_references``: a blend's references (``GenerationRequest.blend_with``
  given to an engine with audio-to-audio): one clip of each parent, read as
  ``reference_audio``, loudness-matched and summed (``core.audio.mix_matched``);
  the engine varies that mix.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.audio import mix_matched, read_audio
from core.errors import AudioFileError
from core.providers.base import ReferenceClip

# The name these lines were logged under before this module was split from _diffusers.
log = logging.getLogger("core.providers._diffusers")


def reference_audio(reference: ReferenceClip, rate: int, channels: int, length: int) -> np.ndarray:
    """A reference as float32 (channels, length) at ``rate``: resampled with soxr, mixed, cut or padded.

    Raises AudioFileError when the file cannot be read.
    """
    import soxr

    samples, source_rate = read_audio(reference.audio_path, mono=False)
    frames = samples[:, None] if samples.ndim == 1 else samples  # (frames, channels)
    if source_rate != rate:
        frames = soxr.resample(np.ascontiguousarray(frames, dtype=np.float32), source_rate, rate)
        frames = frames[:, None] if frames.ndim == 1 else frames
    if frames.shape[1] != channels:
        mono = frames.mean(axis=1, keepdims=True)
        frames = np.repeat(mono, channels, axis=1)
    frames = frames[:length]
    if frames.shape[0] < length:
        frames = np.pad(frames, ((0, length - frames.shape[0]), (0, 0)))
    return np.ascontiguousarray(frames.T, dtype=np.float32)


def readable_references(
    references: Sequence[ReferenceClip], rate: int, channels: int, length: int
) -> list[tuple[ReferenceClip, np.ndarray]]:
    """Each reference that can be read, as ``reference_audio``; the others are skipped with a log line."""
    found = []
    for reference in references:
        try:
            found.append((reference, reference_audio(reference, rate, channels, length)))
        except AudioFileError as exc:
            log.warning("skipping reference %s: %s", reference.audio_path, exc)
    if references and not found:
        log.warning("no reference clip could be read; generating from the prompt alone")
    return found


@dataclass(frozen=True)
class BlendReference(ReferenceClip):
    """A clip of the first parent of a blend, mixed with ``blend_with``, a clip of the second."""

    blend_with: Path | None = None


def blended_references(
    references: Sequence[ReferenceClip],
    blend_with: Sequence[ReferenceClip],
    rate: int,
    channels: int,
    length: int,
) -> list[tuple[ReferenceClip, np.ndarray]]:
    """A blend's references: pair i is ``references[i % a]`` with ``blend_with[i % b]`` (of the
    readable ones; max(a, b) pairs), each pair loudness-matched and mixed at ``rate``, as
    (channels, length) float32. If one side has nothing readable, the other side's clips alone."""
    firsts = readable_references(references, rate, channels, length)
    seconds = readable_references(blend_with, rate, channels, length)
    if not firsts or not seconds:
        log.warning("a blend with one side unreadable: varying the other side's clips alone")
        return firsts or seconds
    mixed: list[tuple[ReferenceClip, np.ndarray]] = []
    for i in range(max(len(firsts), len(seconds))):
        (first, a), (second, b) = firsts[i % len(firsts)], seconds[i % len(seconds)]
        audio = mix_matched([a.T, b.T], rate).T
        pair = BlendReference(first.audio_path, first.seed, first.recipe, blend_with=second.audio_path)
        mixed.append((pair, np.ascontiguousarray(audio, dtype=np.float32)))
    return mixed
