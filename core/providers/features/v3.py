"""Space ``features-v3``: ``v2``'s statistics plus how the sound moves in time and the key it is in.

No model, no weights, no compiled-on-first-call code: numpy only. Level-free (every
number is a ratio, a level difference or a shape) and start-free (every number is
a statistic over the whole clip), like ``v2``, whose descriptors it reuses (all but
``dynamics``, which told tracks apart least) and adds to:

- ``modulation``: the modulation spectrum of the clip's texture. A short-time
  spectrum (512-sample Hann frames, hop 256: 125 envelope frames a second) summed
  into 9 log-spaced bands (40 Hz-14 kHz), each band's dB envelope (floored 80 dB
  below the clip's loudest band-frame, its mean removed), Hann-windowed over the
  whole clip; its power in 12 log-spaced modulation bands from 0.5 to 20 Hz, in
  dB relative to their sum: slow swells, tremolo, beat-rate pulsing and
  fast flutter, per register, whatever the level;
- ``pulse``: the same spectrum of each band's dB rises (onsets) rather than its
  level: which rates the attacks come at, per register;
- ``key``: the energy-weighted mean chroma, C first, not rotated to its tonic
  (``v2``'s ``harmony`` is key-free; two excerpts of one piece share their key).

Standardisation, like ``v2``: each descriptor's median and robust spread over the
tuning part of the real-music set (``CENTRES``, ``SCALES``), clipped to +-``Z_CLIP``,
weighted by the square root of its Fisher ratio there; each group is then scaled to
unit mean-square norm over that part times its ``GROUP_WEIGHTS`` (a coordinate
search on the tuning part's nearest-neighbour precision and mAP, then ``timbre``
raised from 0.5 to 1.5, which left those figures as they were and keeps batches
of different briefs from the embedded engine apart), and the vector is
L2-normalised. ``VECTOR_WEIGHTS`` (``v3_constants.py``, ``bench/embedders.py
--calibrate v3``) hold the product. The constants are part of the space: change
them and the space needs a new name.
"""

from __future__ import annotations

import threading

import numpy as np

from core.providers.features import v2

SPACE = "features-v3"
SR = v2.SR
MOD_FRAME = 512
MOD_HOP = 256
ENVELOPE_RATE = SR / MOD_HOP
MOD_BAND_EDGES_HZ = tuple(float(x) for x in np.geomspace(40.0, 14_000.0, 10))
MOD_RATE_EDGES_HZ = tuple(float(x) for x in np.geomspace(0.5, 20.0, 13))
Z_CLIP = v2.Z_CLIP
FLOOR_DB = 80.0

V2_GROUPS = ("timbre", "motion", "shape", "rhythm", "bands", "harmony")
GROUP_WEIGHTS = {
    "timbre": 1.5,
    "motion": 0.5,
    "shape": 1.4,
    "rhythm": 2.8,
    "bands": 0.35,
    "harmony": 1.0,
    "key": 1.0,
    "modulation": 1.0,
    "pulse": 1.0,
}

_MOD_BANDS = len(MOD_BAND_EDGES_HZ) - 1
_MOD_RATES = len(MOD_RATE_EDGES_HZ) - 1


def _names() -> dict[str, list[str]]:
    groups = {group: list(v2.GROUPS[group]) for group in V2_GROUPS}
    groups["key"] = [f"key_{k}" for k in range(12)]
    for group in ("modulation", "pulse"):
        groups[group] = [f"{group}_{b}_{r}" for b in range(_MOD_BANDS) for r in range(_MOD_RATES)]
    return groups


GROUPS = _names()
NAMES: tuple[str, ...] = tuple(name for names in GROUPS.values() for name in names)
GROUP_OF = {name: group for group, names in GROUPS.items() for name in names}
DIMENSION = len(NAMES)
_V2_INDEX = np.array([v2.NAMES.index(name) for group in V2_GROUPS for name in GROUPS[group]])

from core.providers.features.v3_constants import CONSTANTS  # noqa: E402

