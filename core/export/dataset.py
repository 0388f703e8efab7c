"""``sessionlab dataset``: a session's curation as a dataset others can train on.

The folder it writes::

    audio/{session_id}/{track_id}.wav   each clip with a mark or in a preference (copied, byte for byte)
    metadata.jsonl                      one line per clip, in the layout the Hugging Face ``datasets``
                                        "audiofolder" loader reads (``file_name`` relative to the folder)
    preferences.jsonl                   {prompt, chosen, rejected} pairs (file paths relative to the
                                        folder, plus ids) as DPO-style preference recipes expect them
    sessionlab-dataset.json             what was written: version, sessions, counts, files

Clips: every clip with a mark (kept, rated, discarded, tagged or noted) and every
clip of a decisive preference; unmarked clips carry no signal and are left out.
Preferences: the latest judgement of each pair of clips wins (a musician who
changes their mind is taken at their last word); a pair whose latest judgement is
"same" is a tie, counted but not written (chosen/rejected pairs cannot hold it).
The prompt of a pair is the brief both clips were made from, or the session's
brief when they differ. Seeds are text (they can exceed 64 bits).

Deterministic: the same sessions and curation give the same bytes (sessions in
order of creation, clips in session order, keys sorted, no time of writing).
Versioned: every line carries ``dataset_version``. Safe to run twice: a file that
is already there with the same bytes is left alone, files of the previous run
that are no longer part of the dataset are removed, and a folder that holds
anything else (or a file in the way with other content) is refused before
anything is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import paths
from core.curation_models import Curation, Preference
from core.errors import ValidationError, storage_error
from core.models import Session
from core.safekeeping import write_atomic

if TYPE_CHECKING:
    from core.store import SessionStore

DATASET_VERSION = 1
KIND = "sessionlab-dataset"
INFO_FILE = "sessionlab-dataset.json"
METADATA_FILE = "metadata.jsonl"
PREFERENCES_FILE = "preferences.jsonl"
AUDIO_DIR = "audio"


@dataclass
class DatasetResult:
    directory: Path
    sessions: list[str]
    clips: int = 0
    preferences: int = 0
    ties: int = 0
    files_written: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    left_out: list[str] = field(default_factory=list)  # clips whose audio could not be read

    def document(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "dataset_version": DATASET_VERSION,
            "sessions": self.sessions,
            "clips": self.clips,
            "preferences": self.preferences,
            "ties": self.ties,
            "files_written": self.files_written,
            "files_unchanged": self.files_unchanged,
            "files_removed": self.files_removed,
            "left_out": self.left_out,
        }

    def lines(self) -> list[str]:
        from core.text import shown_line

        def count(n: int, noun: str) -> str:
            return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

        out = [
            f"dataset v{DATASET_VERSION} in {shown_line(self.directory)}: {count(self.clips, 'clip')}, "
            f"{count(self.preferences, 'preference pair')} ({count(self.ties, 'tie')} left out) "
            f"from {count(len(self.sessions), 'session')}",
            f"audio files: {self.files_written} written, {self.files_unchanged} already there, "
            f"{self.files_removed} of the last run removed",
        ]
        out.extend(f"left out: {shown_line(x)}" for x in self.left_out)
        return out


def _line(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _same_bytes(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and _digest(a) == _digest(b)


def _previous_files(directory: Path) -> list[str]:
    """The files an earlier run wrote here; refuses a folder that holds something else."""
    if not directory.exists():
        return []
    if not directory.is_dir():
        raise ValidationError(f"{directory} is a file, not a folder: choose a folder for the dataset.")
    info = directory / INFO_FILE
    if not info.is_file():
        if any(directory.iterdir()):
            raise ValidationError(
                f"{directory} is not empty and holds no Session Lab dataset; choose an empty or new folder."
            )
        return []
    try:
        doc = json.loads(info.read_bytes())
        if doc.get("kind") != KIND:
            raise ValueError
        return [str(f) for f in doc.get("files", [])]
    except (OSError, ValueError, AttributeError):
        raise ValidationError(
            f"{info} is not a Session Lab dataset description; choose another folder."
        ) from None


def _latest_judgements(prefs: list[Preference]) -> list[Preference]:
    latest: dict[frozenset[uuid.UUID], Preference] = {}
    for pref in sorted(prefs, key=lambda p: (p.created_at, str(p.id))):
        latest[frozenset((pref.track_a, pref.track_b))] = pref
    return sorted(latest.values(), key=lambda p: (p.created_at, str(p.id)))


def _session_rows(
    store: SessionStore, session: Session, result: DatasetResult
) -> tuple[list[tuple[dict[str, Any], Path]], list[dict[str, Any]]]:
    from core.clipcheck import clip_file_problem

    curations: dict[uuid.UUID, Curation] = store.get_curations(session.id)
    names: dict[uuid.UUID, str] = store.get_cluster_names(session.id)
    judgements = _latest_judgements(store.get_preferences(session.id))
    decisive = [p for p in judgements if p.choice != "same"]
    result.ties += len(judgements) - len(decisive)
    wanted = set(curations) | {p.track_a for p in decisive} | {p.track_b for p in decisive}
    clusters = {c.id: c for c in session.clusters}
    rows: list[tuple[dict[str, Any], Path]] = []
    files: dict[uuid.UUID, str] = {}
    for batch in session.batches:
        for track in batch.tracks:
            if track.id not in wanted:
                continue
            problem = clip_file_problem(track.path)
            if problem is not None:
                result.left_out.append(f"clip {track.id} of session {session.id}: its file is {problem}")
                continue
            name = f"{AUDIO_DIR}/{session.id}/{track.id}{paths.track_suffix(track.path)}"
            files[track.id] = name
            cluster = clusters.get(track.cluster_id)
            marks = curations.get(track.id, Curation())
            rows.append(
                (
                    {
                        "file_name": name,
                        "dataset_version": DATASET_VERSION,
                        "session_id": str(session.id),
                        "batch_id": str(batch.id),
                        "cluster_id": str(track.cluster_id),
                        "track_id": str(track.id),
                        "cluster": (names.get(track.cluster_id) or cluster.label) if cluster else "",
                        "cluster_label": cluster.label if cluster else "",
                        "brief": session.brief_text,
                        "prompt": track.raw_prompt,
                        "seed": None if track.seed is None else str(track.seed),
                        "engine": batch.engine,
                        "model": batch.model or "",
                        "duration_sec": round(float(track.duration_sec), 6),
                        **marks.to_dict(),
                    },
                    Path(track.path),
                )
            )
    pairs = []
    for pref in decisive:
        chosen, rejected = pref.chosen, pref.rejected
        if chosen not in files or rejected not in files:
            continue
        pairs.append(
            {
                "prompt": pref.brief_a if pref.brief_a == pref.brief_b else session.brief_text,
                "chosen": files[chosen],
                "rejected": files[rejected],
                "chosen_id": str(chosen),
                "rejected_id": str(rejected),
                "preference_id": str(pref.id),
                "session_id": str(session.id),
                "created_at": pref.created_at.isoformat(),
                "dataset_version": DATASET_VERSION,
            }
        )
    return rows, pairs


def write_dataset(
    store: SessionStore, session_ids: Sequence[uuid.UUID] | None, directory: Path
) -> DatasetResult:
    """Write the dataset of ``session_ids`` (None: every session) into ``directory``; see the module docstring."""
    directory = Path(directory).expanduser().absolute()
    if directory.resolve().is_relative_to(paths.media_root(store.root).resolve()):
        raise ValidationError(
            f"{directory} is inside the session folders, which Session Lab tidies; choose a folder outside them."
        )
    previous = _previous_files(directory)
    if session_ids is None:
        session_ids = [info.id for info in store.list_sessions()]
    sessions = [store.require_session(sid) for sid in dict.fromkeys(session_ids)]
    sessions.sort(key=lambda s: (s.created_at, str(s.id)))
    result = DatasetResult(directory=directory, sessions=[str(s.id) for s in sessions])
    rows: list[tuple[dict[str, Any], Path]] = []
    pairs: list[dict[str, Any]] = []
    for session in sessions:
        more_rows, more_pairs = _session_rows(store, session, result)
        rows += more_rows
        pairs += more_pairs
    result.clips, result.preferences = len(rows), len(pairs)
    # Everything checked before anything is written: a file in the way with other bytes is refused.
    to_copy: list[tuple[Path, Path]] = []
    for row, source in rows:
        target = directory / row["file_name"]
        if target.exists():
            if not target.is_file() or not _same_bytes(source, target):
                raise ValidationError(f"{target} is already there with other content; nothing was written.")
            result.files_unchanged += 1
        else:
            to_copy.append((source, target))
    names = sorted(row["file_name"] for row, _ in rows)
    info = {
        "kind": KIND,
        "dataset_version": DATASET_VERSION,
        "sessions": result.sessions,
        "clips": result.clips,
        "preferences": result.preferences,
        "ties": result.ties,
        "files": names,
        "loader": "datasets.load_dataset('audiofolder', data_dir=...)",
    }
    try:
        for source, target in to_copy:
            write_atomic(target, source.read_bytes())
            result.files_written += 1
        write_atomic(directory / METADATA_FILE, "".join(_line(r) + "\n" for r, _ in rows).encode("utf-8"))
        write_atomic(directory / PREFERENCES_FILE, "".join(_line(p) + "\n" for p in pairs).encode("utf-8"))
        write_atomic(
            directory / INFO_FILE, (json.dumps(info, indent=1, sort_keys=True) + "\n").encode("utf-8")
        )
        for name in sorted(set(previous) - set(names)):
            stale = directory / name
            if name.startswith(f"{AUDIO_DIR}/") and ".." not in Path(name).parts and stale.is_file():
                stale.unlink()
                result.files_removed += 1
                with contextlib.suppress(OSError):
                    os.rmdir(stale.parent)  # only when empty
    except OSError as exc:
        raise storage_error(
            f"write the dataset in {directory}", exc, "what was written so far stays"
        ) from None
    return result
