"""File locks (``fcntl.flock``) and fsync: what keeps processes off each other's batches; see core.store."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

LOCKS_DIR = "locks"  # under the data dir: one lock file per session, and the open lock


# --------------------------------------------------------------------------- file locks


def _acquire(path: Path, *, blocking: bool) -> int | None:
    """flock ``path`` exclusively; return the fd, or None if busy and not ``blocking``."""
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        # The previous holder may have unlinked the file: then our lock guards nothing.
        try:
            on_disk = os.stat(path)
        except FileNotFoundError:
            os.close(fd)
            continue
        mine = os.fstat(fd)
        if (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino):
            return fd
        os.close(fd)


def _acquire_within(path: Path, seconds: float) -> int | None:
    """flock ``path`` as ``_acquire`` does without blocking, trying again for up to
    ``seconds`` while someone holds it for a moment (a sweep looking at it); None if it
    is still held then."""
    deadline = time.monotonic() + seconds
    while True:
        fd = _acquire(path, blocking=False)
        if fd is not None or time.monotonic() >= deadline:
            return fd
        time.sleep(0.01)


def _release(fd: int, path: Path | None = None) -> None:
    """Release a lock; with ``path``, unlink the lock file first (while still holding it)."""
    try:
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
