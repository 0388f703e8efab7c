"""The text side of ``features-v1``: the descriptor directions a brief's words (and a rendered
prompt's energy and density) imply; see ``v1.py``."""

from __future__ import annotations

import re

import numpy as np

from core.providers.features.v1_constants import _INDEX, DIMENSION, Z_CLIP

# word -> standard-score offsets it implies. Words are matched after
# lower-casing; "lo-fi", "hip hop" and plurals are folded as the sketch engine does.
TEXT_CUES: dict[str, dict[str, float]] = {}


def _cue(words: str, **offsets: float) -> None:
    for word in words.split():
        merged = TEXT_CUES.setdefault(word, {})
        for name, value in offsets.items():
            merged[name] = merged.get(name, 0.0) + value


_cue(
    "dark murky muffled gloomy night deep underwater",
    centroid=-1.5,
    rolloff=-1.5,
    bandwidth=-1.0,
    majorness=-0.5,
)
_cue(
    "bright crisp shiny sparkling airy glassy shimmering",
    centroid=1.5,
    rolloff=1.5,
    bandwidth=0.8,
    majorness=0.4,
)
_cue("warm mellow soft gentle", centroid=-0.8, rolloff=-0.8, onset_strength=-0.6, crest=-0.3)
_cue("sad melancholic melancholy minor moody sombre somber sinister eerie haunting brooding ominous",
     majorness=-1.5, tempo=-0.4)  # fmt: skip
_cue("happy sunny uplifting cheerful joyful major playful hopeful triumphant", majorness=1.5, tempo=0.3)
_cue("fast upbeat energetic driving frantic rapid hyper pumping racing",
     tempo=1.5, onset_rate=1.0, onset_strength=0.8)  # fmt: skip
_cue("slow lazy relaxed calm peaceful sleepy downtempo laidback chill", tempo=-1.5, onset_rate=-1.0)
_cue("aggressive distorted heavy industrial gritty dirty harsh noisy angry raw pounding",
     flatness=1.2, onset_strength=1.0, level=0.8, crest=-0.5)  # fmt: skip
_cue("ambient drone pad pads atmospheric ethereal dreamy spacey meditative soundscape floating",
     onset_rate=-1.8, onset_strength=-1.5, pulse_clarity=-1.5, low_pulse_clarity=-1.2, tempo=-1.0,
     level_spread=-0.8, centroid=-0.6)  # fmt: skip
_cue("techno house edm club rave dance trance electro",
     tempo=1.4, pulse_clarity=1.5, low_pulse_clarity=1.8, onset_rate=1.0, flatness=0.8, onset_strength=1.0)  # fmt: skip
_cue("folk acoustic guitar strum strumming country campfire banjo ukulele",
     majorness=1.0, centroid=0.8, rolloff=0.8, onset_rate=0.6, flatness=-0.4)  # fmt: skip
_cue(
    "lofi jazz jazzy hiphop boombap chillhop rhodes", centroid=-0.8, rolloff=-1.0, tempo=-0.8, key_clarity=0.3
)
_cue(
    "cinematic orchestral epic film score strings soundtrack",
    onset_rate=-0.6,
    pulse_clarity=-0.5,
    level_range=0.6,
)
_cue("pop synthpop catchy disco funk retro", pulse_clarity=0.8, onset_rate=0.6, majorness=0.6)
_cue("sparse minimal empty quiet bare", onset_rate=-1.2, level=-0.8)
_cue("busy dense complex layered full lush", onset_rate=1.2, chroma_entropy=0.6)
_cue("loud", level=1.2)
_cue("quiet", level=-1.2)

_TOKEN = re.compile(r"[a-z0-9]+")
_PARAM = re.compile(r"\b(energy|density)=([0-9]*\.?[0-9]+)")


def text_scores(text: str) -> np.ndarray:
    """Standard-score offsets a text implies (zeros when it implies nothing)."""
    from core.providers.sketch import words_of

    scores = np.zeros(DIMENSION, dtype=np.float64)
    for word in sorted(words_of(text)):
        for name, value in TEXT_CUES.get(word, {}).items():
            scores[_INDEX[name]] += value
    params = {name: float(value) for name, value in _PARAM.findall(text.lower())}
    if "energy" in params:  # the engines map energy to tempo, level and attack
        push = 2.0 * (min(1.0, max(0.0, params["energy"])) - 0.5)
        for name, weight in (("tempo", 1.0), ("level", 1.0), ("onset_strength", 0.8)):
            scores[_INDEX[name]] += weight * push
    if "density" in params:
        push = 2.0 * (min(1.0, max(0.0, params["density"])) - 0.5)
        for name, weight in (("onset_rate", 1.0), ("chroma_entropy", 0.4)):
            scores[_INDEX[name]] += weight * push
    return np.clip(scores, -Z_CLIP, Z_CLIP)
