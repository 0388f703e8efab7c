"""Space ``features-v1``: a vector of audio descriptors, and the named descriptors the namer reads.

No model, no weights: numpy only, about 10 ms for a 10 s clip on one core.

Analysis (32 kHz mono; other rates are resampled with ``core.audio.resample``):

- a short-time spectrum: 2048-sample frames (64 ms), no overlap, sine window,
  one float64 FFT pass over the clip;
- levels in 256-sample blocks (8 ms) of three bands: the whole signal, a low
  band (32-sample averages smoothed over 4, about < 200 Hz) and a high band
  (the first difference, tilted +6 dB/octave); their half-wave rectified dB
  rises make the onset envelope.

Descriptors (``FEATURES`` names them, in order), by group:

- spectral: centroid and bandwidth (frame means, log2 of kHz), 85 % roll-off
  of the mean spectrum, flatness (log10), the spread of the centroid over time;
- contrast: peak over mean power (dB) in seven octave bands;
- timbre: 12 cepstral coefficients (DCT of a 32-band mel log spectrum, the
  level term left out) averaged over time, and the spread of the first four;
- rhythm: onset strength (mean dB rise per block), its variation, onset rate
  (rises over ``ONSET_DB`` that peak within +-40 ms, per second), tempo (log2 of
  bpm/110, from the autocorrelation of the low-weighted onset envelope with a
  log-normal preference around 120 bpm, the faster octave when nearly as
  clear), pulse clarity (the autocorrelation at that beat), and the same
  clarity for the low band alone;
- tonality: major-minor tendency (best Krumhansl major key correlation minus
  best minor), key clarity (best correlation), chroma entropy;
- chroma: the 12-bin chroma of the clip rotated so that its key's tonic is bin 0
  (so two clips in different keys compare by harmonic shape);
- dynamics: mean and spread of the 8 ms level (dBFS), level range (95th minus
  10th percentile), crest factor.

Each descriptor is standardised with the fixed constants in ``FEATURES``
(centre, scale): medians and robust spreads over 216 clips of the sketch engine
(all six styles, energy and density 0.1/0.5/0.9, 4 seeds each; ``bench/embedded.py
--calibrate``), rounded, with floors on a few scales; standard scores are
clipped to +-4. The tempo score is clipped to +-2 (octave errors) and counts
in proportion to the pulse clarity. Each group is then weighted by
``GROUP_WEIGHTS[group] / sqrt(group size)``, so that a group counts the same
whether it has 3 or 16 numbers and no single descriptor dominates; the group
weights favour what tells briefs apart over what changes from seed to seed.
The whole is L2-normalised. Silence gives a valid vector (every spectral score
0, the level at its floor), never NaN.

``embed_text`` maps words of a brief to the descriptor directions they imply
(``TEXT_CUES``: "dark" lowers centroid and roll-off, "fast" raises tempo and
onset rate, "minor" lowers the major-minor tendency...), plus energy and
density when the text is a rendered prompt; a text with no cue at all maps to
the zero vector, which is similar to nothing.
"""

from __future__ import annotations

import math
import os
import re
import sys
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from core.audio import SAMPLE_RATE, moving_average, read_audio, resample

SPACE = "features-v1"
SR = SAMPLE_RATE
FRAME = 2048
BLOCK = 256
BLOCK_RATE = SR / BLOCK  # 125 onset frames per second
ONSET_DB = 1.5  # mean rise over the three bands, in dB per block, for a peak to count as an onset
ONSET_HALF_WINDOW = 5  # blocks (40 ms)
SILENCE_PEAK = 10 ** (-90 / 20)  # below -90 dBFS a clip counts as silence
_EPS = 1e-12

