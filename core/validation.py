"""Input validation: each check returns the clean value or raises a ValidationError of one
sentence, and writes nothing. The brief and its numbers, a length typed as 90 or 1:30,
a key; a clip's rating, tags and note."""

from __future__ import annotations

import math
import re
from typing import Any

from core.errors import ValidationError
from core.text import shown_line

MAX_BRIEF_CHARS = 2000


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValidationError(f"{name} must be a number, not {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be a number, not {value!r}.") from None
    if not math.isfinite(number):
        raise ValidationError(f"{name} must be a finite number, not {value!r}.")
    return number


def validate_brief(brief: Any) -> str:
    """Return the brief stripped of surrounding space, or raise ValidationError."""
    if not isinstance(brief, str):
        raise ValidationError("The brief must be text.")
    try:
        brief.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: a byte that was not UTF-8 on the command line
        raise ValidationError(
            "The brief contains a byte that is not valid UTF-8 text; check your terminal's encoding."
        ) from None
    text = brief.strip()
    if not text:
        raise ValidationError("The brief is empty: describe the music you want.")
    if len(text) > MAX_BRIEF_CHARS:
        raise ValidationError(f"The brief is {len(text)} characters long; the limit is {MAX_BRIEF_CHARS}.")
    return text


def validate_num_clips(num_clips: Any, max_batch_size: int) -> int:
    if isinstance(num_clips, bool):
        raise ValidationError(f"The number of clips must be a whole number, not {num_clips!r}.")
    if not isinstance(num_clips, int):
        try:
            as_float = float(num_clips)
        except (TypeError, ValueError):
            raise ValidationError(f"The number of clips must be a whole number, not {num_clips!r}.") from None
        if not as_float.is_integer():
            raise ValidationError(f"The number of clips must be a whole number, not {num_clips!r}.")
        num_clips = int(as_float)
    if not 1 <= num_clips <= max_batch_size:
        raise ValidationError(f"The number of clips must be between 1 and {max_batch_size}, not {num_clips}.")
    return num_clips


_LENGTH = re.compile(r"(?:(\d+):)?(\d+(?:\.\d*)?|\.\d+)")


def parse_length(text: Any) -> float:
    """A length a musician types, in seconds: ``90``, ``90.5`` or minutes:seconds ``1:30``
    (seconds under 60 after a colon); anything else is a ValidationError of one sentence."""
    value = str(text).strip()
    if not value:
        raise ValidationError("Give the length in seconds (90) or minutes:seconds (1:30).")
    match = _LENGTH.fullmatch(value)
    if match is None or (match.group(1) is not None and float(match.group(2)) >= 60):
        raise ValidationError(
            f"Give the length in seconds (90) or minutes:seconds (1:30), not {shown_line(value)!r}."
        )
    minutes = int(match.group(1) or 0)
    return minutes * 60 + float(match.group(2))


_TONICS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")


def validate_key(key: Any) -> str | None:
    """A key as "A minor" / "F# major" (tonic A-G with # or b, then major or minor), or None for none.

    Accepts "am", "A min", "f#", "Bb major", "c# minor"; a bare tonic is major.
    """
    if key is None:
        return None
    if not isinstance(key, str):
        raise ValidationError(f"The key must be text such as 'A minor', not {key!r}.")
    text = " ".join(key.strip().split())
    if not text:
        return None
    head, mode_text = text[0].upper(), text[1:].strip()
    accidental = ""
    if mode_text[:1] in ("#", "b", "♯", "♭") and not mode_text.lower().startswith(("maj", "min")):
        accidental, mode_text = mode_text[0], mode_text[1:].strip()
    mode_word = mode_text.lower()
    if head not in _TONICS or mode_word not in ("", "m", "maj", "major", "min", "minor"):
        raise ValidationError(
            f"The key must be a tonic A to G (with # or b) and major or minor, such as 'F# minor', not {key!r}."
        )
    pitch = (_TONICS[head] + {"": 0, "#": 1, "♯": 1, "b": -1, "♭": -1}[accidental]) % 12
    names = _FLAT_NAMES if accidental in ("b", "♭") else _SHARP_NAMES
    mode = "minor" if mode_word in ("m", "min", "minor") else "major"
    return f"{names[pitch]} {mode}"


def key_pitch_class(key: str) -> tuple[int, str]:
    """A validated key's tonic as a pitch class (C = 0) and its mode ("major" or "minor")."""
    tonic, mode = key.split(" ")
    pitch = (_TONICS[tonic[0]] + (1 if tonic[1:] == "#" else -1 if tonic[1:] == "b" else 0)) % 12
    return pitch, mode


# --------------------------------------------------------------------------- curation

MAX_NOTE_CHARS = 2000
MAX_TAG_CHARS = 40
MAX_TAGS = 32
MIN_RATING = 1
MAX_RATING = 5


def _one_line_text(what: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be text, not {type(value).__name__}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{what} contains a byte that is not valid UTF-8 text.") from None
    return value


def validate_rating(rating: Any) -> int | None:
    """A rating of 1..5 (None clears it)."""
    if rating is None:
        return None
    if isinstance(rating, bool) or not isinstance(rating, int):
        raise ValidationError(
            f"A rating must be a whole number from {MIN_RATING} to {MAX_RATING}, not {rating!r}."
        )
    if not MIN_RATING <= rating <= MAX_RATING:
        raise ValidationError(f"A rating must be from {MIN_RATING} to {MAX_RATING}, not {rating}.")
    return rating


def validate_tag(tag: Any) -> str:
    """A tag: one line, lower-case, inner spaces collapsed, 1..40 characters."""
    text = " ".join(_one_line_text("A tag", tag).split()).lower()
    if not text:
        raise ValidationError("A tag cannot be empty.")
    if len(text) > MAX_TAG_CHARS:
        raise ValidationError(
            f"The tag {text[:20]!r}... is {len(text)} characters long; the limit is {MAX_TAG_CHARS}."
        )
    if any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in text):
        raise ValidationError("A tag must be plain text, without control characters.")
    return text


def validate_tags(tags: Any) -> tuple[str, ...]:
    """Tags as the store keeps them: each checked, unique, sorted; at most 32."""
    if isinstance(tags, str):
        raise ValidationError("Tags must be a list of words, not one string.")
    try:
        clean = tuple(sorted({validate_tag(t) for t in tags}))
    except TypeError:
        raise ValidationError(f"Tags must be a list of words, not {type(tags).__name__}.") from None
    if len(clean) > MAX_TAGS:
        raise ValidationError(f"A clip can have at most {MAX_TAGS} tags, not {len(clean)}.")
    return clean


def validate_note(note: Any) -> str:
    """A note: free text (several lines allowed), stripped, at most 2,000 characters."""
    text = _one_line_text("A note", note).strip()
    if len(text) > MAX_NOTE_CHARS:
        raise ValidationError(f"The note is {len(text)} characters long; the limit is {MAX_NOTE_CHARS}.")
    if any((ch < " " and ch not in "\n\t") or "\x7f" <= ch <= "\x9f" for ch in text):
        raise ValidationError("A note must be plain text, without control characters.")
    return text


def _optional_number(name: str, value: Any) -> float | None:
    return None if value is None else _number(name, value)
