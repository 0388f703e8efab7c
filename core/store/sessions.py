"""The store's sessions: draft, create, read (whole, head, one batch), list, rename, delete,
and ids from a prefix.

A mixin of SessionStore (core.store): these methods use its connection, locks and
transactions (core.store.connection).
"""

from __future__ import annotations

import shutil
import sqlite3
import string
import uuid
from typing import TYPE_CHECKING, Any

import core.store as package  # the package: tests fix its clock and ids through it
from core import manifest, paths
from core.errors import NotFoundError, ValidationError
from core.models import Batch, BriefParams, ClusterSummary, Session, SessionInfo, Track
from core.store.connection import _os_error, _sql_error
from core.store.locks import _release
from core.store.rows import _clean_name, _dt, _Ids, _params_json, _ts, session_from_row
from core.validation import validate_brief

if TYPE_CHECKING:
    from core.store import SessionStore

MIN_PREFIX_CHARS = 4
_HEX = frozenset(string.hexdigits.lower())


class SessionsStore:
    """Session methods of SessionStore (see the module docstring)."""

    def draft_session(self: SessionStore, brief: str, params: BriefParams, name: str = "") -> Session:
        """A checked new session, not stored yet: ``add_batch(..., new_session=it)`` stores it
        together with its first batch, so no session is ever stored without clips."""
        brief_text = validate_brief(brief)
        _params_json(params)
        clean = _clean_name(name)
        now = package.utcnow()
        return Session(
            id=package.new_id(),
            created_at=now,
            brief_text=brief_text,
            params=params,
            batches=[],
            name=clean,
            updated_at=now,
        )

    def create_session(self: SessionStore, brief: str, params: BriefParams, name: str = "") -> Session:
        """Store a session with no batches (the service stores new sessions through add_batch)."""
        session = self.draft_session(brief, params, name)
        try:
            with self._writing() as conn:
                conn.execute(*self._session_insert(session))
        except sqlite3.IntegrityError as exc:
            raise _sql_error(exc, self.db_file) from None
        return session

    @staticmethod
    def _session_insert(session: Session) -> tuple[str, tuple[Any, ...]]:
        if not isinstance(session, Session):
            raise ValidationError(f"Expected a Session, not {type(session).__name__}.")
        return (
            "INSERT INTO sessions (id, created_at, updated_at, brief_text, params, name) VALUES (?, ?, ?, ?, ?, ?)",
            (
                str(session.id),
                _ts(session.created_at),
                _ts(session.updated_at or session.created_at),
                validate_brief(session.brief_text),
                _params_json(session.params),
                _clean_name(session.name),
            ),
        )

    def get_session(self: SessionStore, session_id: uuid.UUID, *, recipes: bool = True) -> Session | None:
        """The whole session: batches, clusters and tracks, each in display order.

        ``recipes=False`` leaves every ``Track.recipe`` None instead of decoding it: for a
        listing of a big session (``show``) that never looks at how a clip was made.
        """
        with self._reading() as conn:
            row = conn.execute("SELECT * FROM sessions WHERE id = ?", (str(session_id),)).fetchone()
            if row is None:
                return None
            batch_rows = conn.execute(
                "SELECT * FROM batches WHERE session_id = ? ORDER BY position, created_at, rowid",
                (str(session_id),),
            ).fetchall()
            cluster_rows = conn.execute(
                "SELECT * FROM clusters WHERE session_id = ? ORDER BY position, created_at, rowid",
                (str(session_id),),
            ).fetchall()
            track_rows = conn.execute(
                "SELECT * FROM tracks WHERE session_id = ? ORDER BY position, created_at, rowid",
                (str(session_id),),
            ).fetchall()
        ids = _Ids()
        members: dict[str, list[tuple[int, str]]] = {}
        tracks_by_batch: dict[str, list[Track]] = {}
        for track_row in track_rows:
            members.setdefault(track_row["cluster_id"], []).append(
                (track_row["cluster_position"], track_row["id"])
            )
            tracks_by_batch.setdefault(track_row["batch_id"], []).append(
                self._track(track_row, ids, recipes=recipes)
            )
        clusters_by_batch: dict[str, list[ClusterSummary]] = {}
        for cluster_row in cluster_rows:
            clusters_by_batch.setdefault(cluster_row["batch_id"], []).append(
                self._cluster(cluster_row, members.get(cluster_row["id"], []), ids)
            )
        batches = [
            self._batch(b, clusters_by_batch.get(b["id"], []), tracks_by_batch.get(b["id"], []), ids)
            for b in batch_rows
        ]
        return session_from_row(row, batches)

    def require_session(self: SessionStore, session_id: uuid.UUID) -> Session:
        session = self.get_session(session_id)
        if session is None:
            raise NotFoundError(f"No session {session_id}.")
        return session

    # Narrow reads: what an operation on one batch or cluster needs, whatever the
    # session's size (a session of 10,000 clips costs what one of 10 does). Each is
    # one read transaction, so what it returns is one consistent snapshot.

    def get_session_head(self: SessionStore, session_id: uuid.UUID) -> Session | None:
        """The session's own fields with ``batches`` empty: cheap however big the session is."""
        with self._reading() as conn:
            row = conn.execute("SELECT * FROM sessions WHERE id = ?", (str(session_id),)).fetchone()
        return None if row is None else session_from_row(row)

    def require_session_head(self: SessionStore, session_id: uuid.UUID) -> Session:
        head = self.get_session_head(session_id)
        if head is None:
            raise NotFoundError(f"No session {session_id}.")
        return head

    def get_batch(self: SessionStore, session_id: uuid.UUID, batch_id: uuid.UUID) -> Batch | None:
        """One batch of the session with its clusters and tracks (as get_session holds it)."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT * FROM batches WHERE id = ? AND session_id = ?", (str(batch_id), str(session_id))
            ).fetchone()
            return None if row is None else self._read_batch(conn, row)

    def find_cluster(
        self, session_id: uuid.UUID, cluster_id: uuid.UUID
    ) -> tuple[Batch, ClusterSummary] | None:
        """The batch that holds a cluster, and the cluster (``Session.find_cluster``, reading one batch)."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT b.* FROM clusters c JOIN batches b ON b.id = c.batch_id"
                " WHERE c.id = ? AND c.session_id = ?",
                (str(cluster_id), str(session_id)),
            ).fetchone()
            if row is None:
                return None
            batch = self._read_batch(conn, row)
        cluster = batch.cluster(cluster_id)
        assert cluster is not None  # read in the same snapshot as its batch
        return batch, cluster

    def _read_batch(self: SessionStore, conn: sqlite3.Connection, row: sqlite3.Row) -> Batch:
        """A batch row's clusters and tracks, in get_session's order (inside the caller's read)."""
        cluster_rows = conn.execute(
            "SELECT * FROM clusters WHERE batch_id = ? ORDER BY position, created_at, rowid", (row["id"],)
        ).fetchall()
        track_rows = conn.execute(
            "SELECT * FROM tracks WHERE batch_id = ? ORDER BY position, created_at, rowid", (row["id"],)
        ).fetchall()
        ids = _Ids()
        members: dict[str, list[tuple[int, str]]] = {}
        for track_row in track_rows:
            members.setdefault(track_row["cluster_id"], []).append(
                (track_row["cluster_position"], track_row["id"])
            )
        tracks = [self._track(t, ids) for t in track_rows]
        clusters = [self._cluster(c, members.get(c["id"], []), ids) for c in cluster_rows]
        return self._batch(row, clusters, tracks, ids)

    def list_sessions(self: SessionStore) -> list[SessionInfo]:
        """Every session, most recently changed first."""
        with self._reading() as conn:
            rows = conn.execute(
                """
                SELECT s.*,
                       (SELECT count(*) FROM batches b WHERE b.session_id = s.id) AS num_batches,
                       (SELECT count(*) FROM tracks t WHERE t.session_id = s.id) AS num_tracks
                FROM sessions s
                ORDER BY s.updated_at DESC, s.created_at DESC, s.rowid DESC
                """
            ).fetchall()
        return [
            SessionInfo(
                id=uuid.UUID(row["id"]),
                created_at=_dt(row["created_at"]),
                updated_at=_dt(row["updated_at"]),
                brief_text=row["brief_text"],
                name=row["name"],
                num_batches=int(row["num_batches"]),
                num_tracks=int(row["num_tracks"]),
            )
            for row in rows
        ]

    def rename_session(self: SessionStore, session_id: uuid.UUID, name: str) -> None:
        """Give the session a title (an empty name falls back to the brief)."""
        clean = _clean_name(name)
        with self._writing() as conn:
            updated = conn.execute(
                "UPDATE sessions SET name = ?, updated_at = ? WHERE id = ?",
                (clean, _ts(package.utcnow()), str(session_id)),
            ).rowcount
            if updated == 0:
                raise NotFoundError(f"No session {session_id}.")
        self._rename_in_manifests(session_id, clean)

    def _rename_in_manifests(self: SessionStore, session_id: uuid.UUID, name: str) -> None:
        """Keep the manifests' copy of the name current (recover prefers the database anyway)."""
        fd = self._lock_session(session_id, blocking=True)
        try:
            with self._reading() as conn:
                batch_ids = [
                    r["id"]
                    for r in conn.execute("SELECT id FROM batches WHERE session_id = ?", (str(session_id),))
                ]
            for batch_id in batch_ids:
                manifest.rename_session(
                    manifest.manifest_path(self.root, session_id, uuid.UUID(batch_id)), name
                )
        except OSError as exc:
            raise _os_error(f"update the manifests of session {session_id}", exc) from None
        finally:
            _release(fd)

    def delete_session(self: SessionStore, session_id: uuid.UUID) -> None:
        """Delete the rows (cascading to everything below) and then the media dir."""
        self._require_writable()
        fd = self._lock_session(session_id, blocking=True)
        assert fd is not None
        try:
            with self._writing() as conn:
                deleted = conn.execute("DELETE FROM sessions WHERE id = ?", (str(session_id),)).rowcount
            # Rows first: a crash here leaves files without rows, which the sweep takes.
            media = paths.session_media_dir(self.root, session_id)
            try:
                shutil.rmtree(media)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise _os_error(f"remove {media}", exc) from None
            if deleted == 0:
                raise NotFoundError(f"No session {session_id}.")
        finally:
            _release(fd, self._session_lock_path(session_id))

    # ----------------------------------------------------------------- id prefixes

    def resolve_session_id(self: SessionStore, text: str) -> uuid.UUID:
        """A full session id, or a unique prefix of at least 4 hex digits (dashes allowed)."""
        return self._resolve(text, "session", "SELECT id FROM sessions", ())

    def resolve_cluster_id(self: SessionStore, session_id: uuid.UUID, text: str) -> uuid.UUID:
        """A full cluster id or a unique prefix, among the clusters of one session."""
        with self._reading() as conn:
            if not self._exists(conn, "sessions", session_id):
                raise NotFoundError(f"No session {session_id}.")
        return self._resolve(
            text, "cluster", "SELECT id FROM clusters WHERE session_id = ?", (str(session_id),), session_id
        )

    def _resolve(
        self: SessionStore,
        text: str,
        noun: str,
        query: str,
        args: tuple[Any, ...],
        session_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        if not isinstance(text, str):
            raise ValidationError(f"A {noun} id must be text, not {type(text).__name__}.")
        shown = text.strip()
        compact = shown.lower().replace("-", "")
        if not compact or len(compact) > 32 or not set(compact) <= _HEX:
            raise ValidationError(f"{shown!r} is not a {noun} id: give its hexadecimal digits.")
        if len(compact) < MIN_PREFIX_CHARS:
            raise ValidationError(
                f"{shown!r} is too short: give at least {MIN_PREFIX_CHARS} characters of the {noun} id."
            )
        joiner = " AND " if " WHERE " in query else " WHERE "
        with self._reading() as conn:
            rows = conn.execute(
                f"{query}{joiner}substr(replace(id, '-', ''), 1, ?) = ? ORDER BY id",
                (*args, len(compact), compact),
            ).fetchall()
        where = f" in session {session_id}" if session_id is not None else ""
        if not rows:
            raise NotFoundError(f"No {noun} matches {shown!r}{where}.")
        if len(rows) > 1:
            examples = ", ".join(row["id"].replace("-", "")[: len(compact) + 4] for row in rows[:5])
            raise ValidationError(
                f"{shown!r} is ambiguous: it matches {len(rows)} {noun}s{where} ({examples}); type more of the id."
            )
        return uuid.UUID(rows[0]["id"])
