"""Rebuilding the batches (and sessions) the database does not know, under each session's lock.

How, and from what, is the package's docstring (core/recovery/__init__.py)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from core import backup, manifest, paths
from core.errors import StorageError
from core.manifest import BatchRecord
from core.recovery.finding import AsideIndex, backup_records, find_clip, manifest_records
from core.recovery.report import RecoveryReport, _count
from core.recovery.restore import deleted_tracks, recover_curation, restore_named_files
from core.safekeeping import fsync_dir, keep_aside, kept_aside_copies, kept_aside_root, move_no_clobber
from core.store import SessionStore
from core.store.locks import _release
from core.text import shown_line


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
