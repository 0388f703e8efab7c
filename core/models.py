"""Domain models (seed 000, adapted for a local, persistent studio): a session, its batches,
their clusters and clips.

Plain dataclasses: they cost nothing to import and validate in ``__post_init__``
so an invalid value can never exist in memory, let alone on disk. The checks of
what a musician types are in ``core.validation``; the musician's marks and
judgements (curation, preferences, analysis, deletions) in ``core.curation_models``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import ValidationError
from core.validation import _number, validate_key

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


MIN_BPM = 30.0
MAX_BPM = 300.0
MAX_LYRICS_CHARS = 4000


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
