"""Recipes: designed from a brief and a seed, checked, varied (more-like) and blended."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.providers.capabilities import strength_fraction
from core.providers.sketch.cues import STYLES, Cues, read_cues
from core.providers.sketch.drums import GROOVES
from core.providers.sketch.instruments import INSTRUMENTS
from core.providers.sketch.theory import (
    BASS_PATTERNS,
    CHORD_PATTERNS,
    ENGINE,
    KEY_NAMES,
    LAYERS,
    MODES,
    PROGRESSIONS,
    RECIPE_VERSION,
    _choose,
    _rng,
)
from core.providers.sketch.variants import (
    BRIGHTNESS_OFFSETS,
    LOWPASS_OCTAVES,
    VARIANTS,
    VOICING_CENTRES,
    arrange_layers,
    arrangement,
    brief_hash,
    rearrange,
    variant_of,
    variant_rng,
    within,
)


def _pick_style(cues: Cues, energy: float, rng: np.random.Generator) -> str:
    if cues.styles:
        best = max(count for _, count in cues.styles)
        top = sorted(name for name, count in cues.styles if count == best)
        return _choose(rng, top)
    # No style word: the seed picks, weighted towards styles whose usual energy
    # and mood fit the brief.
    names = sorted(STYLES)
    weights = []
    for name in names:
        style = STYLES[name]
        weight = math.exp(-(((energy - style.energy) / 0.3) ** 2))
        weight *= math.exp(-((((cues.tempo * 0.5 + 0.5) - style.energy) / 0.6) ** 2)) if cues.tempo else 1.0
        if cues.mood < 0:
            weight *= 0.4 + style.minor_prob
        elif cues.mood > 0:
            weight *= 1.4 - style.minor_prob
        weights.append(weight)
    total = sum(weights)
    return names[int(rng.choice(len(names), p=[w / total for w in weights]))]


def _driven(names: Sequence[str]) -> Sequence[str]:
    """The distorted instruments among ``names`` (all of them if none is)."""
    driven = [name for name in names if INSTRUMENTS[name].drive > 0]
    return driven or names


def _towards(asked: float, usual: float, low: float, high: float) -> tuple[float, float]:
    """The range a brief's arrangements may take on one axis: all of [low, high] when it asks
    nothing (``asked`` 0), else the side of the style's ``usual`` value it asks for."""
    if asked < 0:
        return low, max(low, usual)
    if asked > 0:
        return min(high, usual), high
    return low, high


