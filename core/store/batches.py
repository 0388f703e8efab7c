"""The store's batches: a private staging dir for a batch's clips, and add_batch, which
moves the clips into place and commits their rows (with a new session's row) together.

A mixin of SessionStore (core.store); see the package docstring for the atomicity and
sweep schemes these methods keep.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import core.store as package  # the package: tests fix its clock and hook add_batch's steps
from core import backup, manifest, paths
from core.errors import NotFoundError, StorageError, ValidationError
from core.models import BATCH_KINDS, Batch, Session
from core.safekeeping import fsync_dir
from core.store.connection import _os_error
from core.store.locks import _acquire_within, _fsync_file, _release
from core.store.rows import (
    _json_default,
    _params_json,
    _same_path,
    _seed_text,
    _space_name,
    _str_or_none,
    _ts,
    _vector_blob,
)

if TYPE_CHECKING:
    import numpy as np

    from core.store import SessionStore

STAGING_LOCK_WAIT_SEC = 2.0  # how long a batch waits for its new staging lock (a sweep's moment)


class BatchStore:
    """Batch methods of SessionStore (see the module docstring)."""

    # ----------------------------------------------------------------- batches

    def add_batch(
        self: SessionStore,
        session_id: uuid.UUID,
        batch: Batch,
        centroids: dict[uuid.UUID, np.ndarray],
        *,
        space: str,
        embeddings: dict[uuid.UUID, np.ndarray] | None = None,
        staged_files: dict[uuid.UUID, Path] | None = None,
        new_session: Session | None = None,
    ) -> None:
        """Attach a batch with its clusters, tracks and vectors, files and rows together.

        Staged files are renamed to their tracks' paths and the media dir fsynced
        before the rows commit; on any failure the renames are undone and nothing
        is stored. Every track must end with a file: staged, or already at its path.
        With ``new_session`` (from ``draft_session``, id ``session_id``) the session
        row is inserted in the same transaction: the session and its first batch
        commit together or not at all. The batch's position is the session's next
        one, read inside the write transaction, and is set on ``batch``.
        """
        self._require_writable()
        embeddings = dict(embeddings or {})
        staged = {track_id: Path(p) for track_id, p in (staged_files or {}).items()}
        session_insert = None
        if new_session is not None:
            if new_session.id != session_id:
                raise ValidationError(f"The new session is {new_session.id}, not {session_id}.")
            session_insert = self._session_insert(new_session)
        with self._reading() as conn:
            exists = self._exists(conn, "sessions", session_id)
        if new_session is None and not exists:
            raise NotFoundError(f"No session {session_id}.")
        if new_session is not None and exists:
            raise ValidationError(f"Session {session_id} is already stored.")
        rows = self._batch_rows(session_id, batch, centroids, space, embeddings, staged)
        media = paths.session_media_dir(self.root, session_id)
        fd = self._lock_session(session_id, blocking=True)
        assert fd is not None
        moved: list[tuple[Path, Path]] = []
        wrote: Path | None = None
        try:
            # Under the lock no other add_batch or sweep touches this session's files.
            with self._reading() as conn:
                known = [
                    row["id"]
                    for row in conn.execute(
                        f"SELECT id FROM tracks WHERE id IN ({','.join('?' * len(batch.tracks))})",
                        [str(t.id) for t in batch.tracks],
                    )
                ]
            if known:
                raise ValidationError(f"Track {known[0]} is already stored.")
            for track in batch.tracks:
                source = staged.get(track.id)
                if source is not None and not source.is_file():
                    raise StorageError(f"The staged clip {source} of track {track.id} is missing.")
                if source is None and not Path(track.path).is_file():
                    raise StorageError(f"Track {track.id} has no audio file at {track.path}.")
            try:
                media.mkdir(parents=True, exist_ok=True)
                for track in batch.tracks:
                    source = staged.get(track.id)
                    if source is None:
                        continue
                    target = paths.track_path(self.root, session_id, track.id, paths.track_suffix(track.path))
                    _fsync_file(source)  # the data must be on disk before a row can name it
                    os.replace(source, target)
                    moved.append((source, target))
                    package._checkpoint("after-move")
                fsync_dir(media)
            except OSError as exc:
                raise _os_error(f"move the clips into {media}", exc) from None
            with self._reading() as conn:  # never replace a stored batch's manifest (its insert fails below)
                stored_already = self._exists(conn, "batches", batch.id)
                # Every add_batch of this session holds its lock, so the next position read now is
                # the one the transaction below takes; the manifest records it.
                batch.position = conn.execute(
                    "SELECT coalesce(max(position) + 1, 0) FROM batches WHERE session_id = ?",
                    (str(session_id),),
                ).fetchone()[0]
            try:
                if not stored_already:
                    head = new_session if new_session is not None else self.require_session_head(session_id)
                    wrote = manifest.write_batch(self.root, head, batch, centroids, space, embeddings)
            except OSError as exc:
                raise _os_error(f"write the manifest of batch {batch.id} in {media}", exc) from None
            try:
                with self._writing() as conn:
                    if session_insert is not None:
                        conn.execute(*session_insert)
                    position = self._insert_batch(conn, session_id, rows)
                    package._checkpoint("before-commit")
            except sqlite3.IntegrityError as exc:
                with self._reading() as conn:
                    if new_session is None and not self._exists(conn, "sessions", session_id):
                        raise NotFoundError(f"No session {session_id}.") from None
                raise ValidationError(f"The batch cannot be stored: {exc}.") from None
        except BaseException:
            self._undo_moves(moved)
            if wrote is not None:  # no row will name it: a manifest of a batch that was never stored
                with contextlib.suppress(OSError):
                    os.unlink(wrote)
            if new_session is not None:  # the new session's media dir, empty again
                with contextlib.suppress(OSError):
                    media.rmdir()
            raise
        else:
            batch.position = position
            package._checkpoint("after-commit")
        finally:
            _release(fd)
        backup.take_if_due(self.root, self.db_file)

    @staticmethod
    def _undo_moves(moved: list[tuple[Path, Path]]) -> None:
        """Put renamed clips back in staging (or remove them): no row names them."""
        for source, target in reversed(moved):
            try:
                if source.parent.is_dir():
                    os.replace(target, source)
                else:
                    os.unlink(target)
            except OSError:
                # Left for the sweep: a file without a row is harmless.
                continue

    def _batch_rows(
        self: SessionStore,
        session_id: uuid.UUID,
        batch: Batch,
        centroids: dict[uuid.UUID, np.ndarray],
        space: str,
        embeddings: dict[uuid.UUID, np.ndarray],
        staged: dict[uuid.UUID, Path],
    ) -> dict[str, list[tuple[Any, ...]]]:
        """Check the batch is whole and consistent; return the rows to insert."""
        if not isinstance(batch, Batch):
            raise ValidationError(f"Expected a Batch, not {type(batch).__name__}.")
        space = _space_name(space)
        sid = str(session_id)
        if batch.session_id != session_id:
            raise ValidationError(
                f"Batch {batch.id} belongs to session {batch.session_id}, not {session_id}."
            )
        if batch.kind not in BATCH_KINDS:
            raise ValidationError(
                f"Unknown batch kind {batch.kind!r}; expected one of {', '.join(BATCH_KINDS)}."
            )
        clusters = {c.id: c for c in batch.clusters}
        tracks = {t.id: t for t in batch.tracks}
        if len(clusters) != len(batch.clusters):
            raise ValidationError(f"Batch {batch.id} lists a cluster twice.")
        if len(tracks) != len(batch.tracks):
            raise ValidationError(f"Batch {batch.id} lists a track twice.")
        cluster_position: dict[uuid.UUID, int] = {}
        for cluster in batch.clusters:
            if cluster.batch_id != batch.id:
                raise ValidationError(
                    f"Cluster {cluster.id} belongs to batch {cluster.batch_id}, not {batch.id}."
                )
            for index, track_id in enumerate(cluster.track_ids):
                track = tracks.get(track_id)
                if track is None:
                    raise ValidationError(
                        f"Cluster {cluster.id} names track {track_id}, which is not in the batch."
                    )
                if track.cluster_id != cluster.id or track_id in cluster_position:
                    raise ValidationError(f"Track {track_id} must be in exactly one cluster, its own.")
                cluster_position[track_id] = index
        for track in batch.tracks:
            if track.batch_id != batch.id:
                raise ValidationError(f"Track {track.id} belongs to batch {track.batch_id}, not {batch.id}.")
            if track.id not in cluster_position:
                raise ValidationError(f"Track {track.id} is missing from its cluster {track.cluster_id}.")
            expected = paths.track_path(self.root, session_id, track.id, paths.track_suffix(track.path))
            if not _same_path(Path(track.path), expected):
                raise ValidationError(f"Track {track.id} must live at {expected}, not {track.path}.")
        for what, keys, known in (
            ("centroid", centroids, clusters),
            ("embedding", embeddings, tracks),
            ("staged file", staged, tracks),
        ):
            stray = [key for key in keys if key not in known]
            if stray:
                raise ValidationError(f"A {what} is given for {stray[0]}, which is not in batch {batch.id}.")

        batch_row = (
            str(batch.id),
            sid,
            int(batch.position),
            _ts(batch.created_at),
            batch.kind,
            str(batch.prompt_text),
            int(batch.num_requested),
            int(batch.num_generated),
            _params_json(batch.params),
            _seed_text(batch.seed),
            str(batch.engine),
            _str_or_none(batch.model),
            str(batch.embedder),
            str(batch.namer),
            _str_or_none(batch.parent_cluster_id),
        )
        cluster_rows = [
            (
                str(c.id),
                str(batch.id),
                sid,
                int(c.position),
                str(c.label),
                _ts(c.created_at),
                _str_or_none(c.parent_cluster_id),
                _str_or_none(c.second_parent_cluster_id),
            )
            for c in batch.clusters
        ]
        track_rows = []
        for t in batch.tracks:
            try:
                recipe = None if t.recipe is None else json.dumps(t.recipe, default=_json_default)
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    f"The recipe of track {t.id} cannot be stored as JSON ({exc})."
                ) from None
            track_rows.append(
                (
                    str(t.id),
                    str(batch.id),
                    str(t.cluster_id),
                    sid,
                    int(t.position),
                    cluster_position[t.id],
                    self._relative_track_path(session_id, t.id, paths.track_suffix(t.path)),
                    float(t.duration_sec),
                    str(t.raw_prompt),
                    _ts(t.created_at),
                    _seed_text(t.seed),
                    None if t.similarity is None else float(t.similarity),
                    _str_or_none(t.source),
                    recipe,
                )
            )
        centroid_rows = [
            (str(cid), space, *_vector_blob(f"cluster {cid}", vector)) for cid, vector in centroids.items()
        ]
        embedding_rows = [
            (str(tid), space, *_vector_blob(f"track {tid}", vector)) for tid, vector in embeddings.items()
        ]
        return {
            "batch": [batch_row],
            "clusters": cluster_rows,
            "tracks": track_rows,
            "centroids": centroid_rows,
            "embeddings": embedding_rows,
            "touch": [(_ts(package.utcnow()), sid)],
        }

    @staticmethod
    def _insert_batch(
        conn: sqlite3.Connection, session_id: uuid.UUID, rows: dict[str, list[tuple[Any, ...]]]
    ) -> int:
        """Insert the rows; return the batch's position: the next free one, read in this transaction."""
        position = conn.execute(
            "SELECT coalesce(max(position) + 1, 0) FROM batches WHERE session_id = ?", (str(session_id),)
        ).fetchone()[0]
        rows = {**rows, "batch": [(*row[:2], position, *row[3:]) for row in rows["batch"]]}
        conn.executemany(
            "INSERT INTO batches (id, session_id, position, created_at, kind, prompt_text, num_requested,"
            " num_generated, params, seed, engine, model, embedder, namer, parent_cluster_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows["batch"],
        )
        conn.executemany(
            "INSERT INTO clusters (id, batch_id, session_id, position, label, created_at, parent_cluster_id,"
            " second_parent_cluster_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows["clusters"],
        )
        conn.executemany(
            "INSERT INTO tracks (id, batch_id, cluster_id, session_id, position, cluster_position, path,"
            " duration_sec, raw_prompt, created_at, seed, similarity, source, recipe)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows["tracks"],
        )
        conn.executemany(
            "INSERT INTO centroids (cluster_id, space, dim, vector) VALUES (?, ?, ?, ?)", rows["centroids"]
        )
        conn.executemany(
            "INSERT INTO embeddings (track_id, space, dim, vector) VALUES (?, ?, ?, ?)", rows["embeddings"]
        )
        touched = conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", rows["touch"][0]).rowcount
        if touched == 0:
            raise NotFoundError(f"No session {session_id}.")
        return int(position)

    # ----------------------------------------------------------------- staging and sweeping

    @contextmanager
    def staging_dir(self: SessionStore, batch_id: uuid.UUID) -> Iterator[Path]:
        """A private scratch dir for one batch's clips, locked while in use, removed on exit."""
        self._require_writable()
        tmp = paths.tmp_root(self.root)
        lock_path = tmp / f"{batch_id}.lock"
        try:
            # A sweep (this process's or another's, e.g. a store being opened) may hold a
            # new batch's lock for a moment: it can lock the file between our creating it
            # and locking it. A maker of the same batch would hold it for the whole batch.
            fd = _acquire_within(lock_path, STAGING_LOCK_WAIT_SEC)
        except OSError as exc:
            raise _os_error(f"create a staging area in {tmp}", exc) from None
        if fd is None:
            raise StorageError(f"Batch {batch_id} is already being made by another process.")
        directory = tmp / str(batch_id)
        try:
            try:
                if directory.exists():  # left by a dead process that used the same id
                    shutil.rmtree(directory)
                directory.mkdir()
            except OSError as exc:
                raise _os_error(f"create the staging dir {directory}", exc) from None
            yield directory
        finally:
            shutil.rmtree(directory, ignore_errors=True)
            _release(fd, lock_path)
