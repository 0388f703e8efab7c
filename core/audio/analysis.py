"""Tempo and key of a clip: the engine's own values where it knows them, else an
estimate from the audio.

- ``engine_tempo_key``: the sketch engine records its recipe (tempo in bpm,
  tonic pitch class, mode); an engine that takes a tempo and a key (ACE-Step's
  ``bpm`` and ``keyscale``) may record those. Modes fold to major or minor
  (mixolydian is a major key, dorian a minor one), which is what a DAW's key
  field and a sample browser's filter understand.
- ``estimate_tempo_key``: the embedded ``features`` analysis, one pass of plain
  numpy (about 10 ms for 10 s): tempo from the autocorrelation of an onset
  envelope, key from a chroma vector correlated with the Krumhansl-Kessler
  major and minor profiles. One implementation of each idea, shared with the
  embedder.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from core.curation_models import ClipAnalysis

KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_MODES = frozenset({"minor", "aeolian", "dorian", "phrygian", "locrian", "min", "m"})


def key_name(tonic: int, minor: bool) -> str:
    """``"A minor"``, ``"F# major"``: a tonic pitch class (C = 0) and a mode."""
    return f"{KEY_NAMES[int(tonic) % 12]} {'minor' if minor else 'major'}"


def _recipe_key(recipe: dict[str, Any]) -> str | None:
    from core.audio.wav_meta import PITCH_CLASSES

    key, mode = recipe.get("key"), str(recipe.get("mode", "major")).lower()
    if isinstance(key, bool):
        return None
    if isinstance(key, int) and 0 <= key < 12:
        return key_name(key, mode in MINOR_MODES)
    scale = recipe.get("keyscale")  # "A minor", "F# major" (ACE-Step)
    if isinstance(scale, str) and scale.split():
        words = scale.split()
        tonic = PITCH_CLASSES.get(words[0][:1].upper() + words[0][1:])
        if tonic is not None:
            minor = len(words) > 1 and words[1].lower() in MINOR_MODES
            return key_name(tonic, minor)
    return None


def engine_tempo_key(track: Any) -> ClipAnalysis | None:
    """Tempo and key from what the engine recorded (``track.recipe``), or None when it recorded neither."""
    recipe = getattr(track, "recipe", None)
    if not isinstance(recipe, dict):
        return None
    bpm = None
    for name in ("tempo", "bpm"):
        value = recipe.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and 20.0 <= float(value) <= 400.0:
            bpm = round(float(value), 2)
            break
    key = _recipe_key(recipe)
    if bpm is None and key is None:
        return None
    return ClipAnalysis(bpm=bpm, key=key, source="engine")


def estimate_tempo_key(samples: np.ndarray, rate: int) -> ClipAnalysis:
    """Tempo (bpm) and key estimated from the audio; both None for silence."""
    from core.providers.features import analyse

    _, found = analyse(samples, rate)
    if found.get("silent"):
        return ClipAnalysis(source="estimate")
    bpm = float(found["tempo_bpm"])
    clear_beat = float(found["pulse_clarity"]) > 0.05
    clear_key = float(found["key_clarity"]) > 0.2
    return ClipAnalysis(
        bpm=round(bpm, 2) if clear_beat and math.isfinite(bpm) else None,
        key=key_name(int(found["key"]), float(found["minorness"]) > 0) if clear_key else None,
        source="estimate",
    )
