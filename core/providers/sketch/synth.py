"""Synthesis primitives: band-limited wavetables read with a uint32 phase accumulator,
envelopes and ramps, moving-average filters, fixed noise, and pads built as seamless loops.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from core.audio import moving_average
from core.providers.capabilities import SKETCH as SKETCH_CAPABILITIES
from core.providers.sketch.theory import SR, _rng

TABLE_SIZE = 2048
_PHASE_BITS = 32 - 11  # uint32 phase: 11 bits of table index, 21 of fraction
_MAX_SAMPLES = int(SKETCH_CAPABILITIES.extend_sec * SR)  # the longest clip it renders (ten minutes)
# Tables for one sounding note (notes and their envelopes are at most this long, whatever the clip).
_NOTE_SAMPLES = int(32 * SR)
_PHASE_RAMP = np.arange(_NOTE_SAMPLES, dtype=np.uint32)
_TIME = (np.arange(_NOTE_SAMPLES, dtype=np.float32)) / np.float32(SR)


def _harmonic_amps(spectrum: str, count: int) -> np.ndarray:
    h = np.arange(1, count + 1, dtype=np.float64)
    odd = (h % 2) == 1
    if spectrum == "sine":
        amps = (h == 1).astype(np.float64)
    elif spectrum == "soft":
        amps = 1.0 / h**2
    elif spectrum == "triangle":
        amps = np.where(odd, np.where((h // 2) % 2 == 1, -1.0, 1.0) / h**2, 0.0)
    elif spectrum == "square":
        amps = np.where(odd, 1.0 / h, 0.0)
    elif spectrum == "hollow":
        amps = np.where(odd, 1.0 / h**1.5, 0.15 / h**2)
    elif spectrum == "organ":
        amps = np.zeros(count)
        for harmonic, level in ((1, 1.0), (2, 0.7), (3, 0.45), (4, 0.35), (6, 0.2), (8, 0.18)):
            if harmonic <= count:
                amps[harmonic - 1] = level
    elif spectrum == "reed":
        amps = (1.0 + 0.6 * odd) / h
    else:  # saw
        amps = 1.0 / h
    return amps


@functools.lru_cache(maxsize=1024)
def _table(spectrum: str, cutoff_hz: float, octave: int) -> np.ndarray:
    """A single cycle for notes in ``octave`` (55 Hz * 2**octave and up), band-limited
    and low-passed at ``cutoff_hz`` (second-order roll-off)."""
    f_low = 55.0 * 2.0**octave
    f_top = f_low * 2.0
    count = max(1, min(TABLE_SIZE // 2 - 1, int(14_500.0 / f_top)))
    amps = _harmonic_amps(spectrum, count)
    h = np.arange(1, count + 1, dtype=np.float64)
    amps = amps / np.sqrt(1.0 + (h * f_low * 1.41 / cutoff_hz) ** 4)
    spectrum_bins = np.zeros(TABLE_SIZE // 2 + 1, dtype=np.complex128)
    spectrum_bins[1 : count + 1] = -1j * amps * (TABLE_SIZE / 2)
    table = np.fft.irfft(spectrum_bins, TABLE_SIZE)
    peak = float(np.max(np.abs(table))) or 1.0
    return (table / peak).astype(np.float32)


def _octave_of(freq: float) -> int:
    return int(min(8, max(0, math.floor(math.log2(max(freq, 20.0) / 55.0)))))


def _read_table(table: np.ndarray, freq: float, n: int, phase: int = 0) -> np.ndarray:
    """``n`` samples of ``table`` at ``freq``: a wrapping uint32 phase accumulator, done in bulk."""
    increment = np.uint32(int(round(freq * TABLE_SIZE / SR * (1 << _PHASE_BITS))) & 0xFFFFFFFF)
    index = _PHASE_RAMP[:n] * increment
    if phase:
        index += np.uint32(phase & 0xFFFFFFFF)
    index >>= np.uint32(_PHASE_BITS)
    return table[index]


def _midi_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


@functools.lru_cache(maxsize=64)
def _ramp(count: int) -> np.ndarray:
    out = np.linspace(0.0, 1.0, count, dtype=np.float32)
    out.flags.writeable = False
    return out


def _ramp_in(x: np.ndarray, count: int) -> None:
    count = min(count, x.shape[0])
    if count > 1:
        x[:count] *= _ramp(count)


def _ramp_out(x: np.ndarray, count: int) -> None:
    count = min(count, x.shape[0])
    if count > 1:
        x[-count:] *= _ramp(count)[::-1]


def _envelope(n: int, attack: float, decay: float, sustain: float, release: float) -> np.ndarray:
    """Attack ramp, exponential decay to ``sustain``, release ramp over the last ``release`` s."""
    if decay > 0 and sustain < 1.0:
        env = np.exp(_TIME[:n] * np.float32(-1.0 / decay))
        env *= np.float32(1.0 - sustain)
        env += np.float32(sustain)
    else:
        env = np.full(n, sustain if decay > 0 else 1.0, dtype=np.float32)
    _ramp_in(env, int(attack * SR))
    _ramp_out(env, min(int(release * SR), n // 2))
    return env


def _lowpass(x: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """Two moving averages in cascade; -3 dB near ``cutoff_hz``."""
    width = int(round(0.32 * SR / max(cutoff_hz, 50.0)))
    if width <= 1:
        return x
    return moving_average(moving_average(x, width), width)


# Two seconds of fixed white noise: drum sounds and vinyl hiss are cut from it
# (filtered once, see _band_noise) at seed-chosen offsets.
_NOISE = np.random.default_rng(0x5EED).standard_normal(2 * SR, dtype=np.float32)


PAD_LOOP = 1 << 16  # 2.05 s: pads are built in the frequency domain as a seamless loop


@functools.lru_cache(maxsize=256)
def _pad_loop(
    midis: tuple[int, ...], spectrum: str, cutoff_hz: float, detune_cents: float, seed: int
) -> np.ndarray:
    """A sustained chord as a loop of ``PAD_LOOP`` samples, made with one inverse FFT.

    Every partial of every note (and of its detuned copies, for an ensemble
    sound) is put on the nearest FFT bin with a random phase, so the loop
    repeats without a seam; bins are 0.49 Hz apart, a few cents at bass
    pitches. Far cheaper than reading wavetables for seconds-long notes.
    """
    rng = _rng(seed, "pad", *midis)
    bins = np.zeros(PAD_LOOP // 2 + 1, dtype=np.complex128)
    spreads = (0.0,) if not detune_cents else (-detune_cents, 0.0, detune_cents)
    for midi in midis:
        f0 = _midi_hz(midi)
        count = max(1, int(14_500.0 / f0))
        h = np.arange(1, count + 1, dtype=np.float64)
        amps = np.abs(_harmonic_amps(spectrum, count)) / np.sqrt(1.0 + (h * f0 / cutoff_hz) ** 4)
        for cents in spreads:
            index = np.rint(h * f0 * 2.0 ** (cents / 1200.0) * PAD_LOOP / SR).astype(np.int64)
            phases = rng.uniform(0.0, 2 * np.pi, count)
            keep = index < bins.shape[0] - 1
            np.add.at(bins, index[keep], amps[keep] * np.exp(1j * phases[keep]))
    loop = np.fft.irfft(bins, PAD_LOOP)
    peak = float(np.max(np.abs(loop))) or 1.0
    return (loop / peak).astype(np.float32)
