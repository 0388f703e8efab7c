"""Arrangement variants: a few audibly different ways to play one brief, chosen by the seed.

A batch of one brief should offer real alternatives, not six takes of one arrangement.
Each brief has ``VARIANTS`` arrangements; a clip plays arrangement ``variant_of(seed)``.
An arrangement fixes what the brief leaves open, on every axis at once:

- the beat: one of the style's groove families (``GROOVE_FAMILIES``);
- the instruments of bass, chords, pad and lead, among the style's own and a few
  more that suit it (``MORE_INSTRUMENTS``), and which of the optional layers play
  (a lead, a pad, a bass line) within the number that density asks for;
- the register of the chords and of the lead, the brightness and the low-pass;
- the bass figure, the chord figure, the swing within the style's range, how busy
  the melody is, how much echo;
- the balance of the mix (``MIX_FOCUS``: the beat, the keys or the lead in front);
- where the brief says nothing of them: the style (no style word), key, mode and
  a tempo offset; the drum kit, chord length and sevenths.

On each axis with levels (register, brightness, focus...) the three arrangements of
a brief take three different levels, in an order of the brief's own, so every two of
them differ on every such axis; instruments and figures differ while the style has
enough of them. Measured in ``features-v3`` (``bench/clustering_k.py``): clips of two
arrangements of a brief sit 0.57-0.97 apart on average (cosine distance), two clips of
one arrangement 0.18-0.30. What the brief states is never varied: its tempo and key,
its energy and density, the style its words name, each instrument or beat it names
(``cues._NAMED_PARTS``); and the way it leans (a dark brief's arrangements are all
at most as bright, and voiced no higher, than the style's usual; a bright brief's the
other way).

``clip_seed`` steps by 7919 within a batch, and 7919 = 2 (mod 3): consecutive clips
of a batch cycle through the three arrangements, so a batch of six has two of each.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.providers.sketch.cues import STYLES, Cues, Style
from core.providers.sketch.instruments import INSTRUMENTS
from core.providers.sketch.theory import CHORD_PATTERNS, _rng

VARIANTS = 3

# Each style's beats: its own groove first, then two other feels at the same tempo.
GROOVE_FAMILIES: dict[str, tuple[str, ...]] = {
    "ambient": ("soft_pulse", "heartbeat", "brush_pulse"),
    "techno": ("four_floor", "four_rolling", "four_tribal"),
    "folk": ("folk", "train", "stomp"),
    "lofi": ("boom_bap", "boom_bap_half", "boom_bap_rim"),
    "pop": ("backbeat", "disco", "half_time_pop"),
    "cinematic": ("taiko", "march", "toms_pulse"),
}
# Instruments and chord figures that suit a style besides its own (``cues.STYLES``).
MORE_INSTRUMENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "ambient": {
        "bass": ("sub_pulse",),
        "chords": ("harp",),
        "pad": ("soft_pad", "strings"),
        "lead": ("flute",),
    },
    "techno": {"chords": ("pluck",), "pad": ("saw_pad",), "lead": ("saw_lead",)},
    "folk": {"bass": ("round_bass",), "pad": ("strings",), "lead": ("sine_lead",)},
    "lofi": {"bass": ("sub", "pluck_bass"), "chords": ("piano",), "pad": ("warm_pad",), "lead": ("bell",)},
    "pop": {"bass": ("pluck_bass",), "pad": ("soft_pad",), "lead": ("whistle",)},
    "cinematic": {
        "bass": ("pluck_bass",),
        "chords": ("glass",),
        "pad": ("choir_pad",),
        "lead": ("flute", "bell"),
    },
}
MORE_CHORD_PATTERNS: dict[str, tuple[str, ...]] = {
    "ambient": ("held",),
    "techno": ("three_three_two",),
    "lofi": ("arp_wide",),
    "pop": ("push", "pulse"),
    "cinematic": ("arp_wide", "pulse"),
}
# The mix's balance, dB added to the style's level of drums, bass, chords, pad, lead.
MIX_FOCUS: tuple[tuple[float, float, float, float, float], ...] = (
    (1.0, 0.0, -6.0, -7.0, -6.0),  # the beat in front
    (-11.0, -2.0, 2.0, 3.0, -6.0),  # the keys in front, the beat far behind
    (-7.0, -4.0, -6.0, -6.0, 1.0),  # the lead in front
)
VOICING_CENTRES = (52, 59, 66)  # chords low, middle, high (vary_recipe keeps 52..66)
LEAD_OFFSETS = (-7, 0, 7)  # semitones from the style's melody centre (kept in 62..82)
BRIGHTNESS_OFFSETS = (-0.18, 0.0, 0.18)
LOWPASS_OCTAVES = (-0.6, 0.0, 0.6)
TEMPO_OFFSETS = (-0.1, 0.0, 0.1)  # only where the brief gives no tempo
SWING_THIRDS = (0.15, 0.5, 0.85)  # where in the style's swing range
ECHO_FACTORS = (0.6, 1.0, 1.5)  # dry, as the style has it, roomy
GRID_FACTORS = (0.5, 1.0, 2.0)  # the melody: twice as busy, as the style has it, half as busy


def _mix(style: Style, focus: int) -> list[float]:
    """The style's levels moved by ``MIX_FOCUS[focus]``."""
    return [round(a + b, 1) for a, b in zip(style.mix, MIX_FOCUS[focus], strict=True)]


