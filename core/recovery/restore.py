"""Restoring what the database names but the folders lack (kept-aside WAVs), and the musician's curation
from the curation files (core.recovery)."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

from core import curation_file, paths
from core.recovery.finding import AsideIndex, find_clip
from core.recovery.report import RecoveryReport
from core.safekeeping import fsync_dir, kept_aside_copies, kept_aside_root, move_no_clobber
from core.store import SessionStore
from core.store.locks import _release
from core.store.rows import _canonical_uuid


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
