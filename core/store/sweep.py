"""The sweep at a writing open: what no row names and no live process is making.

Staging leftovers of dead processes are removed; anything else unknown in a
session folder is moved into kept-aside/ (core.safekeeping), never deleted. The
locking rules are in core.store's module docstring.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from core import curation_file, paths
from core.safekeeping import fsync_dir, keep_aside
from core.store.locks import LOCKS_DIR, _acquire, _release
from core.store.rows import _canonical_uuid

if TYPE_CHECKING:
    from core.store import SessionStore


def sweep_staging(store: SessionStore) -> int:
    """Remove the staging dirs of batches whose maker is gone (their lock is free)."""
    tmp = paths.tmp_root(store.root)
    if not tmp.is_dir():
        return 0
    batch_ids: set[str] = set()
    for entry in os.scandir(tmp):
        stem = entry.name.removesuffix(".lock")
        if _canonical_uuid(stem):
            batch_ids.add(stem)
    removed = 0
    for batch_id in sorted(batch_ids):
        lock_path = tmp / f"{batch_id}.lock"
        fd = _acquire(lock_path, blocking=False)
        if fd is None:
            continue  # a live process is making this batch
        try:
            directory = tmp / batch_id
            if directory.is_dir():
                shutil.rmtree(directory)
                removed += 1
        finally:
            _release(fd, lock_path)
    return removed


def sweep_media(store: SessionStore) -> int:
    """Move aside what a session folder holds that no row names (never deleted), under its lock."""
    media = paths.media_root(store.root)
    # A cheap first look, without locks: a row stops naming a file only when
    # delete_session removes the file too, so a dir whose files were all named
    # a moment ago has nothing to sweep. Anything else is checked under the lock.
    with store._reading() as conn:
        known_sessions = {row["id"] for row in conn.execute("SELECT id FROM sessions")}
        known_paths = {row["path"] for row in conn.execute("SELECT path FROM tracks")}
        known_paths.update(
            f"media/{row['session_id']}/{row['id']}.json"
            for row in conn.execute("SELECT id, session_id FROM batches")
        )
        known_paths.update(f"media/{sid}/{curation_file.FILE_NAME}" for sid in known_sessions)
    removed = 0
    for entry in sorted(os.scandir(media), key=lambda e: e.name):
        if not _canonical_uuid(entry.name) or not entry.is_dir(follow_symlinks=False):
            continue
        if entry.name in known_sessions and all(
            f"media/{entry.name}/{item.name}" in known_paths for item in os.scandir(entry.path)
        ):
            continue
        session_id = uuid.UUID(entry.name)
        fd = _acquire(store._session_lock_path(session_id), blocking=False)
        if fd is None:
            continue  # a batch of this session is in flight in a live process
        unlink_lock = False
        try:
            # Read only now, holding the lock: every commit before it is visible.
            with store._reading() as conn:
                exists = store._exists(conn, "sessions", session_id)
                named = {
                    row["path"]
                    for row in conn.execute(
                        "SELECT path FROM tracks WHERE session_id = ?", (str(session_id),)
                    )
                }
                named.update(
                    f"media/{session_id}/{row['id']}.json"
                    for row in conn.execute("SELECT id FROM batches WHERE session_id = ?", (str(session_id),))
                )
                if exists:  # a known session's curation file (core.curation_file)
                    named.add(f"media/{session_id}/{curation_file.FILE_NAME}")
            directory = Path(entry.path)
            # Never deleted: the database may be the one that forgot (see the module docstring).
            aside: set[Path] = set()
            for item in sorted(os.scandir(directory), key=lambda e: e.name):
                if f"media/{session_id}/{item.name}" not in named:
                    aside.add(keep_aside(store.root, Path(item.path), sync=False).parent)
                    removed += 1
            for folder in aside:
                fsync_dir(folder)
            if not exists:
                with contextlib.suppress(OSError):
                    directory.rmdir()  # empty now; if not, something new arrived: keep it
                unlink_lock = not directory.exists()
        finally:
            _release(fd, store._session_lock_path(session_id) if unlink_lock else None)
    return removed


def sweep_stale_locks(store: SessionStore) -> int:
    """Lock files of sessions that are gone (not counted: they hold no media)."""
    locks = store.root / LOCKS_DIR
    if not locks.is_dir():
        return 0
    with store._reading() as conn:
        known_sessions = {row["id"] for row in conn.execute("SELECT id FROM sessions")}
    for entry in os.scandir(locks):
        stem = entry.name.removesuffix(".lock")
        if not entry.name.endswith(".lock") or not _canonical_uuid(stem) or stem in known_sessions:
            continue
        session_id = uuid.UUID(stem)
        if paths.session_media_dir(store.root, session_id).exists():
            continue
        fd = _acquire(Path(entry.path), blocking=False)
        if fd is None:
            continue
        with store._reading() as conn:
            gone = not store._exists(conn, "sessions", session_id)
        _release(fd, Path(entry.path) if gone else None)
    return 0
