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

from collections.abc import Callable

# What core.store offered before its split into mixins stays importable from it.
from core import backup, manifest, paths  # noqa: F401
from core.errors import NotFoundError, StorageError, ValidationError, storage_error  # noqa: F401
from core.models import (  # noqa: F401
    BATCH_KINDS,
    Batch,
    BriefParams,
    ClusterSummary,
    Session,
    SessionInfo,
    Track,
    new_id,
    utcnow,
)
from core.safekeeping import fsync_dir  # noqa: F401
from core.store.batches import BatchStore  # noqa: F401
from core.store.clips import ClipStore  # noqa: F401
from core.store.connection import (  # noqa: F401
    BUSY_TIMEOUT_SEC,
    OPEN_LOCK,
    StoreConnection,
    _disk_full,
    _os_error,
    _read_only_mount,
    _read_only_reason,
    _sql_error,
)
from core.store.curation import CurationStore  # noqa: F401
from core.store.curation_mirror import CurationMirror  # noqa: F401
from core.store.locks import LOCKS_DIR, _acquire, _fsync_file, _release  # noqa: F401
from core.store.reads import SessionReads  # noqa: F401
from core.store.rows import (  # noqa: F401
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
from core.store.schema import MIGRATIONS, SCHEMA_VERSION, _user_version, migrate  # noqa: F401
from core.store.sessions import _HEX, MIN_PREFIX_CHARS, SessionsStore  # noqa: F401
from core.store.sweep import sweep_media, sweep_staging, sweep_stale_locks  # noqa: F401

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

# A test hook: called with a checkpoint name inside add_batch ("after-move" after
# each rename, "before-commit" with the rows written but not committed,
# "after-commit" before the in-flight lock is released). Crash tests pause there.
_test_hook: Callable[[str], None] | None = None


def _checkpoint(point: str) -> None:
    if _test_hook is not None:
        _test_hook(point)


# --------------------------------------------------------------------------- the store


class SessionStore(
    SessionsStore, BatchStore, ClipStore, CurationStore, CurationMirror, SessionReads, StoreConnection
):
    """Sessions, batches, clusters, tracks and their vectors in ``root``; see the module docstring.

    Curation (marks, cluster names, preferences, analysis, explicit deletes) comes from
    CurationStore (core.store.curation), its file beside the audio from CurationMirror
    (core.store.curation_mirror); sessions, batches, clips and the connection from
    core.store.sessions, .batches, .clips and .connection."""
