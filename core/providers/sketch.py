"""``sketch``: the embedded music engine (offline, CPU, numpy only, no weights).

It turns a brief into a short arrangement and renders it with a small numpy
synthesiser. Two steps, kept apart so that "more like this" can work on the
first one:

1. **Design** a *recipe*: a JSON-able dict that says everything about the clip
   (style, tempo, key, mode, chord progression, layers, instruments, groove,
   brightness, drive, the seeds of the melody and of the pattern variations).
   It comes from the words of the brief (see ``STYLES`` and the ``_CUE_*``
   tables), from energy (tempo, loudness) and density (number of layers, note
   density), and from the clip's own seed (key, progression, instruments,
   groove variation, melody). More-like *varies* a reference's recipe instead:
   same style, tempo, key, mode and timbre family; new melody, a little new
   pattern and voicing. A reference with no recipe of ours (an imported clip,
   another engine's) gets one by analysis by synthesis: the style whose
   prototype embedding is nearest, its measured tempo, key, mode and
   brightness, and of a few such recipes the one whose short render embeds
   closest to the clip.
2. **Render** the recipe: every note is an array slice. Tones come from
   band-limited single-cycle wavetables read with a uint32 phase accumulator
   (a table per spectrum, cutoff and octave, built once per process); plucked
   notes crossfade a bright table into a dull one; electric piano and bells
   are two-operator FM tables crossfading to a sine; pads are whole chords
   built as seamless loops with one inverse FFT (shared by every clip); drums
   are one-shots (pitch-swept sines and filtered noise) made once per kit
   variant and added at their onsets. Each pitch of each instrument is
   rendered once per clip as a release-less *body* and sliced to every
   length it plays. Each layer is brought to its style's level in the mix.
   Filters are moving averages (running sums); no per-sample Python loop,
   no scipy.

Every note has an attack and a release ramp and the clip gets
``core.audio.fade_edges``, so nothing clicks; the mix is brought to a loudness
that follows energy and its peak kept below -1 dBFS. The render is a pure
function of (recipe, duration): the same recipe always gives the same samples.
"""

from __future__ import annotations

import copy
import functools
import math
import re
import tempfile
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.audio import SAMPLE_RATE, fade_edges, limit_peak, moving_average, write_wav_atomic
from core.errors import AudioFileError, GenerationFailedError
from core.models import BriefParams
from core.prompt import brief_of
from core.providers.base import (
    STAGE_GENERATING,
    ExtendRequest,
    GeneratedClip,
    GenerationRequest,
    ReferenceClip,
    check_cancel,
    clip_seed,
)
from core.providers.capabilities import SKETCH as SKETCH_CAPABILITIES
from core.settings import Settings

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
TABLE_SIZE = 2048
_PHASE_BITS = 32 - 11  # uint32 phase: 11 bits of table index, 21 of fraction
_MAX_SAMPLES = int(SKETCH_CAPABILITIES.extend_sec * SR)  # the longest clip it renders (ten minutes)
# Tables for one sounding note (notes and their envelopes are at most this long, whatever the clip).
_NOTE_SAMPLES = int(32 * SR)
_PHASE_RAMP = np.arange(_NOTE_SAMPLES, dtype=np.uint32)
_TIME = (np.arange(_NOTE_SAMPLES, dtype=np.float32)) / np.float32(SR)

# ---------------------------------------------------------------------------
# Styles and the words that ask for them
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    name: str
    tempo: tuple[float, float]  # bpm at energy 0 and at energy 1
    minor_prob: float  # when the brief says neither major nor minor
    energy: float  # typical energy: picks a style when the brief names none
    brightness: float  # 0 dark .. 1 bright
    drive: float  # 0 clean .. 1 distorted
    swing: tuple[float, float]  # range of the delay of off-sixteenths, in steps
    drums: tuple[str, ...]
    bass: tuple[str, ...]
    bass_patterns: tuple[str, ...]
    chords: tuple[str, ...]
    chord_patterns: tuple[str, ...]
    pads: tuple[str, ...]
    leads: tuple[str, ...]
    layer_order: tuple[str, ...]  # first layers are kept when density is low
    chord_bars: tuple[int, ...]
    sevenths: float  # probability of seventh chords
    lowpass_hz: float
    echo: float
    lead_grid: int  # steps between candidate lead onsets
    lead_octave: int  # MIDI note the melody centres on
    modes_major: tuple[str, ...] = ("major",)
    modes_minor: tuple[str, ...] = ("minor",)
    # Level of each layer in the mix, dB relative to the loudest: drums, bass, chords, pad, lead.
    mix: tuple[float, float, float, float, float] = (0.0, -3.0, -3.0, -6.0, -2.0)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# fmt: off
