"""The store's clusters, tracks and vectors: single reads, embeddings and centroids of a
space, and the row -> model conversions the other reads share.

A mixin of SessionStore (core.store): these methods use its connection and transactions.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.errors import CancelledError, NotFoundError
from core.models import Batch, BriefParams, ClusterSummary, Track
from core.store.rows import (
    _VECTOR_DTYPE,
    _dt,
    _Ids,
    _seed_value,
    _space_name,
    _uuid_or_none,
    _vector,
    _vector_blob,
    track_from_row,
)

if TYPE_CHECKING:
    import threading

    import numpy as np

    from core.store import SessionStore


VECTOR_CHUNK = 1000  # rows read between two looks at a read's ``stop``
PROGRESS_STEPS = 20_000  # SQLite instructions between two looks at it while a query works


def _stop_if_set(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise CancelledError("The read was stopped.")


class ClipStore:
    """Cluster, track and vector methods of SessionStore (see the module docstring)."""

    def get_cluster(
        self: SessionStore, session_id: uuid.UUID, cluster_id: uuid.UUID
    ) -> ClusterSummary | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT * FROM clusters WHERE id = ? AND session_id = ?", (str(cluster_id), str(session_id))
            ).fetchone()
            if row is None:
                return None
            members = conn.execute(
                "SELECT cluster_position, id FROM tracks WHERE cluster_id = ?", (str(cluster_id),)
            ).fetchall()
        return self._cluster(row, [(m["cluster_position"], m["id"]) for m in members])

    def get_track(self: SessionStore, session_id: uuid.UUID, track_id: uuid.UUID) -> Track | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT * FROM tracks WHERE id = ? AND session_id = ?", (str(track_id), str(session_id))
            ).fetchone()
        return None if row is None else self._track(row)

    def get_centroid(
        self: SessionStore, session_id: uuid.UUID, cluster_id: uuid.UUID, space: str
    ) -> np.ndarray | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT c.dim, c.vector FROM centroids c JOIN clusters k ON k.id = c.cluster_id"
                " WHERE c.cluster_id = ? AND c.space = ? AND k.session_id = ?",
                (str(cluster_id), space, str(session_id)),
            ).fetchone()
        return None if row is None else _vector(row["vector"], row["dim"])

    def get_embeddings(
        self: SessionStore, track_ids: Sequence[uuid.UUID], space: str
    ) -> dict[uuid.UUID, np.ndarray]:
        """The stored vectors of ``space`` among ``track_ids``; tracks without one are left out."""
        wanted = [str(t) for t in dict.fromkeys(track_ids)]
        found: dict[uuid.UUID, np.ndarray] = {}
        with self._reading() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                for row in conn.execute(
                    f"SELECT track_id, dim, vector FROM embeddings WHERE space = ?"
                    f" AND track_id IN ({','.join('?' * len(chunk))})",
                    (space, *chunk),
                ):
                    found[uuid.UUID(row["track_id"])] = _vector(row["vector"], row["dim"])
        return found

    def get_session_vectors(
        self: SessionStore, session_id: uuid.UUID, space: str, *, stop: threading.Event | None = None
    ) -> tuple[list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]], np.ndarray]:
        """Every stored vector of ``space`` among the session's clips in one read, in the
        session's order (batch, then clip): ((track, cluster, batch) ids, one float32 matrix).
        What a map of 10,000 clips needs. A vector of another length than the first is left
        out (a space has one length).

        ``stop``: looked at while SQLite works and between chunks of rows (one snapshot still);
        once set, the read ends there and raises CancelledError (the store's lock let go)."""
        import numpy as np

        ids: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]] = []
        parse: dict[str, uuid.UUID] = {}  # clusters and batches repeat: parse each once
        dim = -1
        blobs: list[bytes] = []
        with self._reading() as conn:
            if stop is not None:
                # The query sorts every row before it gives the first (0.3 s at 10,000 clips on
                # a busy machine): SQLite looks at ``stop`` while it works, and ends there.
                conn.set_progress_handler(stop.is_set, PROGRESS_STEPS)
            try:
                cursor = conn.execute(
                    "SELECT t.id, t.cluster_id, t.batch_id, e.dim, e.vector FROM tracks t"
                    " JOIN batches b ON b.id = t.batch_id"
                    " JOIN embeddings e ON e.track_id = t.id AND e.space = ?"
                    " WHERE t.session_id = ? ORDER BY b.position, b.created_at, b.rowid, t.position, t.created_at",
                    (space, str(session_id)),
                )
                while True:
                    _stop_if_set(stop)
                    rows = cursor.fetchmany(VECTOR_CHUNK)
                    if not rows:
                        break
                    if dim < 0:
                        dim = int(rows[0][3])
                    for r in rows:
                        if int(r[3]) != dim or len(r[4]) != dim * 4:
                            continue
                        blobs.append(r[4])
                        ids.append(
                            (
                                uuid.UUID(r[0]),
                                parse.get(r[1]) or parse.setdefault(r[1], uuid.UUID(r[1])),
                                parse.get(r[2]) or parse.setdefault(r[2], uuid.UUID(r[2])),
                            )
                        )
            except sqlite3.OperationalError:
                _stop_if_set(stop)  # interrupted by the progress handler: stopped
                raise
            finally:
                if stop is not None:
                    conn.set_progress_handler(None, 0)
        if dim < 0:
            return [], np.zeros((0, 0), dtype=np.float32)
        matrix = np.frombuffer(b"".join(blobs), dtype=_VECTOR_DTYPE).reshape(len(ids), dim)
        return ids, matrix.astype(np.float32)

    def put_embeddings(self: SessionStore, space: str, embeddings: dict[uuid.UUID, np.ndarray]) -> None:
        """Store (or replace) vectors of ``space`` for existing tracks."""
        space = _space_name(space)
        rows = [(str(tid), space, *_vector_blob(f"track {tid}", v)) for tid, v in embeddings.items()]
        if not rows:
            return
        with self._writing() as conn:
            for row in rows:
                if not self._exists(conn, "tracks", uuid.UUID(row[0])):
                    raise NotFoundError(f"No track {row[0]}.")
            conn.executemany(
                "INSERT INTO embeddings (track_id, space, dim, vector) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (track_id, space) DO UPDATE SET dim = excluded.dim, vector = excluded.vector",
                rows,
            )

    def put_centroid(self: SessionStore, cluster_id: uuid.UUID, space: str, centroid: np.ndarray) -> None:
        """Store (or replace) the centroid of ``space`` for an existing cluster."""
        space = _space_name(space)
        dim, blob = _vector_blob(f"cluster {cluster_id}", centroid)
        with self._writing() as conn:
            if not self._exists(conn, "clusters", cluster_id):
                raise NotFoundError(f"No cluster {cluster_id}.")
            conn.execute(
                "INSERT INTO centroids (cluster_id, space, dim, vector) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (cluster_id, space) DO UPDATE SET dim = excluded.dim, vector = excluded.vector",
                (str(cluster_id), space, dim, blob),
            )

    # ----------------------------------------------------------------- row -> model

    def _track(
        self: SessionStore, row: sqlite3.Row, ids: _Ids | None = None, *, recipes: bool = True
    ) -> Track:
        return track_from_row(row, self._abs(row["path"]), ids, recipes=recipes)

    @staticmethod
    def _cluster(row: sqlite3.Row, members: list[tuple[int, str]], ids: _Ids | None = None) -> ClusterSummary:
        ids = _Ids() if ids is None else ids
        return ClusterSummary(
            id=ids[row["id"]],
            batch_id=ids[row["batch_id"]],
            label=row["label"],
            track_ids=[ids[track_id] for _, track_id in sorted(members)],
            created_at=_dt(row["created_at"]),
            parent_cluster_id=_uuid_or_none(row["parent_cluster_id"]),
            position=int(row["position"]),
            second_parent_cluster_id=_uuid_or_none(row["second_parent_cluster_id"]),
        )

    @staticmethod
    def _batch(
        row: sqlite3.Row, clusters: list[ClusterSummary], tracks: list[Track], ids: _Ids | None = None
    ) -> Batch:
        ids = _Ids() if ids is None else ids
        return Batch(
            id=ids[row["id"]],
            session_id=ids[row["session_id"]],
            created_at=_dt(row["created_at"]),
            prompt_text=row["prompt_text"],
            num_requested=int(row["num_requested"]),
            num_generated=int(row["num_generated"]),
            clusters=clusters,
            tracks=tracks,
            kind=row["kind"],
            params=BriefParams.from_dict(json.loads(row["params"])),
            seed=_seed_value(row["seed"]),
            engine=row["engine"],
            model=row["model"],
            embedder=row["embedder"],
            namer=row["namer"],
            parent_cluster_id=_uuid_or_none(row["parent_cluster_id"]),
            position=int(row["position"]),
        )
