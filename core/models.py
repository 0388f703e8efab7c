"""Domain models (seed 000, adapted for a local, persistent studio).

Plain dataclasses: they cost nothing to import and validate in ``__post_init__``
so an invalid value can never exist in memory, let alone on disk.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import ValidationError
from core.text import shown_line

MAX_BRIEF_CHARS = 2000
# The longest clip any engine may be asked for (ten minutes); each engine's own limit,
# from its capabilities, is checked where it generates (core.pipeline.generate).
MAX_DURATION_SEC = 600.0
MIN_DURATION_SEC = 0.1  # anything shorter rounds to no audio at some engines' frame rates

BATCH_INITIAL = "initial"
BATCH_MORE = "more"
BATCH_IMPORT = "import"
BATCH_EXTEND = "extend"  # one clip continued past its end, beside its source's cluster
BATCH_KINDS = (BATCH_INITIAL, BATCH_MORE, BATCH_IMPORT, BATCH_EXTEND)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def utcnow() -> datetime:
    return datetime.now(UTC)


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


MIN_BPM = 30.0
MAX_BPM = 300.0
MAX_LYRICS_CHARS = 4000
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


@dataclass(frozen=True)
class BriefParams:
    """Music control parameters: energy and density in [0, 1], duration in [0.1, 600] s (engines limit it
    further), and optionally a tempo (BPM), a key ("A minor") and lyrics (for engines that sing)."""

    energy: float = 0.5
    density: float = 0.5
    duration_sec: float = 10.0
    bpm: float | None = None
    key: str | None = None
    lyrics: str = ""

    def __post_init__(self) -> None:
        energy = _number("Energy", self.energy)
        density = _number("Density", self.density)
        duration = _number("Duration", self.duration_sec)
        if not 0.0 <= energy <= 1.0:
            raise ValidationError(f"Energy must be between 0 and 1, not {energy:g}.")
        if not 0.0 <= density <= 1.0:
            raise ValidationError(f"Density must be between 0 and 1, not {density:g}.")
        if not MIN_DURATION_SEC <= duration <= MAX_DURATION_SEC:
            raise ValidationError(
                f"Duration must be at least {MIN_DURATION_SEC:g} and at most {MAX_DURATION_SEC:g} seconds,"
                f" not {duration:g}."
            )
        bpm = None if self.bpm is None else _number("Tempo", self.bpm)
        if bpm is not None and not MIN_BPM <= bpm <= MAX_BPM:
            raise ValidationError(f"Tempo must be between {MIN_BPM:g} and {MAX_BPM:g} BPM, not {bpm:g}.")
        lyrics = self.lyrics if self.lyrics is not None else ""
        if not isinstance(lyrics, str):
            raise ValidationError("Lyrics must be text.")
        lyrics = lyrics.strip()
        if len(lyrics) > MAX_LYRICS_CHARS:
            raise ValidationError(
                f"The lyrics are {len(lyrics)} characters long; the limit is {MAX_LYRICS_CHARS}."
            )
        object.__setattr__(self, "energy", energy)
        object.__setattr__(self, "density", density)
        object.__setattr__(self, "duration_sec", duration)
        object.__setattr__(self, "bpm", bpm)
        object.__setattr__(self, "key", validate_key(self.key))
        object.__setattr__(self, "lyrics", lyrics)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "energy": self.energy,
            "density": self.density,
            "duration_sec": self.duration_sec,
        }
        # Only what was given: a brief without them is stored exactly as before.
        if self.bpm is not None:
            data["bpm"] = self.bpm
        if self.key is not None:
            data["key"] = self.key
        if self.lyrics:
            data["lyrics"] = self.lyrics
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BriefParams:
        return cls(
            energy=data.get("energy", 0.5),
            density=data.get("density", 0.5),
            duration_sec=data.get("duration_sec", 10.0),
            bpm=data.get("bpm"),
            key=data.get("key"),
            lyrics=data.get("lyrics") or "",
        )


@dataclass
class Track:
    """One stored clip. Its audio lives at ``path`` (media/{session}/{track}.wav)."""

    id: uuid.UUID
    batch_id: uuid.UUID
    cluster_id: uuid.UUID
    path: Path
    duration_sec: float
    raw_prompt: str
    created_at: datetime
    seed: int | None = None
    similarity: float | None = None  # cosine to its cluster's (or parent's) centroid
    source: str | None = None  # original file of an imported clip
    recipe: dict[str, Any] | None = None  # how the engine made it (engine specific)
    position: int = 0  # order within the batch


@dataclass
class ClusterSummary:
    """A cluster label and its member track ids."""

    id: uuid.UUID
    batch_id: uuid.UUID
    label: str
    track_ids: list[uuid.UUID]
    created_at: datetime
    parent_cluster_id: uuid.UUID | None = None
    position: int = 0
    # A blend's second parent (the first is parent_cluster_id, the one it sits under).
    second_parent_cluster_id: uuid.UUID | None = None


@dataclass
class Batch:
    """One round of generation (or import) with its clustering results.

    ``num_generated`` counts stored tracks: clips returned and stored for an
    initial batch, clips accepted by the similarity filter for a more-like batch.
    """

    id: uuid.UUID
    session_id: uuid.UUID
    created_at: datetime
    prompt_text: str
    num_requested: int
    num_generated: int
    clusters: list[ClusterSummary]
    tracks: list[Track] = field(default_factory=list)
    kind: str = BATCH_INITIAL
    params: BriefParams = field(default_factory=BriefParams)
    seed: int | None = None
    engine: str = ""
    model: str | None = None
    embedder: str = ""
    namer: str = ""
    parent_cluster_id: uuid.UUID | None = None
    position: int = 0

    def track(self, track_id: uuid.UUID) -> Track | None:
        return next((t for t in self.tracks if t.id == track_id), None)

    def cluster(self, cluster_id: uuid.UUID) -> ClusterSummary | None:
        return next((c for c in self.clusters if c.id == cluster_id), None)


@dataclass
class Session:
    """A musician's session: the brief, its params and every batch since."""

    id: uuid.UUID
    created_at: datetime
    brief_text: str
    params: BriefParams
    batches: list[Batch] = field(default_factory=list)
    name: str = ""  # user-chosen title; the brief stands in when empty
    updated_at: datetime | None = None
    _track_index: _TrackIndex | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def title(self) -> str:
        return self.name or self.brief_text

    @property
    def tracks(self) -> list[Track]:
        return [t for b in self.batches for t in b.tracks]

    @property
    def clusters(self) -> list[ClusterSummary]:
        return [c for b in self.batches for c in b.clusters]

    def find_cluster(self, cluster_id: uuid.UUID) -> tuple[Batch, ClusterSummary] | None:
        for batch in self.batches:
            cluster = batch.cluster(cluster_id)
            if cluster is not None:
                return batch, cluster
        return None

    def index_tracks(self, batches: list[Batch]) -> None:
        """Put these batches' clips in the index find_track uses (their cost only):
        called as batches arrive, so no lookup has to index the whole session."""
        self._index().update(batches)

    def _index(self) -> _TrackIndex:
        if self._track_index is None or self._track_index.batches is not self.batches:
            self._track_index = _TrackIndex(self.batches)
        return self._track_index

    def find_track(self, track_id: uuid.UUID) -> tuple[Batch, Track] | None:
        """A clip and its batch, through an index of every clip (the footer asks this
        on each key, in sessions of thousands of clips): batches are indexed when first
        seen or when their track list changes, so a new batch costs only its own clips."""
        index = self._index()
        found = index.get(track_id)
        if found is None:
            index.update()
            found = index.get(track_id)
        return found


