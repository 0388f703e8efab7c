"""``sessionlab doctor``: what state the data dir is in, in plain lines; ``--repair`` fixes what it safely can.

The check changes nothing: it reads the database through a read-only
connection (no store is opened, so no sweep runs) and looks at the files.
Findings:

- the database: missing or empty, damaged (``PRAGMA integrity_check``,
  ``foreign_key_check``), a schema this version does not know;
- rows whose WAV is missing or unreadable (``core.audio.clip_file_problem``);
  a kept-aside copy is mentioned when there is one;
- batches without a manifest (stored by an older Session Lab);
- files in a session folder that no row names; manifests of batches the
  database does not know (``recover`` brings them back);
- staging folders of processes that are gone;
- kept-aside files and backups (information, not problems).

``--repair``, without losing anything: a damaged database is moved aside into
``kept-aside/`` and a new one is made; opening the store sweeps (unknown files
are kept aside, dead staging removed); ``recover`` rebuilds what manifests and
backups know and moves back kept-aside WAVs that rows name; missing manifests
are written from the rows. Then the check runs again. Rows whose WAV is gone are
reported, never deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core import backup, curation_file, manifest, paths
from core.audio import clip_file_problem
from core.errors import StorageError
from core.safekeeping import keep_aside, kept_aside_files, kept_aside_root
from core.store import LOCKS_DIR, SCHEMA_VERSION
from core.store.rows import _canonical_uuid
from core.text import shown

PROBLEM = "problem"
INFO = "info"


@dataclass
class Finding:
    level: str  # PROBLEM or INFO
    code: str  # a stable word for scripts: "missing-file", "unknown-file", ...
    text: str


@dataclass
class DoctorReport:
    root: Path
    findings: list[Finding] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.level == PROBLEM]

    @property
    def healthy(self) -> bool:
        return not self.problems

    def add(self, level: str, code: str, text: str) -> None:
        self.findings.append(Finding(level, code, text))

    def lines(self) -> list[str]:
        out = [f"repaired: {r}" for r in self.repairs]
        out.extend(f"{f.level}: {f.text}" for f in self.findings)
        if self.healthy:
            out.append(f"Healthy: {shown(self.root)} has no problems.")
        else:
            n = len(self.problems)
            out.append(
                f"{n} problem{'s' if n != 1 else ''} in {shown(self.root)}"
                + (
                    "."
                    if self.repairs
                    else "; 'sessionlab doctor --repair' fixes what it can without losing anything."
                )
            )
        return out

    def document(self) -> dict[str, Any]:
        return {
            "data_dir": str(self.root),
            "healthy": self.healthy,
            "repairs": self.repairs,
            "findings": [f.__dict__ for f in self.findings],
        }


def examine(root: Path, *, repair: bool = False) -> DoctorReport:
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        report = DoctorReport(root)
        report.add(INFO, "no-data-dir", f"{shown(root)} does not exist yet: nothing to check.")
        return report
    repairs = _repair(root) if repair else []
    report = check(root)
    report.repairs = repairs
    return report


# --------------------------------------------------------------------------- checking


def _open(db_file: Path) -> sqlite3.Connection:
    conn = backup.open_read_only(db_file)
    conn.execute("PRAGMA query_only = ON")
    return conn


def check(root: Path) -> DoctorReport:
    report = DoctorReport(root)
    db_file = paths.db_path(root)
    tracks: list[sqlite3.Row] = []
    batches: list[sqlite3.Row] = []
    sessions: set[str] = set()
    db_ok = False
    if not db_file.exists() or db_file.stat().st_size == 0:
        report.add(
            PROBLEM if _has_media(root) else INFO,
            "empty-database",
            f"The database {shown(db_file)} is missing or empty.",
        )
    else:
        try:
            conn = _open(db_file)
            try:
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
                if integrity != ["ok"]:
                    report.add(
                        PROBLEM, "damaged-database", f"The database is damaged: {shown(integrity[0])}."
                    )
                if version > SCHEMA_VERSION:
                    report.add(
                        PROBLEM,
                        "newer-schema",
                        f"The database has schema {version}, newer than this Session Lab knows ({SCHEMA_VERSION}).",
                    )
                elif version < SCHEMA_VERSION:
                    report.add(
                        INFO,
                        "older-schema",
                        f"The database has schema {version}; opening it upgrades it to {SCHEMA_VERSION}.",
                    )
                if 1 <= version <= SCHEMA_VERSION:
                    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        report.add(
                            PROBLEM,
                            "foreign-keys",
                            f"{len(broken)} rows point at rows that do not exist (foreign_key_check).",
                        )
                    sessions = {r["id"] for r in conn.execute("SELECT id FROM sessions")}
                    batches = conn.execute("SELECT id, session_id FROM batches").fetchall()
                    tracks = conn.execute("SELECT id, session_id, batch_id, path FROM tracks").fetchall()
                    db_ok = integrity == ["ok"]
            finally:
                conn.close()
        except sqlite3.Error as exc:
            report.add(PROBLEM, "damaged-database", f"The database {shown(db_file)} cannot be read ({exc}).")
    if db_ok or not sessions:
        _check_files(root, report, sessions, batches, tracks)
    _check_staging(root, report)
    _check_kept_aside(root, report)
    copies = backup.list_backups(root)
    if copies:
        newest = datetime.fromtimestamp(copies[0].stat().st_mtime, UTC).astimezone()
        report.add(
            INFO, "backups", f"{len(copies)} database backups; the newest from {newest:%Y-%m-%d %H:%M}."
        )
    return report


def _has_media(root: Path) -> bool:
    media = paths.media_root(root)
    return media.is_dir() and any(_canonical_uuid(p.name) for p in media.iterdir())


def _check_files(
    root: Path,
    report: DoctorReport,
    sessions: set[str],
    batches: list[sqlite3.Row],
    tracks: list[sqlite3.Row],
) -> None:
    named = {r["path"] for r in tracks}
    for row in tracks:
        problem = clip_file_problem(root / row["path"])
        if problem is None:
            continue
        aside = kept_aside_root(root) / row["path"]
        hint = " (a copy is kept aside: --repair puts it back)" if aside.exists() else ""
        report.add(
            PROBLEM,
            f"{problem}-file",
            f"Session {row['session_id']}: the audio file of clip {row['id']} is {problem}{hint}.",
        )
    known_batches = {r["id"] for r in batches}
    without = [
        r
        for r in batches
        if not manifest.manifest_path(root, uuid.UUID(r["session_id"]), uuid.UUID(r["id"])).exists()
    ]
    if without:
        report.add(
            PROBLEM,
            "no-manifest",
            f"{len(without)} batches have no manifest beside their audio (made by an older Session Lab);"
            " --repair writes them.",
        )
    named.update(f"media/{r['session_id']}/{r['id']}.json" for r in batches)
    named.update(f"media/{r['session_id']}/{curation_file.FILE_NAME}" for r in batches)
    media = paths.media_root(root)
    if not media.is_dir():
        return
    unknown = 0
    recoverable: set[str] = set()
    for folder in sorted(media.iterdir()):
        if not folder.is_dir() or not _canonical_uuid(folder.name):
            continue
        if _lock_is_held(root / LOCKS_DIR / f"{folder.name}.lock"):
            report.add(
                INFO,
                "in-flight",
                f"Session {folder.name} is storing a batch right now; its files were not checked.",
            )
            continue
        for item in folder.iterdir():
            if f"media/{folder.name}/{item.name}" in named:
                continue
            unknown += 1
            if item.suffix == ".json":
                with contextlib.suppress(manifest.ManifestError):
                    record = manifest.read(item, root)
                    if str(record.batch.id) not in known_batches:
                        recoverable.add(str(record.batch.id))
    for path in kept_aside_files(root):
        if path.suffix == ".json" and path.parent.parent.name == "media":
            with contextlib.suppress(manifest.ManifestError):
                record = manifest.read(path, root)
                if str(record.batch.id) not in known_batches:
                    recoverable.add(str(record.batch.id))
    if unknown:
        report.add(
            PROBLEM,
            "unknown-files",
            f"{unknown} files in session folders are named by no row; --repair keeps them aside"
            " (they are never deleted).",
        )
    if recoverable:
        report.add(
            PROBLEM,
            "recoverable",
            f"{len(recoverable)} batches the database does not know are described by manifests;"
            " 'sessionlab recover' (or --repair) brings them back.",
        )


def _check_staging(root: Path, report: DoctorReport) -> None:
    tmp = paths.tmp_root(root)
    if not tmp.is_dir():
        return
    stale = 0
    for entry in tmp.iterdir():
        if not entry.is_dir() or not _canonical_uuid(entry.name):
            continue
        if not _lock_is_held(tmp / f"{entry.name}.lock"):
            stale += 1
    if stale:
        report.add(
            PROBLEM,
            "stale-staging",
            f"{stale} staging folders were left by processes that are gone; --repair removes them.",
        )


def _lock_is_held(lock_path: Path) -> bool:
    """Probe a staging lock without creating it: held means a live process is making that batch."""
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops the probe's lock
    return False


def _check_kept_aside(root: Path, report: DoctorReport) -> None:
    files = list(kept_aside_files(root))
    if files:
        size = sum(p.stat().st_size for p in files)
        report.add(
            INFO,
            "kept-aside",
            f"{len(files)} files ({size / 1e6:.1f} MB) are kept aside in {shown(kept_aside_root(root))};"
            " 'sessionlab recover' brings back those a manifest describes; the rest you may keep or delete.",
        )


# --------------------------------------------------------------------------- repairing


def _repair(root: Path) -> list[str]:
    from core import recovery
    from core.store import SessionStore

    done: list[str] = []
    db_file = paths.db_path(root)
    damaged = False
    if db_file.exists() and db_file.stat().st_size > 0:
        try:
            conn = _open(db_file)
            try:
                damaged = [r[0] for r in conn.execute("PRAGMA integrity_check")] != ["ok"]
            finally:
                conn.close()
        except sqlite3.Error:
            damaged = True
    if damaged:
        for suffix in ("", "-wal", "-shm"):
            path = Path(f"{db_file}{suffix}")
            if path.exists():
                kept = keep_aside(root, path)
                if not suffix:
                    done.append(f"the damaged database was moved to {shown(kept)}; a new one is rebuilt")
    try:
        store = SessionStore(root)
    except StorageError as exc:
        done.append(f"the store could not be opened, so nothing else was repaired ({exc})")
        return done
    try:
        if store.swept_at_open:
            done.append(f"{store.swept_at_open} unknown files kept aside or dead staging folders removed")
        result = recovery.recover(store)
        if result.batches or result.files_restored:
            done.append(
                f"recovered {len(result.sessions)} sessions, {len(result.batches)} batches, {result.clips} clips;"
                f" moved {result.files_restored} kept-aside clips back"
            )
        written = _write_missing_manifests(store)
        if written:
            done.append(f"wrote {written} missing manifests from the database")
    finally:
        store.close()
    return done


def _write_missing_manifests(store: Any) -> int:
    from core.store import _release

    written = 0
    for info in store.list_sessions():
        session = store.get_session(info.id)
        if session is None:
            continue
        missing = [
            b for b in session.batches if not manifest.manifest_path(store.root, session.id, b.id).exists()
        ]
        if not missing:
            continue
        fd = store._lock_session(session.id, blocking=True)
        try:
            head = store.require_session_head(session.id)
            for batch in missing:
                with store._reading() as conn:
                    spaces = [
                        r[0]
                        for r in conn.execute(
                            "SELECT DISTINCT e.space FROM embeddings e JOIN tracks t ON t.id = e.track_id"
                            " WHERE t.batch_id = ?",
                            (str(batch.id),),
                        )
                    ]
                vectors = {}
                for space in spaces:
                    centroids = {}
                    for cluster in batch.clusters:
                        vector = store.get_centroid(session.id, cluster.id, space)
                        if vector is not None:
                            centroids[cluster.id] = vector
                    vectors[space] = (centroids, store.get_embeddings([t.id for t in batch.tracks], space))
                manifest.write(store.root, manifest.document(head, batch, vectors))
                written += 1
        finally:
            _release(fd)
    return written