# name -> (group, centre, scale); standard score = (value - centre) / scale. Centres are
# medians and scales robust spreads (IQR / 1.349) over 216 sketch clips (bench/embedded.py
# --calibrate --repeats 4), rounded, with floors on the scales of contrast (1 dB), cepstra (1.5)
# and chroma entropy (0.01) so that near-constant descriptors do not amplify noise.
FEATURES: dict[str, tuple[str, float, float]] = {
    "centroid": ("spectral", 0.222, 1.1),
    "bandwidth": ("spectral", 0.872, 0.86),
    "rolloff": ("spectral", -1.14, 0.84),
    "flatness": ("spectral", -3.7, 1.3),
    "centroid_spread": ("spectral", 0.357, 0.2),
    "contrast_0": ("contrast", 7.33, 1.0),
    "contrast_1": ("contrast", 6.88, 1.0),
    "contrast_2": ("contrast", 10.1, 1.2),
    "contrast_3": ("contrast", 11.8, 1.1),
    "contrast_4": ("contrast", 13.0, 2.1),
    "contrast_5": ("contrast", 13.7, 2.4),
    "contrast_6": ("contrast", 15.7, 4.0),
    "mfcc_1": ("timbre", 89.4, 30.0),
    "mfcc_2": ("timbre", 2.72, 13.0),
    "mfcc_3": ("timbre", 13.6, 7.1),
    "mfcc_4": ("timbre", 1.92, 6.6),
    "mfcc_5": ("timbre", 5.1, 3.6),
    "mfcc_6": ("timbre", -0.167, 4.4),
    "mfcc_7": ("timbre", 1.63, 2.7),
    "mfcc_8": ("timbre", -0.952, 3.4),
    "mfcc_9": ("timbre", 0.295, 2.2),
    "mfcc_10": ("timbre", -1.1, 2.6),
    "mfcc_11": ("timbre", 0.209, 2.3),
    "mfcc_12": ("timbre", -1.35, 2.5),
    "mfcc_spread_1": ("timbre", 10.0, 3.5),
    "mfcc_spread_2": ("timbre", 8.3, 4.7),
    "mfcc_spread_3": ("timbre", 5.26, 2.4),
    "mfcc_spread_4": ("timbre", 4.06, 1.6),
    "onset_strength": ("rhythm", 0.408, 0.088),
    "onset_variation": ("rhythm", 1.59, 0.4),
    "onset_rate": ("rhythm", 2.31, 0.9),
    "tempo": ("rhythm", 0.112, 0.5),
    "pulse_clarity": ("rhythm", 0.241, 0.21),
    "low_pulse_clarity": ("rhythm", 0.179, 0.14),
    "majorness": ("tonality", 0.0662, 0.15),
    "key_clarity": ("tonality", 0.744, 0.13),
    "chroma_entropy": ("tonality", 0.987, 0.01),
    "chroma_0": ("chroma", 0.116, 0.022),
    "chroma_1": ("chroma", 0.0697, 0.014),
    "chroma_2": ("chroma", 0.0722, 0.012),
    "chroma_3": ("chroma", 0.0763, 0.024),
    "chroma_4": ("chroma", 0.0926, 0.022),
    "chroma_5": ("chroma", 0.0893, 0.018),
    "chroma_6": ("chroma", 0.0702, 0.015),
    "chroma_7": ("chroma", 0.098, 0.015),
    "chroma_8": ("chroma", 0.0724, 0.017),
    "chroma_9": ("chroma", 0.078, 0.017),
    "chroma_10": ("chroma", 0.0706, 0.014),
    "chroma_11": ("chroma", 0.077, 0.013),
    "level": ("dynamics", -18.0, 4.7),
    "level_spread": ("dynamics", 2.1, 0.74),
    "level_range": ("dynamics", 5.7, 2.6),
    "crest": ("dynamics", 12.9, 1.3),
}
FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
GROUP_WEIGHTS: dict[str, float] = {
    # Chosen on how well a group tells briefs apart rather than seeds of one brief
    # (between-brief over within-brief variance on the calibration corpus): the
    # spectral shape is the most reliable, key-dependent chroma the least.
    "spectral": 1.5,
    "contrast": 0.5,
    "timbre": 1.0,
    "rhythm": 0.8,
    "tonality": 0.3,
    "chroma": 0.2,
    "dynamics": 0.8,
}
DIMENSION = len(FEATURE_NAMES)
Z_CLIP = 4.0
CLEAR_PULSE = 0.4
TEMPO_CLIP = 2.0

_CENTRES = np.array([FEATURES[n][1] for n in FEATURE_NAMES], dtype=np.float64)
_SCALES = np.array([FEATURES[n][2] for n in FEATURE_NAMES], dtype=np.float64)


