"""``sessionlab recover``: rebuild what the database no longer knows, from manifests and backups.

Sources, first found wins for a batch: the backups (newest first; they also
carry vectors of later embedding spaces and the latest session names), then the
manifests beside the audio (``media/{session}/{batch}.json``) and those kept
aside (``kept-aside/media/{session}/...``). A batch the database already knows is
never touched: the database is preferred.

For each session with something to bring back, under the session's lock (the
one the sweep and ``add_batch`` take): find each clip's WAV (in place, or kept
aside: a no-clobber rename brings it back), put the manifest in place, then
insert the session row (when missing) and the batch's rows in one transaction.
If the insert fails, the files go back aside. A clip whose WAV is gone or
unreadable is left out and reported; a batch with no clip left is reported.

Curation comes back too: each session's curation file (``media/{session}/curation.json``
and its kept-aside copies, core.curation_file) is merged into the curation tables
after the batches are rebuilt, an entry winning where it is newer than the row (or
there is no row). Marks of clips no batch brings back stay in the file.

It never overwrites or deletes a file, and a second run finds nothing to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core import backup, curation_file, manifest, paths
from core.audio import clip_file_problem
from core.errors import StorageError
from core.manifest import BatchRecord, ManifestError
from core.safekeeping import (
    fsync_dir,
    keep_aside,
    kept_aside_copies,
    kept_aside_root,
    move_no_clobber,
    original_name,
)
from core.store import SCHEMA_VERSION, SessionStore
from core.store.locks import _release
from core.store.rows import _canonical_uuid, _vector, session_from_row, track_from_row
from core.text import shown_line


@dataclass
class RecoveryReport:
    sessions: list[dict[str, Any]] = field(default_factory=list)  # sessions whose row was rebuilt
    batches: list[dict[str, Any]] = field(default_factory=list)  # batches rebuilt
    clips: int = 0
    files_restored: int = 0  # kept-aside files moved back because a row names them
    curation: int = 0  # curation entries (marks, cluster names, preferences) brought back
    problems: list[str] = field(default_factory=list)  # what could not be brought back
    notes: list[str] = field(default_factory=list)  # worth knowing, not a problem
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = []
        for s in self.sessions:
            out.append(f"recovered session {s['id']}  {shown_line(s['title'])[:60]}")
        for b in self.batches:
            out.append(
                f"recovered batch {b['id']} of session {b['session_id'][:8]}: {_count(b['clips'], 'clip')}, "
                f"{_count(b['clusters'], 'cluster')} (from {b['source']})"
            )
        if self.files_restored:
            out.append(f"moved {self.files_restored} kept-aside files back where their rows expect them")
        if self.curation:
            out.append(
                f"brought back {_count(self.curation, 'curation record')} (marks, cluster names, preferences)"
            )
        out.extend(f"could not recover: {p}" for p in self.problems)
        out.extend(f"note: {n}" for n in self.notes)
        nothing = not (self.sessions or self.batches or self.files_restored or self.curation or self.problems)
        if nothing and self.notes:
            out.append("Nothing to recover.")
        elif nothing:
            out.append(
                "Nothing to recover: the database knows every batch found beside the audio and in the backups."
            )
        else:
            out.append(
                f"Recovered {_count(len(self.sessions), 'session')}, {_count(len(self.batches), 'batch')}, "
                f"{_count(self.clips, 'clip')}; {_count(len(self.problems), 'problem')}."
            )
        return out

    def document(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "batches": self.batches,
            "clips": self.clips,
            "files_restored": self.files_restored,
            "curation": self.curation,
            "problems": self.problems,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
        }


def _count(n: int, noun: str) -> str:
    plural = noun + ("es" if noun.endswith("ch") else "s")
    return f"{n} {noun if n == 1 else plural}"


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


# --------------------------------------------------------------------------- rebuilding


def recover(store: SessionStore, *, use_backups: bool = True) -> RecoveryReport:
    """Bring back every batch (and session) the database does not know; see the module docstring."""
    started = time.perf_counter()
    report = RecoveryReport()
    root = store.root
    with store._reading() as conn:
        known_batches = {r["id"] for r in conn.execute("SELECT id FROM batches")}
    records: dict[uuid.UUID, BatchRecord] = {}
    if use_backups:
        for copy in backup.list_backups(root):
            for record in backup_records(root, copy, known_batches):
                records.setdefault(record.batch.id, record)
    for record in manifest_records(root, report):
        if str(record.batch.id) not in known_batches:
            records.setdefault(record.batch.id, record)
    report.files_restored = restore_named_files(store)
    by_session: dict[uuid.UUID, list[BatchRecord]] = {}
    for record in records.values():
        by_session.setdefault(record.session.id, []).append(record)
    gone_from_backups = 0
    index = AsideIndex()
    deleted = deleted_tracks(root)
    for session_id, pending in sorted(by_session.items(), key=lambda kv: kv[1][0].session.created_at):
        pending.sort(key=lambda r: (r.batch.position, r.batch.created_at))
        fd = store._lock_session(session_id, blocking=True)
        try:
            for record in pending:
                gone_from_backups += _recover_batch(
                    store, record, report, index, deleted.get(session_id, set())
                )
        finally:
            _release(fd)
    if gone_from_backups:
        report.notes.append(
            f"{_count(gone_from_backups, 'batch')} known only to the backups "
            "has no audio left anywhere (a deleted session?), so it was left out."
            if gone_from_backups == 1
            else f"{gone_from_backups} batches known only to the backups have no audio left anywhere "
            "(deleted sessions?), so they were left out."
        )
    report.curation = recover_curation(store, report)
    if report.batches or report.curation:
        with contextlib.suppress(OSError, sqlite3.Error):
            backup.take(root, store.db_file)
    report.seconds = time.perf_counter() - started
    return report


def recover_data_dir(root: Path, *, use_backups: bool = True) -> RecoveryReport:
    """``recover`` on the data dir at ``root``, opening (and closing) its store; a missing dir is left alone."""
    root = Path(root).expanduser()
    if not root.is_dir():
        report = RecoveryReport()
        report.notes.append(f"{shown_line(root)} does not exist, so there is nothing to recover.")
        return report
    try:
        store = SessionStore(root)
    except StorageError as exc:
        if "damaged" not in str(exc):
            raise
        raise StorageError(f"{exc} 'sessionlab doctor --repair' sets it aside and rebuilds it.") from None
    with store:
        return recover(store, use_backups=use_backups)


def _primary_space(record: BatchRecord) -> str:
    if record.batch.embedder in record.vectors:
        return record.batch.embedder
    return next(iter(record.vectors), record.batch.embedder or "unknown")


def _recover_batch(
    store: SessionStore,
    record: BatchRecord,
    report: RecoveryReport,
    index: AsideIndex,
    deleted: set[str] = frozenset(),  # type: ignore[assignment]
) -> int:
    """Rebuild one batch (the caller holds its session's lock); return 1 if a backup's batch had no audio.

    Clips the musician deleted (``deleted``, from the curation file) are left out quietly."""
    root = store.root
    batch = record.batch
    session_id = record.session.id
    if deleted and any(str(t.id) in deleted for t in batch.tracks):
        batch.tracks = [t for t in batch.tracks if str(t.id) not in deleted]
        for cluster in batch.clusters:
            cluster.track_ids = [t for t in cluster.track_ids if str(t) not in deleted]
        batch.clusters = [c for c in batch.clusters if c.track_ids]
        if not batch.tracks:
            return 0
    with store._reading() as conn:
        if store._exists(conn, "batches", batch.id):
            return 0
        session_known = store._exists(conn, "sessions", session_id)
        taken_tracks = {
            r["id"]
            for r in conn.execute(
                f"SELECT id FROM tracks WHERE id IN ({','.join('?' * len(batch.tracks))})",
                [str(t.id) for t in batch.tracks],
            )
        }
        positions = {
            r[0]
            for r in conn.execute("SELECT position FROM batches WHERE session_id = ?", (str(session_id),))
        }
    where = f"batch {batch.id} of session {session_id} ({shown_line(record.session.title)[:40]})"
    found: dict[uuid.UUID, Path] = {}
    lost: dict[str, list[str]] = {}
    for track in batch.tracks:
        if str(track.id) in taken_tracks:
            lost.setdefault("already stored elsewhere", []).append(str(track.id))
            continue
        path, why = find_clip(root, session_id, Path(track.path), record.track_bytes.get(track.id), index)
        if path is None:
            lost.setdefault(why, []).append(str(track.id))
        else:
            found[track.id] = path
    from_backup = record.origin.startswith("backup ")
    if not found:
        if from_backup and set(lost) == {"missing"}:
            return 1
        report.problems.append(f"{where}: none of its {len(batch.tracks)} clips has a playable file left.")
        return 0
    for why, ids in lost.items():
        report.problems.append(
            f"{where}: {_count(len(ids), 'clip')} left out, file {why} ({', '.join(i[:8] for i in ids[:5])}"
            f"{', ...' if len(ids) > 5 else ''})."
        )
    # Keep what has a file; clusters left empty go.
    tracks = [t for t in batch.tracks if t.id in found]
    clusters = []
    for cluster in batch.clusters:
        cluster.track_ids = [t for t in cluster.track_ids if t in found]
        if cluster.track_ids:
            clusters.append(cluster)
    batch.tracks = tracks
    batch.clusters = clusters
    if batch.position in positions:
        batch.position = max(positions) + 1
    space = _primary_space(record)
    centroids, embeddings = record.vectors.get(space, ({}, {}))
    centroids = {k: v for k, v in centroids.items() if any(c.id == k for c in clusters)}
    embeddings = {k: v for k, v in embeddings.items() if k in found}
    media = paths.session_media_dir(root, session_id)
    moved: list[Path] = []
    try:
        media.mkdir(parents=True, exist_ok=True)
        for track in tracks:
            source = found[track.id]
            if source != Path(track.path):
                move_no_clobber(source, Path(track.path))
                moved.append(Path(track.path))
        target = manifest.manifest_path(root, session_id, batch.id)
        if not target.exists():
            aside = _kept_aside_manifest(root, record)
            if not lost and aside is not None:
                move_no_clobber(aside, target)
            else:
                manifest.write(
                    root, manifest.document(record.session, batch, {space: (centroids, embeddings)})
                )
            moved.append(target)
        fsync_dir(media)
    except OSError as exc:
        _put_back(root, moved)
        report.problems.append(
            f"{where}: its files could not be moved back into {media} ({exc.strerror or exc})."
        )
        return 0
    try:
        with store._writing() as conn:
            if not session_known:
                s = record.session
                conn.execute(
                    "INSERT INTO sessions (id, created_at, updated_at, brief_text, params, name)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        str(s.id),
                        _iso(s.created_at),
                        _iso(s.updated_at or batch.created_at),
                        s.brief_text,
                        json.dumps(s.params.to_dict()),
                        s.name,
                    ),
                )
            rows = store._batch_rows(session_id, batch, centroids, space, embeddings, {})
            store._insert_batch(conn, session_id, rows)
            for other, (more_centroids, more_embeddings) in record.vectors.items():
                if other == space:
                    continue
                conn.executemany(
                    "INSERT OR IGNORE INTO centroids (cluster_id, space, dim, vector) VALUES (?, ?, ?, ?)",
                    [
                        (str(k), other, v.size, v.astype("<f4").tobytes())
                        for k, v in more_centroids.items()
                        if any(c.id == k for c in clusters)
                    ],
                )
                conn.executemany(
                    "INSERT OR IGNORE INTO embeddings (track_id, space, dim, vector) VALUES (?, ?, ?, ?)",
                    [
                        (str(k), other, v.size, v.astype("<f4").tobytes())
                        for k, v in more_embeddings.items()
                        if k in found
                    ],
                )
            if not session_known:  # a rebuilt session keeps its own time, not the time of recovery
                conn.execute(
                    "UPDATE sessions SET updated_at = max(?, (SELECT max(created_at) FROM batches WHERE session_id = ?))"
                    " WHERE id = ?",
                    (_iso(record.session.updated_at or batch.created_at), str(session_id), str(session_id)),
                )
    except (sqlite3.Error, StorageError, ValueError) as exc:
        _put_back(root, moved)
        report.problems.append(f"{where}: its rows could not be written ({exc}).")
        return 0
    if not session_known:
        report.sessions.append(
            {"id": str(session_id), "title": record.session.title, "source": _source(record, root)}
        )
    report.batches.append(
        {
            "id": str(batch.id),
            "session_id": str(session_id),
            "clips": len(tracks),
            "clusters": len(clusters),
            "source": _source(record, root),
        }
    )
    report.clips += len(tracks)
    return 0


def _kept_aside_manifest(root: Path, record: BatchRecord) -> Path | None:
    """The batch's own manifest, if it waits in kept-aside/ (better moved back than written anew)."""
    origin = Path(record.origin)
    if (
        not record.origin.startswith("backup ")
        and origin.is_relative_to(kept_aside_root(root))
        and origin.is_file()
    ):
        return origin
    copies = kept_aside_copies(
        kept_aside_root(root) / "media" / str(record.session.id), f"{record.batch.id}.json"
    )
    return copies[0] if copies else None


def _iso(value: Any) -> str:
    from core.store import _ts

    return _ts(value)


def _source(record: BatchRecord, root: Path) -> str:
    if record.origin.startswith("backup "):
        return record.origin
    return (
        "a kept-aside manifest"
        if Path(record.origin).is_relative_to(kept_aside_root(root))
        else "its manifest"
    )


def _put_back(root: Path, moved: list[Path]) -> None:
    for path in reversed(moved):
        with contextlib.suppress(OSError):
            keep_aside(root, path)


def restore_named_files(store: SessionStore) -> int:
    """Move back kept-aside WAVs that a row names and whose place is empty; return how many."""
    root = store.root
    aside = kept_aside_root(root) / "media"
    if not aside.is_dir():
        return 0
    with store._reading() as conn:
        rows = conn.execute("SELECT id, session_id, path FROM tracks").fetchall()
    wanted: dict[str, list[tuple[uuid.UUID, Path]]] = {}
    for row in rows:
        if not (root / row["path"]).exists():
            wanted.setdefault(row["session_id"], []).append((uuid.UUID(row["id"]), Path(row["path"])))
    restored = 0
    index = AsideIndex()
    for session_text, tracks in wanted.items():
        if not (aside / session_text).is_dir():
            continue
        session_id = uuid.UUID(session_text)
        fd = store._lock_session(session_id, blocking=True)
        try:
            for _track_id, relative in tracks:
                target = root / relative
                if target.exists():
                    continue
                source, _ = find_clip(root, session_id, target, index=index)
                if source is None or source == target:
                    continue
                with contextlib.suppress(FileExistsError):
                    move_no_clobber(source, target)
                    restored += 1
            with contextlib.suppress(OSError):
                fsync_dir(paths.session_media_dir(root, session_id))
        finally:
            _release(fd)
    return restored


def curation_files(root: Path) -> dict[uuid.UUID, list[Path]]:
    """Each session's curation files: the one in its folder, then the copies kept aside."""
    found: dict[uuid.UUID, list[Path]] = {}
    for top in (paths.media_root(root), kept_aside_root(root) / "media"):
        if not top.is_dir():
            continue
        for folder in sorted(top.iterdir()):
            if not folder.is_dir() or not _canonical_uuid(folder.name):
                continue
            for path in kept_aside_copies(folder, curation_file.FILE_NAME):
                if path.is_file():
                    found.setdefault(uuid.UUID(folder.name), []).append(path)
    return found


def deleted_tracks(root: Path) -> dict[uuid.UUID, set[str]]:
    """The clips each session's curation files record as deleted by the musician."""
    found: dict[uuid.UUID, set[str]] = {}
    for session_id, files in curation_files(root).items():
        for path in files:
            with contextlib.suppress(curation_file.CurationFileError):
                found.setdefault(session_id, set()).update(curation_file.read(path)["deleted"])
    return found


def recover_curation(store: SessionStore, report: RecoveryReport) -> int:
    """Merge every session's curation files into the tables; return how many entries came back."""
    applied = 0
    for session_id, files in sorted(curation_files(store.root).items()):
        docs = []
        for path in files:
            try:
                docs.append(curation_file.read(path))
            except curation_file.CurationFileError as exc:
                if path.parent.parent == paths.media_root(store.root):  # kept-aside copies stay quiet
                    report.notes.append(
                        f"{path.relative_to(store.root)} is {exc}; the database's marks stand."
                    )
        docs = [d for d in docs if d["session_id"] == str(session_id)]
        if docs:
            applied += store.restore_curation(session_id, docs)
    return applied
