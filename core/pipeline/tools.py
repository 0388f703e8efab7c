"""What every use case works with: the store, the three providers, the settings, the clock.

Long-lived and shared by every call (the per-call state is in ``core.pipeline.run.Run``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from core.models import utcnow
from core.providers.base import ClusterNamingProvider, EmbeddingProvider, MusicProvider
from core.settings import Settings

if TYPE_CHECKING:
    from core.store import SessionStore

# (embeddings, max_k, *, space=embedding space name) -> index groups
ClusterFn = Callable[..., list[list[int]]]


@dataclass(frozen=True)
class Tools:
    store: SessionStore
    music: MusicProvider
    embedder: EmbeddingProvider
    namer: ClusterNamingProvider
    settings: Settings
    # Groups a batch's embeddings: k-means (core.clustering) unless a caller that must
    # not depend on floating-point accidents (the screenshot scenes) plans the groups.
    clusterer: ClusterFn
    # The namer that stands in when ``namer`` fails; None when there is none (or it is ``namer``).
    fallback_namer: Callable[[], ClusterNamingProvider | None] = lambda: None
    now: Callable[[], datetime] = utcnow  # the time rows are stamped with
