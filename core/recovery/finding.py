"""Finding what recovery can bring back: batch records in manifests and backups, and each clip's file
(in place or kept aside) (core.recovery)."""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path

import numpy as np

from core import backup, curation_file, manifest, paths
from core.audio import clip_file_problem
from core.errors import StorageError
from core.manifest import BatchRecord, ManifestError
from core.recovery.report import RecoveryReport
from core.safekeeping import kept_aside_copies, kept_aside_root, original_name
from core.store import SCHEMA_VERSION, SessionStore
from core.store.rows import _canonical_uuid, _vector, session_from_row, track_from_row

# --------------------------------------------------------------------------- finding records


def manifest_files(root: Path) -> list[Path]:
    """Manifests in the session folders, then those kept aside."""
    found: list[Path] = []
    for top in (paths.media_root(root), kept_aside_root(root) / "media"):
        if not top.is_dir():
            continue
        for folder in sorted(top.iterdir()):
            if folder.is_dir() and _canonical_uuid(folder.name):
                found.extend(
                    sorted(
                        p
                        for p in folder.glob("*.json*")
                        if p.is_file()
                        and not p.name.startswith(".")
                        and original_name(p.name) != curation_file.FILE_NAME  # not a batch's
                    )
                )
    return found


def manifest_records(root: Path, report: RecoveryReport | None = None) -> list[BatchRecord]:
    records = []
    for path in manifest_files(root):
        try:
            records.append(manifest.read(path, root))
        except ManifestError as exc:
            if report is not None:
                report.problems.append(f"{path.relative_to(root)} is {exc}")
    return records


def _usable(path: Path) -> sqlite3.Connection | None:
    try:
        conn = backup.open_read_only(path)
    except sqlite3.Error:
        return None
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if not 1 <= version <= SCHEMA_VERSION or conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            conn.close()
            return None
    except sqlite3.Error:
        conn.close()
        return None
    return conn


def backup_records(root: Path, path: Path, known_batches: set[str]) -> list[BatchRecord]:
    """The batches of one backup copy that are not in ``known_batches``."""
    conn = _usable(path)
    if conn is None:
        return []
    records = []
    try:
        wanted = [r["id"] for r in conn.execute("SELECT id FROM batches") if r["id"] not in known_batches]
        for batch_id in wanted:
            b = conn.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone()
            s = conn.execute("SELECT * FROM sessions WHERE id = ?", (b["session_id"],)).fetchone()
            session = session_from_row(s)
            track_rows = conn.execute(
                "SELECT * FROM tracks WHERE batch_id = ? ORDER BY position, created_at, rowid", (batch_id,)
            ).fetchall()
            # Where a clip belongs is derived from its ids, never taken from the copy's path text.
            tracks = [
                track_from_row(
                    t, paths.track_path(root, session.id, uuid.UUID(t["id"]), paths.track_suffix(t["path"]))
                )
                for t in track_rows
            ]
            members: dict[str, list[tuple[int, str]]] = {}
            for t in track_rows:
                members.setdefault(t["cluster_id"], []).append((t["cluster_position"], t["id"]))
            clusters = [
                SessionStore._cluster(c, members.get(c["id"], []))
                for c in conn.execute(
                    "SELECT * FROM clusters WHERE batch_id = ? ORDER BY position, created_at, rowid",
                    (batch_id,),
                )
            ]
            batch = SessionStore._batch(b, clusters, tracks)
            vectors: dict[str, tuple[dict[uuid.UUID, np.ndarray], dict[uuid.UUID, np.ndarray]]] = {}
            for row in conn.execute(
                "SELECT c.cluster_id, c.space, c.dim, c.vector FROM centroids c"
                " JOIN clusters k ON k.id = c.cluster_id WHERE k.batch_id = ?",
                (batch_id,),
            ):
                vectors.setdefault(row["space"], ({}, {}))[0][uuid.UUID(row["cluster_id"])] = _vector(
                    row["vector"], row["dim"]
                )
            for row in conn.execute(
                "SELECT e.track_id, e.space, e.dim, e.vector FROM embeddings e"
                " JOIN tracks t ON t.id = e.track_id WHERE t.batch_id = ?",
                (batch_id,),
            ):
                vectors.setdefault(row["space"], ({}, {}))[1][uuid.UUID(row["track_id"])] = _vector(
                    row["vector"], row["dim"]
                )
            records.append(
                BatchRecord(session=session, batch=batch, vectors=vectors, origin=f"backup {path.name}")
            )
    except (sqlite3.Error, ValueError, KeyError, TypeError, StorageError):
        return records  # a damaged copy gives what it can
    finally:
        conn.close()
    return records


# --------------------------------------------------------------------------- finding clips


class AsideIndex:
    """The kept-aside copies in a session's folder by original name, listed once per folder.

    Recovery only takes files out of these folders, so a stale entry is at worst
    a path that no longer exists (callers check); listing a folder of thousands
    of files once per clip would make a big recovery quadratic.
    """

    def __init__(self) -> None:
        self._folders: dict[Path, dict[str, list[Path]]] = {}

    def copies(self, folder: Path, name: str) -> list[Path]:
        index = self._folders.get(folder)
        if index is None:
            index = {}
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                names = []
            for entry in names:
                index.setdefault(original_name(entry), []).append(folder / entry)
            self._folders[folder] = index
        return index.get(name, [])


def _clip_candidates(
    root: Path, session_id: uuid.UUID, target: Path, index: AsideIndex | None = None
) -> list[Path]:
    """Where a clip's file may be: in place (``target``), then kept aside (its name or a ``~N`` variant)."""
    aside = kept_aside_root(root) / "media" / str(session_id)
    name = target.name
    copies = index.copies(aside, name) if index is not None else kept_aside_copies(aside, name)
    return [target, *copies]


def find_clip(
    root: Path,
    session_id: uuid.UUID,
    target: Path,
    size: int | None = None,
    index: AsideIndex | None = None,
) -> tuple[Path | None, str]:
    """The best playable copy of the clip whose file belongs at ``target``, or None and why."""
    playable = []
    problem = "missing"
    for candidate in _clip_candidates(root, session_id, target, index):
        if not candidate.is_file():
            continue
        why = clip_file_problem(candidate)
        if why is None:
            playable.append(candidate)
        else:
            problem = why
    if not playable:
        return None, problem
    exact = [p for p in playable if size is not None and p.stat().st_size == size]
    return (exact or playable)[0], ""
