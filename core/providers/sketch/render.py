"""Rendering a recipe: the arrangement laid out on the grid, every layer mixed at its
style's level, echo, crackle and mastering. A pure function of (recipe, duration).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from core.audio import fade_edges, limit_peak
from core.providers.base import check_cancel
from core.providers.sketch.cues import STYLES
from core.providers.sketch.drums import _GROOVE_EXTRAS, GROOVES, HAT_FILLED, TOM_FILLS, _band_noise, make_kit
from core.providers.sketch.instruments import INSTRUMENTS, _quantise_cutoff, _render_note
from core.providers.sketch.synth import _MAX_SAMPLES, _PHASE_RAMP, PAD_LOOP, _envelope, _pad_loop, _ramp
from core.providers.sketch.theory import (
    BASS_PATTERNS,
    CHORD_PATTERNS,
    LAYERS,
    MODES,
    PEAK_CEILING_DBFS,
    SR,
    STEPS_PER_BAR,
    _choose,
    _rng,
)


class _Renderer:
    def __init__(self, recipe: dict[str, Any], n_samples: int, cancel: threading.Event | None) -> None:
        self.recipe = recipe
        self.n = n_samples
        self.cancel = cancel
        self.style = STYLES[recipe["style"]]
        self.step_sec = 60.0 / float(recipe["tempo"]) / 4.0
        self.swing = float(recipe["groove"]["swing"])
        self.total_steps = int(math.ceil(n_samples / SR / self.step_sec)) + 1
        self.bars = self.total_steps // STEPS_PER_BAR + 1
        self.brightness = float(recipe["brightness"])
        self.density = float(recipe["density"])
        self.scale = MODES[recipe["mode"]]
        self.key = int(recipe["key"])
        self.bodies: dict[tuple[str, float], np.ndarray] = {}
        self.ran_out: dict[tuple[str, float], bool] = {}
        self.cutoff_cap = float(recipe["lowpass_hz"])
        self.phase_seed = int(recipe["melody_seed"]) ^ int(recipe["pattern_seed"])
        # The level of each layer (dB): the variant's balance where it has one, else the style's.
        self.mix = tuple(float(db) for db in recipe.get("mix", self.style.mix))

    # -- time -----------------------------------------------------------
    def position(self, step: float) -> int:
        whole = math.floor(step)
        offset = self.swing if whole % 2 == 1 and step == whole else 0.0
        return int(round((step + offset) * self.step_sec * SR))

    def samples(self, steps: float) -> int:
        return int(round(steps * self.step_sec * SR))

    # -- harmony ----------------------------------------------------------
    def chord_degree(self, bar: int) -> int:
        progression = self.recipe["progression"]
        return int(progression[(bar // int(self.recipe["chord_bars"])) % len(progression)])

    def degree_pitch_class(self, degree: int) -> int:
        return (self.key + self.scale[degree % 7]) % 12

    def chord_pcs(self, degree: int) -> list[int]:
        tones = 4 if self.recipe["sevenths"] else 3
        return [self.degree_pitch_class(degree + 2 * k) for k in range(tones)]

    def voicing(self, degree: int, center: int) -> list[int]:
        notes = []
        for pc in self.chord_pcs(degree):
            below = center - ((center - pc) % 12)
            notes.append(below if center - below <= 6 else below + 12)
        return sorted(notes)

    # -- notes ------------------------------------------------------------
    def body(self, name: str, midi: float, need: int) -> np.ndarray:
        """The note ``midi`` of instrument ``name`` without its release, at least ``need``
        samples long (or as long as it sounds); rendered once per clip and sliced."""
        key = (name, midi)
        cached = self.bodies.get(key)
        if cached is None or (cached.shape[0] < need and not self.ran_out[key]):
            inst = INSTRUMENTS[name]
            length = -(-max(need, SR // 4) // (SR // 4)) * (SR // 4)  # quarter seconds: few re-renders
            length = min(length, _PHASE_RAMP.shape[0])
            # Each clip starts each pitch at its own phase: two clips in one key
            # must not line up sample for sample.
            phase = (self.phase_seed * 2654435761 + int(midi) * 40503) & 0xFFFFFFFF
            cached = _render_note(
                inst, midi, length, self.brightness, self.cutoff_cap, phase, with_release=False
            )
            self.bodies[key] = cached
            self.ran_out[key] = cached.shape[0] < length  # a decaying note that fades out by itself
        return cached

    def play(self, bus: np.ndarray, start: int, name: str, midi: float, length: int, gain: float) -> None:
        """Add a note held ``length`` samples, then its release ramp."""
        release = max(int(INSTRUMENTS[name].release * SR), 32)
        body = self.body(name, midi, length + release)
        held = min(max(length, 1), body.shape[0])
        tail = min(release, body.shape[0] - held)
        self.add(bus, start, body[:held], gain)
        if tail > 1:
            self.add(bus, start + held, body[held : held + tail] * _ramp(tail)[::-1], gain)

    @staticmethod
    def add(bus: np.ndarray, start: int, sound: np.ndarray, gain: float) -> None:
        if start >= bus.shape[0] or gain == 0.0:
            return
        end = min(bus.shape[0], start + sound.shape[0])
        if start < 0:
            sound = sound[-start:]
            start = 0
        bus[start:end] += sound[: end - start] * np.float32(gain)

    def velocity(self, rng: np.random.Generator, base: float) -> float:
        return base * float(rng.uniform(0.88, 1.0))

    # -- layers -----------------------------------------------------------
    def drums(self, bus: np.ndarray) -> None:
        recipe = self.recipe
        name = recipe["timbre"]["drums"]
        # Twelve kits per style and drive step: enough variety, and kits are reused across clips.
        kit = make_kit(
            self.style.name,
            int(recipe["timbre"]["kit"]) % 12,
            round(float(recipe["drive"]), 1),
            _quantise_cutoff(self.cutoff_cap),
        )
        rng = _rng(int(recipe["pattern_seed"]), "drums")
        groove = {part: list(hits) for part, hits in GROOVES[name].items()}
        for part, steps in _GROOVE_EXTRAS[name].items():  # the seed adds a few hits
            for step in steps:
                if rng.random() < 0.25 + 0.35 * self.density:
                    groove.setdefault(part, []).append((step, float(rng.uniform(0.35, 0.7))))
        if self.density > 0.55 and name in HAT_FILLED:
            division = int(recipe["groove"]["hat_division"])
            present = {s for s, _ in groove.get("hat", [])}
            groove.setdefault("hat", []).extend(
                (s, 0.35) for s in range(0, 16, division) if s not in present and s % 4 != 2
            )
        if self.density > 0.7 and name == "folk":
            groove["shaker"] = [(s, 0.5 if s % 4 else 0.65) for s in range(16)]
        sounds = {
            "kick": kit.kick,
            "snare": kit.snare,
            "clap": kit.clap,
            "hat": kit.hat,
            "open_hat": kit.open_hat,
            "shaker": kit.shaker,
            "rim": kit.rim,
            "tom": kit.tom,
        }
        levels = {
            "kick": 1.0,
            "snare": 0.7,
            "clap": 0.6,
            "hat": 0.3,
            "open_hat": 0.25,
            "shaker": 0.3,
            "rim": 0.35,
            "tom": 0.8,
        }
        for bar in range(self.bars):
            fill = bar % 4 == 3 and self.density > 0.6
            for part, hits in groove.items():
                for step, vel in hits:
                    if fill and part in ("kick", "tom") and step >= 12:
                        continue
                    self.add(
                        bus,
                        self.position(bar * 16 + step),
                        sounds[part],
                        levels[part] * self.velocity(rng, vel),
                    )
            if fill:
                for step in (12, 13, 14, 15):
                    part = "tom" if name in TOM_FILLS else "snare"
                    self.add(
                        bus,
                        self.position(bar * 16 + step),
                        sounds[part],
                        0.5 * self.velocity(rng, 0.6 + 0.1 * (step - 12)),
                    )

    def bass(self, bus: np.ndarray) -> None:
        recipe = self.recipe
        inst = recipe["timbre"]["bass"]
        pattern = BASS_PATTERNS[recipe["groove"]["bass_pattern"]]
        rng = _rng(int(recipe["pattern_seed"]), "bass")
        center = 38 if self.style.name == "techno" else 40
        drop = [step != 0 and rng.random() < 0.35 * (1 - self.density) for step, *_ in pattern]
        chord_bars = int(recipe["chord_bars"])
        drone = pattern is BASS_PATTERNS["drone"]
        level = 0.5 if drone else 0.9  # a drone sits under the pad, not on top of it
        for bar in range(self.bars):
            degree = self.chord_degree(bar)
            if drone and bar % chord_bars:
                continue
            for (step, length, tone, octave), skip in zip(pattern, drop, strict=True):
                if skip:
                    continue
                pc = self.chord_pcs(degree)[tone]
                midi = center - ((center - pc) % 12) + 12 * octave
                steps = length if length < 64 else 16 * chord_bars
                start = self.position(bar * 16 + step)
                self.play(bus, start, inst, midi, self.samples(steps * 0.92), self.velocity(rng, level))

    def chords(self, bus: np.ndarray) -> None:
        recipe = self.recipe
        inst = recipe["timbre"]["chords"]
        pattern = CHORD_PATTERNS[recipe["groove"]["chord_pattern"]]
        rng = _rng(int(recipe["pattern_seed"]), "chords")
        center = int(recipe["voicing_center"]) + (7 if inst in ("glass", "bell_arp", "harp") else 0)
        strum_gap = int(0.012 * SR) if inst == "strum" else 0
        for bar in range(self.bars):
            voicing = self.voicing(self.chord_degree(bar), center)
            if inst == "strum":  # a guitar-like spread: the root an octave down, then the triad
                voicing = sorted({voicing[0] - 12, *voicing, voicing[0] + 12})
            arp_index = 0
            for step, length, vel, direction in pattern:
                start = self.position(bar * 16 + step)
                if direction == 2:
                    midi = voicing[arp_index % len(voicing)] + 12 * ((arp_index // len(voicing)) % 2)
                    arp_index += 1
                    self.play(bus, start, inst, midi, self.samples(length), self.velocity(rng, vel))
                    continue
                order = voicing if direction >= 0 else voicing[::-1]
                per_voice = vel / math.sqrt(len(order))
                for k, midi in enumerate(order):
                    at = start + k * strum_gap
                    self.play(bus, at, inst, midi, self.samples(length * 0.95), self.velocity(rng, per_voice))

    def pad(self, bus: np.ndarray) -> None:
        recipe = self.recipe
        inst = INSTRUMENTS[recipe["timbre"]["pad"]]
        chord_bars = int(recipe["chord_bars"])
        center = int(recipe["voicing_center"]) + 2
        cutoff = _quantise_cutoff(min(inst.cutoff * 2.0 ** ((self.brightness - 0.5) * 3.0), self.cutoff_cap))
        length = self.samples(16 * chord_bars) + int(inst.release * SR)
        env = _envelope(length, inst.attack, 0.0, 1.0, inst.release)
        for bar in range(0, self.bars, chord_bars):
            voicing = tuple(self.voicing(self.chord_degree(bar), center))
            loop = _pad_loop(voicing, inst.spectrum, round(cutoff), inst.detune_cents, 0)
            start = self.position(bar * 16)
            end = min(bus.shape[0], start + length)
            if end <= start:
                continue
            # Read the loop in place (chord changes stay phase-coherent) from a point
            # of this clip's own: loops are shared by every clip of the process.
            offset = (start + self.phase_seed) % PAD_LOOP
            sound = np.resize(np.roll(loop, -offset), end - start) if end - start > 0 else loop[:0]
            bus[start:end] += sound * env[: end - start] * np.float32(inst.gain * 0.9)

    def melody(self) -> list[tuple[int, int, int]]:
        """[(step, length in steps, relative scale degree)] for two bars, from the melody seed."""
        rng = _rng(int(self.recipe["melody_seed"]), "melody")
        grid = int(self.recipe["lead_grid"])
        if self.density > 0.75 and grid == 2 and self.style.name in ("techno", "pop"):
            grid = 1
        probability = 0.25 + 0.6 * self.density
        onsets = [s for s in range(0, 32, grid) if s == 0 or rng.random() < probability]
        degrees: list[int] = []
        degree = int(_choose(rng, (0, 2, 4)))
        for step in onsets:
            if step % 8 == 0:  # strong beats land on chord tones
                degree = min((0, 2, 4, 7, -3), key=lambda d: abs(d - degree) + float(rng.random()))
            degrees.append(degree)
            degree += int(_choose(rng, (-2, -1, -1, 1, 1, 2, 3, -3, 0)))
            degree = max(-5, min(9, degree))
        notes = []
        for k, step in enumerate(onsets):
            next_step = onsets[k + 1] if k + 1 < len(onsets) else 32
            notes.append((step, min(8, next_step - step), degrees[k]))
        return notes

    def lead(self, bus: np.ndarray) -> None:
        recipe = self.recipe
        inst = recipe["timbre"]["lead"]
        rng = _rng(int(recipe["melody_seed"]), "lead")
        motif = self.melody()
        variation = self.melody_variant(motif, rng)
        center = int(recipe["lead_octave"]) - 7
        base = center - ((center - self.key) % 12)  # the tonic a fifth or so below the centre
        for phrase in range(0, self.bars, 2):
            notes = variation if phrase % 4 == 2 else motif
            for step, length, relative in notes:
                degree = self.chord_degree(phrase + step // 16) + relative
                midi = base + self.scale[degree % 7] + 12 * (degree // 7)
                start = self.position(phrase * 16 + step)
                self.play(bus, start, inst, midi, self.samples(length * 0.9), self.velocity(rng, 0.8))

    @staticmethod
    def melody_variant(
        motif: list[tuple[int, int, int]], rng: np.random.Generator
    ) -> list[tuple[int, int, int]]:
        """The answer phrase: the motif with its second bar moved by a step or two."""
        shift = int(_choose(rng, (-2, -1, 1, 2)))
        return [(s, length, d + shift if s >= 16 else d) for s, length, d in motif]

    # -- the mix ----------------------------------------------------------
    def render(self) -> np.ndarray:
        recipe = self.recipe
        n = self.n
        mix = np.zeros(n, dtype=np.float32)
        send = np.zeros(n, dtype=np.float32)  # what goes through the echo
        for layer in LAYERS:
            if layer not in recipe["layers"]:
                continue
            check_cancel(self.cancel)
            bus = np.zeros(n, dtype=np.float32)
            getattr(self, layer)(bus)
            if layer == "drums" and self.style.name == "lofi":
                bus += self.crackle()
            level = float(np.sqrt(np.dot(bus, bus) / n))
            if level > 1e-9:  # each layer at its style's level, whatever its instrument
                bus *= np.float32(10 ** (self.mix[LAYERS.index(layer)] / 20) * 0.1 / level)
            mix += bus
            if layer in ("pad", "lead", "chords"):
                send += bus
        check_cancel(self.cancel)
        if float(recipe["echo"]) > 0:
            self.echo(mix, send, float(recipe["echo"]))
        return self.master(mix)

    def echo(self, mix: np.ndarray, send: np.ndarray, amount: float) -> None:
        """Three darkened feed-forward taps of ``send``, a dotted eighth apart, added to ``mix``."""
        delay = self.samples(3)
        if delay <= 0:
            return
        # A four-sample average, (1 + z)(1 + z^2) / 4: darker taps without a running sum.
        wet = send.copy()
        wet[1:] += send[:-1]
        wet[2:] += wet[:-2].copy()
        wet *= np.float32(0.25)
        for k in range(1, 4):
            shift = delay * k
            if shift >= mix.shape[0]:
                break
            mix[shift:] += wet[:-shift] * np.float32(amount**k)

    def crackle(self) -> np.ndarray:
        """Vinyl: dark hiss and sparse soft pops."""
        rng = _rng(int(self.recipe["pattern_seed"]), "vinyl")
        hiss = _band_noise(6, 1)
        start = int(rng.integers(hiss.shape[0]))
        out = np.resize(np.roll(hiss, -start), self.n) * np.float32(0.006)
        pops = rng.integers(0, max(1, self.n - 64), size=max(1, self.n // 2500))
        levels = rng.uniform(0.3, 1.0, size=pops.shape[0]) * rng.choice((-1.0, 1.0), size=pops.shape[0])
        grain = np.exp(-np.arange(24, dtype=np.float32) / 4.0) * np.float32(0.05)
        for position, level in zip(pops.tolist(), levels.tolist(), strict=True):
            end = min(position + grain.shape[0], self.n)
            out[position:end] += grain[: end - position] * np.float32(level)
        return out

    def master(self, mix: np.ndarray) -> np.ndarray:
        mix -= np.float32(mix.mean()) if mix.size else 0.0
        rms = float(np.sqrt(np.mean(mix.astype(np.float64) ** 2))) if mix.size else 0.0
        if rms > 1e-9:
            target_db = -22.0 + 8.0 * float(self.recipe["energy"])
            mix *= np.float32(10 ** (target_db / 20) / rms)
            # Gentle saturation instead of hard clipping for hot peaks.
            hot = np.abs(mix) > 0.7
            if hot.any():
                mix = np.where(hot, np.sign(mix) * (0.7 + 0.3 * np.tanh((np.abs(mix) - 0.7) / 0.3)), mix)
        mix = fade_edges(mix.astype(np.float32), SR, 0.01)
        return limit_peak(mix, PEAK_CEILING_DBFS)


def render_recipe(
    recipe: dict[str, Any], duration_sec: float, cancel: threading.Event | None = None
) -> np.ndarray:
    """The clip ``recipe`` describes: float32, 32 kHz mono, exactly round(duration*32000) samples."""
    if not duration_sec > 0:
        raise ValueError("The duration must be positive.")
    n = max(1, int(round(duration_sec * SR)))  # at least one sample, however short the request
    if n > _MAX_SAMPLES:
        raise ValueError(f"The sketch engine renders at most {_MAX_SAMPLES / SR:g} seconds.")
    from core.providers.features import tune_allocator

    tune_allocator()
    return _Renderer(recipe, n, cancel).render()
