"""Space ``features-v2``: how a clip sounds, as statistics of its timbre, texture, rhythm and harmony.

No model, no weights, no compiled-on-first-call code: numpy only. Built to tell
real music apart (``bench/embedders.py`` measures it on recordings nobody here
made) and to ignore what does not change how music sounds: its level (every
number is a ratio, a level difference or a shape) and where an excerpt starts
(every number is a statistic over the whole clip).

Analysis (32 kHz mono; other rates are resampled with ``core.audio.resample``):

- a short-time spectrum: 2048-sample Hann frames (64 ms), hop 1024;
- a 40-band mel log spectrum (30 Hz-15 kHz, floored 80 dB below the clip's loudest
  band-frame) and its cepstrum;
- 8 ms band levels and their dB rises (``v1``'s onset envelope, level-free).

Descriptors (``NAMES``, in order), by group:

- ``timbre``: mean and spread of cepstral coefficients 1-19 (the level term left out);
- ``motion``: spread of their frame-to-frame change (coefficients 1-12): how the
  sound moves;
- ``shape``: octave-band peak-over-valley contrast (mean and spread, 7 bands),
  log centroid and bandwidth (mean, spread), flatness (mean, spread), mel flux;
- ``bands``: the mel spectrum's shape (20 pooled bands, mean dB relative to the
  clip's own mean) and each band's spread over time;
- ``rhythm``: the autocorrelation of the onset envelope - of all bands, the low
  band and the high band - read at 40 lags log-spaced from 0.15 s to 3 s (a
  tempogram summary: which periodicities the clip has, whatever its phase and
  its level), the envelope's mean rise, its variation and the onset rate;
- ``harmony``: the interval profile of the chroma (its circular autocorrelation
  at 1-6 semitones: major, minor, cluster or open harmony, in any key), the
  same profile frame by frame, the chroma's spread over time, entropy, key
  clarity and major-minor tendency, and the chroma rotated to its tonic;
- ``dynamics``: spread and range of the 8 ms level, crest factor.

Each descriptor is standardised with fixed constants (``CENTRES``, ``SCALES``: medians
and robust spreads over the tuning part of the real-music set, ``bench/embedders.py
--calibrate``), clipped to +-``Z_CLIP``, weighted by the square root of its Fisher
ratio on that part (``v2_constants.py``) and L2-normalised. The constants are part of the space: change
them and the space needs a new name, so vectors stay comparable across sessions.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from core.audio import SAMPLE_RATE, moving_average, resample
from core.providers.features import v1, v1_bank, v1_constants

SPACE = "features-v2"
SR = SAMPLE_RATE
FRAME = 2048
HOP = 1024
MEL_BANDS = 40
CEPSTRA = 19  # coefficients 1..19
MOTION_CEPSTRA = 12
BLOCK = 256
BLOCK_RATE = SR / BLOCK
RHYTHM_LAGS_SEC = tuple(float(x) for x in np.geomspace(0.15, 3.0, 40))
Z_CLIP = 4.0
_EPS = 1e-12


def _names() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {
        "timbre": [f"mfcc_{k}" for k in range(1, CEPSTRA + 1)]
        + [f"mfcc_spread_{k}" for k in range(1, CEPSTRA + 1)],
        "motion": [f"mfcc_delta_{k}" for k in range(1, MOTION_CEPSTRA + 1)],
        "shape": [f"contrast_{k}" for k in range(7)]
        + [f"contrast_spread_{k}" for k in range(7)]
        + [
            "centroid",
            "centroid_spread",
            "bandwidth",
            "bandwidth_spread",
            "flatness",
            "flatness_spread",
            "flux",
        ],
        "rhythm": [f"periodicity_{k}" for k in range(len(RHYTHM_LAGS_SEC))]
        + [f"low_periodicity_{k}" for k in range(len(RHYTHM_LAGS_SEC))]
        + [f"high_periodicity_{k}" for k in range(len(RHYTHM_LAGS_SEC))]
        + ["onset_strength", "onset_variation", "onset_rate"],
        "bands": [f"band_{k}" for k in range(MEL_BANDS // 2)]
        + [f"band_spread_{k}" for k in range(MEL_BANDS // 2)],
        "harmony": [f"interval_{k}" for k in range(1, 7)]
        + [f"frame_interval_{k}" for k in range(1, 7)]
        + ["chroma_spread", "chroma_entropy", "key_clarity", "majorness"]
        + [f"chroma_{k}" for k in range(12)],
        "dynamics": ["level_spread", "level_range", "crest"],
    }
    return groups


GROUPS = _names()
NAMES: tuple[str, ...] = tuple(name for names in GROUPS.values() for name in names)
GROUP_OF = {name: group for group, names in GROUPS.items() for name in names}
DIMENSION = len(NAMES)

from core.providers.features.v2_constants import CONSTANTS  # noqa: E402

CENTRES = np.array([CONSTANTS[n][0] for n in NAMES], dtype=np.float64)
SCALES = np.array([CONSTANTS[n][1] for n in NAMES], dtype=np.float64)
VECTOR_WEIGHTS = np.array([CONSTANTS[n][2] for n in NAMES], dtype=np.float64)


class _Bank:
    def __init__(self) -> None:
        freqs = np.fft.rfftfreq(FRAME, 1.0 / SR)
        self.freqs = freqs
        self.log_freqs = np.log2(np.maximum(freqs, 20.0) / 1000.0)
        self.window = np.hanning(FRAME + 2)[1:-1]
        self.mel = v1_bank._Bank._mel_matrix(freqs, MEL_BANDS, 30.0, 15_000.0)
        k = np.arange(MEL_BANDS)
        self.dct = np.cos(
            np.pi / MEL_BANDS * (k[:, None] + 0.5) * np.arange(1, CEPSTRA + 1)[None, :]
        ) * math.sqrt(2.0 / MEL_BANDS)
        self.chroma = v1_bank._Bank._chroma_matrix(freqs)
        self.flat_bins = slice(2, int(15_000 / (SR / FRAME)))
        edges = [max(1, int(hz / (SR / FRAME))) for hz in v1_constants.CONTRAST_EDGES_HZ]
        self.contrast_first, self.contrast_last = edges[0], edges[-1]
        self.contrast_starts = np.array(edges[:-1]) - edges[0]
        self.contrast_sizes = np.diff(edges).astype(np.float64)
        lags = np.array(RHYTHM_LAGS_SEC) * BLOCK_RATE
        self.rhythm_lags = lags


_bank: _Bank | None = None
_bank_lock = threading.Lock()


def _get_bank() -> _Bank:
    global _bank
    if _bank is None:
        v1_bank.tune_allocator()
        with _bank_lock:
            if _bank is None:
                _bank = _Bank()
    return _bank


def _interval_profile(chroma: np.ndarray) -> np.ndarray:
    """Circular autocorrelation of (rows of) chroma at 1..6 semitones, of the mean-removed, unit-norm chroma."""
    c = chroma - chroma.mean(axis=-1, keepdims=True)
    norm = np.sqrt((c * c).sum(axis=-1, keepdims=True)) + _EPS
    c = c / norm
    return np.stack([(c * np.roll(c, -k, axis=-1)).sum(axis=-1) for k in range(1, 7)], axis=-1)


def _periodicities(envelope: np.ndarray, lags: np.ndarray) -> list[float]:
    """The normalised, unbiased autocorrelation of an onset envelope, its peak near each lag (+-3 %)."""
    centred = envelope - envelope.mean()
    energy = float(np.dot(centred, centred))
    if energy <= _EPS:
        return [0.0] * len(lags)
    size = 1 << int(2 * centred.shape[0] - 1).bit_length()
    spectrum = np.fft.rfft(centred, size)
    ac = np.fft.irfft(spectrum * np.conj(spectrum), size)[: centred.shape[0]] / energy
    # Unbiased: each lag's sum over fewer pairs, scaled back to the whole length.
    ac = ac * (centred.shape[0] / np.maximum(centred.shape[0] - np.arange(ac.shape[0]), 1))
    # Read at fractional lags (linear interpolation), the peak within +-3 %.
    grid = lags[:, None] * np.linspace(0.97, 1.03, 7)[None, :]
    read = np.interp(grid, np.arange(ac.shape[0]), ac, right=0.0).max(axis=1)
    return np.clip(read, -1.0, 1.0).tolist()


def raw_features(samples: np.ndarray, rate: int = SR) -> np.ndarray:
    """Raw descriptor values in ``NAMES`` order (the standardising constants' centres for silence)."""
    found = analysis(samples, rate)
    if found is None:
        return CENTRES.copy()
    values, _, _ = found
    raw = np.array([values[name] for name in NAMES], dtype=np.float64)
    return np.where(np.isfinite(raw), raw, CENTRES)


def analysis(samples: np.ndarray, rate: int = SR) -> tuple[dict[str, float], np.ndarray, np.ndarray] | None:
    """The descriptors by name, the clip as analysed (mono, 32 kHz, peak 1) and its
    energy-weighted mean chroma (C first, summing to 1); None for silence and clips
    too short to analyse. ``v3`` builds on it."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim > 1:
        x = x.mean(axis=1)
    if rate != SR:
        x = resample(x, rate, SR)
    if x.shape[0] < FRAME or not np.all(np.isfinite(x)):
        return None
    x = x - np.float32(x.mean())
    peak = float(np.max(np.abs(x)))
    if peak < v1_constants.SILENCE_PEAK:
        return None
    x = x / np.float32(peak)  # level-free from here on
    bank = _get_bank()
    n = x.shape[0]
    values: dict[str, float] = {}

    # -- spectrum ---------------------------------------------------------
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::HOP].astype(np.float64)
    bins = np.fft.rfft(frames * bank.window, axis=1)
    power = np.square(bins.real)
    power += np.square(bins.imag)
    frame_energy = power.sum(axis=1)
    active = frame_energy > max(float(frame_energy.max()) * 1e-6, _EPS)
    if active.sum() < 2:
        return None
    power = power[active]
    frame_energy = frame_energy[active]
    magnitude = np.sqrt(power)

    # -- timbre and motion ---------------------------------------------------
    log_mel = 10 * np.log10(power @ bank.mel + 1e-12)
    log_mel = np.maximum(log_mel, float(log_mel.max()) - 80.0)
    cepstrum = log_mel @ bank.dct
    for k in range(CEPSTRA):
        values[f"mfcc_{k + 1}"] = float(cepstrum[:, k].mean())
        values[f"mfcc_spread_{k + 1}"] = float(cepstrum[:, k].std())
    delta = np.diff(cepstrum[:, :MOTION_CEPSTRA], axis=0)
    for k in range(MOTION_CEPSTRA):
        values[f"mfcc_delta_{k + 1}"] = float(np.sqrt(np.mean(delta[:, k] ** 2))) if delta.size else 0.0

    pooled = log_mel.reshape(log_mel.shape[0], MEL_BANDS // 2, 2).mean(axis=2)
    profile = pooled.mean(axis=0)
    profile = profile - profile.mean()
    for k in range(MEL_BANDS // 2):
        values[f"band_{k}"] = float(profile[k])
        values[f"band_spread_{k}"] = float(pooled[:, k].std())

    # -- spectral shape -------------------------------------------------------
    banded = power[:, bank.contrast_first : bank.contrast_last]
    peaks = np.maximum.reduceat(banded, bank.contrast_starts, axis=1)
    means = np.add.reduceat(banded, bank.contrast_starts, axis=1) / bank.contrast_sizes
    contrast = 10 * np.log10((peaks + 1e-12) / (means + 1e-12))
    for k in range(7):
        values[f"contrast_{k}"] = float(contrast[:, k].mean())
        values[f"contrast_spread_{k}"] = float(contrast[:, k].std())
    magnitude_sum = magnitude.sum(axis=1) + _EPS
    log_centroid = (magnitude @ bank.log_freqs) / magnitude_sum
    log_spread = np.sqrt(np.maximum((magnitude @ bank.log_freqs**2) / magnitude_sum - log_centroid**2, 0.0))
    values["centroid"] = float(log_centroid.mean())
    values["centroid_spread"] = float(log_centroid.std())
    values["bandwidth"] = float(log_spread.mean())
    values["bandwidth_spread"] = float(log_spread.std())
    flat = power[:, bank.flat_bins] + 1e-12
    flatness = np.log10(np.exp(np.log(flat).mean(axis=1)) / flat.mean(axis=1) + 1e-6)
    values["flatness"] = float(flatness.mean())
    values["flatness_spread"] = float(flatness.std())
    values["flux"] = float(np.abs(np.diff(log_mel, axis=0)).mean())

    # -- rhythm (v1's 8 ms band envelopes, as dB rises: level-free) -----------
    blocks = n // BLOCK
    usable = blocks * BLOCK
    full = x[:usable]
    low = moving_average(full.reshape(-1, 32).mean(axis=1), 4)
    high = np.diff(x[: usable + 1]) if n > usable else np.diff(full, prepend=full[:1])

    def level_db(signal: np.ndarray, smooth: int) -> np.ndarray:
        energy = (signal * signal).reshape(blocks, -1).mean(axis=1).astype(np.float64)
        if smooth > 1 and energy.shape[0] > smooth:
            energy = np.convolve(energy, np.full(smooth, 1.0 / smooth))[: energy.shape[0]]
        return 10 * np.log10(energy + 1e-10)

    full_db, low_db, high_db = level_db(full, 4), level_db(low, 4), level_db(high, 1)
    floor = float(full_db.max()) - 60.0
    rises = [np.maximum(np.diff(np.maximum(band, floor)), 0.0) for band in (full_db, low_db, high_db)]
    envelope = (rises[0] + 2 * rises[1] + rises[2]) / 4.0
    strength = float(envelope.mean())
    values["onset_strength"] = strength
    values["onset_variation"] = float(envelope.std() / (strength + 1e-3))
    half = v1_constants.ONSET_HALF_WINDOW
    padded_env = np.pad(envelope, half)
    local_max = np.lib.stride_tricks.sliding_window_view(padded_env, 2 * half + 1).max(axis=1)
    onsets = float(((envelope >= local_max) & (envelope > v1_constants.ONSET_DB)).sum()) / (n / SR)
    values["onset_rate"] = math.log2(1.0 + onsets)
    for prefix, signal in (("", envelope), ("low_", rises[1]), ("high_", rises[2])):
        for k, value in enumerate(_periodicities(signal, bank.rhythm_lags)):
            values[f"{prefix}periodicity_{k}"] = value

    # -- harmony ---------------------------------------------------------------
    chroma_frames = magnitude @ bank.chroma
    weights = frame_energy / float(frame_energy.sum())
    mean_chroma = weights @ chroma_frames
    total = float(mean_chroma.sum())
    mean_chroma = mean_chroma / total if total > 0 else np.full(12, 1 / 12)
    for k, value in enumerate(_interval_profile(mean_chroma)):
        values[f"interval_{k + 1}"] = float(value)
    for k, value in enumerate(weights @ _interval_profile(chroma_frames)):
        values[f"frame_interval_{k + 1}"] = float(value)
    normalised = chroma_frames / (chroma_frames.sum(axis=1, keepdims=True) + _EPS)
    values["chroma_spread"] = float(np.sqrt(weights @ ((normalised - mean_chroma) ** 2)).mean())
    values["chroma_entropy"] = float(-(mean_chroma * np.log(mean_chroma + 1e-12)).sum() / math.log(12))
    tonic, best_major, best_minor = v1._key(mean_chroma)
    values["key_clarity"] = max(best_major, best_minor)
    values["majorness"] = best_major - best_minor
    for k, value in enumerate(np.roll(mean_chroma, -tonic)):
        values[f"chroma_{k}"] = float(value)

    # -- dynamics --------------------------------------------------------------
    audible = full_db[full_db > floor]
    audible = audible if audible.size else full_db
    values["level_spread"] = float(audible.std())
    values["level_range"] = float(np.percentile(audible, 95) - np.percentile(audible, 10))
    rms = math.sqrt(float(np.dot(x, x)) / n)
    values["crest"] = 20 * math.log10(1.0 / max(rms, 1e-9))
    return values, x, mean_chroma


def scores_against(raw: np.ndarray, centres: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Raw descriptor values as robust standard scores, clipped to +-``Z_CLIP`` (v2's and v3's rule)."""
    return np.clip((np.asarray(raw, dtype=np.float64) - centres) / scales, -Z_CLIP, Z_CLIP)


def unit_vector(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted standard scores, L2-normalised, as float32 (v2's and v3's rule)."""
    weighted = scores * weights
    norm = float(np.linalg.norm(weighted))
    if norm > 0:
        weighted = weighted / norm
    return weighted.astype(np.float32)


def standard_scores(raw: np.ndarray) -> np.ndarray:
    return scores_against(raw, CENTRES, SCALES)


def vector_from_raw(raw: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The group-weighted, L2-normalised float32 vector of raw descriptor values."""
    return unit_vector(standard_scores(raw), VECTOR_WEIGHTS if weights is None else weights)


def embed_samples(samples: np.ndarray, rate: int = SR) -> np.ndarray:
    return vector_from_raw(raw_features(samples, rate))