CENTRES = np.array([CONSTANTS[n][0] for n in NAMES], dtype=np.float64)
SCALES = np.array([CONSTANTS[n][1] for n in NAMES], dtype=np.float64)
VECTOR_WEIGHTS = np.array([CONSTANTS[n][2] for n in NAMES], dtype=np.float64)


class _Bank:
    def __init__(self) -> None:
        self.window = np.hanning(MOD_FRAME + 2)[1:-1]
        freqs = np.fft.rfftfreq(MOD_FRAME, 1.0 / SR)
        edges = MOD_BAND_EDGES_HZ
        self.bands = np.zeros((freqs.shape[0], _MOD_BANDS))
        for b in range(_MOD_BANDS):
            self.bands[(freqs >= edges[b]) & (freqs < edges[b + 1]), b] = 1.0


_bank: _Bank | None = None
_bank_lock = threading.Lock()


def _get_bank() -> _Bank:
    global _bank
    if _bank is None:
        with _bank_lock:
            if _bank is None:
                _bank = _Bank()
    return _bank


def _modulation_db(envelopes: np.ndarray) -> np.ndarray:
    """Per column: the power of the mean-removed, Hann-windowed series in each
    modulation band (``MOD_RATE_EDGES_HZ``), in dB relative to their sum."""
    series = envelopes - envelopes.mean(axis=0)
    frames = series.shape[0]
    spectrum = np.fft.rfft(series * np.hanning(frames)[:, None], axis=0)
    power = np.square(spectrum.real) + np.square(spectrum.imag)
    rates = np.fft.rfftfreq(frames, 1.0 / ENVELOPE_RATE)
    edges = MOD_RATE_EDGES_HZ
    pooled = np.empty((_MOD_RATES, series.shape[1]))
    for r in range(_MOD_RATES):
        inside = (rates >= edges[r]) & (rates < edges[r + 1])
        if inside.any():
            pooled[r] = power[inside].mean(axis=0)
        else:  # a short clip's coarse resolution: read the spectrum at the band's centre
            centre = float(np.sqrt(edges[r] * edges[r + 1]))
            pooled[r] = [np.interp(centre, rates, power[:, c]) for c in range(series.shape[1])]
    return 10 * np.log10((pooled + 1e-12) / (pooled.sum(axis=0) + 1e-12))


def raw_features(samples: np.ndarray, rate: int = SR) -> np.ndarray:
    """Raw descriptor values in ``NAMES`` order (the standardising constants' centres for silence)."""
    found = v2.analysis(samples, rate)
    if found is None:
        return CENTRES.copy()
    values, x, mean_chroma = found
    if x.shape[0] < 4 * MOD_FRAME:
        return CENTRES.copy()
    v2_raw = np.array([values[name] for name in v2.NAMES], dtype=np.float64)[_V2_INDEX]

    bank = _get_bank()
    frames = np.lib.stride_tricks.sliding_window_view(x, MOD_FRAME)[::MOD_HOP].astype(np.float64)
    bins = np.fft.rfft(frames * bank.window, axis=1)
    band_db = 10 * np.log10((np.square(bins.real) + np.square(bins.imag)) @ bank.bands + 1e-12)
    band_db = np.maximum(band_db, float(band_db.max()) - FLOOR_DB)
    modulation = _modulation_db(band_db)
    pulse = _modulation_db(np.maximum(np.diff(band_db, axis=0), 0.0))

    raw = np.concatenate([v2_raw, mean_chroma, modulation.T.ravel(), pulse.T.ravel()])
    return np.where(np.isfinite(raw), raw, CENTRES)


def standard_scores(raw: np.ndarray) -> np.ndarray:
    return v2.scores_against(raw, CENTRES, SCALES)


def vector_from_raw(raw: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The weighted, L2-normalised float32 vector of raw descriptor values."""
    return v2.unit_vector(standard_scores(raw), VECTOR_WEIGHTS if weights is None else weights)


def embed_samples(samples: np.ndarray, rate: int = SR) -> np.ndarray:
    return vector_from_raw(raw_features(samples, rate))