STYLES: dict[str, Style] = {
    "ambient": Style(
        name="ambient", tempo=(56, 84), minor_prob=0.55, energy=0.15, brightness=0.3, drive=0.0,
        swing=(0.0, 0.0), drums=("soft_pulse",), bass=("sub",), bass_patterns=("drone",),
        chords=("glass", "bell_arp"), chord_patterns=("arp_up", "arp_wide"), pads=("warm_pad", "choir_pad"),
        leads=("bell", "glass_lead", "sine_lead"), layer_order=("pad", "lead", "bass", "chords", "drums"),
        chord_bars=(2,), sevenths=0.5, lowpass_hz=2600.0, echo=0.45, lead_grid=4, lead_octave=76,
        modes_major=("major", "mixolydian"), modes_minor=("minor", "dorian"), mix=(-12.0, -7.0, -6.0, 0.0, -4.0),
    ),
    "techno": Style(
        name="techno", tempo=(122, 140), minor_prob=0.8, energy=0.85, brightness=0.65, drive=0.6,
        swing=(0.0, 0.0), drums=("four_floor",), bass=("dist_saw", "acid_bass", "sub_pulse"),
        bass_patterns=("offbeat", "rolling", "sixteenths"), chords=("stab",),
        chord_patterns=("stab_offbeat", "stab_sync"), pads=("dark_pad",), leads=("acid_lead", "square_lead"),
        layer_order=("drums", "bass", "chords", "lead", "pad"), chord_bars=(1, 2), sevenths=0.0,
        lowpass_hz=16000.0, echo=0.2, lead_grid=1, lead_octave=67, mix=(0.0, -3.0, -8.0, -10.0, -6.0),
    ),
    "folk": Style(
        name="folk", tempo=(86, 128), minor_prob=0.15, energy=0.5, brightness=0.8, drive=0.0,
        swing=(0.0, 0.12), drums=("folk",), bass=("pluck_bass",), bass_patterns=("root_fifth", "walk"),
        chords=("strum",), chord_patterns=("strum_busy", "strum_even"), pads=("organ_pad",),
        leads=("whistle", "pluck_lead", "flute"), layer_order=("chords", "bass", "lead", "pad", "drums"),
        chord_bars=(1,), sevenths=0.1, lowpass_hz=16000.0, echo=0.08, lead_grid=2, lead_octave=74,
        modes_major=("major", "mixolydian"), modes_minor=("minor", "dorian"), mix=(-13.0, -8.0, 0.0, -12.0, -4.0),
    ),
    "lofi": Style(
        name="lofi", tempo=(68, 92), minor_prob=0.45, energy=0.35, brightness=0.3, drive=0.0,
        swing=(0.28, 0.4), drums=("boom_bap",), bass=("round_bass",), bass_patterns=("lazy", "lazy_walk"),
        chords=("epiano",), chord_patterns=("held", "push"), pads=("soft_pad",),
        leads=("epiano_lead", "flute", "muted_square"), layer_order=("drums", "chords", "bass", "lead", "pad"),
        chord_bars=(1,), sevenths=1.0, lowpass_hz=4200.0, echo=0.15, lead_grid=2, lead_octave=72,
        modes_major=("major",), modes_minor=("dorian", "minor"), mix=(0.0, -4.0, -1.0, -8.0, -4.0),
    ),
    "pop": Style(
        name="pop", tempo=(98, 128), minor_prob=0.3, energy=0.7, brightness=0.65, drive=0.1,
        swing=(0.0, 0.0), drums=("backbeat",), bass=("synth_bass", "round_bass"),
        bass_patterns=("eighths", "octaves"), chords=("pluck", "piano"), chord_patterns=("three_three_two", "held"),
        pads=("saw_pad",), leads=("square_lead", "saw_lead", "pluck_lead"),
        layer_order=("drums", "bass", "chords", "lead", "pad"), chord_bars=(1,), sevenths=0.15,
        lowpass_hz=16000.0, echo=0.15, lead_grid=2, lead_octave=72, mix=(0.0, -3.0, -3.0, -6.0, -2.0),
    ),
    "cinematic": Style(
        name="cinematic", tempo=(64, 100), minor_prob=0.6, energy=0.35, brightness=0.45, drive=0.0,
        swing=(0.0, 0.0), drums=("taiko",), bass=("strings_low", "sub"), bass_patterns=("long",),
        chords=("harp", "piano"), chord_patterns=("arp_up", "held"), pads=("strings",),
        leads=("strings_lead", "horn"), layer_order=("pad", "bass", "lead", "drums", "chords"),
        chord_bars=(1, 2), sevenths=0.2, lowpass_hz=9000.0, echo=0.25, lead_grid=4, lead_octave=69,
        mix=(-4.0, -4.0, -5.0, 0.0, -2.0),
    ),
}
# fmt: on

