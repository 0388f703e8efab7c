"""Rolling copies of the session database in ``backups/``, made with SQLite's online backup.

``backups/sessionlab-{UTC time}.db``: a consistent copy taken through
``sqlite3.Connection.backup`` from a separate read connection (a WAL reader: it
never blocks the writers), written to a temporary name, fsynced and renamed.

When: at most every ``INTERVAL_SEC`` (by the newest copy's time), when a
writable store opens and after a batch is stored; never when the database holds
no session (an emptied database must not push good copies out), nor when the
newest copy already holds the same sessions, batches and tracks.

How many: the newest ``KEEP`` copies, plus the copy that holds the most tracks
if it is older (so a wipe followed by a little new work cannot rotate out the
copy that knows everything). ``sessionlab recover`` reads them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.safekeeping import fsync_dir

BACKUPS_DIR = "backups"
KEEP = 5
INTERVAL_SEC = 15 * 60
STALE_PARTIAL_SEC = 3600
_PREFIX = "sessionlab-"
_SUFFIX = ".db"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fingerprint:
    sessions: int
    batches: int
    tracks: int
    last_change: str


def backups_root(root: Path) -> Path:
    return Path(root) / BACKUPS_DIR


def list_backups(root: Path) -> list[Path]:
    """Every finished copy, newest first."""
    folder = backups_root(root)
    if not folder.is_dir():
        return []
    found = [
        p for p in folder.iterdir() if p.name.startswith(_PREFIX) and p.name.endswith(_SUFFIX) and p.is_file()
    ]
    return sorted(found, key=lambda p: p.name, reverse=True)  # the name is the UTC time


def open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that can change nothing (the file is opened read-only)."""
    conn = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def fingerprint(conn: sqlite3.Connection) -> Fingerprint | None:
    """What the database holds, in four numbers; None when it is not a Session Lab database."""
    try:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM batches),"
            " (SELECT count(*) FROM tracks), (SELECT coalesce(max(updated_at), '') FROM sessions)"
        ).fetchone()
    except sqlite3.Error:
        return None
    return Fingerprint(int(row[0]), int(row[1]), int(row[2]), str(row[3]))


def _fingerprint_of(path: Path) -> Fingerprint | None:
    try:
        conn = open_read_only(path)
    except sqlite3.Error:
        return None
    try:
        return fingerprint(conn)
    finally:
        conn.close()


def is_due(root: Path, *, interval_sec: float | None = None, now: float | None = None) -> bool:
    """Cheap (one listing, one stat): has the newest copy aged past the interval?"""
    interval = INTERVAL_SEC if interval_sec is None else interval_sec
    newest = list_backups(root)[:1]
    if not newest:
        return True
    try:
        age = (time.time() if now is None else now) - newest[0].stat().st_mtime
    except OSError:
        return True
    return age >= interval


def take(root: Path, db_file: Path, *, force: bool = False) -> Path | None:
    """Copy the database into ``backups/`` unless it is empty or unchanged; return the new copy."""
    folder = backups_root(root)
    source = open_read_only(db_file)
    try:
        current = fingerprint(source)
        if current is None or current.sessions == 0:
            return None
        existing = list_backups(root)
        if not force and existing and _fingerprint_of(existing[0]) == current:
            with contextlib.suppress(OSError):
                os.utime(existing[0])  # still current: wait another interval before looking again
            return None
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        final = folder / f"{_PREFIX}{stamp}{_SUFFIX}"
        partial = folder / f".tmp-{_PREFIX}{stamp}-{os.getpid()}{_SUFFIX}"
        try:
            target = sqlite3.connect(partial)
            try:
                source.backup(target)
                target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            finally:
                target.close()
            fd = os.open(partial, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(partial, final)
            fsync_dir(folder)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
            raise
    finally:
        source.close()
    prune(root)
    return final


def prune(root: Path, keep: int = KEEP) -> list[Path]:
    """Remove copies beyond the newest ``keep`` (sparing the one with the most tracks); return them."""
    folder = backups_root(root)
    for partial in folder.glob(f".tmp-{_PREFIX}*") if folder.is_dir() else ():
        with contextlib.suppress(OSError):  # a copy a killed process never finished (not one in progress)
            if time.time() - partial.stat().st_mtime > STALE_PARTIAL_SEC:
                partial.unlink()
    copies = list_backups(root)
    if len(copies) <= keep:
        return []
    counts = {p: (fp.tracks if (fp := _fingerprint_of(p)) is not None else -1) for p in copies}
    richest = max(copies, key=lambda p: (counts[p], p.name))
    kept = set(copies[:keep]) | {richest}
    removed = []
    for path in copies:
        if path not in kept:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            removed.append(path)
    return removed


def take_if_due(root: Path, db_file: Path) -> Path | None:
    """A backup when one is due; any failure is logged, never raised (the user's command goes on)."""
    try:
        if not is_due(root):
            return None
        return take(root, db_file)
    except (OSError, sqlite3.Error) as exc:
        log.warning("could not back up %s: %s", db_file, exc)
        return None
