"""The fixed constants of space ``features-v1`` (see ``v1.py``): its analysis parameters, its
descriptors with their standardisation and group weights, the key profiles; changing them needs a
new space name."""

from __future__ import annotations

import math

import numpy as np

from core.audio import SAMPLE_RATE

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
