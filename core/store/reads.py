"""Reads for opening a big session piece by piece: what is drawn first, then the rest.

A session of 10,000 clips read whole is some 300,000 Python objects: a few hundred
milliseconds, and garbage-collector pauses, before anything can be shown. The app
reads its start instead (every batch's id in order, and the few batches it shows
open), draws it, and reads the other batches in chunks after. Each read here is one
read transaction, so what it returns is one consistent snapshot; a batch once
stored does not change, so batches from different reads fit together.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.models import Batch, ClusterSummary, Session, Track
from core.store.rows import _Ids, session_from_row

_ORDER = "ORDER BY position, created_at, rowid"
_CHUNK = 500  # ids per IN (...): well under SQLite's host-parameter limit


@dataclass
class SessionStart:
    """The start of a session: its own fields, the batches read so far, and the order of all.

    ``session.batches`` holds only the batches read (in display order): the first,
    the latest ones asked for, and every batch a more-like one among them came from
    (so each hangs under its parent). ``order`` is the id of every batch of the
    session in display order; ``clips`` counts every clip.
    """

    session: Session
    order: list[uuid.UUID] = field(default_factory=list)
    clips: int = 0

    @property
    def missing(self) -> list[uuid.UUID]:
        """The ids of the batches not read yet, in display order."""
        held = {b.id for b in self.session.batches}
        return [batch_id for batch_id in self.order if batch_id not in held]


class SessionReads:
    """Mixed into SessionStore: reads a big session's start, and batches by id."""

    if TYPE_CHECKING:

        def _reading(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def _track(self, row: sqlite3.Row, ids: _Ids | None = None, *, recipes: bool = True) -> Track: ...
        @staticmethod
        def _cluster(
            row: sqlite3.Row, members: list[tuple[int, str]], ids: _Ids | None = None
        ) -> ClusterSummary: ...
        @staticmethod
        def _batch(
            row: sqlite3.Row, clusters: list[ClusterSummary], tracks: list[Track], ids: _Ids | None = None
        ) -> Batch: ...

    def get_session_start(self, session_id: uuid.UUID, *, recent: int) -> SessionStart | None:
        """The session's own fields, the order of its batches, and in full its first
        batch, its latest ``recent`` ones and the batches those came from (more-like
        parents, up to the top). None if there is no such session."""
        with self._reading() as conn:
            row = conn.execute("SELECT * FROM sessions WHERE id = ?", (str(session_id),)).fetchone()
            if row is None:
                return None
            outline = conn.execute(
                f"SELECT id, parent_cluster_id FROM batches WHERE session_id = ? {_ORDER}", (str(session_id),)
            ).fetchall()
            clips = conn.execute(
                "SELECT count(*) FROM tracks WHERE session_id = ?", (str(session_id),)
            ).fetchone()[0]
            latest = outline[max(1, len(outline) - recent) :] if recent > 0 else []
            wanted = {r["id"] for r in [*outline[:1], *latest]}
            parents = {r["id"]: r["parent_cluster_id"] for r in outline}
            # Up the more-like lineage: each wanted batch's parent cluster's batch, and so on.
            frontier = [parents[b] for b in wanted if parents.get(b)]
            while frontier:
                owners = self._owners(conn, frontier)
                frontier = [parents[b] for b in owners - wanted if parents.get(b)]
                wanted |= owners
            batches = self._read_batches(conn, [r["id"] for r in outline if r["id"] in wanted])
        ids = _Ids()
        return SessionStart(session_from_row(row, batches), [ids[r["id"]] for r in outline], int(clips))

    def get_batches(self, session_id: uuid.UUID, batch_ids: Sequence[uuid.UUID]) -> list[Batch]:
        """These batches of the session (those it still has), in display order, with
        their clusters and tracks as get_session holds them."""
        with self._reading() as conn:
            return [
                b for b in self._read_batches(conn, [str(i) for i in batch_ids]) if b.session_id == session_id
            ]

    @staticmethod
    def _owners(conn: sqlite3.Connection, cluster_ids: list[str]) -> set[str]:
        owners: set[str] = set()
        for start in range(0, len(cluster_ids), _CHUNK):
            chunk = cluster_ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            owners.update(
                r[0] for r in conn.execute(f"SELECT batch_id FROM clusters WHERE id IN ({marks})", chunk)
            )
        return owners

    def _read_batches(self, conn: sqlite3.Connection, batch_ids: list[str]) -> list[Batch]:
        """Batches by id with their clusters and tracks, in display order (inside the caller's read)."""
        batch_rows: list[sqlite3.Row] = []
        cluster_rows: list[sqlite3.Row] = []
        track_rows: list[sqlite3.Row] = []
        for start in range(0, len(batch_ids), _CHUNK):
            chunk = batch_ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            batch_rows += conn.execute(
                f"SELECT * FROM batches WHERE id IN ({marks}) {_ORDER}", chunk
            ).fetchall()
            cluster_rows += conn.execute(
                f"SELECT * FROM clusters WHERE batch_id IN ({marks}) {_ORDER}", chunk
            ).fetchall()
            track_rows += conn.execute(
                f"SELECT * FROM tracks WHERE batch_id IN ({marks}) {_ORDER}", chunk
            ).fetchall()
        if len(batch_ids) > _CHUNK:  # each chunk is in order; a batch's rows are all in one chunk
            batch_rows.sort(key=lambda r: r["position"])
        ids = _Ids()
        members: dict[str, list[tuple[int, str]]] = {}
        tracks_by_batch: dict[str, list[Track]] = {}
        for track_row in track_rows:
            members.setdefault(track_row["cluster_id"], []).append(
                (track_row["cluster_position"], track_row["id"])
            )
            tracks_by_batch.setdefault(track_row["batch_id"], []).append(self._track(track_row, ids))
        clusters_by_batch: dict[str, list[ClusterSummary]] = {}
        for cluster_row in cluster_rows:
            clusters_by_batch.setdefault(cluster_row["batch_id"], []).append(
                self._cluster(cluster_row, members.get(cluster_row["id"], []), ids)
            )
        return [
            self._batch(b, clusters_by_batch.get(b["id"], []), tracks_by_batch.get(b["id"], []), ids)
            for b in batch_rows
        ]