def _group_weights() -> np.ndarray:
    sizes: dict[str, int] = {}
    for group, _, _ in FEATURES.values():
        sizes[group] = sizes.get(group, 0) + 1
    return np.array(
        [GROUP_WEIGHTS[FEATURES[n][0]] / math.sqrt(sizes[FEATURES[n][0]]) for n in FEATURE_NAMES],
        dtype=np.float64,
    )


VECTOR_WEIGHTS = _group_weights()  # per component: group weight / sqrt(group size)

# Krumhansl-Kessler key profiles (C major, C minor).
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
CONTRAST_EDGES_HZ = (0.0, 200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0, 16000.0)


_allocator_tuned = False


def tune_allocator() -> None:
    """Keep large numpy temporaries in the heap instead of fresh mmap'd pages (glibc only).

    glibc serves allocations above 128 KiB - every 10 s clip buffer - with mmap
    and unmaps them on free, so each new temporary page-faults on first touch:
    on this 2-core VM that was 3-5 ms per FFT step, more than the FFT itself.
    Raising the mmap and trim thresholds keeps such blocks for reuse. Called on
    the first analysis or render; a no-op elsewhere (musl, macOS, Windows).
    """
    global _allocator_tuned
    if _allocator_tuned:
        return
    _allocator_tuned = True
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 64 << 20)
        libc.mallopt(m_trim_threshold, 128 << 20)
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------------------
# Fixed analysis matrices, built once
# ---------------------------------------------------------------------------


class _Bank:
    def __init__(self) -> None:
        freqs = np.fft.rfftfreq(FRAME, 1.0 / SR)
        self.freqs = freqs
        self.freqs_sq = freqs**2
        self.window = np.sin(np.pi * (np.arange(FRAME) + 0.5) / FRAME)
        self.flat_bins = slice(2, int(15_000 / (SR / FRAME)))
        edges = [max(1, int(hz / (SR / FRAME))) for hz in CONTRAST_EDGES_HZ]
        self.contrast_first, self.contrast_last = edges[0], edges[-1]
        self.contrast_starts = np.array(edges[:-1]) - edges[0]
        self.contrast_sizes = np.diff(edges).astype(np.float64)
        self.mel = self._mel_matrix(freqs, 32, 30.0, 15_000.0)
        n_mel = self.mel.shape[1]
        k = np.arange(n_mel)
        dct = np.cos(np.pi / n_mel * (k[:, None] + 0.5) * np.arange(13)[None, :]) * math.sqrt(2.0 / n_mel)
        self.dct = dct
        self.chroma = self._chroma_matrix(freqs)

    @staticmethod
    def _mel_matrix(freqs: np.ndarray, bands: int, low: float, high: float) -> np.ndarray:
        def mel(f: np.ndarray | float) -> np.ndarray:
            return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

        edges = 700.0 * (10 ** (np.linspace(mel(low), mel(high), bands + 2) / 2595.0) - 1.0)
        matrix = np.zeros((freqs.shape[0], bands))
        for b in range(bands):
            lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
            rise = (freqs - lo) / max(mid - lo, 1e-9)
            fall = (hi - freqs) / max(hi - mid, 1e-9)
            matrix[:, b] = np.clip(np.minimum(rise, fall), 0.0, None)
            if matrix[:, b].sum() == 0.0:  # narrow low bands: take the nearest bin
                matrix[int(np.argmin(np.abs(freqs - mid))), b] = 1.0
            matrix[:, b] /= matrix[:, b].sum()
        return matrix

    @staticmethod
    def _chroma_matrix(freqs: np.ndarray) -> np.ndarray:
        matrix = np.zeros((freqs.shape[0], 12))
        usable = (freqs >= 100.0) & (freqs <= 4000.0)
        midi = 69.0 + 12.0 * np.log2(np.maximum(freqs, 1.0) / 440.0)
        for pc in range(12):
            distance = np.abs(((midi - pc + 6.0) % 12.0) - 6.0)
            matrix[:, pc] = np.where(usable, np.exp(-0.5 * (distance / 0.5) ** 2), 0.0)
        return matrix


_bank: _Bank | None = None
_bank_lock = threading.Lock()


def _get_bank() -> _Bank:
    global _bank
    if _bank is None:
        tune_allocator()
        with _bank_lock:
            if _bank is None:
                _bank = _Bank()
    return _bank


# ---------------------------------------------------------------------------
# Analysis
# ---------------------------------------------------------------------------


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    return float(np.dot(values, weights))