def design_recipe(
    brief: str, energy: float, density: float, seed: int, *, bpm: float | None = None, key: str | None = None
) -> dict[str, Any]:
    """A fresh recipe for ``brief`` from its words, energy, density and ``seed``; a given
    tempo (``bpm``) and key (``"A minor"``, as ``core.validation.validate_key`` writes it) exactly.

    The seed picks one of the brief's arrangements (``variants``), which fixes what the
    brief leaves open; the clip's own details (progression, melody, pattern variations,
    a little tempo, register and brightness) come from the seed itself."""
    wanted_key = key
    cues = read_cues(brief)
    hashed = brief_hash(brief)
    index = variant_of(seed)
    shared = variant_rng(hashed, index)  # this arrangement's choices: every clip of it shares them
    rng = _rng(seed, brief.strip().lower())  # this clip's own
    style = STYLES[_pick_style(cues, energy, shared)]
    plan = arrangement(style, cues, hashed, index)
    tempo_lo, tempo_hi = style.tempo
    tempo = tempo_lo + (tempo_hi - tempo_lo) * energy
    tempo *= 1.0 + 0.12 * cues.tempo + plan["tempo"] + float(rng.uniform(-0.015, 0.015))
    if cues.mood < 0:
        minor = True
    elif cues.mood > 0:
        minor = False
    else:
        minor = bool(shared.random() < style.minor_prob)
    mode = _choose(shared, style.modes_minor if minor else style.modes_major)
    key = int(shared.integers(12))
    progression = [int(d) for d in _choose(rng, PROGRESSIONS[mode])]
    if rng.random() < 0.3:  # rotate: same chords, another starting point
        shift = int(rng.integers(1, len(progression)))
        progression = progression[shift:] + progression[:shift]
    note_density = min(1.0, max(0.0, density + 0.2 * cues.busy))
    n_layers = int(2 + note_density * 3 + 0.5)
    layers = arrange_layers(style, n_layers, plan["top"], plan["named"])
    if style.name == "ambient" and note_density > 0.85 and "drums" not in layers:
        layers.append("drums")
    if not any(layer in layers for layer in ("chords", "pad")):
        layers.append("pad")
    # The arrangements' shades never cross the style's own towards what the brief turns from:
    # a dark brief's three arrangements are all at most as bright as the style's usual.
    low, high = _towards(cues.brightness, style.brightness, 0.0, 1.0)
    brightness = style.brightness + 0.25 * cues.brightness
    brightness = within(brightness, plan["brightness"], BRIGHTNESS_OFFSETS[-1], low, high)
    brightness = min(1.0, max(0.0, brightness + float(rng.uniform(-0.03, 0.03))))
    drive = min(1.0, max(0.0, style.drive + 0.5 * cues.drive + float(rng.uniform(-0.05, 0.05))))
    swing_lo, swing_hi = style.swing
    swing = swing_lo + (swing_hi - swing_lo) * plan["swing"] if swing_hi > 0 else 0.0
    if cues.swing and swing < 0.2:
        swing = 0.22 + 0.11 * plan["swing"]
    lowpass = style.lowpass_hz * 2 ** (cues.brightness * 0.8)
    if cues.brightness < 0 or cues.mood < 0:
        lowpass = min(lowpass, 5000.0 * 2 ** (cues.brightness * 0.5))
    dark = -1.0 if cues.brightness < 0 or cues.mood < 0 else cues.brightness
    low, high = _towards(dark, math.log2(style.lowpass_hz), 7.0, math.log2(16000.0))
    lowpass = 2 ** within(math.log2(lowpass), plan["lowpass_octaves"], LOWPASS_OCTAVES[-1], low, high)
    # The register of the chords leans the same way: a bright brief's are never voiced low.
    middle, reach = VOICING_CENTRES[1], VOICING_CENTRES[-1] - VOICING_CENTRES[1]
    low, high = _towards(cues.brightness, middle, VOICING_CENTRES[0], VOICING_CENTRES[-1])
    voicing = within(middle, plan["voicing_center"] - middle, reach, low, high)
    if bpm is not None:
        tempo = float(bpm)
    if wanted_key is not None:  # that tonic, in that plain major or minor scale
        from core.validation import key_pitch_class

        key, mode = key_pitch_class(wanted_key)
        progression = [int(d) for d in _choose(rng, PROGRESSIONS[mode])]
    recipe: dict[str, Any] = {
        "engine": ENGINE,
        "version": RECIPE_VERSION,
        "seed": int(seed),
        "style": style.name,
        "tempo": round(float(tempo), 2),
        "key": key,
        "key_name": KEY_NAMES[key],
        "mode": mode,
        "progression": progression,
        "chord_bars": int(_choose(shared, style.chord_bars)),
        "sevenths": bool(shared.random() < style.sevenths),
        "layers": layers,
        "timbre": {**plan["timbre"], "kit": int(shared.integers(1 << 16))},
        "groove": {
            "bass_pattern": plan["bass_pattern"],
            "chord_pattern": plan["chord_pattern"],
            "swing": round(swing, 3),
            "hat_division": 1 if note_density > 0.55 else 2,
        },
        "energy": round(float(energy), 3),
        "density": round(float(note_density), 3),
        "brightness": round(brightness, 3),
        "drive": round(drive, 3),
        "lowpass_hz": round(float(min(16000.0, lowpass)), 1),
        "echo": plan["echo"],
        "voicing_center": int(round(voicing) + rng.integers(-1, 2)),
        "lead_octave": int(min(82, max(62, plan["lead_octave"] + rng.integers(-1, 2)))),
        "lead_grid": plan["lead_grid"],
        "melody_seed": int(rng.integers(2**31 - 1)),
        "pattern_seed": int(rng.integers(2**31 - 1)),
        "mix": plan["mix"],
        "variant": index,
        "arrangement_of": hashed,
        "named": plan["named"],
    }
    return recipe