def variant_of(seed: int) -> int:
    """The arrangement a clip of this seed plays (0..VARIANTS-1)."""
    return int(seed) % VARIANTS


def _levels(rng: np.random.Generator) -> dict[str, list[int]]:
    """For each axis, the levels variants 0, 1, 2 take: a permutation of the brief's own."""
    axes = ("voicing", "lead", "brightness", "focus", "tempo", "swing", "groove", "top", "echo", "grid")
    return {axis: [int(k) for k in rng.permutation(VARIANTS)] for axis in axes}


def _options(own: Sequence[str], more: Sequence[str], named: Sequence[str]) -> list[str]:
    """What a part may play: what the brief names, else the style's own and the extras."""
    if named:
        return list(named)
    return list(dict.fromkeys([*own, *more]))


def _pick(options: Sequence[str], level: int, rng: np.random.Generator) -> str:
    """Option ``level`` of a shuffled list (a different one per variant while they last)."""
    shuffled = list(options)
    rng.shuffle(shuffled)
    return shuffled[level % len(shuffled)]


def brief_hash(brief: str) -> int:
    """What a brief's arrangements are seeded by (recorded in the recipe as ``arrangement_of``)."""
    return zlib.crc32(brief.strip().lower().encode("utf-8"))


def arrangement(style: Style, cues: Cues, brief: int, index: int) -> dict[str, Any]:
    """The choices of arrangement ``index`` of the brief hashed ``brief`` (every clip of it)."""
    shared = _rng(brief, "arrangement", style.name)  # the same draws for all three
    order = _levels(shared)
    level = {axis: order[axis][index] for axis in order}
    named: dict[str, list[str]] = {}
    for part, name in cues.named:
        named.setdefault(part, []).append(name)
    more = MORE_INSTRUMENTS.get(style.name, {})
    parts = {
        "bass": _options(style.bass, more.get("bass", ()), named.get("bass", ())),
        "chords": _options(style.chords, more.get("chords", ()), named.get("chords", ())),
        "pad": _options(style.pads, more.get("pad", ()), named.get("pad", ())),
        "lead": _options(style.leads, more.get("lead", ()), named.get("lead", ())),
    }
    if cues.drive > 0 and "bass" not in named:  # "aggressive", "distorted": a driven bass
        driven = [name for name in parts["bass"] if INSTRUMENTS[name].drive > 0]
        parts["bass"] = driven or parts["bass"]
    timbre = {part: _pick(options, index, shared) for part, options in parts.items()}
    grooves = named.get("drums") or list(GROOVE_FAMILIES.get(style.name, style.drums))
    timbre["drums"] = grooves[level["groove"] % len(grooves)]
    chord_patterns = [*style.chord_patterns, *MORE_CHORD_PATTERNS.get(style.name, ())]
    if "strum" in timbre["chords"]:  # a strummed guitar keeps strumming
        chord_patterns = [p for p in chord_patterns if p.startswith("strum")] or chord_patterns
    return {
        "timbre": timbre,
        "bass_pattern": _pick(style.bass_patterns, index, shared),
        "chord_pattern": _pick([p for p in chord_patterns if p in CHORD_PATTERNS], index, shared),
        "swing": SWING_THIRDS[level["swing"]],  # a fraction of the style's range
        "top": level["top"],
        "voicing_center": VOICING_CENTRES[level["voicing"]],
        "lead_octave": min(82, max(62, style.lead_octave + LEAD_OFFSETS[level["lead"]])),
        "brightness": BRIGHTNESS_OFFSETS[level["brightness"]],
        "lowpass_octaves": LOWPASS_OCTAVES[level["brightness"]],
        "echo": round(style.echo * ECHO_FACTORS[level["echo"]], 3),
        "lead_grid": max(1, min(8, round(style.lead_grid * GRID_FACTORS[level["grid"]]))),
        "tempo": TEMPO_OFFSETS[level["tempo"]],
        "mix": _mix(style, level["focus"]),
        "named": sorted(named),
    }


