"""The curation commands of ``sessionlab``: keep, rate, discard, note, tag, prefer,
rename-cluster, delete and dataset (core.cli.parser adds them, core.cli runs them).

Clips, batches, sessions and clusters are named by their ids or unique prefixes,
as everywhere in the CLI. Each command prints one line (or, with ``--json``, one
document); bad input is one sentence on stderr and writes nothing. ``delete``
asks first on a terminal; without a terminal it needs ``--yes``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from core import curation
from core.cli.common import _has_sessions
from core.cli.documents import _emit, _marks_document, deletion_document, preference_document
from core.cli.printing import _count, _one_line, curation_line
from core.curation_models import Deletion
from core.errors import NotFoundError, ValidationError
from core.validation import validate_rating

if TYPE_CHECKING:
    from core.settings import Settings
    from core.store import SessionStore

COMMANDS = ("keep", "rate", "discard", "note", "tag", "prefer", "rename-cluster", "delete", "dataset")


def _their_files(clips: int) -> str:
    return "its audio file" if clips == 1 else "their audio files"


def _whole(text: str) -> int | str:
    """A whole number as a number; other text as it is, for the rating's own one-line refusal
    ("4.5" gets "A rating must be a whole number from 1 to 5", not argparse's "invalid int value")."""
    try:
        return int(text)
    except ValueError:
        return text


def add_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    """Add the curation commands to the ``sessionlab`` sub-parsers."""
    keep = commands.add_parser("keep", help="star a clip (--undo takes the star back)", parents=common)
    keep.add_argument("track", help="clip id (or a unique prefix)")
    keep.add_argument("--undo", action="store_true", help="take the star back")
    keep.add_argument("--json", action="store_true")

    rate = commands.add_parser("rate", help="rate a clip from 1 to 5 (0 or --clear clears)", parents=common)
    rate.add_argument("track", help="clip id (or a unique prefix)")
    rate.add_argument("rating", nargs="?", type=_whole, help="1 to 5; 0 clears the rating")
    rate.add_argument("--clear", action="store_true", help="clear the rating")
    rate.add_argument("--json", action="store_true")

    discard = commands.add_parser(
        "discard",
        help="hide a clip from listings; it is never deleted (--undo shows it again)",
        parents=common,
    )
    discard.add_argument("track", help="clip id (or a unique prefix)")
    discard.add_argument("--undo", action="store_true", help="show the clip again")
    discard.add_argument("--json", action="store_true")

    note = commands.add_parser("note", help="write a note on a clip ('' removes it)", parents=common)
    note.add_argument("track", help="clip id (or a unique prefix)")
    note.add_argument("text", help="the note, at most 2,000 characters")
    note.add_argument("--json", action="store_true")

    tag = commands.add_parser("tag", help="tag a clip (--remove takes the tags off)", parents=common)
    tag.add_argument("track", help="clip id (or a unique prefix)")
    tag.add_argument("tags", nargs="+", metavar="TAG", help="one or more tags")
    tag.add_argument("--remove", action="store_true", help="take these tags off")
    tag.add_argument("--json", action="store_true")

    prefer = commands.add_parser(
        "prefer", help="say clip A is better than clip B (--same: neither is)", parents=common
    )
    prefer.add_argument("track_a", help="the better clip (id or unique prefix)")
    prefer.add_argument("track_b", help="the clip it was compared with")
    prefer.add_argument("--same", action="store_true", help="the two are as good as each other")
    prefer.add_argument("--json", action="store_true")

    rename = commands.add_parser(
        "rename-cluster",
        help="give a cluster your own name ('' goes back to the generated one)",
        parents=common,
    )
    rename.add_argument("session_id", help="session id (or a unique prefix)")
    rename.add_argument("cluster_id", help="cluster id (or a unique prefix)")
    rename.add_argument("name", help="the cluster's new name")
    rename.add_argument("--json", action="store_true")

    delete = commands.add_parser(
        "delete",
        help="delete a session, a batch or a clip with its audio files (asks first)",
        usage="sessionlab delete (SESSION | --batch BATCH | --track TRACK) [--yes] [--json]",
        parents=common,
    )
    delete.add_argument("session_id", nargs="?", help="session id (or a unique prefix)")
    delete.add_argument("--batch", help="delete this batch (id or unique prefix)")
    delete.add_argument("--track", help="delete this clip (id or unique prefix)")
    delete.add_argument("--yes", action="store_true", help="do not ask (needed without a terminal)")
    delete.add_argument("--json", action="store_true")

    dataset = commands.add_parser(
        "dataset",
        help="write ratings, keeps, discards, notes, tags and preferences as a training dataset",
        parents=common,
    )
    dataset.add_argument(
        "sessions", nargs="*", metavar="SESSION", help="session ids (default: every session)"
    )
    dataset.add_argument(
        "--to", required=True, type=Path, help="the dataset folder (empty, or an earlier dataset)"
    )
    dataset.add_argument("--json", action="store_true")


# ---------------------------------------------------------------- running


def _writing_store(settings: Settings, what: str) -> SessionStore:
    from core.store import SessionStore

    if not _has_sessions(settings):
        raise NotFoundError(
            f"No clip, batch or session matches {_one_line(what.strip(), 40)!r}: "
            f"there are no sessions in {settings.data_dir} yet."
        )
    return SessionStore(settings.data_dir)


def _confirm(question: str, yes: bool, err: TextIO, stdin: TextIO) -> None:
    """Go on when --yes was given or a person at a terminal says yes; refuse otherwise (one sentence)."""
    if yes:
        return
    if not (hasattr(stdin, "isatty") and stdin.isatty()):
        raise ValidationError("Deleting asks first, and there is no terminal to ask at: add --yes to delete.")
    err.write(f"{question} This cannot be undone. [y/N] ")
    err.flush()
    answer = stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise ValidationError("Nothing was deleted.")


def run(
    args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO, stdin: TextIO | None = None
) -> int:
    command = args.command
    stdin = stdin or sys.stdin
    if command == "dataset":
        return _dataset(args, settings, out)
    if command == "rename-cluster":
        store = _writing_store(settings, args.session_id)
        session_id = store.resolve_session_id(args.session_id)
        cluster_id = store.resolve_cluster_id(session_id, args.cluster_id)
        curation.rename_cluster(store, session_id, cluster_id, args.name)
        cluster = store.get_cluster(session_id, cluster_id)
        name = store.get_cluster_names(session_id).get(cluster_id)
        effective = curation.effective_label(cluster, store.get_cluster_names(session_id))
        if args.json:
            _emit(
                {
                    "session_id": str(session_id),
                    "cluster_id": str(cluster_id),
                    "name": name,
                    "label": cluster.label,
                    "effective_label": effective,
                },
                out,
            )
        elif name:
            out.write(f"cluster {str(cluster_id)[:8]} is now {_one_line(name, 60)!r}")
            out.write(f" (generated: {_one_line(cluster.label, 40)!r})\n")
        else:
            out.write(
                f"cluster {str(cluster_id)[:8]} has its generated name {_one_line(cluster.label, 60)!r}\n"
            )
        return 0
    if command == "delete":
        return _delete(args, settings, out, err, stdin)
    if command == "prefer":
        store = _writing_store(settings, args.track_a)
        track_a = store.resolve_track_id(args.track_a)
        track_b = store.resolve_track_id(args.track_b)
        pref = curation.prefer(store, track_a, track_b, "same" if args.same else "a")
        if args.json:
            _emit(preference_document(pref), out)
        elif args.same:
            out.write(f"{str(track_a)[:8]} and {str(track_b)[:8]}: as good as each other\n")
        else:
            out.write(f"preferred {str(track_a)[:8]} over {str(track_b)[:8]}\n")
        return 0
    if command == "rate" and not args.clear and args.rating not in (None, 0):
        validate_rating(args.rating)  # before anything is opened
    store = _writing_store(settings, args.track)
    track_id = store.resolve_track_id(args.track)
    if command == "keep":
        marks = curation.keep(store, track_id, kept=not args.undo)
    elif command == "rate":
        if args.clear and args.rating not in (None, 0):
            raise ValidationError("Give a rating or --clear, not both.")
        if not args.clear and args.rating is None:
            raise ValidationError("Give a rating from 1 to 5 (0 or --clear clears it).")
        marks = curation.rate(store, track_id, None if args.clear or args.rating == 0 else args.rating)
    elif command == "discard":
        marks = curation.discard(store, track_id, discarded=not args.undo)
    elif command == "note":
        marks = curation.set_note(store, track_id, args.text)
    elif command == "tag":
        change = curation.remove_tags if args.remove else curation.add_tags
        marks = change(store, track_id, args.tags)
    else:
        raise ValidationError(f"Unknown command {command!r}.")
    if args.json:
        _emit(_marks_document(store, track_id, marks), out)
    else:
        out.write(f"{str(track_id)[:8]}  {curation_line(marks) or '(no marks)'}\n")
    return 0


def _delete(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    given = [x for x in (args.session_id, args.batch, args.track) if x is not None]
    if len(given) != 1:
        raise ValidationError("Name exactly one thing to delete: a SESSION, --batch BATCH or --track TRACK.")
    store = _writing_store(settings, given[0])
    if args.track is not None:
        track_id = store.resolve_track_id(args.track)
        session = store.require_session_head(store.track_session_id(track_id))
        question = f"Delete clip {track_id} of session {_one_line(session.title, 40)!r} and its audio file?"
        _confirm(question, args.yes, err, stdin)
        gone = curation.delete_track(store, track_id)
    elif args.batch is not None:
        batch_id = store.resolve_batch_id(args.batch)
        session_id = store.batch_session_id(batch_id)
        batch = store.get_batch(session_id, batch_id)
        count = len(batch.tracks) if batch else 0
        question = f"Delete batch {batch_id} ({_count(count, 'clip')}) and {_their_files(count)}?"
        _confirm(question, args.yes, err, stdin)
        gone = curation.delete_batch(store, batch_id)
    else:
        session_id = store.resolve_session_id(args.session_id)
        session = store.require_session(session_id)
        question = (
            f"Delete session {session_id} {_one_line(session.title, 40)!r} with its "
            f"{_count(len(session.tracks), 'clip')} and {_their_files(len(session.tracks))}?"
        )
        _confirm(question, args.yes, err, stdin)
        store.delete_session(session_id)
        gone = Deletion(
            session_id=session_id,
            track_ids=tuple(t.id for t in session.tracks),
            cluster_ids=tuple(c.id for c in session.clusters),
            batch_ids=tuple(b.id for b in session.batches),
            session_removed=True,
        )
    if args.json:
        _emit(deletion_document(gone), out)
        return 0
    what = f"deleted {_count(len(gone.track_ids), 'clip')} and {_their_files(len(gone.track_ids))}"
    if gone.session_removed:
        what += f"; session {str(gone.session_id)[:8]} went with its last batch"
    elif gone.batch_ids and args.track is not None:
        what += f"; its batch {str(gone.batch_ids[0])[:8]} had no other clip and went too"
    elif gone.cluster_ids and args.track is not None:
        what += f"; its cluster {str(gone.cluster_ids[0])[:8]} had no other clip and went too"
    out.write(what + "\n")
    for left in gone.files_left:
        err.write(f"note: could not remove {_one_line(left, 200)}; the next start keeps it aside\n")
    return 0


def _dataset(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from core.export.dataset import write_dataset
    from core.store import SessionStore

    if not _has_sessions(settings):
        raise NotFoundError(
            f"There are no sessions in {settings.data_dir} yet, so there is nothing to export."
        )
    store = SessionStore(settings.data_dir, read_only=True)
    session_ids = [store.resolve_session_id(text) for text in args.sessions]
    result = write_dataset(store, session_ids or None, args.to)
    if args.json:
        _emit(result.document(), out)
    else:
        out.writelines(f"{line}\n" for line in result.lines())
    return 0