def is_sketch_recipe(recipe: object) -> bool:
    """Whether ``recipe`` is a whole recipe of this engine version (it may come back
    from the database, or from anywhere): names it can render, numbers where numbers go."""
    if (
        not isinstance(recipe, dict)
        or recipe.get("engine") != ENGINE
        or recipe.get("version") != RECIPE_VERSION
    ):
        return False
    try:
        style = STYLES[recipe["style"]]
        timbre, groove = recipe["timbre"], recipe["groove"]
        names_ok = (
            recipe["mode"] in MODES
            and set(recipe["layers"]) <= set(LAYERS)
            and timbre["drums"] in GROOVES
            and all(timbre[part] in INSTRUMENTS for part in ("bass", "chords", "pad", "lead"))
            and groove["bass_pattern"] in BASS_PATTERNS
            and groove["chord_pattern"] in CHORD_PATTERNS
        )
        numbers = [recipe[k] for k in _NUMERIC_FIELDS] + [
            timbre["kit"],
            groove["swing"],
            groove["hat_division"],
        ]
        numbers_ok = all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in numbers
        )
        progression = recipe["progression"]
        shape_ok = (
            isinstance(progression, list)
            and 1 <= len(progression) <= 16
            and all(isinstance(d, int) and 0 <= d < 7 for d in progression)
            and 20.0 <= float(recipe["tempo"]) <= 300.0
            and 0 <= int(recipe["key"]) < 12
            and int(recipe["chord_bars"]) >= 1
            and int(groove["hat_division"]) >= 1
        )
        return bool(style and names_ok and numbers_ok and shape_ok and _arrangement_ok(recipe))
    except (KeyError, TypeError, ValueError):
        return False


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _arrangement_ok(recipe: dict[str, Any]) -> bool:
    """The fields an arrangement variant adds (recipes made before variants have none)."""
    mix = recipe.get("mix", [0.0] * len(LAYERS))
    named = recipe.get("named", [])
    return (
        isinstance(mix, list)
        and len(mix) == len(LAYERS)
        and all(_finite(db) and -60.0 <= db <= 24.0 for db in mix)
        and all(_finite(recipe.get(k, 0)) for k in ("variant", "arrangement_of"))
        and isinstance(named, list)
        and set(named) <= set(LAYERS)
    )


_NUMERIC_FIELDS = (
    "seed", "tempo", "key", "chord_bars", "energy", "density", "brightness", "drive", "lowpass_hz", "echo",
    "voicing_center", "lead_octave", "lead_grid", "melody_seed", "pattern_seed",
)  # fmt: skip


def vary_scale(strength: str) -> float:
    """How far a variation moves, as a multiple of the balanced amount: close 0.5 ... balanced 1.0
    (exactly: the default path renders as it always did) ... loose 2.0."""
    return float(2.0 ** (2.0 * strength_fraction(strength) - 1.0))


