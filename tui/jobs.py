"""What the user asked the core to make: a plain value handed to a worker."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from core.models import BriefParams

JobKind = Literal["new", "batch", "more", "extend"]


@dataclass(frozen=True)
class GenerationJob:
    kind: JobKind
    num_clips: int
    brief: str = ""
    params: BriefParams | None = None
    seed: int | None = None
    engine: str | None = None
    model: str | None = None
    embedder: str | None = None
    namer: str | None = None
    session_id: uuid.UUID | None = None
    cluster_id: uuid.UUID | None = None
    label: str = ""  # the parent cluster's label, for a more-like or extend job ("A + B" for a blend)
    second_cluster_id: uuid.UUID | None = None  # a blend: the second parent (cluster_id is the first)
    track_id: uuid.UUID | None = None  # the clip an extend job continues
    to_sec: float | None = None  # and the length it is extended to
    strength: str | None = None  # a more-like job's variation strength (None: the engine takes none)

    @property
    def title(self) -> str:
        if self.kind == "more" and self.second_cluster_id is not None:
            return f"Blend {self.label}"
        if self.kind == "more":
            return f"More like {self.label}"
        if self.kind == "extend":
            return f"Extending to {self.to_sec or 0:g} s"
        if self.kind == "batch":
            return "New batch"
        return "First batch"


@dataclass(frozen=True)
class NowPlaying:
    """What the player bar names: the clip, its number and its cluster."""

    key: str  # the track id, or "pending-N" for a clip of a batch being made
    path: str
    number: int
    label: str
