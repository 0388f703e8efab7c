"""The JSON documents the CLI prints with ``--json``: sessions, batches, clips, the session list,
a clip's marks, a preference and a deletion."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from core.curation_models import Curation, Deletion, Preference
from core.models import Batch, Session, SessionInfo, Track

if TYPE_CHECKING:
    from core.store import SessionStore


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def batch_document(batch: Batch, names: dict[uuid.UUID, str] | None = None) -> dict[str, Any]:
    """A batch and its clusters; a cluster lists its clips' ids (the clips are the session document's ``tracks``).

    A cluster's ``label`` is the generated one, ``name`` the musician's (or null), and
    ``effective_label`` what to call it: the name if there is one, else the label."""
    names = names or {}
    return {
        "id": str(batch.id),
        "kind": batch.kind,
        "created_at": _iso(batch.created_at),
        "prompt_text": batch.prompt_text,
        "params": batch.params.to_dict(),
        "seed": batch.seed,
        "engine": batch.engine,
        "model": batch.model,
        "embedder": batch.embedder,
        "namer": batch.namer,
        "num_requested": batch.num_requested,
        "num_generated": batch.num_generated,
        "parent_cluster_id": str(batch.parent_cluster_id) if batch.parent_cluster_id else None,
        "clusters": [
            {
                "id": str(c.id),
                "label": c.label,
                "name": names.get(c.id),
                "effective_label": names.get(c.id) or c.label,
                "parent_cluster_id": str(c.parent_cluster_id) if c.parent_cluster_id else None,
                "second_parent_cluster_id": (
                    str(c.second_parent_cluster_id) if c.second_parent_cluster_id else None
                ),
                "track_ids": [str(t) for t in c.track_ids],
            }
            for c in batch.clusters
        ],
    }


def _track_document(track: Track, marks: Curation | None = None) -> dict[str, Any]:
    from core.clipcheck import clip_file_problem

    return {
        "id": str(track.id),
        "batch_id": str(track.batch_id),
        "cluster_id": str(track.cluster_id),
        "path": str(track.path),
        "duration_sec": round(track.duration_sec, 3),
        "similarity": track.similarity,
        "seed": track.seed,
        "source": track.source,
        "raw_prompt": track.raw_prompt,
        "file_problem": clip_file_problem(track.path),  # None, "missing" or "unreadable"
        "curation": (marks or Curation()).to_dict(),  # kept, rating, discarded, tags, note
    }


def session_document(
    session: Session,
    curations: dict[uuid.UUID, Curation] | None = None,
    names: dict[uuid.UUID, str] | None = None,
) -> dict[str, Any]:
    """The session with the batches it holds; every clip once, in ``tracks`` (clusters name them by id).

    generate, more and import pass the session's head with only the batch they made.
    Every clip carries its curation (the defaults when it has no marks), every cluster
    the musician's name (see batch_document); discarded clips are listed too.
    """
    curations = curations or {}
    return {
        "id": str(session.id),
        "name": session.name,
        "created_at": _iso(session.created_at),
        "updated_at": _iso(session.updated_at),
        "brief_text": session.brief_text,
        "params": session.params.to_dict(),
        "batches": [batch_document(b, names) for b in session.batches],
        "tracks": [_track_document(t, curations.get(t.id)) for t in session.tracks],
    }


def _info_document(info: SessionInfo) -> dict[str, Any]:
    return {
        "id": str(info.id),
        "name": info.name,
        "brief_text": info.brief_text,
        "created_at": _iso(info.created_at),
        "updated_at": _iso(info.updated_at),
        "num_batches": info.num_batches,
        "num_tracks": info.num_tracks,
    }


def _marks_document(store: SessionStore, track_id: uuid.UUID, marks: Curation) -> dict[str, Any]:
    return {
        "track_id": str(track_id),
        "session_id": str(store.track_session_id(track_id)),
        "curation": marks.to_dict(),
    }


def preference_document(pref: Preference) -> dict[str, Any]:
    return {
        "id": str(pref.id),
        "session_id": str(pref.session_id),
        "track_a": str(pref.track_a),
        "track_b": str(pref.track_b),
        "choice": pref.choice,
        "chosen": None if pref.chosen is None else str(pref.chosen),
        "rejected": None if pref.rejected is None else str(pref.rejected),
        "created_at": pref.created_at.isoformat(),
        "brief_a": pref.brief_a,
        "brief_b": pref.brief_b,
    }


def deletion_document(gone: Deletion) -> dict[str, Any]:
    return {
        "session_id": str(gone.session_id),
        "session_removed": gone.session_removed,
        "batch_ids": [str(b) for b in gone.batch_ids],
        "cluster_ids": [str(c) for c in gone.cluster_ids],
        "track_ids": [str(t) for t in gone.track_ids],
        "files_left": list(gone.files_left),
    }


# JSON escapes C0 controls itself; these it would print raw (C1 controls, DEL, bidi and
# line separators, and lone surrogates, which could not even be encoded).
_RAW_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _emit(document: Any, out: TextIO) -> None:
    # Indented for a person at a terminal; compact (the C encoder, several times faster
    # on a big session) for a pipe or a file, where a program reads it.
    interactive = out.isatty() if hasattr(out, "isatty") else False
    text = json.dumps(document, indent=2 if interactive else None, ensure_ascii=False)
    out.write(_RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text))
    out.write("\n")
