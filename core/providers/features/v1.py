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

The constants are in ``v1_constants.py``, the fixed analysis matrices in
``v1_bank.py`` and the text side (``TEXT_CUES``, ``text_scores``) in ``v1_text.py``.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from core.audio import moving_average, read_audio, resample

# SPACE and DIMENSION are re-exported as this space's, as v2 and v3 have them (FeatureEmbedder
# reads them from the module); _Bank for bench/embedders.py.
from core.providers.features.v1_bank import _Bank, _get_bank  # noqa: F401
from core.providers.features.v1_constants import (  # noqa: F401
    _CENTRES,
    _EPS,
    _INDEX,
    _MAJOR_PROFILE,
    _MINOR_PROFILE,
    _SCALES,
    BLOCK,
    BLOCK_RATE,
    CLEAR_PULSE,
    DIMENSION,
    FEATURE_NAMES,
    FEATURES,
    FRAME,
    ONSET_DB,
    ONSET_HALF_WINDOW,
    SILENCE_PEAK,
    SPACE,
    SR,
    TEMPO_CLIP,
    VECTOR_WEIGHTS,
    Z_CLIP,
)

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