# Words that name a style (after lower-casing and joining "lo-fi", "hip hop"...).
_STYLE_WORDS: dict[str, tuple[str, ...]] = {
    "ambient": _words(
        "ambient pad drone atmospheric atmosphere ethereal dreamy dream space spacey meditative meditation "
        "soundscape texture floating celestial newage"
    ),
    "techno": _words(
        "techno house edm club rave industrial dance electro trance acid warehouse banger fourfloor hardstyle "
        "aggressive"
    ),
    "folk": _words(
        "folk acoustic guitar strum strumming country campfire bluegrass americana ukulele banjo busking singer "
        "pastoral"
    ),
    "lofi": _words(
        "lofi jazz jazzy hiphop boombap study swing swung neosoul soul rhodes beat chillhop vinyl dusty"
    ),
    "pop": _words(
        "pop synthpop upbeat catchy disco funk funky 80s retro chiptune 8bit game radio anthem indie"
    ),
    "cinematic": _words(
        "cinematic orchestral orchestra epic film score trailer strings soundtrack heroic dramatic piano classical "
        "ballad adventure fantasy"
    ),
}
_CUE_MINOR = _words(
    "dark sad minor moody melancholic melancholy gloomy night nocturnal noir sinister eerie haunting somber sombre "
    "tense brooding ominous horror lonely cold rainy grief mysterious menacing angry"
)
_CUE_MAJOR = _words(
    "bright happy sunny uplifting cheerful major joyful joyous playful hopeful summer sparkling triumphant warm "
    "sweet optimistic fun folk"
)
_CUE_FAST = _words(
    "fast upbeat energetic driving frantic intense hyper quick rapid aggressive hard pumping racing urgent running "
    "techno"
)
_CUE_SLOW = _words(
    "slow lazy relaxed chill calm peaceful sleepy gentle soft downtempo laidback mellow ambient drone dark sad "
    "meditative tired"
)
_CUE_DARK = _words(
    "dark muffled murky deep underwater night mellow soft warm gloomy sad lofi dusty vinyl moody brooding low"
)
_CUE_BRIGHT = _words(
    "bright crisp shiny sparkling airy glassy clean sunny happy acoustic folk shimmering glittering light"
)
_CUE_DRIVE = _words(
    "aggressive distorted heavy industrial gritty dirty harsh crunchy noisy angry rough fuzzy saturated raw pounding"
)
_CUE_SPARSE = _words("sparse minimal minimalist empty quiet simple bare spacious drone")
_CUE_BUSY = _words("busy dense complex layered full rich lush wall")
_CUE_SWING = _words("swing swung shuffle jazz jazzy lofi boombap groovy")

_TOKEN = re.compile(r"[a-z0-9]+")
_PARAM = re.compile(r"\b(energy|density|duration)=([0-9]*\.?[0-9]+)")