class _TrackIndex:
    """Every clip of a session's batch list by id. A hit is checked (the clip still in
    its batch's list) so an index behind the list never answers wrong; update()
    indexes only batches it has not seen as they are now (a list given anew gets a
    new index; a batch taken out of the list is no longer answered for)."""

    def __init__(self, batches: list[Batch]) -> None:
        self.batches = batches
        self._seen: dict[int, tuple[Batch, list[Track], int]] = {}
        self._tracks: dict[uuid.UUID, tuple[Batch, Track]] = {}

    def get(self, track_id: uuid.UUID) -> tuple[Batch, Track] | None:
        found = self._tracks.get(track_id)
        if found is None:
            return None
        batch, track = found
        if not any(t is track for t in batch.tracks):
            return None
        # A deleted batch leaves the list: its clips are not the session's any more.
        return found if any(b is batch for b in self.batches) else None

    def update(self, batches: list[Batch] | None = None) -> None:
        """Index ``batches`` (all the list's when None) that are new or changed."""
        for batch in self.batches if batches is None else batches:
            seen = self._seen.get(id(batch))
            if (
                seen is not None
                and seen[0] is batch
                and seen[1] is batch.tracks
                and seen[2] == len(batch.tracks)
            ):
                continue
            for track in batch.tracks:
                self._tracks[track.id] = (batch, track)
            self._seen[id(batch)] = (batch, batch.tracks, len(batch.tracks))


@dataclass(frozen=True)
class SessionInfo:
    """A row of the session list: enough to show and choose, no tracks loaded."""

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    brief_text: str
    name: str
    num_batches: int
    num_tracks: int

    @property
    def title(self) -> str:
        return self.name or self.brief_text


# --------------------------------------------------------------------------- curation
#
# What a musician decides about the clips lives beside the generated rows, never in
# them: a clip stays as it was made, its marks can change and be undone.

MAX_NOTE_CHARS = 2000
MAX_TAG_CHARS = 40
MAX_TAGS = 32
MIN_RATING = 1
MAX_RATING = 5
PREFERENCE_CHOICES = ("a", "b", "same")
ANALYSIS_SOURCES = ("engine", "estimate")


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


def _optional_number(name: str, value: Any) -> float | None:
    return None if value is None else _number(name, value)


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
