"""The store's plumbing: opening the data dir (for writing, else read-only), the connection,
read and write transactions, session locks, media paths, and the sweep at open.

The base of SessionStore (core.store); see the package docstring for the schemes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from core import backup, paths
from core.errors import StorageError, storage_error
from core.store.locks import LOCKS_DIR, _acquire, _release
from core.store.schema import MIGRATIONS, SCHEMA_VERSION, _user_version, migrate
from core.store.sweep import sweep_media, sweep_staging, sweep_stale_locks

if TYPE_CHECKING:
    from core.store import SessionStore

BUSY_TIMEOUT_SEC = 15.0
OPEN_LOCK = "open.lock"  # held while a process sets up the database (never swept)


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


class StoreConnection:
    """The connection, transactions, locks and paths of SessionStore (see core.store)."""

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

    # ----------------------------------------------------------------- sweeping

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
