"""Drums: one-shot kits (pitch-swept sines, filtered noise) made once per variant, and
the grooves they play.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from core.audio import moving_average
from core.providers.sketch.synth import _NOISE, _TIME, _lowpass, _ramp_in, _ramp_out
from core.providers.sketch.theory import SR, _rng


@dataclass(frozen=True)
class Kit:
    kick: np.ndarray
    snare: np.ndarray
    clap: np.ndarray
    hat: np.ndarray
    open_hat: np.ndarray
    shaker: np.ndarray
    rim: np.ndarray
    tom: np.ndarray


def _sweep(start_hz: float, end_hz: float, pitch_decay: float, amp_decay: float, length: float) -> np.ndarray:
    n = int(length * SR)
    t = _TIME[:n]
    # Closed-form phase of an exponential pitch sweep: no cumulative sum needed.
    phase = 2 * np.pi * (end_hz * t + (start_hz - end_hz) * pitch_decay * (1 - np.exp(-t / pitch_decay)))
    out = np.sin(phase.astype(np.float32)) * np.exp(t * np.float32(-1.0 / amp_decay))
    _ramp_out(out, int(0.01 * SR))
    return out.astype(np.float32)


@functools.lru_cache(maxsize=32)
def _band_noise(lowpass: int, highpass: int) -> np.ndarray:
    """Two seconds of fixed noise, low-passed by a ``lowpass``-sample moving average
    and high-passed by subtracting a ``highpass``-sample one (1 = no filter), peak 1."""
    band = moving_average(_NOISE.copy(), lowpass)
    if highpass > 1:
        band = band - moving_average(band, highpass)
    band = band / (float(np.max(np.abs(band))) or 1.0)
    band.flags.writeable = False
    return band


def _burst(
    rng: np.random.Generator, decay: float, length: float, lowpass: int, highpass: int, attack: float = 0.0005
) -> np.ndarray:
    """A decaying burst of band-limited noise, cut from a seed-chosen place."""
    n = min(int(length * SR), SR)
    band = _band_noise(lowpass, highpass)
    start = int(rng.integers(band.shape[0] - n))
    out = band[start : start + n] * np.exp(_TIME[:n] * np.float32(-1.0 / decay))
    _ramp_in(out, max(2, int(attack * SR)))
    _ramp_out(out, int(0.005 * SR))
    return out.astype(np.float32)


@functools.lru_cache(maxsize=32)
def make_kit(style: str, kit_seed: int, drive: float, cutoff_hz: float = 16000.0) -> Kit:
    """The drum sounds of a clip, low-passed at ``cutoff_hz`` (once here, not on the mix)."""
    rng = _rng(kit_seed, "kit", style)
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    if style == "techno":
        kick = _sweep(u(150, 190), u(42, 52), u(0.025, 0.045), u(0.28, 0.4), 0.5)
        kick = np.tanh(kick * np.float32(1.0 + 2.5 * drive)).astype(np.float32)
    elif style in ("ambient", "lofi"):
        kick = _sweep(u(100, 130), u(45, 55), u(0.03, 0.05), u(0.18, 0.26), 0.4)
    else:
        kick = _sweep(u(120, 160), u(48, 58), u(0.02, 0.04), u(0.2, 0.3), 0.4)
    kick[: int(0.003 * SR)] += _burst(rng, 0.002, 0.003, 1, 6) * np.float32(0.3)
    tone = _sweep(u(180, 230), u(160, 190), 0.02, 0.06, 0.25)
    snare_noise = _burst(rng, u(0.1, 0.18), 0.25, 2, 40)
    snare = (tone * np.float32(0.5) + snare_noise * np.float32(0.8)).astype(np.float32)
    if style == "folk":  # brushes: softer, longer, darker
        snare = _burst(rng, u(0.15, 0.22), 0.3, 4, 60, attack=0.012) * np.float32(0.6)
    clap = np.zeros(int(0.3 * SR), dtype=np.float32)
    for offset in (0, int(0.011 * SR), int(0.022 * SR)):
        part = _burst(rng, 0.012, 0.03, 2, 30)
        clap[offset : offset + part.shape[0]] += part
    tail = _burst(rng, u(0.06, 0.1), 0.25, 2, 30)
    start = int(0.022 * SR)
    clap[start : start + tail.shape[0]] += tail[: clap.shape[0] - start] * np.float32(0.7)
    hat = _burst(rng, u(0.02, 0.045), 0.12, 1, 3)
    open_hat = _burst(rng, u(0.14, 0.24), 0.4, 1, 3)
    shaker = _burst(rng, u(0.04, 0.07), 0.15, 1, 4, attack=0.012)
    rim = (
        _sweep(u(700, 900), 800, 0.01, 0.02, 0.08) + _burst(rng, 0.01, 0.08, 1, 8) * np.float32(0.4)
    ).astype(np.float32)
    tom = (
        _sweep(u(95, 120), u(55, 70), 0.08, u(0.4, 0.7), 1.0)
        + _burst(rng, 0.08, 1.0, 6, 80) * np.float32(0.25)
    ).astype(np.float32)
    sounds = [kick, snare, clap, hat, open_hat, shaker, rim, tom]
    for k, sound in enumerate(sounds):
        if k:
            _ramp_in(sound, 8)
        if cutoff_hz < 12000:
            sounds[k] = _lowpass(sound, cutoff_hz)
    return Kit(*sounds)


# Drum grooves: one bar of sixteenths, instrument -> [(step, velocity)].
GROOVES: dict[str, dict[str, list[tuple[int, float]]]] = {
    "four_floor": {
        "kick": [(0, 1.0), (4, 0.95), (8, 1.0), (12, 0.95)],
        "clap": [(4, 0.8), (12, 0.85)],
        "open_hat": [(2, 0.6), (6, 0.55), (10, 0.6), (14, 0.55)],
    },
    "backbeat": {
        "kick": [(0, 1.0), (8, 0.9)],
        "snare": [(4, 0.9), (12, 0.95)],
        "hat": [(s, 0.55 if s % 4 else 0.7) for s in range(0, 16, 2)],
    },
    "boom_bap": {
        "kick": [(0, 1.0), (7, 0.7), (10, 0.9)],
        "snare": [(4, 0.85), (12, 0.9)],
        "hat": [(s, 0.45 if s % 4 else 0.6) for s in range(0, 16, 2)],
    },
    "folk": {
        "kick": [(0, 0.7), (8, 0.6)],
        "snare": [(4, 0.6), (12, 0.65)],
        "shaker": [(s, 0.5 if s % 4 else 0.65) for s in range(0, 16, 2)],
    },
    "soft_pulse": {
        "kick": [(0, 0.45)],
        "shaker": [(4, 0.3), (12, 0.3)],
    },
    "taiko": {
        "tom": [(0, 1.0), (3, 0.6), (6, 0.7), (8, 0.9), (11, 0.6)],
        "kick": [(0, 0.8)],
    },
}
# Each style's other groove families (``core.providers.sketch.variants``): another feel
# over the same tempo, so that arrangement variants of one brief differ in their beat.
GROOVES.update(
    {
        "boom_bap_half": {
            "kick": [(0, 1.0), (10, 0.85)],
            "snare": [(8, 0.95)],
            "hat": [(s, 0.4 if s % 4 else 0.55) for s in range(0, 16, 4)],
        },
        "boom_bap_rim": {
            "kick": [(0, 0.9), (6, 0.6), (11, 0.75)],
            "rim": [(4, 0.8), (12, 0.85)],
            "shaker": [(s, 0.3 if s % 2 else 0.45) for s in range(16)],
        },
        "four_rolling": {
            "kick": [(0, 1.0), (4, 0.95), (8, 1.0), (12, 0.95)],
            "hat": [(s, 0.4 if s % 2 else 0.6) for s in range(16)],
            "rim": [(2, 0.6), (6, 0.5), (10, 0.6), (14, 0.5)],
        },
        "four_tribal": {
            "kick": [(0, 1.0), (4, 0.95), (8, 1.0), (12, 0.95)],
            "tom": [(3, 0.5), (7, 0.45), (11, 0.55), (14, 0.4)],
            "shaker": [(s, 0.35 if s % 4 else 0.5) for s in range(0, 16, 2)],
        },
        "disco": {
            "kick": [(0, 1.0), (4, 0.9), (8, 1.0), (12, 0.9)],
            "snare": [(4, 0.85), (12, 0.9)],
            "open_hat": [(2, 0.6), (6, 0.55), (10, 0.6), (14, 0.55)],
        },
        "half_time_pop": {
            "kick": [(0, 1.0), (7, 0.7)],
            "snare": [(8, 0.95)],
            "hat": [(s, 0.45 if s % 4 else 0.6) for s in range(0, 16, 2)],
        },
        "train": {
            "kick": [(0, 0.6), (8, 0.55)],
            "snare": [(s, 0.6 if s % 8 == 4 else 0.3) for s in range(0, 16, 2)],
        },
        "stomp": {
            "kick": [(0, 0.8), (4, 0.6), (8, 0.8), (12, 0.6)],
            "clap": [(4, 0.7), (12, 0.75)],
        },
        "heartbeat": {
            "kick": [(0, 0.45), (3, 0.3)],
            "rim": [(12, 0.25)],
        },
        "brush_pulse": {
            "shaker": [(s, 0.25 if s % 4 else 0.35) for s in range(0, 16, 2)],
            "kick": [(8, 0.3)],
        },
        "march": {
            "kick": [(0, 0.8), (8, 0.7)],
            "snare": [(s, 0.55 if s % 4 == 0 else 0.3) for s in range(16)],
        },
        "toms_pulse": {
            "tom": [(s, 0.8 if s % 4 == 0 else 0.5) for s in range(0, 16, 2)],
            "kick": [(0, 0.8)],
        },
    }
)
# Grooves that take a steady closed hat when the clip is dense, and those whose fill is on toms.
HAT_FILLED = ("four_floor", "backbeat", "boom_bap", "boom_bap_half", "disco", "half_time_pop")
TOM_FILLS = ("taiko", "toms_pulse")
_GROOVE_EXTRAS: dict[str, dict[str, list[int]]] = {
    "four_floor": {"kick": [14, 15, 7], "rim": [3, 11, 7, 13], "clap": [15, 10]},
    "backbeat": {"kick": [6, 10, 11, 3], "snare": [15, 7], "open_hat": [14, 6]},
    "boom_bap": {"kick": [3, 11, 15], "rim": [9, 14], "snare": [15, 7]},
    "folk": {"kick": [6, 10, 14], "snare": [14]},
    "soft_pulse": {"kick": [10, 8], "rim": [6, 14]},
    "taiko": {"tom": [14, 15, 12], "snare": [13, 14, 15]},
    "boom_bap_half": {"kick": [3, 14, 7], "rim": [6, 12]},
    "boom_bap_rim": {"kick": [9, 14], "snare": [15], "rim": [7]},
    "four_rolling": {"rim": [3, 11], "open_hat": [14]},
    "four_tribal": {"tom": [5, 13], "rim": [10]},
    "disco": {"snare": [15, 7], "kick": [14]},
    "half_time_pop": {"kick": [3, 14], "snare": [15], "open_hat": [14]},
    "train": {"kick": [6, 14], "snare": [15, 13]},
    "stomp": {"kick": [14, 10], "clap": [15]},
    "heartbeat": {"kick": [8, 11], "rim": [4]},
    "brush_pulse": {"rim": [12, 4], "kick": [0]},
    "march": {"kick": [14, 4], "tom": [12]},
    "toms_pulse": {"tom": [15, 7], "kick": [8]},
}