def _beat(envelope: np.ndarray) -> tuple[float, float, int]:
    """(bpm, pulse clarity, beat lag in blocks) from an onset envelope at ``BLOCK_RATE``."""
    min_lag = int(BLOCK_RATE * 60.0 / 200.0)
    max_lag = int(BLOCK_RATE * 60.0 / 50.0)
    centred = envelope - envelope.mean()
    if centred.shape[0] < 2 * max_lag or float(np.dot(centred, centred)) <= _EPS:
        return 110.0, 0.0, 0
    size = 1 << int(2 * centred.shape[0] - 1).bit_length()
    spectrum = np.fft.rfft(centred, size)
    ac = np.fft.irfft(spectrum * np.conj(spectrum), size)[: max_lag + 2]
    ac = ac / ac[0]
    lags = np.arange(min_lag, max_lag + 1)
    bpm = 60.0 * BLOCK_RATE / lags
    prior = np.exp(-0.5 * (np.log2(bpm / 120.0) / 0.9) ** 2)
    best = int(lags[int(np.argmax(ac[lags] * prior))])
    # Prefer the faster of two tempos an octave apart when the beat is almost as
    # clear there: a four-on-the-floor kick also repeats every two beats.
    half = int(round(best / 2))
    if half >= min_lag and ac[half] >= 0.5 * ac[best]:
        best = half
    left, mid, right = ac[best - 1], ac[best], ac[best + 1]
    denom = left - 2 * mid + right
    shift = 0.5 * (left - right) / denom if denom < 0 else 0.0
    lag = best + float(np.clip(shift, -0.5, 0.5))
    return 60.0 * BLOCK_RATE / lag, float(np.clip(mid, 0.0, 1.0)), best


def _key(chroma: np.ndarray) -> tuple[int, float, float]:
    """(tonic pitch class, best major correlation, best minor correlation)."""
    if float(chroma.std()) <= _EPS:
        return 0, 0.0, 0.0
    rolled = chroma[(np.arange(12)[:, None] + np.arange(12)[None, :]) % 12]  # rolled[k][0] is pitch class k

    def corr(profile: np.ndarray) -> np.ndarray:
        p = (profile - profile.mean()) / profile.std()
        c = (rolled - rolled.mean(axis=1, keepdims=True)) / (rolled.std(axis=1, keepdims=True) + _EPS)
        return (c @ p) / 12.0

    major, minor = corr(_MAJOR_PROFILE), corr(_MINOR_PROFILE)
    best_major, best_minor = int(np.argmax(major)), int(np.argmax(minor))
    tonic = best_major if major[best_major] >= minor[best_minor] else best_minor
    return tonic, float(major[best_major]), float(minor[best_minor])


def _silence() -> tuple[np.ndarray, dict[str, float]]:
    raw = _CENTRES.copy()
    values = dict(zip(FEATURE_NAMES, raw.tolist(), strict=True))
    values.update(
        onset_strength=0.0, onset_variation=0.0, onset_rate=0.0, pulse_clarity=0.0, low_pulse_clarity=0.0,
        key_clarity=0.0, level=-100.0, level_spread=0.0, level_range=0.0, crest=0.0,
    )  # fmt: skip
    raw = np.array([values[n] for n in FEATURE_NAMES], dtype=np.float64)
    descriptors = {
        "brightness": 1000.0 * 2 ** FEATURES["centroid"][1],
        "rolloff_hz": 1000.0 * 2 ** FEATURES["rolloff"][1],
        "noisiness": 0.0,
        "tempo_bpm": 110.0,
        "pulse_clarity": 0.0,
        "onset_rate": 0.0,
        "onset_strength": 0.0,
        "minorness": 0.0,
        "key": 0.0,
        "key_clarity": 0.0,
        "loudness_db": -100.0,
        "dynamic_range_db": 0.0,
        "low_end": 0.0,
        "sustain": 0.0,
        "energy": 0.0,
        "silent": 1.0,
    }
    return raw, descriptors


