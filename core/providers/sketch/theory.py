"""The music the sketch engine knows: sample rate, keys, modes, chord progressions, the
sixteenth-note grid, the bass and chord figures, the layers of an arrangement, and the
seeded choices every part makes.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.audio import SAMPLE_RATE

SR = SAMPLE_RATE
ENGINE = "sketch"
RECIPE_VERSION = 1
PEAK_CEILING_DBFS = -1.1  # a hair under the -1 dBFS promise, for 16-bit rounding
KEY_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}
MINOR_MODES = ("minor", "dorian")
# Diatonic progressions as 0-based scale degrees.
PROGRESSIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "major": (
        (0, 4, 5, 3),
        (0, 5, 3, 4),
        (0, 3, 4, 4),
        (0, 3, 0, 4),
        (5, 3, 0, 4),
        (0, 2, 3, 4),
        (0, 1, 4, 0),
    ),
    "minor": (
        (0, 5, 2, 6),
        (0, 3, 4, 0),
        (0, 6, 5, 6),
        (0, 3, 6, 2),
        (0, 5, 3, 4),
        (0, 0, 5, 6),
        (0, 2, 5, 4),
    ),
    "dorian": ((0, 3, 0, 3), (0, 1, 3, 0), (0, 6, 3, 0), (1, 4, 0, 0), (0, 3, 6, 4)),
    "mixolydian": ((0, 6, 3, 0), (0, 3, 6, 0), (0, 4, 6, 3), (0, 6, 0, 3)),
}

STEPS_PER_BAR = 16  # the grid is in sixteenth notes


# Bass: one bar, [(step, length in steps, chord tone 0/1/2, octave shift)].
BASS_PATTERNS: dict[str, list[tuple[int, int, int, int]]] = {
    "drone": [(0, 64, 0, 0)],
    "long": [(0, 8, 0, 0), (8, 8, 0, 0)],
    "offbeat": [(2, 2, 0, 0), (6, 2, 0, 0), (10, 2, 0, 0), (14, 2, 0, 0)],
    "rolling": [(s, 1, 0, 0) for s in range(16) if s % 4],
    "sixteenths": [(s, 1, 0, 1 if s % 8 == 6 else 0) for s in range(16)],
    "root_fifth": [(0, 4, 0, 0), (4, 2, 0, 0), (8, 4, 2, -1), (12, 2, 2, -1)],
    "walk": [(0, 4, 0, 0), (4, 4, 1, 0), (8, 4, 2, 0), (12, 4, 1, 0)],
    "lazy": [(0, 6, 0, 0), (7, 2, 2, 0), (10, 4, 0, 0), (14, 2, 1, 0)],
    "lazy_walk": [(0, 5, 0, 0), (6, 3, 1, 0), (10, 3, 2, 0), (14, 2, 0, 1)],
    "eighths": [(s, 2, 0, 0) for s in range(0, 16, 2)],
    "octaves": [(s, 2, 0, 1 if s % 4 == 2 else 0) for s in range(0, 16, 2)],
}
# Chords: one bar, [(step, length in steps, velocity, direction)]; direction
# +1 strums up in pitch, -1 down, 0 all at once, 2 arpeggiates.
CHORD_PATTERNS: dict[str, list[tuple[int, int, float, int]]] = {
    "held": [(0, 16, 0.8, 0)],
    "push": [(0, 10, 0.8, 0), (10, 6, 0.6, 0)],
    "strum_busy": [
        (0, 4, 1.0, 1),
        (4, 2, 0.75, 1),
        (6, 4, 0.6, -1),
        (10, 2, 0.6, -1),
        (12, 2, 0.8, 1),
        (14, 2, 0.6, -1),
    ],
    "strum_even": [(0, 4, 1.0, 1), (4, 4, 0.8, 1), (8, 4, 0.9, 1), (12, 2, 0.7, 1), (14, 2, 0.6, -1)],
    "stab_offbeat": [(2, 1, 0.9, 0), (6, 1, 0.8, 0), (10, 1, 0.9, 0), (14, 1, 0.8, 0)],
    "stab_sync": [(3, 1, 0.9, 0), (6, 2, 0.8, 0), (11, 1, 0.9, 0)],
    "three_three_two": [
        (0, 3, 0.9, 0),
        (3, 3, 0.75, 0),
        (6, 2, 0.7, 0),
        (8, 3, 0.85, 0),
        (11, 3, 0.7, 0),
        (14, 2, 0.65, 0),
    ],
    "arp_up": [(s, 4, 0.7, 2) for s in range(0, 16, 2)],
    "arp_wide": [(s, 6, 0.65, 2) for s in range(0, 16, 4)],
    "pulse": [(s, 2, 0.8 if s % 8 == 0 else 0.6, 0) for s in range(0, 16, 2)],
}

LAYERS = ("drums", "bass", "chords", "pad", "lead")


def _rng(*parts: int | str) -> np.random.Generator:
    """A generator seeded by ints and strings (strings by CRC32, stable across runs)."""
    seeds = [p if isinstance(p, int) else zlib.crc32(p.encode("utf-8")) for p in parts]
    return np.random.default_rng([abs(int(s)) for s in seeds])


def _choose(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]
