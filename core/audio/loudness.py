"""Loudness, true peak and a true-peak limiter (ITU-R BS.1770-4, EBU R 128 / Tech 3342).

- ``integrated_lufs``: K-weighting (the standard's two biquads, with
  coefficients derived for any rate as pyloudnorm does), 400 ms blocks with
  75 % overlap, absolute (-70 LUFS) and relative (-10 LU) gates. The filter runs
  in scipy.signal's ``sosfilt`` (imported on the first measurement, ~1 s cold;
  then ~5 ms for a 10 s clip): an order of magnitude faster than filtering in
  the frequency domain, which export needs several times per file.
- ``true_peak_dbtp``: the peak of the signal oversampled 4x by soxr (a
  band-limited resampler, so the peaks between samples show up).
- ``normalize``: gain to the target first; a look-ahead true-peak limiter only
  where that gain would push the true peak over the ceiling. The limiter's gain
  is a running minimum of the gain each sample needs, smoothed by a box average
  as wide as the minimum's window (so the smoothed gain never exceeds what any
  sample needs): two such stages, a short one (the attack) and a longer one (the
  release), all in numpy, on 0.5 ms blocks, then interpolated to the samples.
  The clip is oversampled once for its block peaks (a gain scales them exactly);
  gain, limit and measure repeat a few times when the limiting costs loudness,
  until the target holds within 0.2 LU; the result's true peak is measured on
  its own 4x oversampled signal, and the aim lowered if it passed the ceiling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core import heavy_imports

SILENCE_LUFS = -70.0
OVERSAMPLING = 4  # true peak per BS.1770-4 Annex 2
TRUE_PEAK_CEILING_DBTP = -1.0  # seed 004: limiter to -1.0 dBTP
LOUDNESS_TOLERANCE_LU = 0.2  # what normalize aims for; the promise is 0.5 LU
_ATTACK_SEC = 0.0015  # first stage: reaches the needed gain 1.5 ms before a peak
_RELEASE_SEC = 0.03  # second stage: spreads each gain dip over ~60 ms either side
_MARGIN_DB = 0.05  # aim a hair under the ceiling: the limited signal's peaks move a little


def _k_weighting_sos(rate: int) -> np.ndarray:
    """The BS.1770 K-weighting (high shelf, then RLB high pass) as second-order sections at ``rate``."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = [
        (vh + vb * k / q + k * k) / a0,
        2 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
        1.0,
        2 * (k * k - 1) / a0,
        (1 - k / q + k * k) / a0,
    ]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    high_pass = [1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    return np.array([shelf, high_pass])


def _as_frames(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32)
    return x[:, None] if x.ndim == 1 else x


def _k_weighted(samples: np.ndarray, rate: int, min_sec: float) -> np.ndarray:
    """The K-weighted signal as (frames, channels), zero-padded to ``min_sec`` (silence is gated out)."""
    sosfilt = heavy_imports.module("scipy.signal").sosfilt

    hop = _hop(rate)
    x = _as_frames(samples)
    wanted = max(int(round(min_sec / 0.1)) * hop, x.shape[0])
    if x.shape[0] < wanted:
        x = np.vstack([x, np.zeros((wanted - x.shape[0], x.shape[1]), dtype=x.dtype)])
    return sosfilt(_k_weighting_sos(rate).astype(x.dtype), x, axis=0)


def _hop(rate: int) -> int:
    return max(1, int(round(0.1 * rate)))


def _segment_energy(weighted: np.ndarray, hop: int, gain: np.ndarray | None = None) -> np.ndarray:
    """Energy of each 100 ms segment of a K-weighted signal, summed over channels.

    BS.1770's blocks start every 100 ms, so every window (400 ms momentary, 3 s
    short-term) is a sum of whole segments; a tail shorter than a segment starts
    no block. ``gain`` (per frame, over the unpadded part): the energy of the
    signal so scaled.
    """
    count = weighted.shape[0] // hop
    frames = weighted[: count * hop]
    if gain is not None:
        scale = np.ones(frames.shape[0], dtype=frames.dtype)
        scale[: min(gain.shape[0], frames.shape[0])] = gain[: frames.shape[0]]
        frames = frames * scale[:, None]
    squared = np.square(frames)  # channel weights are 1 (L, R, C)
    return np.add.reduce(squared.reshape(count, hop * frames.shape[1]), axis=1, dtype=np.float64)


def _segments(samples: np.ndarray, rate: int, min_sec: float) -> tuple[np.ndarray, int]:
    """(K-weighted energy of each 100 ms segment; segment length), see ``_segment_energy``."""
    hop = _hop(rate)
    return _segment_energy(_k_weighted(samples, rate, min_sec), hop), hop


def _window_powers(segments: np.ndarray, hop: int, count: int) -> np.ndarray:
    """Mean power of every window of ``count`` consecutive segments."""
    if segments.shape[0] < count:
        return np.zeros(0)
    running = np.concatenate([[0.0], np.cumsum(segments)])
    return (running[count:] - running[:-count]) / (count * hop)


def _lufs(power: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return -0.691 + 10 * np.log10(np.maximum(power, 0.0))


def _gated_integrated(block_power: np.ndarray) -> float:
    loudness = _lufs(block_power)
    gated = block_power[loudness > SILENCE_LUFS]
    if gated.size == 0:
        return SILENCE_LUFS
    relative = float(_lufs(gated.mean())) - 10.0
    gated = block_power[(loudness > SILENCE_LUFS) & (loudness > relative)]
    if gated.size == 0:
        return SILENCE_LUFS
    return float(_lufs(gated.mean()))


def integrated_lufs(samples: np.ndarray, rate: int) -> float:
    """Integrated loudness in LUFS (BS.1770-4), for mono or (frames, channels); ``SILENCE_LUFS`` for silence."""
    segments, hop = _segments(samples, rate, 0.4)
    return _gated_integrated(_window_powers(segments, hop, 4))


integrated_loudness = integrated_lufs  # the name playback and older code use


def true_peak_dbtp(samples: np.ndarray, rate: int) -> float:
    """True peak in dBTP: the largest magnitude of the signal oversampled 4x (soxr); -inf for silence."""
    return _db(_true_peak(samples, rate))


def _db(linear: float) -> float:
    return 20 * math.log10(linear) if linear > 0 else -math.inf


def _oversampled(samples: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    x = np.ascontiguousarray(_as_frames(samples), dtype=np.float32)
    return soxr.resample(x, rate, OVERSAMPLING * rate, quality="HQ")


def _true_peak(samples: np.ndarray, rate: int) -> float:
    if np.size(samples) == 0:
        return 0.0
    up = _oversampled(samples, rate)
    # No |x| temporary of four times the clip. The samples themselves count too: the
    # resampler's low pass may round off a full-band click, which really reaches its sample value.
    return max(float(up.max()), -float(up.min()), float(np.max(samples)), -float(np.min(samples)))


@dataclass(frozen=True)
class LoudnessStats:
    """What a Broadcast WAV's loudness fields carry (EBU Tech 3285 v2), measured on one signal."""

    integrated_lufs: float
    loudness_range_lu: float
    max_momentary_lufs: float
    max_short_term_lufs: float
    true_peak_dbtp: float


def _loudness_parts(samples: np.ndarray, rate: int) -> tuple[float, float, float, float]:
    """(integrated, loudness range, max momentary, max short-term) from one K-weighting pass."""
    return _parts_of_segments(*_segments(samples, rate, 3.0))


def _parts_of_segments(segments: np.ndarray, hop: int) -> tuple[float, float, float, float]:
    momentary = _window_powers(segments, hop, 4)
    short_term = _window_powers(segments, hop, 30)
    short_loudness = _lufs(short_term)
    gated = short_term[short_loudness > SILENCE_LUFS]
    loudness_range = 0.0
    if gated.size:
        relative = float(_lufs(gated.mean())) - 20.0
        kept = short_loudness[(short_loudness > SILENCE_LUFS) & (short_loudness > relative)]
        if kept.size:
            loudness_range = float(np.percentile(kept, 95) - np.percentile(kept, 10))
    return (
        _gated_integrated(momentary),
        loudness_range,
        max(float(_lufs(momentary.max())), SILENCE_LUFS),
        max(float(_lufs(short_term.max())), SILENCE_LUFS),
    )


def loudness_stats(samples: np.ndarray, rate: int, *, true_peak: float | None = None) -> LoudnessStats:
    """Integrated loudness, loudness range (EBU Tech 3342), maximum momentary (400 ms) and
    short-term (3 s) loudness, and true peak.

    ``true_peak`` (dBTP): the caller measured it already on these very samples.
    """
    peak = true_peak_dbtp(samples, rate) if true_peak is None else true_peak
    return LoudnessStats(*_loudness_parts(samples, rate), peak)


def peak_dbfs(samples: np.ndarray) -> float:
    peak = float(np.max(np.abs(samples))) if np.size(samples) else 0.0
    return _db(peak)


def loudness_gain(samples: np.ndarray, rate: int, target_lufs: float, ceiling_dbfs: float = -1.0) -> float:
    """Linear gain that brings ``samples`` to ``target_lufs`` without its peak passing the ceiling."""
    loudness = integrated_lufs(samples, rate)
    if loudness <= SILENCE_LUFS:
        return 1.0
    gain_db = target_lufs - loudness
    headroom_db = ceiling_dbfs - peak_dbfs(samples)
    return float(10 ** (min(gain_db, headroom_db) / 20))


def limit_peak(samples: np.ndarray, ceiling_dbfs: float = -1.0) -> np.ndarray:
    """Scale down so the sample peak sits at or below ``ceiling_dbfs``."""
    ceiling = 10 ** (ceiling_dbfs / 20)
    peak = float(np.max(np.abs(samples))) if np.size(samples) else 0.0
    if peak <= ceiling:
        return samples
    return (samples * (ceiling / peak)).astype(samples.dtype, copy=False)


MIX_LUFS = -20.0  # what each clip of a mix is brought to before they are summed


def mix_matched(
    clips: Sequence[np.ndarray], rate: int, target_lufs: float = MIX_LUFS, ceiling_dbfs: float = -1.0
) -> np.ndarray:
    """Clips of one shape ((frames,) or (frames, channels), at ``rate``) mixed so none drowns
    another: each brought to ``target_lufs`` (a silent one left as it is), summed, and the
    sum scaled down so its sample peak is at most ``ceiling_dbfs``. float32."""
    if not clips:
        raise ValueError("nothing to mix")
    shape = np.shape(clips[0])
    if any(np.shape(clip) != shape for clip in clips):
        raise ValueError("the clips of a mix must have the same length and channels")
    total = np.zeros(shape, dtype=np.float64)
    for clip in clips:
        loudness = integrated_lufs(clip, rate)
        gain = 1.0 if loudness <= SILENCE_LUFS else 10 ** ((target_lufs - loudness) / 20)
        total += gain * np.asarray(clip, dtype=np.float64)
    return limit_peak(total.astype(np.float32), ceiling_dbfs)


# ---------------------------------------------------------------------------
# Normalisation with a true-peak limiter
# ---------------------------------------------------------------------------


def _running_min(x: np.ndarray, radius: int) -> np.ndarray:
    """Minimum over ``x[i - radius .. i + radius]`` (van Herk / Gil-Werman: two scans, any window)."""
    if radius <= 0 or x.shape[0] == 0:
        return x
    width = 2 * radius + 1
    n = x.shape[0]
    blocks = -(-(n + 2 * radius) // width)
    padded = np.full(blocks * width, np.inf, dtype=x.dtype)
    padded[radius : radius + n] = x
    grid = padded.reshape(blocks, width)
    prefix = np.minimum.accumulate(grid, axis=1).ravel()
    suffix = np.minimum.accumulate(grid[:, ::-1], axis=1)[:, ::-1].ravel()
    # Window [i, i + width - 1] of padded = suffix from i within its block, prefix to the window's end.
    return np.minimum(suffix[:n], prefix[width - 1 : width - 1 + n])


def _centred_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over ``x[i - radius .. i + radius]``, the edges extended with their own values."""
    if radius <= 0 or x.shape[0] == 0:
        return x
    padded = np.concatenate([np.full(radius, x[0]), x, np.full(radius, x[-1])])
    cumulative = np.empty(padded.shape[0] + 1)
    cumulative[0] = 0.0
    np.cumsum(padded, out=cumulative[1:])
    width = 2 * radius + 1
    return (cumulative[width:] - cumulative[:-width]) / width


def _block_size(rate: int) -> int:
    return max(1, rate // 2000)  # 0.5 ms: the limiter's gain moves over milliseconds


def _block_peaks(samples: np.ndarray, rate: int) -> np.ndarray:
    """Per 0.5 ms block: the largest magnitude of the 4x oversampled signal and of the
    samples, over all channels, in the block and the next (a peak near a block's end
    may lie between its last sample and the next block's first)."""
    x = _as_frames(samples)
    n, size = x.shape[0], _block_size(rate)
    blocks = -(-n // size)
    up = _oversampled(x, rate)
    np.abs(up, out=up)
    width = size * OVERSAMPLING * x.shape[1]
    padded = np.zeros(blocks * width, dtype=np.float32)
    padded[: up.size] = up.reshape(-1)
    peaks = padded.reshape(blocks, width).max(axis=1)
    own = np.zeros(blocks * size * x.shape[1], dtype=np.float32)
    own[: x.size] = np.abs(x).reshape(-1)
    np.maximum(peaks, own.reshape(blocks, -1).max(axis=1), out=peaks)
    np.maximum(peaks[:-1], peaks[1:], out=peaks[:-1])
    return peaks.astype(np.float64)


def _limiter_gain(peaks: np.ndarray, n: int, rate: int, ceiling: float) -> np.ndarray:
    """Per-sample gain (<= 1) under which every block peak stays under ``ceiling``.

    Worked out on the 0.5 ms blocks (a sample-rate control signal would only cost
    time), then ramped linearly across each block between its edges; an edge takes
    the lower gain of the two blocks it joins, so no sample gets more than its own
    block allows.
    """
    size = _block_size(rate)
    gain = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-12))
    for seconds in (_ATTACK_SEC, _RELEASE_SEC):
        radius = max(1, int(round(seconds * rate / size)))
        gain = _centred_mean(_running_min(gain, radius), radius)
    edges = np.empty(gain.shape[0] + 1, dtype=np.float32)
    edges[0], edges[-1] = gain[0], gain[-1]
    np.minimum(gain[:-1], gain[1:], out=edges[1:-1], casting="same_kind")
    np.minimum(edges, 1.0, out=edges)
    step = ((np.arange(size) + 0.5) / size).astype(np.float32)
    ramps = edges[:-1, None] + (edges[1:] - edges[:-1])[:, None] * step[None, :]
    return ramps.reshape(-1)[:n]


@dataclass(frozen=True)
class Normalized:
    samples: np.ndarray  # float32, same shape as the input
    source_lufs: float  # the input's integrated loudness
    source_true_peak_dbtp: float  # the input's true peak
    gain_db: float  # the gain applied before the limiter
    limited_db: float  # the deepest gain reduction of the limiter (0 when it did nothing)
    stats: LoudnessStats  # measured on the result

    @property
    def lufs(self) -> float:
        return self.stats.integrated_lufs

    @property
    def true_peak_dbtp(self) -> float:
        return self.stats.true_peak_dbtp


def normalize(
    samples: np.ndarray,
    rate: int,
    target_lufs: float | None,
    ceiling_dbtp: float = TRUE_PEAK_CEILING_DBTP,
    *,
    max_rounds: int = 4,
) -> Normalized:
    """Bring ``samples`` to ``target_lufs`` with the true peak at most ``ceiling_dbtp``.

    ``target_lufs`` None keeps the audio as it is (only measured). Silence stays silence.
    The signal is oversampled once: a gain scales its block peaks exactly, so the
    limiter's gain for any pre-gain comes from those peaks, and only the final
    result is oversampled again, to measure its true peak.
    """
    x = np.asarray(samples, dtype=np.float32)
    hop = _hop(rate)
    weighted = _k_weighted(x, rate, 3.0)
    segments = _segment_energy(weighted, hop)
    source = _gated_integrated(_window_powers(segments, hop, 4))
    if target_lufs is None or source <= SILENCE_LUFS:
        stats = LoudnessStats(*_parts_of_segments(segments, hop), true_peak_dbtp(x, rate))
        return Normalized(x, source, stats.true_peak_dbtp, 0.0, 0.0, stats)
    peaks = _block_peaks(x, rate)
    peak = float(peaks.max())
    gain_db = target_lufs - source
    aim = ceiling_dbtp - _MARGIN_DB
    best: Normalized | None = None
    for round_ in range(max_rounds):
        scale = 10 ** (gain_db / 20)
        if peak * scale <= 10 ** (aim / 20):
            # No limiting. K-weighting and oversampling are linear: the gain scales the
            # clip's segment energies by its square and its true peak by itself.
            out = x * np.float32(scale)
            parts = _parts_of_segments(segments * scale**2, hop)
            return Normalized(out, source, _db(peak), gain_db, 0.0, LoudnessStats(*parts, _db(peak * scale)))
        gain = _limiter_gain(peaks * scale, x.shape[0], rate, 10 ** (aim / 20))
        gain *= np.float32(scale)
        # The gain moves over milliseconds: applied to the K-weighted clip it gives the
        # loudness of the limited clip closely, without filtering it again.
        estimate = _gated_integrated(_window_powers(_segment_energy(weighted, hop, gain), hop, 4))
        if abs(estimate - target_lufs) > LOUDNESS_TOLERANCE_LU / 2 and round_ < max_rounds - 1:
            gain_db += target_lufs - estimate  # the limiter cost loudness: more gain into it
            continue
        out = x * (gain[:, None] if x.ndim == 2 else gain)
        # The result measured again, exactly: its own K-weighting and its own oversampling.
        stats = LoudnessStats(*_loudness_parts(out, rate), true_peak_dbtp(out, rate))
        result = Normalized(out, source, _db(peak), gain_db, _db(float(gain.min()) / scale), stats)
        if result.true_peak_dbtp <= ceiling_dbtp:
            if abs(result.lufs - target_lufs) <= LOUDNESS_TOLERANCE_LU:
                return result
            if best is None or abs(result.lufs - target_lufs) < abs(best.lufs - target_lufs):
                best = result
            gain_db += target_lufs - result.lufs
        else:  # the limited peaks moved a little: aim lower
            aim -= result.true_peak_dbtp - ceiling_dbtp + _MARGIN_DB
    if best is not None:
        return best
    # Never observed; a last resort that holds the ceiling whatever the loudness.
    gain_db = ceiling_dbtp - _MARGIN_DB - _db(peak)
    out = x * np.float32(10 ** (gain_db / 20))
    return Normalized(out, source, _db(peak), gain_db, 0.0, loudness_stats(out, rate))
