"""Small signal tools: resampling, fades, a moving average, a crossfade.

``resample`` uses scipy's polyphase resampler, imported only when a rate
actually has to change.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from core import heavy_imports


def resample(samples: np.ndarray, rate_from: int, rate_to: int) -> np.ndarray:
    """Band-limited polyphase resampling (scipy.signal.resample_poly)."""
    if rate_from == rate_to:
        return np.asarray(samples, dtype=np.float32)
    resample_poly = heavy_imports.module("scipy.signal").resample_poly

    ratio = Fraction(rate_to, rate_from).limit_denominator(1000)
    out = resample_poly(np.asarray(samples, dtype=np.float64), ratio.numerator, ratio.denominator, axis=0)
    return out.astype(np.float32)


def fade_edges(samples: np.ndarray, rate: int, fade_sec: float = 0.01) -> np.ndarray:
    """Short raised-cosine fade in and out, so a clip starts and ends without a click."""
    n = min(int(rate * fade_sec), samples.shape[0] // 2)
    if n <= 0:
        return samples
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))).astype(samples.dtype)
    out = samples.copy()
    out[:n] *= ramp
    out[-n:] *= ramp[::-1]
    return out


def moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average over ``width`` samples (a box filter), same length as ``x``.

    The running sum is float32: audio is near zero-mean, so its error stays
    around -110 dB, and it is twice as fast as float64. The first ``width``
    outputs are partial sums, as the filter fills.
    """
    if width <= 1 or x.shape[0] < width:
        return x
    cumulative = np.cumsum(x, dtype=np.float32)
    out = np.empty_like(cumulative)
    out[:width] = cumulative[:width]
    np.subtract(cumulative[width:], cumulative[:-width], out=out[width:])
    out *= np.float32(1.0 / width)
    return out


def equal_power_crossfade(a: np.ndarray, b: np.ndarray, overlap: int) -> np.ndarray:
    """Join ``a`` and ``b`` overlapping by ``overlap`` samples with an equal-power fade."""
    overlap = max(0, min(overlap, a.shape[0], b.shape[0]))
    if overlap == 0:
        return np.concatenate([a, b])
    t = np.linspace(0.0, np.pi / 2, overlap)
    mixed = a[-overlap:] * np.cos(t) + b[:overlap] * np.sin(t)
    return np.concatenate([a[:-overlap], mixed.astype(a.dtype), b[overlap:]])