def vary_recipe(parent: dict[str, Any], seed: int, strength: str = "balanced") -> dict[str, Any]:
    """A sibling of ``parent``: same style, tempo, key, mode and timbre family;
    a new melody, a varied pattern, progression and voicing, as far as ``strength``
    (``VARIATION_STRENGTHS``) says: each change's chance and size scaled by ``vary_scale``."""
    scale = vary_scale(strength)
    rng = _rng(seed, "vary", int(parent.get("seed") or 0))
    child = copy.deepcopy(parent)
    child["seed"] = int(seed)
    child["parent_seed"] = parent.get("seed")
    child["variation_strength"] = strength
    drift = 0.02 * scale
    child["tempo"] = round(float(parent["tempo"]) * (1.0 + float(rng.uniform(-drift, drift))), 2)
    child["melody_seed"] = int(rng.integers(2**31 - 1))
    if rng.random() < min(1.0, 0.5 * scale):
        child["pattern_seed"] = int(rng.integers(2**31 - 1))
    progression = list(parent["progression"])
    if rng.random() < min(1.0, 0.4 * scale):
        where = int(rng.integers(1, len(progression)))
        progression[where] = int(_choose(rng, [d for d in range(7) if d != progression[where]]))
    child["progression"] = progression
    # Small steps, kept in range: a chain of "more like" must not wander off.
    step = max(1, round(2 * scale))
    child["voicing_center"] = min(
        66, max(52, int(parent["voicing_center"]) + int(rng.integers(-step, step + 1)))
    )
    child["lead_octave"] = min(
        82, max(62, int(parent["lead_octave"]) + int(_choose(rng, (-step, 0, 0, step))))
    )
    bright = 0.06 * scale
    child["brightness"] = round(
        min(1.0, max(0.0, float(parent["brightness"]) + float(rng.uniform(-bright, bright)))), 3
    )
    style = STYLES[parent["style"]]
    if rng.random() < min(1.0, 0.3 * scale) and len(style.chord_patterns) > 1:
        child["groove"]["chord_pattern"] = _choose(rng, style.chord_patterns)
    # Loose: half the children play another arrangement of the parent's brief (drawn
    # apart from the steps above, so that closer strengths vary exactly as before).
    if strength_fraction(strength) >= 1.0 and "variant" in parent and "arrangement_of" in parent:
        turn = _rng(seed, "rearrange", int(parent.get("seed") or 0))
        if turn.random() < 0.5:
            child = rearrange(child, (int(parent["variant"]) + int(turn.integers(1, VARIANTS))) % VARIANTS)
    return child


# Numbers a blend takes between its parents; everything else comes whole from one of them.
_BLENDED_NUMBERS = ("tempo", "energy", "density", "brightness", "drive", "lowpass_hz", "echo")


def blend_recipes(a: dict[str, Any], b: dict[str, Any], seed: int) -> dict[str, Any]:
    """A recipe between ``a`` and ``b``: its numbers (tempo, energy, brightness, drive...)
    part way between theirs (40-60%), each whole part (style and groove, harmony, each
    instrument) from one parent or the other, so it is always a recipe the engine renders."""
    rng = _rng(seed, "blend", int(a.get("seed") or 0), int(b.get("seed") or 0))
    t = float(rng.uniform(0.4, 0.6))
    first, second = (a, b) if rng.random() < 0.5 else (b, a)
    child = copy.deepcopy(first)
    for name in _BLENDED_NUMBERS:
        value = (1 - t) * float(a[name]) + t * float(b[name])
        child[name] = round(value, 3)
    child["tempo"] = round(float(child["tempo"]), 2)
    child["lowpass_hz"] = round(float(child["lowpass_hz"]), 1)
    harmony = second if rng.random() < 0.5 else first  # key, mode and progression belong together
    for name in ("key", "key_name", "mode", "progression", "chord_bars", "sevenths"):
        child[name] = copy.deepcopy(harmony[name])
    for part in ("drums", "bass", "chords", "pad", "lead"):
        child["timbre"][part] = (a if rng.random() < 0.5 else b)["timbre"][part]
    child["layers"] = sorted(set(a["layers"]) | set(b["layers"]), key=list(LAYERS).index)
    child["groove"]["swing"] = round(
        (1 - t) * float(a["groove"]["swing"]) + t * float(b["groove"]["swing"]), 3
    )
    if "mix" in a or "mix" in b:  # the balance of the mix, part way too (a style's own if none)
        mixes = [r.get("mix", STYLES[r["style"]].mix) for r in (a, b)]
        child["mix"] = [round((1 - t) * float(x) + t * float(y), 1) for x, y in zip(*mixes, strict=True)]
    child["blend_of"] = [a.get("seed"), b.get("seed")]
    return child
