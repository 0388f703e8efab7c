"""Domain models (seed 000, adapted for a local, persistent studio).

Plain dataclasses: they cost nothing to import and validate in ``__post_init__``
so an invalid value can never exist in memory, let alone on disk.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import ValidationError

MAX_BRIEF_CHARS = 2000
MAX_DURATION_SEC = 30.0
MIN_DURATION_SEC = 0.1  # anything shorter rounds to no audio at some engines' frame rates

BATCH_INITIAL = "initial"
BATCH_MORE = "more"
BATCH_IMPORT = "import"
BATCH_KINDS = (BATCH_INITIAL, BATCH_MORE, BATCH_IMPORT)


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


@dataclass(frozen=True)
class BriefParams:
    """Music control parameters: energy and density in [0, 1], duration in [0.1, 30] s."""

    energy: float = 0.5
    density: float = 0.5
    duration_sec: float = 10.0

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
        object.__setattr__(self, "energy", energy)
        object.__setattr__(self, "density", density)
        object.__setattr__(self, "duration_sec", duration)

    def to_dict(self) -> dict[str, float]:
        return {"energy": self.energy, "density": self.density, "duration_sec": self.duration_sec}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BriefParams:
        return cls(
            energy=data.get("energy", 0.5),
            density=data.get("density", 0.5),
            duration_sec=data.get("duration_sec", 10.0),
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

    def find_track(self, track_id: uuid.UUID) -> tuple[Batch, Track] | None:
        for batch in self.batches:
            track = batch.track(track_id)
            if track is not None:
                return batch, track
        return None


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