@dataclass(frozen=True)
class Cues:
    """What the words of a brief ask for; every value 0 when they ask nothing."""

    styles: tuple[tuple[str, int], ...]  # style -> number of words that name it
    mood: float  # -1 minor .. +1 major
    tempo: float  # -1 slow .. +1 fast
    brightness: float  # -1 dark .. +1 bright
    drive: float  # 0 .. 1
    busy: float  # -1 sparse .. +1 busy
    swing: bool


def params_of(prompt: str, request: GenerationRequest | None, duration_sec: float) -> BriefParams:
    if request is not None:
        return request.params
    found = {name: float(value) for name, value in _PARAM.findall(prompt)}
    energy = min(1.0, max(0.0, found.get("energy", 0.5)))
    density = min(1.0, max(0.0, found.get("density", 0.5)))
    return BriefParams(energy=energy, density=density, duration_sec=duration_sec)


def words_of(text: str) -> set[str]:
    lowered = text.lower()
    for joined, parts in (
        ("lofi", r"lo[\s\-]?fi"),
        ("hiphop", r"hip[\s\-]?hop"),
        ("boombap", r"boom[\s\-]?bap"),
        ("fourfloor", r"four[\s\-]on[\s\-]the[\s\-]floor"),
        ("laidback", r"laid[\s\-]?back"),
        ("8bit", r"8[\s\-]?bit"),
        ("newage", r"new[\s\-]age"),
        ("neosoul", r"neo[\s\-]?soul"),
        ("synthpop", r"synth[\s\-]pop"),
    ):
        lowered = re.sub(parts, f" {joined} ", lowered)
    tokens = set(_TOKEN.findall(lowered))
    # Plain plurals ("pads", "drums", "strings" stays as listed).
    tokens |= {t[:-1] for t in tokens if len(t) > 3 and t.endswith("s") and not t.endswith("ss")}
    return tokens


def read_cues(brief: str) -> Cues:
    words = words_of(brief)

    def count(table: Sequence[str]) -> int:
        return sum(1 for w in table if w in words)

    styles = tuple((name, count(table)) for name, table in _STYLE_WORDS.items() if count(table))

    def balance(plus: Sequence[str], minus: Sequence[str]) -> float:
        up, down = count(plus), count(minus)
        return 0.0 if up == down else (up - down) / max(up, down) * min(1.0, 0.6 + 0.2 * abs(up - down))

    return Cues(
        styles=styles,
        mood=balance(_CUE_MAJOR, _CUE_MINOR),
        tempo=balance(_CUE_FAST, _CUE_SLOW),
        brightness=balance(_CUE_BRIGHT, _CUE_DARK),
        drive=min(1.0, 0.5 * count(_CUE_DRIVE)),
        busy=balance(_CUE_BUSY, _CUE_SPARSE),
        swing=count(_CUE_SWING) > 0,
    )


# ---------------------------------------------------------------------------
# Recipes
# ---------------------------------------------------------------------------


def _rng(*parts: int | str) -> np.random.Generator:
    """A generator seeded by ints and strings (strings by CRC32, stable across runs)."""
    seeds = [p if isinstance(p, int) else zlib.crc32(p.encode("utf-8")) for p in parts]
    return np.random.default_rng([abs(int(s)) for s in seeds])


