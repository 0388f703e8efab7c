"""Styles and the words of a brief that ask for them: what ``design_recipe`` reads."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.models import BriefParams
from core.providers.base import GenerationRequest


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

# Words that name an instrument or a beat: every clip of such a brief plays it (part -> name).
_NAMED_PARTS: dict[str, tuple[str, str]] = {
    **{w: ("chords", "epiano") for w in _words("rhodes epiano wurlitzer")},
    "piano": ("chords", "piano"),
    **{w: ("chords", "strum") for w in _words("guitar strum strumming ukulele banjo")},
    "harp": ("chords", "harp"),
    **{w: ("pad", "strings") for w in _words("strings string violin violins cello")},
    "choir": ("pad", "choir_pad"),
    "organ": ("pad", "organ_pad"),
    "flute": ("lead", "flute"),
    "whistle": ("lead", "whistle"),
    **{w: ("lead", "bell") for w in _words("bell bells")},
    **{w: ("lead", "horn") for w in _words("horn horns brass")},
    **{w: ("bass", "acid_bass") for w in _words("acid 303")},
    **{w: ("bass", "sub") for w in _words("808 sub")},
    "fourfloor": ("drums", "four_floor"),
    "taiko": ("drums", "taiko"),
    "disco": ("drums", "disco"),
}

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
    named: tuple[tuple[str, str], ...] = ()  # (part, instrument or groove) the words name, part by part


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
        named=tuple(sorted({_NAMED_PARTS[w] for w in words if w in _NAMED_PARTS})),
    )