def analyse(samples: np.ndarray, rate: int = SR) -> tuple[np.ndarray, dict[str, float]]:
    """Raw descriptor values (in ``FEATURE_NAMES`` order) and the named descriptors of a clip."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim > 1:
        x = x.mean(axis=1)
    if rate != SR:
        x = resample(x, rate, SR)
    if x.shape[0] == 0 or not np.all(np.isfinite(x)):
        return _silence()
    x = x - np.float32(x.mean())
    peak = float(np.max(np.abs(x)))
    if peak < SILENCE_PEAK:
        return _silence()
    bank = _get_bank()
    n = x.shape[0]
    values: dict[str, float] = {}

    # -- spectrum ---------------------------------------------------------
    frames = -(-n // FRAME)
    padded = np.zeros(frames * FRAME, dtype=np.float64)  # numpy's float64 FFT is ~4x faster than float32
    padded[:n] = x
    windowed = padded.reshape(frames, FRAME)
    windowed *= bank.window
    bins = np.fft.rfft(windowed, axis=1)
    power = np.square(bins.real)  # not np.abs: its complex hypot is several times slower
    power += np.square(bins.imag)
    spectrum = np.sqrt(power)
    frame_energy = power.sum(axis=1)
    total = float(frame_energy.sum())
    weights = frame_energy / total if total > 0 else np.full(frames, 1.0 / frames)
    active = frame_energy > max(float(frame_energy.max()) * 1e-5, _EPS)
    magnitude_sum = spectrum.sum(axis=1) + _EPS
    centroid = (spectrum @ bank.freqs) / magnitude_sum
    spread = np.sqrt(np.maximum((spectrum @ bank.freqs_sq) / magnitude_sum - centroid**2, 0.0))
    mean_power = weights @ power
    cumulative = np.cumsum(mean_power)
    rolloff = float(bank.freqs[int(np.argmax(cumulative >= 0.85 * cumulative[-1]))])
    flat = power[:, bank.flat_bins].astype(np.float32)
    flat += np.float32(1e-12)
    flatness = np.exp(np.log(flat).mean(axis=1, dtype=np.float64)) / flat.mean(axis=1, dtype=np.float64)
    log_centroid = np.log2(np.maximum(centroid, 20.0) / 1000.0)
    values["centroid"] = _weighted_mean(log_centroid, weights)
    values["bandwidth"] = _weighted_mean(np.log2(np.maximum(spread, 20.0) / 1000.0), weights)
    values["rolloff"] = math.log2(max(rolloff, 20.0) / 1000.0)
    values["flatness"] = _weighted_mean(np.log10(flatness + 1e-6), weights)
    values["centroid_spread"] = float(log_centroid[active].std()) if active.sum() > 1 else 0.0
    # The contrast bands are contiguous: one reduceat pass for all of them.
    banded = power[:, bank.contrast_first : bank.contrast_last]
    peaks = np.maximum.reduceat(banded, bank.contrast_starts, axis=1)
    means = np.add.reduceat(banded, bank.contrast_starts, axis=1) / bank.contrast_sizes
    contrast = 10 * np.log10((peaks + 1e-12) / (means + 1e-12))
    for k, value in enumerate(weights @ contrast):
        values[f"contrast_{k}"] = float(value)

    # -- timbre -----------------------------------------------------------
    mel = power @ bank.mel
    log_mel = 10 * np.log10(mel + 1e-12)
    log_mel = np.maximum(log_mel, float(log_mel.max()) - 80.0)
    cepstrum = log_mel[active] @ bank.dct
    for k in range(1, 13):
        values[f"mfcc_{k}"] = float(cepstrum[:, k].mean())
    for k in range(1, 5):
        values[f"mfcc_spread_{k}"] = float(cepstrum[:, k].std()) if cepstrum.shape[0] > 1 else 0.0

    # -- rhythm (8 ms band envelopes) ---------------------------------------
    # Bands without per-sample filtering: the low band is the clip averaged over
    # 32-sample groups (a 1 kHz signal) and smoothed again over 4 of them (~200 Hz);
    # the high band is the first difference (a +6 dB/octave tilt towards the top).
    blocks = max(1, n // BLOCK)
    usable = blocks * BLOCK if n >= BLOCK else n
    full = x[:usable]
    if n >= BLOCK:
        coarse = full.reshape(-1, 32).mean(axis=1)
        low = moving_average(coarse, 4)
    else:
        low = full
    high = np.diff(x[: usable + 1]) if n > usable else np.diff(full, prepend=full[:1])

    def level_db(signal: np.ndarray, smooth: int) -> np.ndarray:
        energy = (signal * signal).reshape(blocks, -1).mean(axis=1)
        if smooth > 1 and energy.shape[0] > smooth:
            # Over 32 ms, so that a bass note's own cycle is not taken for onsets.
            energy = np.convolve(energy, np.full(smooth, 1.0 / smooth))[: energy.shape[0]]
        return 10 * np.log10(energy + 1e-10)

    full_db, low_db, high_db = level_db(full, 4), level_db(low, 4), level_db(high, 1)
    floor = float(full_db.max()) - 60.0
    rises = [np.maximum(np.diff(np.maximum(band, floor)), 0.0) for band in (full_db, low_db, high_db)]
    envelope = (rises[0] + rises[1] + rises[2]) / 3.0 if blocks > 1 else np.zeros(1)
    strength = float(envelope.mean()) if envelope.size else 0.0
    values["onset_strength"] = strength
    values["onset_variation"] = float(envelope.std() / (strength + 1e-3)) if envelope.size else 0.0
    # Onsets: rises of at least ONSET_DB that are the largest within +-40 ms.
    if envelope.size > 2 * ONSET_HALF_WINDOW:
        padded_env = np.pad(envelope, ONSET_HALF_WINDOW)
        local_max = np.lib.stride_tricks.sliding_window_view(padded_env, 2 * ONSET_HALF_WINDOW + 1).max(
            axis=1
        )
        onset_rate = float(((envelope >= local_max) & (envelope > ONSET_DB)).sum()) / (n / SR)
    else:
        onset_rate = 0.0
    values["onset_rate"] = math.log2(1.0 + onset_rate)
    # The beat is read mostly from the low band, where kicks and bass notes mark it.
    beat_envelope = (rises[0] + 2 * rises[1] + rises[2]) / 4.0 if blocks > 1 else envelope
    bpm, clarity, lag = _beat(beat_envelope)
    values["tempo"] = math.log2(bpm / 110.0)
    values["pulse_clarity"] = clarity
    if lag:
        low_env = rises[1] - rises[1].mean()
        norm = float(np.dot(low_env, low_env))
        values["low_pulse_clarity"] = (
            float(np.clip(np.dot(low_env[:-lag], low_env[lag:]) / norm, 0.0, 1.0)) if norm > _EPS else 0.0
        )
    else:
        values["low_pulse_clarity"] = 0.0

    # -- tonality -----------------------------------------------------------
    mean_spectrum = weights @ spectrum
    chroma = mean_spectrum @ bank.chroma
    chroma_total = float(chroma.sum())
    chroma = chroma / chroma_total if chroma_total > 0 else np.full(12, 1 / 12)
    tonic, best_major, best_minor = _key(chroma)
    values["majorness"] = best_major - best_minor
    values["key_clarity"] = max(best_major, best_minor)
    values["chroma_entropy"] = float(-(chroma * np.log(chroma + 1e-12)).sum() / math.log(12))
    aligned = np.roll(chroma, -tonic)
    for k in range(12):
        values[f"chroma_{k}"] = float(aligned[k])

    # -- dynamics -----------------------------------------------------------
    rms = math.sqrt(float(np.dot(x, x)) / n)
    audible = full_db[full_db > floor]
    audible = audible if audible.size else full_db
    values["level"] = 20 * math.log10(max(rms, 1e-5))
    values["level_spread"] = float(audible.std())
    values["level_range"] = float(np.percentile(audible, 95) - np.percentile(audible, 10))
    values["crest"] = 20 * math.log10(peak / max(rms, 1e-9))

    raw = np.array([values[name] for name in FEATURE_NAMES], dtype=np.float64)
    raw = np.where(np.isfinite(raw), raw, _CENTRES)
    low_share = float(mean_spectrum[: int(150 / (SR / FRAME)) + 1].sum() / (mean_spectrum.sum() + _EPS))
    descriptors = {
        "brightness": 1000.0 * 2 ** values["centroid"],
        "rolloff_hz": 1000.0 * 2 ** values["rolloff"],
        "noisiness": float(10 ** values["flatness"]),
        "tempo_bpm": bpm,
        "pulse_clarity": clarity,
        "onset_rate": onset_rate,
        "onset_strength": strength,
        "minorness": -values["majorness"],
        "key": float(tonic),
        "key_clarity": values["key_clarity"],
        "loudness_db": values["level"],
        "dynamic_range_db": values["level_range"],
        "low_end": low_share,
        "sustain": float(1.0 / (1.0 + values["onset_variation"])),
        "silent": 0.0,
    }
    scores = standard_scores(raw)
    energy_score = (
        scores[_INDEX["tempo"]]
        + scores[_INDEX["onset_strength"]]
        + scores[_INDEX["level"]]
        + scores[_INDEX["centroid"]]
    ) / 4.0
    descriptors["energy"] = float(1.0 / (1.0 + math.exp(-1.5 * energy_score)))
    return raw, descriptors


def standard_scores(raw: np.ndarray) -> np.ndarray:
    """Standard scores of raw descriptor values, clipped to +-``Z_CLIP``.

    The tempo score counts in proportion to how clear the beat is (fully from a
    pulse clarity of ``CLEAR_PULSE``): a tempo read from music without a beat is noise.
    """
    raw = np.asarray(raw, dtype=np.float64)
    scores = np.clip((raw - _CENTRES) / _SCALES, -Z_CLIP, Z_CLIP)
    # An octave error is the commonest tempo mistake: clip the tempo score to
    # +-TEMPO_CLIP so that a misread tempo cannot outweigh the rest of the rhythm.
    tempo = float(np.clip(scores[_INDEX["tempo"]], -TEMPO_CLIP, TEMPO_CLIP))
    scores[_INDEX["tempo"]] = tempo * float(np.clip(raw[_INDEX["pulse_clarity"]] / CLEAR_PULSE, 0.0, 1.0))
    return scores


def vector_from_scores(scores: np.ndarray) -> np.ndarray:
    """Group-weighted, L2-normalised float32 vector from standard scores (zero stays zero)."""
    weighted = np.asarray(scores, dtype=np.float64) * VECTOR_WEIGHTS
    norm = float(np.linalg.norm(weighted))
    if norm > 0:
        weighted = weighted / norm
    return weighted.astype(np.float32)


def embed_samples(samples: np.ndarray, rate: int = SR) -> np.ndarray:
    raw, _ = analyse(samples, rate)
    return vector_from_scores(standard_scores(raw))


# ---------------------------------------------------------------------------
# Per-file cache: the namer asks for the descriptors of clips just embedded
# ---------------------------------------------------------------------------

_CACHE_SIZE = 512
_cache: OrderedDict[tuple[str, int, int], tuple[np.ndarray, dict[str, float]]] = OrderedDict()
_cache_lock = threading.Lock()


def _analyse_file(path: Path | str) -> tuple[np.ndarray, dict[str, float]]:
    path = Path(path)
    try:
        stat = os.stat(path)
        key: tuple[str, int, int] | None = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None  # read_audio raises the readable error
    if key is not None:
        with _cache_lock:
            hit = _cache.get(key)
            if hit is not None:
                _cache.move_to_end(key)
                return hit
    samples, rate = read_audio(path)
    result = analyse(samples, rate)
    if key is not None:
        with _cache_lock:
            _cache[key] = result
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return result


def describe_audio(path: Path | str) -> dict[str, float]:
    """Named descriptors of a clip, in plain units.

    brightness (spectral centroid, Hz), rolloff_hz, noisiness (spectral
    flatness 0-1), tempo_bpm, pulse_clarity (0-1), onset_rate (onsets per
    second), onset_strength (dB), minorness (-1..1, > 0 leans minor), key
    (tonic pitch class 0-11), key_clarity, loudness_db (RMS dBFS),
    dynamic_range_db, low_end (share of the spectrum below 150 Hz), sustain
    (0-1, high for smooth sustained sound), energy (0-1), silent (1 or 0).
    Raises AudioFileError for a file that is not readable audio.
    """
    return dict(_analyse_file(path)[1])


def descriptor_scores(path: Path | str) -> dict[str, float]:
    """Standard scores of every descriptor in ``FEATURE_NAMES`` (0 = typical)."""
    raw, _ = _analyse_file(path)
    return dict(zip(FEATURE_NAMES, standard_scores(raw).tolist(), strict=True))


# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------

# word -> standard-score offsets it implies. Words are matched after
# lower-casing; "lo-fi", "hip hop" and plurals are folded as the sketch engine does.
TEXT_CUES: dict[str, dict[str, float]] = {}


def _cue(words: str, **offsets: float) -> None:
    for word in words.split():
        merged = TEXT_CUES.setdefault(word, {})
        for name, value in offsets.items():
            merged[name] = merged.get(name, 0.0) + value


_cue(
    "dark murky muffled gloomy night deep underwater",
    centroid=-1.5,
    rolloff=-1.5,
    bandwidth=-1.0,
    majorness=-0.5,
)
_cue(
    "bright crisp shiny sparkling airy glassy shimmering",
    centroid=1.5,
    rolloff=1.5,
    bandwidth=0.8,
    majorness=0.4,
)
_cue("warm mellow soft gentle", centroid=-0.8, rolloff=-0.8, onset_strength=-0.6, crest=-0.3)
_cue("sad melancholic melancholy minor moody sombre somber sinister eerie haunting brooding ominous",
     majorness=-1.5, tempo=-0.4)  # fmt: skip
_cue("happy sunny uplifting cheerful joyful major playful hopeful triumphant", majorness=1.5, tempo=0.3)
_cue("fast upbeat energetic driving frantic rapid hyper pumping racing",
     tempo=1.5, onset_rate=1.0, onset_strength=0.8)  # fmt: skip
_cue("slow lazy relaxed calm peaceful sleepy downtempo laidback chill", tempo=-1.5, onset_rate=-1.0)
_cue("aggressive distorted heavy industrial gritty dirty harsh noisy angry raw pounding",
     flatness=1.2, onset_strength=1.0, level=0.8, crest=-0.5)  # fmt: skip
_cue("ambient drone pad pads atmospheric ethereal dreamy spacey meditative soundscape floating",
     onset_rate=-1.8, onset_strength=-1.5, pulse_clarity=-1.5, low_pulse_clarity=-1.2, tempo=-1.0,
     level_spread=-0.8, centroid=-0.6)  # fmt: skip
_cue("techno house edm club rave dance trance electro",
     tempo=1.4, pulse_clarity=1.5, low_pulse_clarity=1.8, onset_rate=1.0, flatness=0.8, onset_strength=1.0)  # fmt: skip
_cue("folk acoustic guitar strum strumming country campfire banjo ukulele",
     majorness=1.0, centroid=0.8, rolloff=0.8, onset_rate=0.6, flatness=-0.4)  # fmt: skip
_cue(
    "lofi jazz jazzy hiphop boombap chillhop rhodes", centroid=-0.8, rolloff=-1.0, tempo=-0.8, key_clarity=0.3
)
_cue(
    "cinematic orchestral epic film score strings soundtrack",
    onset_rate=-0.6,
    pulse_clarity=-0.5,
    level_range=0.6,
)
_cue("pop synthpop catchy disco funk retro", pulse_clarity=0.8, onset_rate=0.6, majorness=0.6)
_cue("sparse minimal empty quiet bare", onset_rate=-1.2, level=-0.8)
_cue("busy dense complex layered full lush", onset_rate=1.2, chroma_entropy=0.6)
_cue("loud", level=1.2)
_cue("quiet", level=-1.2)

_TOKEN = re.compile(r"[a-z0-9]+")
_PARAM = re.compile(r"\b(energy|density)=([0-9]*\.?[0-9]+)")


def text_scores(text: str) -> np.ndarray:
    """Standard-score offsets a text implies (zeros when it implies nothing)."""
    from core.providers.sketch import words_of

    scores = np.zeros(DIMENSION, dtype=np.float64)
    for word in sorted(words_of(text)):
        for name, value in TEXT_CUES.get(word, {}).items():
            scores[_INDEX[name]] += value
    params = {name: float(value) for name, value in _PARAM.findall(text.lower())}
    if "energy" in params:  # the engines map energy to tempo, level and attack
        push = 2.0 * (min(1.0, max(0.0, params["energy"])) - 0.5)
        for name, weight in (("tempo", 1.0), ("level", 1.0), ("onset_strength", 0.8)):
            scores[_INDEX[name]] += weight * push
    if "density" in params:
        push = 2.0 * (min(1.0, max(0.0, params["density"])) - 0.5)
        for name, weight in (("onset_rate", 1.0), ("chroma_entropy", 0.4)):
            scores[_INDEX[name]] += weight * push
    return np.clip(scores, -Z_CLIP, Z_CLIP)
