"""The musician's marks and judgements on clips, and what is measured of them: plain
frozen dataclasses that validate in ``__post_init__``, like ``core.models``.

What a musician decides about the clips lives beside the generated rows, never in
them: a clip stays as it was made, its marks can change and be undone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import ValidationError
from core.validation import _one_line_text, _optional_number, validate_note, validate_rating, validate_tags

PREFERENCE_CHOICES = ("a", "b", "same")
ANALYSIS_SOURCES = ("engine", "estimate")


@dataclass(frozen=True)
class Curation:
    """One clip's musician-made marks; the defaults mean untouched."""

    kept: bool = False
    rating: int | None = None  # 1..5
    discarded: bool = False
    tags: tuple[str, ...] = ()  # lower-case, sorted, unique
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("kept", "discarded"):
            if not isinstance(getattr(self, name), bool):
                raise ValidationError(
                    f"{name.capitalize()} must be true or false, not {getattr(self, name)!r}."
                )
        object.__setattr__(self, "rating", validate_rating(self.rating))
        object.__setattr__(self, "tags", validate_tags(self.tags))
        object.__setattr__(self, "note", validate_note(self.note))

    @property
    def marked(self) -> bool:
        """Whether the musician left any mark on the clip."""
        return self != Curation()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "rating": self.rating,
            "discarded": self.discarded,
            "tags": list(self.tags),
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Curation:
        return cls(
            kept=bool(data.get("kept", False)),
            rating=data.get("rating"),
            discarded=bool(data.get("discarded", False)),
            tags=tuple(data.get("tags") or ()),
            note=str(data.get("note") or ""),
        )


@dataclass(frozen=True)
class ClipAnalysis:
    """Tempo, key and loudness of a clip, stored once computed."""

    bpm: float | None = None
    key: str | None = None  # e.g. "A minor", "F# major"
    source: str = "estimate"  # "engine" (the engine's own value) or "estimate"
    lufs: float | None = None  # integrated loudness of the stored clip
    true_peak_dbtp: float | None = None

    def __post_init__(self) -> None:
        bpm = _optional_number("The tempo", self.bpm)
        if bpm is not None and not 0.0 < bpm <= 1000.0:
            raise ValidationError(f"The tempo must be above 0 and at most 1000 BPM, not {bpm:g}.")
        key = self.key
        if key is not None:
            key = " ".join(_one_line_text("The key", key).split())
            if not key or len(key) > 40:
                raise ValidationError(f"The key must be a short name such as 'A minor', not {self.key!r}.")
        if self.source not in ANALYSIS_SOURCES:
            raise ValidationError(
                f"The analysis source must be one of {', '.join(ANALYSIS_SOURCES)}, not {self.source!r}."
            )
        object.__setattr__(self, "bpm", bpm)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "lufs", _optional_number("The loudness", self.lufs))
        object.__setattr__(self, "true_peak_dbtp", _optional_number("The true peak", self.true_peak_dbtp))

    def to_dict(self) -> dict[str, Any]:
        return {
            "bpm": self.bpm,
            "key": self.key,
            "source": self.source,
            "lufs": self.lufs,
            "true_peak_dbtp": self.true_peak_dbtp,
        }


@dataclass(frozen=True)
class Preference:
    """A pairwise judgement: which of two clips of one session is better, or "same"."""

    id: uuid.UUID
    session_id: uuid.UUID
    track_a: uuid.UUID
    track_b: uuid.UUID
    choice: str  # "a", "b" or "same"
    created_at: datetime
    brief_a: str = ""  # the brief each clip was made from (its batch's prompt text)
    brief_b: str = ""

    def __post_init__(self) -> None:
        for name in ("id", "session_id", "track_a", "track_b"):
            if not isinstance(getattr(self, name), uuid.UUID):
                raise ValidationError(f"A preference's {name} must be an id, not {getattr(self, name)!r}.")
        if self.track_a == self.track_b:
            raise ValidationError("A clip cannot be preferred to itself: choose two different clips.")
        if self.choice not in PREFERENCE_CHOICES:
            raise ValidationError(f"The choice must be 'a', 'b' or 'same', not {self.choice!r}.")
        if not isinstance(self.created_at, datetime):
            raise ValidationError(f"A preference's time must be a date and time, not {self.created_at!r}.")
        _one_line_text("A brief", self.brief_a)
        _one_line_text("A brief", self.brief_b)

    @property
    def chosen(self) -> uuid.UUID | None:
        return {"a": self.track_a, "b": self.track_b}.get(self.choice)

    @property
    def rejected(self) -> uuid.UUID | None:
        return {"a": self.track_b, "b": self.track_a}.get(self.choice)


@dataclass(frozen=True)
class Deletion:
    """What an explicit delete removed (rows first, then files; see core.store.curation)."""

    session_id: uuid.UUID
    track_ids: tuple[uuid.UUID, ...]
    cluster_ids: tuple[uuid.UUID, ...]  # clusters left without a clip, removed with it
    batch_ids: tuple[uuid.UUID, ...]  # batches left without a clip, removed with it
    session_removed: bool  # the session's last batch went, so the session went too
    files_left: tuple[str, ...] = ()  # files that could not be removed (the next start keeps them aside)