def _choose(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


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


def design_recipe(
    brief: str, energy: float, density: float, seed: int, *, bpm: float | None = None, key: str | None = None
) -> dict[str, Any]:
    """A fresh recipe for ``brief`` from its words, energy, density and ``seed``; a given
    tempo (``bpm``) and key (``"A minor"``, as ``core.models.validate_key`` writes it) exactly."""
    wanted_key = key
    cues = read_cues(brief)
    rng = _rng(seed, brief.strip().lower())
    style = STYLES[_pick_style(cues, energy, rng)]
    tempo_lo, tempo_hi = style.tempo
    tempo = tempo_lo + (tempo_hi - tempo_lo) * energy
    tempo *= 1.0 + 0.12 * cues.tempo + float(rng.uniform(-0.05, 0.05))
    if cues.mood < 0:
        minor = True
    elif cues.mood > 0:
        minor = False
    else:
        minor = bool(rng.random() < style.minor_prob)
    mode = _choose(rng, style.modes_minor if minor else style.modes_major)
    key = int(rng.integers(12))
    progression = [int(d) for d in _choose(rng, PROGRESSIONS[mode])]
    if rng.random() < 0.3:  # rotate: same chords, another starting point
        shift = int(rng.integers(1, len(progression)))
        progression = progression[shift:] + progression[:shift]
    note_density = min(1.0, max(0.0, density + 0.2 * cues.busy))
    n_layers = int(2 + note_density * 3 + 0.5)
    layers = list(style.layer_order[:n_layers])
    if style.name == "ambient" and note_density > 0.85 and "drums" not in layers:
        layers.append("drums")
    if not any(layer in layers for layer in ("chords", "pad")):
        layers.append("pad")
    brightness = min(
        1.0, max(0.0, style.brightness + 0.25 * cues.brightness + float(rng.uniform(-0.08, 0.08)))
    )
    drive = min(1.0, max(0.0, style.drive + 0.5 * cues.drive + float(rng.uniform(-0.05, 0.05))))
    swing_lo, swing_hi = style.swing
    swing = float(rng.uniform(swing_lo, swing_hi)) if swing_hi > 0 else 0.0
    if cues.swing and swing < 0.2:
        swing = float(rng.uniform(0.22, 0.33))
    lowpass = style.lowpass_hz * 2 ** (cues.brightness * 0.8)
    if cues.brightness < 0 or cues.mood < 0:
        lowpass = min(lowpass, 5000.0 * 2 ** (cues.brightness * 0.5))
    if bpm is not None:
        tempo = float(bpm)
    if wanted_key is not None:  # that tonic, in that plain major or minor scale
        from core.models import key_pitch_class

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
        "chord_bars": int(_choose(rng, style.chord_bars)),
        "sevenths": bool(rng.random() < style.sevenths),
        "layers": layers,
        "timbre": {
            "drums": _choose(rng, style.drums),
            "bass": _choose(rng, _driven(style.bass) if cues.drive > 0 else style.bass),
            "chords": _choose(rng, style.chords),
            "pad": _choose(rng, style.pads),
            "lead": _choose(rng, style.leads),
            "kit": int(rng.integers(1 << 16)),
        },
        "groove": {
            "bass_pattern": _choose(rng, style.bass_patterns),
            "chord_pattern": _choose(rng, style.chord_patterns),
            "swing": round(swing, 3),
            "hat_division": 1 if note_density > 0.55 else 2,
        },
        "energy": round(float(energy), 3),
        "density": round(float(note_density), 3),
        "brightness": round(brightness, 3),
        "drive": round(drive, 3),
        "lowpass_hz": round(float(min(16000.0, lowpass)), 1),
        "echo": style.echo,
        "voicing_center": int(58 + rng.integers(-3, 5)),
        "lead_octave": int(style.lead_octave + rng.integers(-2, 3)),
        "lead_grid": style.lead_grid,
        "melody_seed": int(rng.integers(2**31 - 1)),
        "pattern_seed": int(rng.integers(2**31 - 1)),
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
        return bool(style and names_ok and numbers_ok and shape_ok)
    except (KeyError, TypeError, ValueError):
        return False


_NUMERIC_FIELDS = (
    "seed", "tempo", "key", "chord_bars", "energy", "density", "brightness", "drive", "lowpass_hz", "echo",
    "voicing_center", "lead_octave", "lead_grid", "melody_seed", "pattern_seed",
)  # fmt: skip


def vary_recipe(parent: dict[str, Any], seed: int) -> dict[str, Any]:
    """A sibling of ``parent``: same style, tempo, key, mode and timbre family;
    a new melody, a slightly varied pattern, progression and voicing."""
    rng = _rng(seed, "vary", int(parent.get("seed") or 0))
    child = copy.deepcopy(parent)
    child["seed"] = int(seed)
    child["parent_seed"] = parent.get("seed")
    child["tempo"] = round(float(parent["tempo"]) * (1.0 + float(rng.uniform(-0.02, 0.02))), 2)
    child["melody_seed"] = int(rng.integers(2**31 - 1))
    if rng.random() < 0.5:
        child["pattern_seed"] = int(rng.integers(2**31 - 1))
    progression = list(parent["progression"])
    if rng.random() < 0.4:
        where = int(rng.integers(1, len(progression)))
        progression[where] = int(_choose(rng, [d for d in range(7) if d != progression[where]]))
    child["progression"] = progression
    # Small steps, kept in range: a chain of "more like" must not wander off.
    child["voicing_center"] = min(66, max(52, int(parent["voicing_center"]) + int(rng.integers(-2, 3))))
    child["lead_octave"] = min(82, max(62, int(parent["lead_octave"]) + int(_choose(rng, (-2, 0, 0, 2)))))
    child["brightness"] = round(
        min(1.0, max(0.0, float(parent["brightness"]) + float(rng.uniform(-0.06, 0.06)))), 3
    )
    style = STYLES[parent["style"]]
    if rng.random() < 0.3 and len(style.chord_patterns) > 1:
        child["groove"]["chord_pattern"] = _choose(rng, style.chord_patterns)
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
    child["blend_of"] = [a.get("seed"), b.get("seed")]
    return child


@functools.lru_cache(maxsize=1)
def style_prototypes() -> dict[str, np.ndarray]:
    """Each style's place in the features-v1 space: the mean embedding of two short
    renders of it. Made once per process, when a foreign clip is first imitated."""
    from core.providers.features import embed_samples

    prototypes = {}
    for name in STYLES:
        vectors = [embed_samples(render_recipe(design_recipe(name, 0.5, 0.5, seed), 6.0)) for seed in (1, 2)]
        mean = np.mean(vectors, axis=0)
        prototypes[name] = mean / (float(np.linalg.norm(mean)) or 1.0)
    return prototypes


def recipe_from_descriptors(
    descriptors: dict[str, float], embedding: np.ndarray | None, seed: int
) -> dict[str, Any]:
    """A recipe that imitates a clip the engine did not make.

    The style is the one whose prototype (``style_prototypes``) is nearest to the
    clip's features-v1 ``embedding``; tempo (when the beat is clear), key, mode,
    brightness, energy and busyness come from its measured ``descriptors``
    (``core.providers.features.describe_audio``).
    """
    if embedding is not None and np.any(embedding):
        prototypes = style_prototypes()
        style = max(sorted(prototypes), key=lambda name: float(np.dot(prototypes[name], embedding)))
    else:
        style = "ambient" if float(descriptors.get("onset_rate", 0.0)) < 1.5 else "pop"
    profile = STYLES[style]
    energy = min(1.0, max(0.0, float(descriptors.get("energy", 0.5))))
    onset_rate = float(descriptors.get("onset_rate", 3.0))
    recipe = design_recipe(style, energy, min(1.0, onset_rate / 8.0 + 0.2), seed)
    if float(descriptors.get("pulse_clarity", 0.0)) >= 0.3:
        tempo = float(descriptors.get("tempo_bpm", recipe["tempo"]))
        centre = sum(profile.tempo) / 2
        while tempo < centre / 1.5:  # the octave of the measured tempo that suits the style
            tempo *= 2
        while tempo > centre * 1.5:
            tempo /= 2
        recipe["tempo"] = round(min(170.0, max(50.0, tempo)), 2)
    recipe["key"] = int(descriptors.get("key", recipe["key"])) % 12
    recipe["key_name"] = KEY_NAMES[recipe["key"]]
    minor = float(descriptors.get("minorness", 0.0)) > 0
    mode = profile.modes_minor[0] if minor else profile.modes_major[0]
    if mode != recipe["mode"]:
        recipe["mode"] = mode
        recipe["progression"] = [int(d) for d in _choose(_rng(seed, "prog"), PROGRESSIONS[mode])]
    brightness_hz = float(descriptors.get("brightness", 1000.0))
    recipe["brightness"] = round(min(1.0, max(0.0, math.log2(max(brightness_hz, 200.0) / 200.0) / 4.0)), 3)
    recipe["derived_from_audio"] = True
    return recipe


# ---------------------------------------------------------------------------
# Synthesis primitives
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Instruments
# ---------------------------------------------------------------------------


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
_GROOVE_EXTRAS: dict[str, dict[str, list[int]]] = {
    "four_floor": {"kick": [14, 15, 7], "rim": [3, 11, 7, 13], "clap": [15, 10]},
    "backbeat": {"kick": [6, 10, 11, 3], "snare": [15, 7], "open_hat": [14, 6]},
    "boom_bap": {"kick": [3, 11, 15], "rim": [9, 14], "snare": [15, 7]},
    "folk": {"kick": [6, 10, 14], "snare": [14]},
    "soft_pulse": {"kick": [10, 8], "rim": [6, 14]},
    "taiko": {"tom": [14, 15, 12], "snare": [13, 14, 15]},
}

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
}

