"""The store's curation: marks, cluster names, preferences, analysis, and explicit deletes.

A mixin of SessionStore (core.store): these methods use its connection, its locks
and its read/write transactions. Curation lives in its own tables (schema v3);
the generated rows and the audio never change for it.

Each change is one write transaction under the session's lock; after it commits,
the session's curation file beside the audio is merged (core.curation_file), still
under the lock, so recovery can bring the marks back (core.store.curation_mirror).

Explicit deletes (with their files) come from DeletionStore (core.store.deletion).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from core import curation_file
from core.curation_models import PREFERENCE_CHOICES, ClipAnalysis, Curation, Preference
from core.errors import NotFoundError, ValidationError
from core.models import new_id, utcnow
from core.store.deletion import DeletionStore, _chunks
from core.store.locks import _release
from core.store.rows import MAX_NAME_CHARS, _dt, _ts

if TYPE_CHECKING:
    from core.store import SessionStore


def clean_cluster_name(name: Any) -> str:
    """A cluster name a musician typed: one line, at most 120 characters ("" goes back to the generated one)."""
    if not isinstance(name, str):
        raise ValidationError("A cluster name must be text.")
    text = " ".join(name.split())
    if len(text) > MAX_NAME_CHARS:
        raise ValidationError(
            f"The cluster name is {len(text)} characters long; the limit is {MAX_NAME_CHARS}."
        )
    if any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in text):
        raise ValidationError("A cluster name must be one line of text, without control characters.")
    return text


def _curation_from_row(row: sqlite3.Row) -> Curation:
    return Curation(
        kept=bool(row["kept"]),
        rating=row["rating"],
        discarded=bool(row["discarded"]),
        tags=tuple(json.loads(row["tags"])),
        note=row["note"],
    )


def _clip_entry(row: sqlite3.Row) -> dict[str, Any]:
    return {**_curation_from_row(row).to_dict(), "updated_at": row["updated_at"]}


def _preference_from_row(row: sqlite3.Row) -> Preference:
    return Preference(
        id=uuid.UUID(row["id"]),
        session_id=uuid.UUID(row["session_id"]),
        track_a=uuid.UUID(row["track_a"]),
        track_b=uuid.UUID(row["track_b"]),
        choice=row["choice"],
        created_at=_dt(row["created_at"]),
        brief_a=row["brief_a"],
        brief_b=row["brief_b"],
    )


def _preference_entry(row: sqlite3.Row) -> dict[str, Any]:
    return {k: row[k] for k in ("track_a", "track_b", "choice", "created_at", "brief_a", "brief_b")}


class CurationStore(DeletionStore):
    """Curation methods of SessionStore (see the module docstring)."""

    # ----------------------------------------------------------------- reads

    def get_curations(self: SessionStore, session_id: uuid.UUID) -> dict[uuid.UUID, Curation]:
        """The marks of the session's clips; only clips that have marks."""
        with self._reading() as conn:
            rows = conn.execute("SELECT * FROM curation WHERE session_id = ?", (str(session_id),)).fetchall()
        found = {uuid.UUID(r["track_id"]): _curation_from_row(r) for r in rows}
        return {k: v for k, v in found.items() if v.marked}

    def get_curation(self: SessionStore, track_id: uuid.UUID) -> Curation:
        """A clip's marks (the defaults when it has none); NotFoundError for an unknown clip."""
        with self._reading() as conn:
            if not self._exists(conn, "tracks", track_id):
                raise NotFoundError(f"No clip {track_id}.")
            row = conn.execute("SELECT * FROM curation WHERE track_id = ?", (str(track_id),)).fetchone()
        return Curation() if row is None else _curation_from_row(row)

    def get_cluster_names(self: SessionStore, session_id: uuid.UUID) -> dict[uuid.UUID, str]:
        """The names a musician gave the session's clusters (the generated labels stay on the clusters)."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT cluster_id, name FROM cluster_names WHERE session_id = ? AND name <> ''",
                (str(session_id),),
            ).fetchall()
        return {uuid.UUID(r["cluster_id"]): r["name"] for r in rows}

    def get_preferences(self: SessionStore, session_id: uuid.UUID) -> list[Preference]:
        """The session's pairwise judgements, oldest first."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT * FROM preferences WHERE session_id = ? ORDER BY created_at, id", (str(session_id),)
            ).fetchall()
        return [_preference_from_row(r) for r in rows]

    def get_analysis(self: SessionStore, track_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ClipAnalysis]:
        """The stored analysis among ``track_ids``; clips without one are left out."""
        wanted = [str(t) for t in dict.fromkeys(track_ids)]
        found: dict[uuid.UUID, ClipAnalysis] = {}
        with self._reading() as conn:
            for chunk in _chunks(wanted):
                for row in conn.execute(
                    f"SELECT * FROM clip_analysis WHERE track_id IN ({','.join('?' * len(chunk))})", chunk
                ):
                    found[uuid.UUID(row["track_id"])] = ClipAnalysis(
                        bpm=row["bpm"],
                        key=row["key"],
                        source=row["source"],
                        lufs=row["lufs"],
                        true_peak_dbtp=row["true_peak_dbtp"],
                    )
        return found

    def put_analysis(self: SessionStore, track_id: uuid.UUID, analysis: ClipAnalysis) -> None:
        """Store (or replace) a clip's analysis (computed again if lost: not part of the curation file)."""
        if not isinstance(analysis, ClipAnalysis):
            raise ValidationError(f"Expected a ClipAnalysis, not {type(analysis).__name__}.")
        with self._writing() as conn:
            if not self._exists(conn, "tracks", track_id):
                raise NotFoundError(f"No clip {track_id}.")
            conn.execute(
                "INSERT INTO clip_analysis (track_id, bpm, key, source, lufs, true_peak_dbtp, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (track_id) DO UPDATE SET bpm = excluded.bpm,"
                " key = excluded.key, source = excluded.source, lufs = excluded.lufs,"
                " true_peak_dbtp = excluded.true_peak_dbtp, updated_at = excluded.updated_at",
                (
                    str(track_id),
                    analysis.bpm,
                    analysis.key,
                    analysis.source,
                    analysis.lufs,
                    analysis.true_peak_dbtp,
                    _ts(utcnow()),
                ),
            )

    def track_session_id(self: SessionStore, track_id: uuid.UUID) -> uuid.UUID:
        with self._reading() as conn:
            row = conn.execute("SELECT session_id FROM tracks WHERE id = ?", (str(track_id),)).fetchone()
        if row is None:
            raise NotFoundError(f"No clip {track_id}.")
        return uuid.UUID(row["session_id"])

    def batch_session_id(self: SessionStore, batch_id: uuid.UUID) -> uuid.UUID:
        with self._reading() as conn:
            row = conn.execute("SELECT session_id FROM batches WHERE id = ?", (str(batch_id),)).fetchone()
        if row is None:
            raise NotFoundError(f"No batch {batch_id}.")
        return uuid.UUID(row["session_id"])

    def resolve_track_id(self: SessionStore, text: str, session_id: uuid.UUID | None = None) -> uuid.UUID:
        """A full clip id or a unique prefix (among one session's clips when ``session_id`` is given)."""
        if session_id is None:
            return self._resolve(text, "clip", "SELECT id FROM tracks", ())
        return self._resolve(
            text, "clip", "SELECT id FROM tracks WHERE session_id = ?", (str(session_id),), session_id
        )

    def resolve_batch_id(self: SessionStore, text: str) -> uuid.UUID:
        """A full batch id or a unique prefix."""
        return self._resolve(text, "batch", "SELECT id FROM batches", ())

    # ----------------------------------------------------------------- writes

    @contextmanager
    def _curating(self: SessionStore, session_id: uuid.UUID) -> Iterator[dict[str, dict[str, Any]]]:
        """Hold the session's lock; the caller commits its rows and fills the entries to merge into the file."""
        self._require_writable()
        fd = self._lock_session(session_id, blocking=True)
        try:
            entries: dict[str, dict[str, Any]] = {s: {} for s in curation_file.SECTIONS}
            yield entries
            self._merge_curation_file(session_id, entries)
        finally:
            _release(fd)

    def update_curation(
        self: SessionStore, track_id: uuid.UUID, change: Callable[[Curation], Curation]
    ) -> Curation:
        """Apply ``change`` to a clip's marks in one transaction (read and write); return the new marks."""
        session_id = self.track_session_id(track_id)
        with self._curating(session_id) as entries, self._writing() as conn:
            if not self._exists(conn, "tracks", track_id):
                raise NotFoundError(f"No clip {track_id}.")
            row = conn.execute("SELECT * FROM curation WHERE track_id = ?", (str(track_id),)).fetchone()
            new = change(Curation() if row is None else _curation_from_row(row))
            if not isinstance(new, Curation):
                raise ValidationError(f"Expected a Curation, not {type(new).__name__}.")
            conn.execute(
                "INSERT INTO curation (track_id, session_id, kept, rating, discarded, tags, note, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (track_id) DO UPDATE SET kept = excluded.kept,"
                " rating = excluded.rating, discarded = excluded.discarded, tags = excluded.tags,"
                " note = excluded.note, updated_at = excluded.updated_at",
                (
                    str(track_id),
                    str(session_id),
                    int(new.kept),
                    new.rating,
                    int(new.discarded),
                    json.dumps(list(new.tags), ensure_ascii=False),
                    new.note,
                    _ts(utcnow()),
                ),
            )
            row = conn.execute("SELECT * FROM curation WHERE track_id = ?", (str(track_id),)).fetchone()
            entries["clips"][str(track_id)] = _clip_entry(row)
        return new

    def set_cluster_name(self: SessionStore, session_id: uuid.UUID, cluster_id: uuid.UUID, name: str) -> str:
        """Give a cluster the musician's name ("" goes back to the generated label); return the clean name."""
        clean = clean_cluster_name(name)
        with self._reading() as conn:
            if not self._exists(conn, "sessions", session_id):
                raise NotFoundError(f"No session {session_id}.")
        with self._curating(session_id) as entries, self._writing() as conn:
            found = conn.execute(
                "SELECT 1 FROM clusters WHERE id = ? AND session_id = ?",
                (str(cluster_id), str(session_id)),
            ).fetchone()
            if found is None:
                raise NotFoundError(f"No cluster {cluster_id} in session {session_id}.")
            stamp = _ts(utcnow())
            # An empty name is kept as a row too: the curation file must learn the name was taken back.
            conn.execute(
                "INSERT INTO cluster_names (cluster_id, session_id, name, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (cluster_id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at",
                (str(cluster_id), str(session_id), clean, stamp),
            )
            entries["cluster_names"][str(cluster_id)] = {"name": clean, "updated_at": stamp}
        return clean

    def add_preference(self: SessionStore, track_a: uuid.UUID, track_b: uuid.UUID, choice: str) -> Preference:
        """Store a judgement between two clips of one session, with the time and each clip's brief."""
        if track_a == track_b:
            raise ValidationError("A clip cannot be preferred to itself: choose two different clips.")
        if choice not in PREFERENCE_CHOICES:
            raise ValidationError(f"The choice must be 'a', 'b' or 'same', not {choice!r}.")
        session_id = self.track_session_id(track_a)
        with self._curating(session_id) as entries, self._writing() as conn:
            rows = {
                r["id"]: r
                for r in conn.execute(
                    "SELECT t.id, t.session_id, b.prompt_text FROM tracks t JOIN batches b ON b.id = t.batch_id"
                    " WHERE t.id IN (?, ?)",
                    (str(track_a), str(track_b)),
                )
            }
            for track_id in (track_a, track_b):
                if str(track_id) not in rows:
                    raise NotFoundError(f"No clip {track_id}.")
            a, b = rows[str(track_a)], rows[str(track_b)]
            if a["session_id"] != b["session_id"]:
                raise ValidationError(
                    f"Clips {str(track_a)[:8]} and {str(track_b)[:8]} belong to different sessions;"
                    " compare two clips of one session."
                )
            preference = Preference(
                id=new_id(),
                session_id=uuid.UUID(a["session_id"]),
                track_a=track_a,
                track_b=track_b,
                choice=choice,
                created_at=utcnow(),
                brief_a=a["prompt_text"],
                brief_b=b["prompt_text"],
            )
            conn.execute(
                "INSERT INTO preferences (id, session_id, track_a, track_b, choice, created_at, brief_a, brief_b)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(preference.id),
                    str(preference.session_id),
                    str(track_a),
                    str(track_b),
                    choice,
                    _ts(preference.created_at),
                    preference.brief_a,
                    preference.brief_b,
                ),
            )
            row = conn.execute("SELECT * FROM preferences WHERE id = ?", (str(preference.id),)).fetchone()
            entries["preferences"][str(preference.id)] = _preference_entry(row)
        return preference
