"""The session store: SQLite rows and WAV files under one data directory.

Layout under ``root`` (see core.paths)::

    sessionlab.db                       sessions, batches, clusters, tracks, vectors
    media/{session_id}/{track_id}.wav   the audio a track row names (path stored relative to root)
    media/{session_id}/{batch_id}.json  the batch's manifest (core.manifest): its rows, beside its audio
    media/{session_id}/curation.json    the session's curation (core.curation_file), beside its audio
    media/tmp/{batch_id}/               staging dir of a batch being made
    media/tmp/{batch_id}.lock           its lock, held while the batch is being made
    locks/{session_id}.lock             the session's in-flight lock
    kept-aside/media/...                files no row names, moved aside, never deleted (core.safekeeping)
    backups/sessionlab-{time}.db        rolling copies of the database (core.backup)

Atomicity. A clip is written into a staging dir, then ``add_batch`` renames it to
its final name, fsyncs the session's media dir, writes the batch's manifest, and
only then commits the rows that name it. A crash at any point leaves at worst a
file without a row, never a row without a file.

Nothing is lost. The database may be deleted, emptied or replaced by an older
copy, so a file in a session's media dir that no row names is never deleted:
the sweep moves it (or the whole dir of a session the database does not know)
into ``kept-aside/``, keeping its relative path and never overwriting, where
``sessionlab recover`` finds it again (with the manifests and the backups) and
``sessionlab doctor`` reports it. Only staging dirs of dead processes are removed.

Sweep scheme. Several processes (the app and a CLI run) may share a data dir, so
the sweep must never take a file that another live process is about to commit.
Every lock is an ``fcntl.flock`` on a lock file: it belongs to an open file
description, so it excludes threads of one process as well as other processes,
and the kernel drops it when its holder dies, even by SIGKILL.

- ``add_batch`` holds the session's in-flight lock (blocking) from before its
  first rename until after its commit, or until it has undone its renames.
  ``delete_session`` holds it while it deletes the rows and then the files.
- The sweep takes a session's in-flight lock non-blocking and skips the session
  when it is held; holding it, it reads the rows (a fresh read, so it sees every
  commit made before the lock changed hands) and moves aside the files no row
  names (a manifest is named by its batch's row), or everything in the media dir
  when the session is unknown. So the sweep runs wholly before an add_batch's
  first rename or wholly after its commit or undo. (It first reads all rows once
  without locks and skips dirs whose files are all named: a row stops naming a
  file only when delete_session removes both.) Recovery moves files back under
  the same lock.
- ``staging_dir`` takes ``media/tmp/{batch_id}.lock`` before it creates the dir;
  the sweep removes a staging dir only while holding that lock, which it can
  take only when the maker is gone.
- Whoever removes a thing also unlinks its lock file while still holding it. A
  process that was waiting for that lock then holds a lock on an unlinked file,
  which guards nothing; so after each flock we check that the path still names
  the inode we locked, and start again if not.

Files a caller puts straight into ``media/{session_id}/`` (tracks given to
``add_batch`` without a staged file) are unprotected until ``add_batch`` takes the
lock; a sweep in between may move them aside, in which case add_batch refuses the
batch (StorageError, nothing written). Clips should come through ``staging_dir``.

Schema. The version is ``PRAGMA user_version``; ``MIGRATIONS`` is an ordered list
of steps, step i taking a database from version i to i + 1 in its own
transaction, so a failed step leaves the previous version whole. A database
from a newer Session Lab is refused with a StorageError.

A new session is stored by ``add_batch(..., new_session=draft)`` in the same
transaction as its first batch, so no session is ever stored without clips. A
batch's position is read (max + 1) inside its write transaction; a UNIQUE index
on (session_id, position) backs it.

Read-only. ``SessionStore(root, read_only=True)`` never writes the data dir (no
mkdir, lock, migration or sweep; SQLite ``mode=ro``, else ``immutable=1`` for a
WAL database whose -shm cannot be made, else an empty in-memory database when
there is none). The default opens read-only by itself when the dir cannot be
written (permissions, a read-only mount, a full disk); every write then raises
StorageError with ``read_only_reason``, one sentence.

Concurrency inside one process: one connection (``check_same_thread=False``)
behind a re-entrant lock; the UI thread and a worker thread take turns, and each
read runs in one read transaction so a session tree is a consistent snapshot. Between
processes: WAL, a busy timeout, and ``BEGIN IMMEDIATE`` for every write so a
writer waits for the write lock up front instead of failing on upgrade.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sqlite3
import string
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from core import backup, manifest, paths
from core.errors import NotFoundError, StorageError, ValidationError, storage_error
from core.models import (
    BATCH_KINDS,
    Batch,
    BriefParams,
    ClusterSummary,
    Session,
    SessionInfo,
    Track,
    new_id,
    utcnow,
    validate_brief,
)
from core.safekeeping import fsync_dir
from core.store.curation import CurationStore
from core.store.locks import LOCKS_DIR, _acquire, _fsync_file, _release
from core.store.reads import SessionReads
from core.store.rows import (
    _VECTOR_DTYPE,
    MAX_NAME_CHARS,
    _clean_name,
    _dt,
    _Ids,
    _json_default,
    _params_json,
    _same_path,
    _seed_text,
    _seed_value,
    _space_name,
    _str_or_none,
    _ts,
    _uuid_or_none,
    _vector,
    _vector_blob,
    session_from_row,
    track_from_row,
)
from core.store.schema import MIGRATIONS, SCHEMA_VERSION, _user_version, migrate
from core.store.sweep import sweep_media, sweep_staging, sweep_stale_locks

# Names other modules and tests take from core.store itself.
__all__ = [
    "LOCKS_DIR",
    "MAX_NAME_CHARS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SessionStore",
    "migrate",
    "session_from_row",
    "track_from_row",
]

if TYPE_CHECKING:
    import numpy as np

MIN_PREFIX_CHARS = 4
BUSY_TIMEOUT_SEC = 15.0
OPEN_LOCK = "open.lock"  # held while a process sets up the database (never swept)
_HEX = frozenset(string.hexdigits.lower())

# A test hook: called with a checkpoint name inside add_batch ("after-move" after
# each rename, "before-commit" with the rows written but not committed,
# "after-commit" before the in-flight lock is released). Crash tests pause there.
_test_hook: Callable[[str], None] | None = None


def _checkpoint(point: str) -> None:
    if _test_hook is not None:
        _test_hook(point)


def _sql_error(exc: sqlite3.Error, db_file: Path) -> StorageError:
    """One sentence for a database failure the user cannot fix by typing differently."""
    message = str(exc) or type(exc).__name__
    if type(exc) is sqlite3.DatabaseError or "malformed" in message or "not a database" in message:
        return StorageError(
            f"The session database {db_file} is damaged or is not a Session Lab database ({message})."
        )
    if isinstance(exc, sqlite3.OperationalError) and "locked" in message:
        return StorageError(
            f"The session database {db_file} is busy in another Session Lab process; try again in a moment."
        )
    if isinstance(exc, sqlite3.OperationalError) and ("readonly" in message or "read-only" in message):
        return StorageError(f"The session database {db_file} is read-only, so nothing can be saved.")
    if isinstance(exc, sqlite3.OperationalError) and (
        "is full" in message or ("I/O" in message and _disk_full(db_file))
    ):
        return StorageError(
            f"The disk is full, so the session database {db_file} could not be written; nothing was stored."
        )
    if isinstance(exc, sqlite3.OperationalError) and ("disk" in message or "full" in message):
        return StorageError(f"The session database {db_file} cannot be written ({message}).")
    return StorageError(f"The session database {db_file} failed ({message}).")


def _os_error(action: str, exc: OSError) -> StorageError:
    return storage_error(action, exc)


def _disk_full(path: Path) -> bool:
    """Whether the file system holding ``path`` (or its nearest existing parent) has no space left."""
    for candidate in (path, *path.parents):
        try:
            found = os.statvfs(candidate)
        except OSError:
            continue
        return found.f_bavail == 0 and found.f_blocks > 0
    return False


def _read_only_reason(root: Path, exc: OSError | None = None) -> str | None:
    """Why nothing can be saved in ``root`` (one sentence), or None when it can be written."""
    code = exc.errno if exc is not None else None
    if code in (errno.ENOSPC, errno.EDQUOT) or (exc is None and _disk_full(root)):
        why = "is on a full disk"
    elif code == errno.EROFS or (exc is None and _read_only_mount(root)):
        why = "is on a read-only file system"
    elif code in (errno.EACCES, errno.EPERM) or (exc is None and not os.access(root, os.W_OK | os.X_OK)):
        why = "is not writable"
    else:
        return None
    return (
        f"The data directory {root} {why}, so nothing can be saved there"
        " (its sessions can still be listed, shown and played)."
    )


def _read_only_mount(path: Path) -> bool:
    for candidate in (path, *path.parents):
        try:
            return bool(os.statvfs(candidate).f_flag & os.ST_RDONLY)
        except OSError:
            continue
    return False


# --------------------------------------------------------------------------- the store


class SessionStore(CurationStore, SessionReads):
    """Sessions, batches, clusters, tracks and their vectors in ``root``; see the module docstring.

    Curation (marks, cluster names, preferences, analysis, explicit deletes) comes from
    CurationStore (core.store.curation)."""

    def __init__(self, root: Path, *, read_only: bool | None = None) -> None:
        """Open the data dir ``root``.

        ``read_only=None`` (the default) opens it for writing when it can be
        written, else read-only; ``True`` opens it read-only (nothing on disk is
        created, migrated or swept: for listing and showing, or a backup copy);
        ``False`` insists on writing and raises StorageError when it cannot.
        A read-only store reads as usual; every write raises StorageError with
        ``read_only_reason``.
        """
        self.root = Path(root).expanduser().absolute()
        self.db_file = paths.db_path(self.root)
        self._lock = threading.RLock()
        self._folders: dict[str, Path] = {}  # relative folder -> its absolute Path (see _abs)
        self._conn: sqlite3.Connection | None = None
        self.read_only = read_only is True
        self.read_only_reason: str | None = None
        self.swept_at_open = 0
        self.backed_up_at_open: Path | None = None
        if not self.read_only:
            self.read_only_reason = self._open_for_writing()
            if self.read_only_reason is None:
                return
            if read_only is False:
                raise StorageError(self.read_only_reason)
            self.read_only = True
        else:
            self.read_only_reason = (
                f"The data directory {self.root} was opened read-only, so nothing can be saved there."
            )
        try:
            self._conn = self._connect_read_only()
        except sqlite3.Error as exc:
            raise _sql_error(exc, self.db_file) from None

    def _open_for_writing(self) -> str | None:
        """Open for writing and sweep; return why the data dir cannot be written instead, if so."""
        try:
            paths.tmp_root(self.root).mkdir(parents=True, exist_ok=True)
            (self.root / LOCKS_DIR).mkdir(exist_ok=True)
        except OSError as exc:
            reason = _read_only_reason(self.root, exc)
            if reason is not None:
                return reason
            raise _os_error(f"use {self.root} as the data directory", exc) from None
        reason = _read_only_reason(self.root)
        if reason is None and self.db_file.exists() and not os.access(self.db_file, os.W_OK):
            reason = (
                f"The session database {self.db_file} is read-only, so nothing can be saved"
                " (its sessions can still be listed, shown and played)."
            )
        if reason is not None:
            return reason
        try:
            self._conn = self._connect()
        except OSError as exc:  # the open lock could not be created
            reason = _read_only_reason(self.root, exc)
            if reason is not None:
                return reason
            raise _os_error(f"use {self.root} as the data directory", exc) from None
        except sqlite3.Error as exc:
            if _disk_full(self.root):
                return _read_only_reason(self.root, OSError(errno.ENOSPC, "full"))
            raise _sql_error(exc, self.db_file) from None
        try:
            # Files left by a crash (or a batch that never committed) go now.
            self.swept_at_open = self.sweep_orphans()
        except BaseException:
            self.close()
            raise
        self.backed_up_at_open = backup.take_if_due(self.root, self.db_file)
        return None

    def _connect_read_only(self) -> sqlite3.Connection:
        """A connection that never writes the data dir: ``mode=ro``, else ``immutable`` (a WAL
        database in a dir where its -shm cannot be made), else an empty in-memory database."""
        failure: sqlite3.Error | None = None
        for mode in ("mode=ro", "immutable=1") if self.db_file.is_file() else ():
            conn = sqlite3.connect(
                f"file:{quote(str(self.db_file))}?{mode}",
                uri=True,
                timeout=BUSY_TIMEOUT_SEC,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                conn.row_factory = sqlite3.Row
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SEC * 1000)}")
                version = _user_version(conn)
            except sqlite3.Error as exc:
                conn.close()
                failure = failure or exc
                continue
            if version > SCHEMA_VERSION:
                conn.close()
                raise StorageError(
                    f"The session database {self.db_file} was written by a newer Session Lab "
                    f"(schema {version}; this one knows up to {SCHEMA_VERSION}), so upgrade Session Lab to open it."
                )
            if version > 0:
                return conn  # an older schema reads the same: later steps only add to it
            conn.close()
            break
        else:
            if failure is not None:
                raise failure
        # No database yet (or an empty one): nothing to show.
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        migrate(conn, MIGRATIONS)
        return conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.db_file,
            timeout=BUSY_TIMEOUT_SEC,
            isolation_level=None,  # autocommit; every write opens its own BEGIN IMMEDIATE
            check_same_thread=False,  # shared by the UI and worker threads behind self._lock
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SEC * 1000)}")
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL: consistent after a crash; files fsynced first
            conn.execute("PRAGMA foreign_keys = ON")
            # Switching to WAL does not wait on the busy timeout: several processes
            # opening a new data dir at once could see "database is locked". One at
            # a time sets the journal mode and migrates; later opens pass straight on.
            fd = _acquire(self.root / LOCKS_DIR / OPEN_LOCK, blocking=True)
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                migrate(conn, MIGRATIONS, self.db_file)
            finally:
                _release(fd, None)
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- plumbing

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same snapshot (WAL readers never wait)."""
        with self._lock:
            if self._conn is None:
                raise StorageError("The session store is closed.")
            conn = self._conn
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                raise _sql_error(exc, self.db_file) from None

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; sqlite3.IntegrityError passes through for the caller to word."""
        self._require_writable()
        with self._lock:
            if self._conn is None:
                raise StorageError("The session store is closed.")
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.IntegrityError:
                raise
            except sqlite3.Error as exc:
                raise _sql_error(exc, self.db_file) from None

    def _require_writable(self) -> None:
        if self.read_only:
            raise StorageError(self.read_only_reason or f"The data directory {self.root} is read-only.")

    def _session_lock_path(self, session_id: uuid.UUID) -> Path:
        return self.root / LOCKS_DIR / f"{session_id}.lock"

    def _lock_session(self, session_id: uuid.UUID, *, blocking: bool) -> int | None:
        try:
            return _acquire(self._session_lock_path(session_id), blocking=blocking)
        except OSError as exc:
            raise _os_error(f"lock session {session_id} in {self.root}", exc) from None

    def _abs(self, relative: str) -> Path:
        # A session's clips share their folder: join its Path once, then only the file name
        # (pathlib parses every part it is given; 10,000 clips made that a tenth of a second).
        folder, slash, name = relative.rpartition("/")
        folder += slash  # "/" itself for a file at the top of the file system
        base = self._folders.get(folder)
        if base is None:
            base = self._folders[folder] = self.root / folder
        return base / name

    def _relative_track_path(self, session_id: uuid.UUID, track_id: uuid.UUID, suffix: str = ".wav") -> str:
        return f"media/{session_id}/{track_id}{suffix}"

    @staticmethod
    def _exists(conn: sqlite3.Connection, table: str, key: uuid.UUID) -> bool:
        return conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (str(key),)).fetchone() is not None

    # ----------------------------------------------------------------- sessions

    def draft_session(self, brief: str, params: BriefParams, name: str = "") -> Session:
        """A checked new session, not stored yet: ``add_batch(..., new_session=it)`` stores it
        together with its first batch, so no session is ever stored without clips."""
        brief_text = validate_brief(brief)
        _params_json(params)
        clean = _clean_name(name)
        now = utcnow()
        return Session(
            id=new_id(),
            created_at=now,
            brief_text=brief_text,
            params=params,
            batches=[],
            name=clean,
            updated_at=now,
        )

    def create_session(self, brief: str, params: BriefParams, name: str = "") -> Session:
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

    def get_session(self, session_id: uuid.UUID, *, recipes: bool = True) -> Session | None:
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

    def require_session(self, session_id: uuid.UUID) -> Session:
        session = self.get_session(session_id)
        if session is None:
            raise NotFoundError(f"No session {session_id}.")
        return session

    # Narrow reads: what an operation on one batch or cluster needs, whatever the
    # session's size (a session of 10,000 clips costs what one of 10 does). Each is
    # one read transaction, so what it returns is one consistent snapshot.

    def get_session_head(self, session_id: uuid.UUID) -> Session | None:
        """The session's own fields with ``batches`` empty: cheap however big the session is."""
        with self._reading() as conn:
            row = conn.execute("SELECT * FROM sessions WHERE id = ?", (str(session_id),)).fetchone()
        return None if row is None else session_from_row(row)

    def require_session_head(self, session_id: uuid.UUID) -> Session:
        head = self.get_session_head(session_id)
        if head is None:
            raise NotFoundError(f"No session {session_id}.")
        return head

    def get_batch(self, session_id: uuid.UUID, batch_id: uuid.UUID) -> Batch | None:
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

    def _read_batch(self, conn: sqlite3.Connection, row: sqlite3.Row) -> Batch:
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

    def list_sessions(self) -> list[SessionInfo]:
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

    def rename_session(self, session_id: uuid.UUID, name: str) -> None:
        """Give the session a title (an empty name falls back to the brief)."""
        clean = _clean_name(name)
        with self._writing() as conn:
            updated = conn.execute(
                "UPDATE sessions SET name = ?, updated_at = ? WHERE id = ?",
                (clean, _ts(utcnow()), str(session_id)),
            ).rowcount
            if updated == 0:
                raise NotFoundError(f"No session {session_id}.")
        self._rename_in_manifests(session_id, clean)

    def _rename_in_manifests(self, session_id: uuid.UUID, name: str) -> None:
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

    def delete_session(self, session_id: uuid.UUID) -> None:
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

    def resolve_session_id(self, text: str) -> uuid.UUID:
        """A full session id, or a unique prefix of at least 4 hex digits (dashes allowed)."""
        return self._resolve(text, "session", "SELECT id FROM sessions", ())

    def resolve_cluster_id(self, session_id: uuid.UUID, text: str) -> uuid.UUID:
        """A full cluster id or a unique prefix, among the clusters of one session."""
        with self._reading() as conn:
            if not self._exists(conn, "sessions", session_id):
                raise NotFoundError(f"No session {session_id}.")
        return self._resolve(
            text, "cluster", "SELECT id FROM clusters WHERE session_id = ?", (str(session_id),), session_id
        )

    def _resolve(
        self,
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

    # ----------------------------------------------------------------- batches

    def add_batch(
        self,
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
                    _checkpoint("after-move")
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
                    _checkpoint("before-commit")
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
            _checkpoint("after-commit")
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
        self,
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
            "touch": [(_ts(utcnow()), sid)],
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

    # ----------------------------------------------------------------- clusters, tracks, vectors

    def get_cluster(self, session_id: uuid.UUID, cluster_id: uuid.UUID) -> ClusterSummary | None:
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

    def get_track(self, session_id: uuid.UUID, track_id: uuid.UUID) -> Track | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT * FROM tracks WHERE id = ? AND session_id = ?", (str(track_id), str(session_id))
            ).fetchone()
        return None if row is None else self._track(row)

    def get_centroid(self, session_id: uuid.UUID, cluster_id: uuid.UUID, space: str) -> np.ndarray | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT c.dim, c.vector FROM centroids c JOIN clusters k ON k.id = c.cluster_id"
                " WHERE c.cluster_id = ? AND c.space = ? AND k.session_id = ?",
                (str(cluster_id), space, str(session_id)),
            ).fetchone()
        return None if row is None else _vector(row["vector"], row["dim"])

    def get_embeddings(self, track_ids: Sequence[uuid.UUID], space: str) -> dict[uuid.UUID, np.ndarray]:
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
        self, session_id: uuid.UUID, space: str
    ) -> tuple[list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]], np.ndarray]:
        """Every stored vector of ``space`` among the session's clips in one read, in the
        session's order (batch, then clip): ((track, cluster, batch) ids, one float32 matrix).
        What a map of 10,000 clips needs. A vector of another length than the first is left
        out (a space has one length)."""
        import numpy as np

        with self._reading() as conn:
            rows = conn.execute(
                "SELECT t.id, t.cluster_id, t.batch_id, e.dim, e.vector FROM tracks t"
                " JOIN batches b ON b.id = t.batch_id"
                " JOIN embeddings e ON e.track_id = t.id AND e.space = ?"
                " WHERE t.session_id = ? ORDER BY b.position, b.created_at, b.rowid, t.position, t.created_at",
                (space, str(session_id)),
            ).fetchall()
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        dim = int(rows[0][3])
        kept = [r for r in rows if int(r[3]) == dim and len(r[4]) == dim * 4]
        matrix = np.frombuffer(b"".join(r[4] for r in kept), dtype=_VECTOR_DTYPE).reshape(len(kept), dim)
        parse: dict[str, uuid.UUID] = {}  # clusters and batches repeat: parse each once
        ids = [
            (
                uuid.UUID(r[0]),
                parse.get(r[1]) or parse.setdefault(r[1], uuid.UUID(r[1])),
                parse.get(r[2]) or parse.setdefault(r[2], uuid.UUID(r[2])),
            )
            for r in kept
        ]
        return ids, matrix.astype(np.float32)

    def put_embeddings(self, space: str, embeddings: dict[uuid.UUID, np.ndarray]) -> None:
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

    def put_centroid(self, cluster_id: uuid.UUID, space: str, centroid: np.ndarray) -> None:
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

    def _track(self, row: sqlite3.Row, ids: _Ids | None = None, *, recipes: bool = True) -> Track:
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

    # ----------------------------------------------------------------- staging and sweeping

    @contextmanager
    def staging_dir(self, batch_id: uuid.UUID) -> Iterator[Path]:
        """A private scratch dir for one batch's clips, locked while in use, removed on exit."""
        self._require_writable()
        tmp = paths.tmp_root(self.root)
        lock_path = tmp / f"{batch_id}.lock"
        try:
            fd = _acquire(lock_path, blocking=False)
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

    def sweep_orphans(self) -> int:
        """Tidy what no row names and no live process is making; return how many things were handled.

        Counts one per file (or folder) of a session's media dir that no row names,
        moved into kept-aside/ (never deleted: see the module docstring), and one per
        abandoned staging dir, removed. Anything whose lock another process (or
        thread) holds is left alone. A read-only store sweeps nothing.
        """
        if self.read_only:
            return 0
        try:
            return sweep_staging(self) + sweep_media(self) + sweep_stale_locks(self)
        except OSError as exc:
            raise _os_error(f"clean up leftover files in {self.root}", exc) from None