LAYERS = ("drums", "bass", "chords", "pad", "lead")


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


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
        if self.density > 0.55 and name in ("four_floor", "backbeat", "boom_bap"):
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
                    part = "tom" if name == "taiko" else "snare"
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
                bus *= np.float32(10 ** (self.style.mix[LAYERS.index(layer)] / 20) * 0.1 / level)
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


# ---------------------------------------------------------------------------
# The provider
# ---------------------------------------------------------------------------


AUDIO_MATCH_CANDIDATES = 4  # recipes tried per foreign reference
AUDIO_MATCH_SECONDS = 4.0  # length of each trial render


class SketchEngine:
    """The embedded music provider (``MusicProvider``)."""

    name = ENGINE
    model: str | None = None
    capabilities = SKETCH_CAPABILITIES
    blends = True  # takes GenerationRequest.blend_with: blends two references' recipes

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings
        self.last_warning: str | None = None  # why the last batch has fewer clips than asked, if it has

    def recipe_for(
        self,
        brief: str,
        params: BriefParams,
        seed: int,
        references: Sequence[ReferenceClip] = (),
        reference_index: int = 0,
        derived: dict[Path, dict[str, Any] | None] | None = None,
        blend_with: Sequence[ReferenceClip] = (),
    ) -> dict[str, Any]:
        """The recipe of one clip: fresh, a variation of one of ``references``, or (with
        ``blend_with``) a variation of a blend of one of each."""
        if not references:
            return design_recipe(brief, params.energy, params.density, seed, bpm=params.bpm, key=params.key)
        derived = {} if derived is None else derived
        parent = self._parent_recipe(references[reference_index % len(references)], derived)
        if blend_with:
            other = self._parent_recipe(blend_with[reference_index % len(blend_with)], derived)
            if parent is not None and other is not None:
                parent = blend_recipes(parent, other, seed)
            else:
                parent = parent if parent is not None else other
        if parent is None:  # unreadable reference: start from the brief
            return design_recipe(brief, params.energy, params.density, seed)
        return vary_recipe(parent, seed)

    def _parent_recipe(
        self, reference: ReferenceClip, derived: dict[Path, dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """The reference's own recipe, or one imitating its audio (None when unreadable)."""
        if is_sketch_recipe(reference.recipe):
            return reference.recipe
        if reference.audio_path not in derived:
            derived[reference.audio_path] = self._recipe_from_audio(reference)
        return derived[reference.audio_path]

    @staticmethod
    def _recipe_from_audio(reference: ReferenceClip) -> dict[str, Any] | None:
        """Analysis by synthesis: a few recipes in the style nearest to the clip, each
        rendered briefly and embedded; the one that lands closest to the clip wins.
        Deterministic: the seeds come from the clip's own descriptors."""
        from core.providers.features import FeatureEmbedder, describe_audio, embed_samples

        try:
            descriptors = describe_audio(reference.audio_path)
            # The features-v1 space whatever the session's embedder: the style prototypes live there.
            embedding = FeatureEmbedder(version="v1").embed_audio(reference.audio_path)
        except AudioFileError:
            return None
        fingerprint = ",".join(f"{k}={descriptors[k]:.4g}" for k in sorted(descriptors))
        base = zlib.crc32(fingerprint.encode("ascii"))
        best: tuple[float, dict[str, Any]] | None = None
        for k in range(AUDIO_MATCH_CANDIDATES):
            candidate = recipe_from_descriptors(descriptors, embedding, (base + 7919 * k) % (2**31 - 1))
            score = float(np.dot(embed_samples(render_recipe(candidate, AUDIO_MATCH_SECONDS)), embedding))
            if best is None or score > best[0]:
                best = (score, candidate)
        return best[1] if best is not None else None

    def generate_batch(
        self,
        prompt: str,
        num_clips: int,
        duration_sec: float,
        request: GenerationRequest | None = None,
    ) -> list[GeneratedClip]:
        params = params_of(prompt, request, duration_sec)
        batch_seed = request.seed if request is not None else 0
        references = tuple(request.references) if request is not None else ()
        blend_with = tuple(request.blend_with) if request is not None else ()
        cancel = request.cancel if request is not None else None
        progress = request.progress if request is not None else None
        on_clip = request.on_clip if request is not None else None
        out_dir = request.out_dir if request is not None and request.out_dir is not None else None
        if out_dir is None:
            out_dir = Path(tempfile.mkdtemp(prefix="sessionlab-sketch-"))
        brief = brief_of(prompt)
        derived: dict[Path, dict[str, Any] | None] = {}
        clips: list[GeneratedClip] = []
        errors: list[str] = []
        self.last_warning = None
        if progress is not None:
            progress(STAGE_GENERATING, 0, num_clips)
        for i in range(num_clips):
            check_cancel(cancel)
            seed = clip_seed(batch_seed, i)
            try:
                recipe = self.recipe_for(brief, params, seed, references, batch_seed + i, derived, blend_with)
                samples = render_recipe(recipe, duration_sec, cancel)
                path = write_wav_atomic(out_dir / f"sketch-{batch_seed}-{i:02d}-{seed}.wav", samples, SR)
            except OSError as exc:  # a full or read-only disk: skip this clip, as the contract says
                errors.append(str(exc))
                continue
            clip = GeneratedClip(
                audio_path=path,
                duration_sec=samples.shape[0] / SR,
                raw_prompt=prompt,
                seed=seed,
                recipe=recipe,
            )
            clips.append(clip)
            if on_clip is not None:
                on_clip(i, clip)
            if progress is not None:
                progress(STAGE_GENERATING, i + 1, num_clips)
        if not clips:
            detail = f" ({errors[0]})" if errors else ""
            raise GenerationFailedError(f"The sketch engine could not write any clip{detail}.")
        if errors:  # the service shows it: a clip is never dropped without a word
            self.last_warning = (
                f"{len(clips)} of {num_clips} clips were made; one could not be written ({errors[0]})."
            )
        return clips

    def extend_clip(self, request: ExtendRequest) -> GeneratedClip:
        """The source's recipe rendered to ``request.to_sec``: one window, no seam to hide."""
        from core.errors import ValidationError

        recipe = request.source.recipe
        if not is_sketch_recipe(recipe):
            raise ValidationError(
                "The sketch engine can only extend its own clips (this one has no sketch recipe);"
                " choose the engine that made it."
            )
        assert recipe is not None
        out_dir = Path(request.out_dir) if request.out_dir is not None else Path(tempfile.mkdtemp())
        if request.progress is not None:
            request.progress(STAGE_GENERATING, 0, 1)
        check_cancel(request.cancel)
        samples = render_recipe(recipe, request.to_sec, request.cancel)
        check_cancel(request.cancel)
        seed = request.source.seed if request.source.seed is not None else int(recipe["seed"])
        path = write_wav_atomic(out_dir / f"sketch-extend-{seed}-{samples.shape[0]}.wav", samples, SR)
        if request.progress is not None:
            request.progress(STAGE_GENERATING, 1, 1)
        return GeneratedClip(
            audio_path=path,
            duration_sec=samples.shape[0] / SR,
            raw_prompt=request.prompt,
            seed=seed,
            recipe=copy.deepcopy(recipe),
        )


def create(settings: Settings, model: str | None = None) -> SketchEngine:
    """Registry factory. The embedded engine has no model to choose."""
    if model:
        from core.errors import ValidationError

        raise ValidationError(f"The sketch engine has no models to choose from (got {model!r}).")
    return SketchEngine(settings)
