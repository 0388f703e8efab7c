"""Re-embed a session in another embedding space, on request (``sessionlab reembed SESSION``).

Vectors of different spaces are never compared: a session made with ``features-v1``
keeps its v1 vectors and centroids, and gains a full set in the space asked for
(each clip's vector, each cluster's centroid) next to them. Clips that already have
a vector in that space are not embedded again. Store methods only: the session's
rows and files are read, never changed; the new vectors are written with the
store's own ``put_embeddings`` / ``put_centroid``.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core import clustering
from core.providers.base import STAGE_EMBEDDING, EmbeddingProvider, ProgressFn, check_cancel

if TYPE_CHECKING:
    from core.store import SessionStore


@dataclass
class ReembedResult:
    space: str
    embedded: int = 0  # clips embedded now
    already: int = 0  # clips that had a vector in the space
    centroids: int = 0  # cluster centroids written
    unreadable: list[str] = field(default_factory=list)  # "file: reason" of clips left without a vector

    def document(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "embedded": self.embedded,
            "already": self.already,
            "centroids": self.centroids,
            "unreadable": list(self.unreadable),
        }


def reembed_session(
    store: SessionStore,
    session_id: uuid.UUID,
    embedder: EmbeddingProvider,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> ReembedResult:
    """Give every clip and cluster of the session a vector in ``embedder.space``."""
    session = store.require_session(session_id)
    space = embedder.space
    result = ReembedResult(space)
    tracks = list(session.tracks)
    known = store.get_embeddings([t.id for t in tracks], space)
    result.already = len(known)
    missing = [t for t in tracks if t.id not in known]
    fresh: dict[uuid.UUID, np.ndarray] = {}
    for i, track in enumerate(missing):
        check_cancel(cancel)
        if progress is not None:
            progress(STAGE_EMBEDDING, i, len(missing))
        try:
            vector = np.asarray(embedder.embed_audio(Path(track.path)), dtype=np.float32).ravel()
        except Exception as exc:  # noqa: BLE001 - one unreadable clip does not stop the others
            result.unreadable.append(f"{Path(track.path).name}: {exc}")
            continue
        if vector.size == 0 or not np.all(np.isfinite(vector)):
            result.unreadable.append(f"{Path(track.path).name}: the embedder returned an invalid vector")
            continue
        fresh[track.id] = vector
    check_cancel(cancel)
    if fresh:
        store.put_embeddings(space, fresh)
    if progress is not None:
        progress(STAGE_EMBEDDING, len(missing), len(missing))
    result.embedded = len(fresh)
    vectors = {**known, **fresh}
    for batch in session.batches:
        for cluster in batch.clusters:
            members = [vectors[t] for t in cluster.track_ids if t in vectors]
            if members:
                store.put_centroid(cluster.id, space, clustering.centroid_of(members))
                result.centroids += 1
    return result
