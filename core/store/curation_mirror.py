"""The session's curation file kept in step with the curation tables, and recovery from it.

A mixin of SessionStore (core.store). After each curation change commits, still under
the session's lock, the change is merged into the curation file beside the audio
(core.curation_file); ``restore_curation`` brings the marks back from such files.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import curation_file
from core.curation_models import Curation, Preference
from core.errors import ValidationError, storage_error
from core.safekeeping import keep_aside
from core.store.curation import _clip_entry, _preference_entry, clean_cluster_name
from core.store.locks import _release
from core.store.rows import _dt, _ts

if TYPE_CHECKING:
    from core.store import SessionStore


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_ino, found.st_size, found.st_mtime_ns)


class CurationMirror:
    """The curation file methods of SessionStore (see the module docstring)."""

    def _curation_entries(
        self: SessionStore, conn: sqlite3.Connection, session_id: uuid.UUID
    ) -> dict[str, Any]:
        """Everything the tables hold for the session, as curation-file sections."""
        sid = str(session_id)
        return {
            "clips": {
                r["track_id"]: _clip_entry(r)
                for r in conn.execute("SELECT * FROM curation WHERE session_id = ?", (sid,))
            },
            "cluster_names": {
                r["cluster_id"]: {"name": r["name"], "updated_at": r["updated_at"]}
                for r in conn.execute("SELECT * FROM cluster_names WHERE session_id = ?", (sid,))
            },
            "preferences": {
                r["id"]: _preference_entry(r)
                for r in conn.execute("SELECT * FROM preferences WHERE session_id = ?", (sid,))
            },
        }

    def _curation_cache(self: SessionStore) -> dict[uuid.UUID, tuple[Any, dict[str, Any], Any]]:
        """Per session: (the file's signature, its parsed document, encoded entries); see _load_curation_file."""
        cache = self.__dict__.get("_curation_docs")
        if cache is None:
            cache = self.__dict__["_curation_docs"] = {}
        return cache

    def _load_curation_file(self: SessionStore, session_id: uuid.UUID) -> dict[str, Any]:
        """The session's file (the caller holds its lock); missing or unreadable: rebuilt from the tables.

        An unreadable file is kept aside first (never deleted). The document this store
        wrote last is kept parsed, and reused while the file is still the one it wrote
        (same inode, size and time: another process's write renames a new file into place):
        a session of 10,000 marked clips then costs no parse per change."""
        path = curation_file.curation_path(self.root, session_id)
        cached = self._curation_cache().pop(session_id, None)
        if cached is not None and cached[0] == _signature(path):
            self._curation_cache()[session_id] = cached
            return cached[1]
        try:
            doc = curation_file.read(path)
            if doc["session_id"] == str(session_id):
                return doc
        except curation_file.CurationFileError:
            pass
        if path.exists():
            keep_aside(self.root, path)
        doc = curation_file.empty(session_id)
        with self._reading() as conn:
            curation_file.merge(doc, self._curation_entries(conn, session_id))
        return doc

    def _merge_curation_file(
        self: SessionStore,
        session_id: uuid.UUID,
        entries: dict[str, dict[str, Any]],
        drop_tracks: set[str] = frozenset(),  # type: ignore[assignment]
        drop_clusters: set[str] = frozenset(),  # type: ignore[assignment]
        *,
        force: bool = False,
    ) -> None:
        """Merge committed entries into the session's curation file (the caller holds the lock).

        ``force`` also merges in everything the tables hold (recovery)."""
        if not any(entries.values()) and not drop_tracks and not drop_clusters and not force:
            return
        try:
            doc = self._load_curation_file(session_id)
            changed = curation_file.merge(doc, entries, replace=not force)
            if force:
                with self._reading() as conn:
                    changed = curation_file.merge(doc, self._curation_entries(conn, session_id)) or changed
            if drop_tracks or drop_clusters:
                changed = curation_file.drop(doc, set(drop_tracks), set(drop_clusters)) or changed
            path = curation_file.curation_path(self.root, session_id)
            cached = self._curation_cache().pop(session_id, None)
            fragments = cached[2] if cached is not None and cached[1] is doc else {}
            if changed or not path.exists():
                curation_file.write(self.root, doc, fragments)
            self._curation_cache()[session_id] = (_signature(path), doc, fragments)
        except OSError as exc:
            raise storage_error(
                f"update the curation file of session {session_id}",
                exc,
                "the change is saved in the database, but not yet in the file beside the audio",
            ) from None

    # ----------------------------------------------------------------- recovery

    def restore_curation(self: SessionStore, session_id: uuid.UUID, docs: Sequence[dict[str, Any]]) -> int:
        """Bring back marks from curation files (core.recovery); return how many entries were applied.

        An entry wins over the table's row when it is newer (or there is no row); entries
        naming clips or clusters the database does not know are left in the file (a later
        recover may bring their batch back) and skipped here. Then the session's file is
        merged with everything, under the session's lock."""
        self._require_writable()
        sid = str(session_id)
        incoming = curation_file.empty(session_id)
        for doc in docs:
            curation_file.merge(incoming, doc)
        applied = 0
        fd = self._lock_session(session_id, blocking=True)
        try:
            with self._writing() as conn:
                if not self._exists(conn, "sessions", session_id):
                    return 0
                tracks = {r["id"] for r in conn.execute("SELECT id FROM tracks WHERE session_id = ?", (sid,))}
                clusters = {
                    r["id"] for r in conn.execute("SELECT id FROM clusters WHERE session_id = ?", (sid,))
                }
                current = self._curation_entries(conn, session_id)
                for track_id, entry in sorted(incoming["clips"].items()):
                    if track_id not in tracks or not curation_file.newer(
                        entry, current["clips"].get(track_id)
                    ):
                        continue
                    try:
                        marks = Curation.from_dict(entry)
                        stamp = _ts(_dt(str(entry["updated_at"])))
                    except (KeyError, TypeError, ValueError, ValidationError):
                        continue
                    conn.execute(
                        "INSERT OR REPLACE INTO curation"
                        " (track_id, session_id, kept, rating, discarded, tags, note, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            track_id,
                            sid,
                            int(marks.kept),
                            marks.rating,
                            int(marks.discarded),
                            json.dumps(list(marks.tags), ensure_ascii=False),
                            marks.note,
                            stamp,
                        ),
                    )
                    applied += 1
                for cluster_id, entry in sorted(incoming["cluster_names"].items()):
                    if cluster_id not in clusters or not curation_file.newer(
                        entry, current["cluster_names"].get(cluster_id)
                    ):
                        continue
                    try:
                        name = clean_cluster_name(entry["name"])
                        stamp = _ts(_dt(str(entry["updated_at"])))
                    except (KeyError, TypeError, ValueError, ValidationError):
                        continue
                    conn.execute(
                        "INSERT OR REPLACE INTO cluster_names (cluster_id, session_id, name, updated_at)"
                        " VALUES (?, ?, ?, ?)",
                        (cluster_id, sid, name, stamp),
                    )
                    applied += 1
                for pref_id, entry in sorted(incoming["preferences"].items()):
                    if pref_id in current["preferences"]:
                        continue
                    try:
                        pref = Preference(
                            id=uuid.UUID(pref_id),
                            session_id=session_id,
                            track_a=uuid.UUID(entry["track_a"]),
                            track_b=uuid.UUID(entry["track_b"]),
                            choice=entry["choice"],
                            created_at=_dt(str(entry["created_at"])),
                            brief_a=entry.get("brief_a", ""),
                            brief_b=entry.get("brief_b", ""),
                        )
                    except (KeyError, TypeError, ValueError, ValidationError):
                        continue
                    if str(pref.track_a) not in tracks or str(pref.track_b) not in tracks:
                        continue
                    conn.execute(
                        "INSERT INTO preferences (id, session_id, track_a, track_b, choice, created_at, brief_a,"
                        " brief_b) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            pref_id,
                            sid,
                            str(pref.track_a),
                            str(pref.track_b),
                            pref.choice,
                            _ts(pref.created_at),
                            pref.brief_a,
                            pref.brief_b,
                        ),
                    )
                    applied += 1
            self._merge_curation_file(session_id, incoming, force=True)
        finally:
            _release(fd)
        return applied
