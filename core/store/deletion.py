"""The store's explicit deletes: a clip or a batch, with its files, asked for by the musician.

A mixin of SessionStore (through CurationStore): these methods use its connection,
its locks and its transactions. This is the one place audio goes because the
musician asked (the sweep never deletes audio the database does not know).

Rows go first, in one transaction; then the batch manifests are updated (or
removed), the session's curation file drops the clips' marks and records them as
deleted (so ``recover`` never brings them back from an older backup), and only
then the audio files go. A crash in between leaves files no row names, which the
next start keeps aside (never deleted).

What a delete leaves empty goes with it: a cluster without clips, a batch without
clips, and, when its last batch goes, the session (rows and media folder): no
empty cluster, batch or session is ever left (scripts/kill_check.py checks the
same of every data dir). A batch keeps its ``num_generated`` (what was made).
Batches that were made "more like" a removed cluster keep their (now dangling)
parent id; their own clusters keep the label they inherited.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from core import manifest, paths
from core.curation_models import Deletion
from core.errors import NotFoundError, StorageError
from core.models import utcnow
from core.safekeeping import fsync_dir
from core.store.locks import _release
from core.store.rows import _ts

if TYPE_CHECKING:
    from core.store import SessionStore

_CHUNK = 500  # ids per IN (...) query


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class DeletionStore:
    """Explicit deletes of SessionStore (see the module docstring)."""

    def delete_track(self: SessionStore, track_id: uuid.UUID) -> Deletion:
        """Delete one clip with its file (and what it leaves empty; see the module docstring)."""
        session_id = self.track_session_id(track_id)
        return self._delete(
            session_id, "SELECT id FROM tracks WHERE id = ?", str(track_id), f"No clip {track_id}."
        )

    def delete_batch(self: SessionStore, batch_id: uuid.UUID) -> Deletion:
        """Delete a batch with its clips' files and its manifest (and its session, if it was the last batch)."""
        session_id = self.batch_session_id(batch_id)
        return self._delete(
            session_id,
            "SELECT id FROM tracks WHERE batch_id = ?",
            str(batch_id),
            f"No batch {batch_id}.",
            batch_id,
        )

    def _delete(
        self: SessionStore,
        session_id: uuid.UUID,
        query: str,
        key: str,
        missing: str,
        batch_id: uuid.UUID | None = None,
    ) -> Deletion:
        self._require_writable()
        sid = str(session_id)
        fd = self._lock_session(session_id, blocking=True)
        session_removed = False
        try:
            with self._writing() as conn:
                track_ids = [r["id"] for r in conn.execute(query, (key,))]
                if not track_ids and (batch_id is None or not self._exists(conn, "batches", batch_id)):
                    raise NotFoundError(missing)
                targets: list[sqlite3.Row] = []
                for chunk in _chunks(track_ids):
                    targets += conn.execute(
                        f"SELECT id, batch_id, cluster_id, path FROM tracks WHERE id IN ({','.join('?' * len(chunk))})",
                        chunk,
                    ).fetchall()
                batches = {r["batch_id"] for r in targets} | ({str(batch_id)} if batch_id else set())
                clusters = {r["cluster_id"] for r in targets}
                for chunk in _chunks(track_ids):
                    conn.execute(f"DELETE FROM tracks WHERE id IN ({','.join('?' * len(chunk))})", chunk)
                gone_clusters = sorted(
                    c
                    for c in clusters
                    if conn.execute("SELECT 1 FROM tracks WHERE cluster_id = ?", (c,)).fetchone() is None
                )
                gone_batches = sorted(
                    b
                    for b in batches
                    if conn.execute("SELECT 1 FROM tracks WHERE batch_id = ?", (b,)).fetchone() is None
                )
                conn.executemany("DELETE FROM clusters WHERE id = ?", [(c,) for c in gone_clusters])
                conn.executemany("DELETE FROM batches WHERE id = ?", [(b,) for b in gone_batches])
                session_removed = (
                    conn.execute("SELECT 1 FROM batches WHERE session_id = ?", (sid,)).fetchone() is None
                )
                if session_removed:
                    conn.execute("DELETE FROM sessions WHERE id = ?", (sid,))
                else:
                    conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (_ts(utcnow()), sid))
            # The rows are gone; from here a failure leaves files no row names (kept aside at the next start).
            left = self._remove_files(
                session_id, targets, set(gone_batches), set(gone_clusters), session_removed
            )
        finally:
            # Like delete_session: the lock file of a session that is gone goes with it.
            media = paths.session_media_dir(self.root, session_id)
            _release(
                fd, self._session_lock_path(session_id) if session_removed and not media.exists() else None
            )
        return Deletion(
            session_id=session_id,
            track_ids=tuple(uuid.UUID(r["id"]) for r in targets),
            cluster_ids=tuple(uuid.UUID(c) for c in gone_clusters),
            batch_ids=tuple(uuid.UUID(b) for b in gone_batches),
            session_removed=session_removed,
            files_left=tuple(left),
        )

    def _remove_files(
        self: SessionStore,
        session_id: uuid.UUID,
        targets: list[sqlite3.Row],
        gone_batches: set[str],
        gone_clusters: set[str],
        session_removed: bool,
    ) -> list[str]:
        """After the rows committed: manifests, then the curation file, then the audio. Return what stayed."""
        media = paths.session_media_dir(self.root, session_id)
        if session_removed:
            try:
                shutil.rmtree(media)
            except FileNotFoundError:
                pass
            except OSError as exc:
                return [f"{media} ({exc.strerror or exc})"]
            return []
        left: list[str] = []
        dropped = {r["id"] for r in targets}
        for batch in sorted({r["batch_id"] for r in targets} | gone_batches):
            path = manifest.manifest_path(self.root, session_id, uuid.UUID(batch))
            try:
                if batch in gone_batches:
                    path.unlink(missing_ok=True)
                else:
                    manifest.drop_tracks(path, dropped)
            except OSError as exc:
                left.append(f"{path} ({exc.strerror or exc})")
        try:
            stamp = _ts(utcnow())
            tombstones = {"deleted": {track_id: {"updated_at": stamp} for track_id in sorted(dropped)}}
            self._merge_curation_file(session_id, tombstones, dropped, gone_clusters)
        except StorageError as exc:
            left.append(str(exc))
        for row in targets:
            path = self._abs(row["path"])
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                left.append(f"{path} ({exc.strerror or exc})")
        with contextlib.suppress(OSError):
            fsync_dir(media)
        return left
