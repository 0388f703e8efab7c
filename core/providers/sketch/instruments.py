"""Instruments: pitched voices (wavetable, plucked, FM) and how one note of each is rendered."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from core.providers.sketch.synth import (
    _PHASE_BITS,
    _TIME,
    TABLE_SIZE,
    _envelope,
    _midi_hz,
    _octave_of,
    _read_table,
    _table,
)
from core.providers.sketch.theory import SR


@dataclass(frozen=True)
class Instrument:
    kind: str  # "table", "pluck" or "fm"
    spectrum: str = "saw"
    cutoff: float = 4000.0  # at brightness 0.5; brightness moves it +-1.5 octaves
    attack: float = 0.005
    decay: float = 0.3
    sustain: float = 0.7
    release: float = 0.05
    detune_cents: float = 0.0  # a second, detuned oscillator (chorus)
    drive: float = 0.0
    pluck_bright: float = 0.08  # pluck: how fast the bright table fades
    ratio: float = 1.0  # fm: modulator / carrier
    index: float = 1.0  # fm: modulation index at the onset
    index_decay: float = 0.3
    sub: float = 0.0  # an added sine one octave down
    gain: float = 1.0


INSTRUMENTS: dict[str, Instrument] = {
    # bass
    "sub": Instrument("table", "soft", 600, 0.008, 0.0, 1.0, 0.06, gain=1.1),
    "sub_pulse": Instrument("table", "triangle", 500, 0.004, 0.12, 0.55, 0.03, gain=1.1),
    "dist_saw": Instrument("table", "saw", 1800, 0.003, 0.12, 0.55, 0.02, drive=3.5, sub=0.5, gain=0.8),
    "acid_bass": Instrument(
        "pluck", "saw", 5000, 0.002, 0.2, 0.0, 0.02, pluck_bright=0.05, drive=2.5, gain=0.9
    ),
    "pluck_bass": Instrument("pluck", "triangle", 2500, 0.003, 0.45, 0.0, 0.04, pluck_bright=0.05, gain=1.2),
    "round_bass": Instrument("table", "soft", 900, 0.006, 0.5, 0.5, 0.05, sub=0.3, gain=1.1),
    "synth_bass": Instrument("table", "saw", 1200, 0.004, 0.18, 0.6, 0.03, detune_cents=6, gain=0.8),
    "strings_low": Instrument("table", "saw", 900, 0.15, 0.0, 1.0, 0.25, detune_cents=8, gain=0.8),
    # chords
    "strum": Instrument("pluck", "saw", 8000, 0.002, 0.9, 0.0, 0.05, pluck_bright=0.25, gain=0.7),
    "stab": Instrument("table", "saw", 3000, 0.003, 0.09, 0.25, 0.04, detune_cents=12, gain=0.55),
    "epiano": Instrument("fm", "sine", 0, 0.004, 1.2, 0.15, 0.12, ratio=1.0, index=1.3, index_decay=0.35),
    "pluck": Instrument("pluck", "square", 5000, 0.002, 0.35, 0.0, 0.04, pluck_bright=0.06, gain=0.6),
    "piano": Instrument("pluck", "hollow", 4500, 0.003, 1.1, 0.0, 0.12, pluck_bright=0.2, gain=0.65),
    "harp": Instrument("pluck", "triangle", 6000, 0.002, 0.9, 0.0, 0.15, pluck_bright=0.12, gain=0.7),
    "glass": Instrument(
        "fm", "sine", 0, 0.003, 1.4, 0.0, 0.3, ratio=3.5, index=1.2, index_decay=0.25, gain=0.5
    ),
    "bell_arp": Instrument(
        "fm", "sine", 0, 0.003, 1.8, 0.0, 0.4, ratio=2.0, index=1.5, index_decay=0.5, gain=0.5
    ),
    # pads
    "warm_pad": Instrument("table", "soft", 1500, 0.8, 0.0, 1.0, 0.9, detune_cents=9, gain=0.45),
    "choir_pad": Instrument("table", "hollow", 1300, 0.9, 0.0, 1.0, 1.0, detune_cents=7, gain=0.4),
    "dark_pad": Instrument("table", "saw", 900, 0.4, 0.0, 1.0, 0.5, detune_cents=14, gain=0.35),
    "organ_pad": Instrument("table", "organ", 3000, 0.06, 0.0, 1.0, 0.15, gain=0.3),
    "soft_pad": Instrument("table", "triangle", 1200, 0.3, 0.0, 1.0, 0.4, detune_cents=8, gain=0.35),
    "saw_pad": Instrument("table", "saw", 2400, 0.25, 0.0, 1.0, 0.35, detune_cents=12, gain=0.3),
    "strings": Instrument("table", "saw", 2200, 0.45, 0.0, 1.0, 0.6, detune_cents=10, gain=0.4),
    # leads
    "bell": Instrument(
        "fm", "sine", 0, 0.003, 1.6, 0.0, 0.4, ratio=3.5, index=2.0, index_decay=0.3, gain=0.55
    ),
    "glass_lead": Instrument(
        "fm", "sine", 0, 0.01, 1.2, 0.2, 0.3, ratio=2.0, index=0.8, index_decay=0.6, gain=0.5
    ),
    "sine_lead": Instrument("table", "soft", 3000, 0.06, 0.5, 0.6, 0.25, gain=0.5),
    "acid_lead": Instrument(
        "pluck", "saw", 6000, 0.002, 0.16, 0.0, 0.02, pluck_bright=0.04, drive=2.0, gain=0.45
    ),
    "square_lead": Instrument("table", "square", 4000, 0.005, 0.2, 0.6, 0.04, detune_cents=5, gain=0.4),
    "saw_lead": Instrument("table", "saw", 4500, 0.005, 0.25, 0.6, 0.05, detune_cents=7, gain=0.38),
    "pluck_lead": Instrument("pluck", "square", 5500, 0.002, 0.45, 0.0, 0.05, pluck_bright=0.15, gain=0.55),
    "whistle": Instrument("table", "sine", 5000, 0.03, 0.3, 0.8, 0.06, gain=0.45),
    "flute": Instrument("table", "soft", 3500, 0.04, 0.4, 0.75, 0.08, gain=0.5),
    "epiano_lead": Instrument(
        "fm", "sine", 0, 0.004, 0.9, 0.2, 0.1, ratio=1.0, index=1.0, index_decay=0.3, gain=0.5
    ),
    "muted_square": Instrument("table", "square", 1500, 0.006, 0.25, 0.4, 0.05, gain=0.4),
    "strings_lead": Instrument("table", "saw", 2600, 0.12, 0.0, 1.0, 0.2, detune_cents=6, gain=0.4),
    "horn": Instrument("table", "reed", 1800, 0.06, 0.6, 0.8, 0.12, gain=0.45),
}


def _quantise_cutoff(cutoff: float) -> float:
    """Quarter-octave steps, so that notes and clips share tables."""
    return float(2.0 ** (round(math.log2(max(cutoff, 100.0)) * 4) / 4))


@functools.lru_cache(maxsize=256)
def _fm_table(ratio: float, index: float, octave: int) -> np.ndarray:
    """Two-operator FM, sin(x + index * sin(ratio * x)), over two carrier cycles
    (so that half-integer ratios repeat), band-limited for ``octave``."""
    x = np.arange(TABLE_SIZE, dtype=np.float64) * (2 * 2 * np.pi / TABLE_SIZE)
    wave = np.sin(x + index * np.sin(ratio * x))
    spectrum = np.fft.rfft(wave)
    top = int(14_500.0 / (55.0 * 2.0 ** (octave + 1))) * 2  # in half-carrier bins
    spectrum[min(top + 1, spectrum.shape[0]) :] = 0.0
    table = np.fft.irfft(spectrum, TABLE_SIZE)
    peak = float(np.max(np.abs(table))) or 1.0
    return (table / peak).astype(np.float32)


@functools.lru_cache(maxsize=512)
def _decay(n: int, tau: float) -> np.ndarray:
    out = np.exp(_TIME[:n] * np.float32(-1.0 / tau))
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=512)
def _shape(n: int, attack: float, decay: float, sustain: float, release: float) -> np.ndarray:
    out = _envelope(n, attack, decay, sustain, release)
    out.flags.writeable = False
    return out


def _render_note(
    inst: Instrument,
    midi: float,
    n: int,
    brightness: float,
    cutoff_cap: float = 16000.0,
    phase: int = 0,
    with_release: bool = True,
) -> np.ndarray:
    """One note at unit velocity, ``n`` samples long.

    ``brightness`` moves the instrument's cut-off by up to +-1.5 octaves;
    ``cutoff_cap`` (the recipe's low-pass) bounds it; ``phase`` is the starting
    phase of the oscillators (a uint32 fraction of a cycle). With
    ``with_release`` the last ``inst.release`` seconds ramp down; without it the
    note is a *body* that the caller cuts to length and releases itself (only
    its last 5 ms ramp down, for a decaying note that runs out).
    """
    freq = _midi_hz(midi)
    octave = _octave_of(freq)
    if inst.sustain == 0.0:  # a decaying note is silent (-40 dB) after 4.6 time constants
        n = min(n, max(int(4.6 * inst.decay * SR), 64))
    release = inst.release if with_release else 0.005
    if inst.kind == "fm":
        # The modulation index decays: crossfade from the FM table to a sine.
        index = round(inst.index * (0.6 + 0.8 * brightness), 1)
        bright = _read_table(_fm_table(inst.ratio, index, octave), freq / 2, n, phase)
        dull = _read_table(_fm_table(1.0, 0.0, octave), freq / 2, n, phase)
        wave = dull + (bright - dull) * _decay(n, inst.index_decay)
        env = _shape(n, inst.attack, inst.decay, inst.sustain, release)
        return wave * env * np.float32(inst.gain)
    cutoff = inst.cutoff * 2.0 ** ((brightness - 0.5) * 3.0)
    cutoff = _quantise_cutoff(min(cutoff, cutoff_cap))
    if inst.kind == "pluck":
        # Bright at the pluck, duller as it rings: crossfade two tables.
        bright = _read_table(_table(inst.spectrum, cutoff, octave), freq, n, phase)
        dull = _read_table(_table("soft", cutoff * 0.5, octave), freq, n, phase)
        wave = dull + (bright - dull) * _decay(n, inst.pluck_bright)
        env = _shape(n, inst.attack, inst.decay, 0.0, release)
    else:
        table = _table(inst.spectrum, cutoff, octave)
        wave = _read_table(table, freq, n, phase)
        if inst.detune_cents:
            detuned = freq * 2.0 ** (inst.detune_cents / 1200.0)
            wave += _read_table(table, detuned, n, phase + ((TABLE_SIZE // 3) << _PHASE_BITS))
            wave *= np.float32(0.6)
        env = _shape(n, inst.attack, inst.decay, inst.sustain, release)
    if inst.sub:
        wave += np.float32(inst.sub) * _read_table(_table("sine", 20000.0, 0), freq / 2, n, phase)
    if inst.drive:
        wave = np.tanh(wave * np.float32(inst.drive)) * np.float32(1.0 / math.tanh(inst.drive))
    return wave * env * np.float32(inst.gain)
