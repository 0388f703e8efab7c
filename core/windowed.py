"""Windowed continuation (seed 004): a clip made longer one engine call at a time.

Each window gives the engine the end of what is made so far (its context) and
asks for ``stride`` new samples after it; the engine returns audio that ENDS
with those new samples and starts with its own take on (the end of) the
context. The two takes of the last ``overlap`` samples of the context are
joined with an equal-power crossfade in the waveform domain (``join``: constant
power, whatever the two takes' correlation), and the new samples follow: so each
seam sits where both sides are the engine's music, never at a hard cut.

Audio here is ``(channels, samples)`` float32, as the engines give it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np

from core.audio import equal_power_crossfade
from core.providers.base import STAGE_GENERATING, ProgressFn, check_cancel

# (context (channels, m), new samples wanted, window index) -> (channels, m' + new), m' <= m:
# the engine's take on the last m' samples of the context, then the new samples.
ContinueFn = Callable[[np.ndarray, int, int], np.ndarray]


def window_count(have: int, target: int, stride: int) -> int:
    """How many windows take a clip of ``have`` samples to ``target`` samples, ``stride`` at a time."""
    if target <= have:
        return 0
    return math.ceil((target - have) / max(1, stride))


def join(head: np.ndarray, tail: np.ndarray, overlap: int) -> np.ndarray:
    """``head`` then ``tail``, their ``overlap`` common samples crossfaded at constant power, per channel.

    Where the two takes are unrelated (correlation 0, the usual case) this is the
    equal-power crossfade (``core.audio.equal_power_crossfade``: cos and sin
    gains). Where the engine re-made the context faithfully its take is
    correlated with the clip, and cos + sin gains would swell by up to 3 dB
    mid-seam; so the fade-out gain is solved from the measured correlation
    ``rho`` for constant power, ``a^2 + b^2 + 2 rho a b = 1`` with ``b = sin``,
    which is cos at ``rho = 0`` and the linear (equal-gain) fade at ``rho = 1``.
    """
    if head.shape[0] != tail.shape[0]:
        raise ValueError(f"Cannot join {head.shape[0]} channel(s) to {tail.shape[0]}.")
    overlap = max(0, min(overlap, head.shape[1], tail.shape[1]))
    if overlap == 0:
        return np.concatenate([head, tail], axis=1).astype(np.float32, copy=False)
    a_part = head[:, -overlap:].astype(np.float64)
    b_part = tail[:, :overlap].astype(np.float64)
    rho = correlation(a_part, b_part)
    if rho <= 1e-3:
        return np.stack(
            [equal_power_crossfade(h, t, overlap).astype(np.float32) for h, t in zip(head, tail, strict=True)]
        )
    fade_in = np.sin(np.linspace(0.0, np.pi / 2, overlap))
    fade_out = -rho * fade_in + np.sqrt(np.maximum(0.0, 1.0 - fade_in**2 * (1.0 - rho**2)))
    mixed = a_part * fade_out + b_part * fade_in
    return np.concatenate([head[:, :-overlap], mixed.astype(np.float32), tail[:, overlap:]], axis=1).astype(
        np.float32, copy=False
    )


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """The normalised correlation of two equally long takes, clipped to [0, 1] (0 for silence)."""
    energy = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    if energy <= 1e-12:
        return 0.0
    return float(min(1.0, max(0.0, np.sum(a * b) / energy)))


def extend_windowed(
    source: np.ndarray,
    target: int,
    *,
    window: int,
    stride: int,
    overlap: int,
    continue_fn: ContinueFn,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """``source`` (channels, n) continued to exactly ``target`` samples.

    ``window`` is the most the engine makes in one call (context and new
    samples together); ``stride`` the new samples per window (at most
    ``window - overlap``); ``overlap`` the samples crossfaded at each seam.
    Progress is ``(STAGE_GENERATING, windows done, windows)``; cancel is
    checked before each window.
    """
    audio = np.asarray(source, dtype=np.float32)
    if audio.ndim != 2 or audio.shape[1] == 0:
        raise ValueError("The source must be (channels, samples) with at least one sample.")
    if target <= audio.shape[1]:
        return audio[:, :target].copy()
    overlap = max(0, overlap)
    stride = max(1, min(stride, window - overlap))
    if stride < 1 or window <= overlap:
        raise ValueError(f"A window of {window} samples cannot hold an overlap of {overlap}.")
    total = window_count(audio.shape[1], target, stride)
    if progress is not None:
        progress(STAGE_GENERATING, 0, total)
    for index in range(total):
        check_cancel(cancel)
        new = min(stride, target - audio.shape[1])
        context = min(window - new, audio.shape[1])
        out = np.asarray(continue_fn(audio[:, -context:], new, index), dtype=np.float32)
        if out.ndim == 1:
            out = out[None, :]
        if out.shape[0] != audio.shape[0]:  # an engine of other channels: match the clip's
            out = np.repeat(out.mean(axis=0, keepdims=True), audio.shape[0], axis=0)
        if out.shape[1] < new:  # never expected; keep the promised length
            out = np.pad(out, ((0, 0), (0, new - out.shape[1])))
        retaken = out.shape[1] - new  # the engine's take on the end of the context
        seam = min(overlap, retaken, audio.shape[1])
        audio = join(audio, out[:, retaken - seam :], seam)
        if progress is not None:
            progress(STAGE_GENERATING, index + 1, total)
    check_cancel(cancel)
    return audio[:, :target]