def within(base: float, offset: float, reach: float, low: float, high: float) -> float:
    """``base + offset``, the levels ``base +- reach`` moved together to fit in [low, high]
    (and clipped there, where the range is narrower): a dark brief's three arrangements
    are three shades of dark, not three clipped at black."""
    shift = max(0.0, low - (base - reach)) - max(0.0, base + reach - high)
    return min(high, max(low, base + shift + offset))


def arrange_layers(style: Style, count: int, choice: int, named: Sequence[str]) -> list[str]:
    """``count`` layers: the style's first two (its core) and its drums if density reaches
    them in the style's order, then as many of the others as density asks, leaving out a
    different one (or keeping a different one) per arrangement ``choice``: one plays with a
    lead, another with a pad, another without its bass line. Named parts always play."""
    order = list(style.layer_order)
    keep = order[:2] + (["drums"] if "drums" in order[2:count] else [])
    rest = [layer for layer in order[2:] if layer not in keep and layer != "drums"]
    extra = max(0, count - len(keep))
    layers = keep[:count]
    if 0 < extra < len(rest):
        if extra == 1:
            layers += [rest[choice % len(rest)]]
        else:
            layers += [layer for k, layer in enumerate(rest) if k != choice % len(rest)][:extra]
    elif extra:
        layers += rest
    for part in named:
        if part not in layers:
            spare = [k for k, layer in enumerate(layers) if layer not in named and layer not in keep]
            if spare:
                layers[spare[-1]] = part
            else:
                layers.append(part)
    return sorted(set(layers), key=order.index)


def variant_rng(brief: int, index: int) -> np.random.Generator:
    """The generator of an arrangement's free choices (style, key, kit...): one per variant."""
    return _rng(index, brief, "variant")


def rearrange(recipe: dict[str, Any], index: int) -> dict[str, Any]:
    """``recipe`` played as arrangement ``index`` of its brief (a loose "more like"): the
    other arrangement's beat, instruments, figures, register, brightness, space and mix;
    its own style, tempo, key, harmony, melody and layers, and every part the brief named."""
    style = STYLES[recipe["style"]]
    named = [part for part in recipe.get("named", []) if part in recipe["timbre"]]
    driven = INSTRUMENTS[recipe["timbre"]["bass"]].drive > 0
    cues = Cues(
        styles=(), mood=0.0, tempo=0.0, brightness=0.0, drive=1.0 if driven else 0.0, busy=0.0, swing=False,
        named=tuple((part, recipe["timbre"][part]) for part in named),
    )  # fmt: skip
    hashed = int(recipe["arrangement_of"])
    was = arrangement(style, cues, hashed, int(recipe["variant"]))
    plan = arrangement(style, cues, hashed, index)
    child = copy.deepcopy(recipe)
    child["variant"] = index
    child["timbre"].update({part: plan["timbre"][part] for part in plan["timbre"] if part not in named})
    child["groove"]["bass_pattern"] = plan["bass_pattern"]
    child["groove"]["chord_pattern"] = plan["chord_pattern"]
    swing_lo, swing_hi = style.swing
    if swing_hi > 0:
        child["groove"]["swing"] = round(swing_lo + (swing_hi - swing_lo) * plan["swing"], 3)
    shift = plan["voicing_center"] - was["voicing_center"]
    child["voicing_center"] = min(66, max(52, int(recipe["voicing_center"]) + shift))
    shift = plan["lead_octave"] - was["lead_octave"]
    child["lead_octave"] = min(82, max(62, int(recipe["lead_octave"]) + shift))
    step = plan["brightness"] - was["brightness"]
    child["brightness"] = round(min(1.0, max(0.0, float(recipe["brightness"]) + step)), 3)
    octaves = plan["lowpass_octaves"] - was["lowpass_octaves"]
    child["lowpass_hz"] = round(min(16000.0, max(128.0, float(recipe["lowpass_hz"]) * 2**octaves)), 1)
    for name in ("echo", "lead_grid", "mix"):
        child[name] = copy.deepcopy(plan[name])
    return child
