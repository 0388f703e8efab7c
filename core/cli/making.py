"""The commands that make a batch: generate, more, extend and import."""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from core.cli.common import _has_sessions, _no_session, _notices, _service
from core.cli.documents import _emit, session_document
from core.cli.printing import _one_line, _ProgressBar, print_session
from core.errors import NotFoundError, ValidationError
from core.models import Batch, BriefParams
from core.validation import parse_length, validate_brief, validate_num_clips

if TYPE_CHECKING:
    from core.settings import Settings
    from core.store import SessionStore

COMMANDS = ("generate", "more", "extend", "import")


def run(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    command = args.command
    if command == "generate":
        return _generate(args, settings, out, err)
    if command == "more":
        return _more(args, settings, out, err)
    if command == "extend":
        return _extend(args, settings, out, err)
    return _import(args, settings, out, err)


def _generate(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """A new session from a brief."""
    # Everything checked before the service opens (and so creates) the data dir.
    params = BriefParams(
        energy=args.energy,
        density=args.density,
        duration_sec=args.duration,
        bpm=args.bpm,
        key=args.key,
        lyrics=args.lyrics or "",
    )
    clips = args.clips if args.clips is not None else settings.max_batch_size
    validate_brief(args.brief)
    validate_num_clips(clips, settings.max_batch_size)
    service = _service(args, settings)
    bar = _ProgressBar(err)
    try:
        session = service.create_initial_batch(args.brief, params, clips, seed=args.seed, progress=bar)
    finally:
        bar.close()
        _notices(service, err)  # a failed call's too: the fallbacks passed over, and why
    _emit(session_document(session), out) if args.json else print_session(session, out)
    return 0


def _more(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """A batch more like a cluster."""
    if not _has_sessions(settings):
        raise _no_session(settings, args.session_id)
    if args.strength is not None:  # checked against what the engine declares, before it is built
        from core.pipeline.steps import strength_for
        from core.providers.capabilities import ENGINES

        engine = getattr(args, "engine", None) or settings.engine
        if engine in ENGINES:  # an unknown one is named by the engine's own check
            strength_for(engine, ENGINES[engine], args.strength)
    service = _service(args, settings)
    session_id = service.store.resolve_session_id(args.session_id)
    cluster_id = service.store.resolve_cluster_id(session_id, args.cluster_id)
    clips = args.clips if args.clips is not None else settings.max_batch_size
    bar = _ProgressBar(err)
    try:
        batch = service.more_like_cluster(
            session_id, cluster_id, clips, seed=args.seed, progress=bar, strength=args.strength
        )
    finally:
        bar.close()
        _notices(service, err)  # a failed call's too: the fallbacks passed over, and why
    _print_new_batch(service.store, batch, args.json, out)
    return 0


def _extend(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """A longer clip continuing one."""
    length = parse_length(args.to)  # checked before anything is opened
    if not _has_sessions(settings):
        raise NotFoundError(
            f"No clip matches {_one_line(args.track.strip(), 40)!r}: there are no sessions yet."
        )
    service = _service(args, settings)
    track_id = service.store.resolve_track_id(args.track)
    bar = _ProgressBar(err)
    try:
        batch = service.extend_track(track_id, length, seed=args.seed, progress=bar)
    finally:
        bar.close()
        _notices(service, err)  # a failed call's too: the fallbacks passed over, and why
    _print_new_batch(service.store, batch, args.json, out)
    return 0


def _import(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """The musician's own files, into a session or a new one."""
    from core.audio import check_import

    files = [Path(t) for t in (args.targets if args.new else args.targets[1:])]
    if not files:
        raise ValidationError("Name a session (or --new) and at least one audio file to import.")
    if not args.new and not _has_sessions(settings):
        raise _no_session(settings, args.targets[0])
    for file in files:  # a bad file is refused before anything is written
        check_import(file.expanduser())
    service = _service(args, settings)
    session_id = None if args.new else service.store.resolve_session_id(args.targets[0])
    bar = _ProgressBar(err)
    try:
        batch = service.import_clips(session_id, files, progress=bar)
    finally:
        bar.close()
        _notices(service, err)  # a failed call's too: the fallbacks passed over, and why
    _print_new_batch(service.store, batch, args.json, out)
    return 0


def _print_new_batch(store: SessionStore, batch: Batch, as_json: bool, out: TextIO) -> None:
    """The session's own fields and the one batch just made: the rest of the session is not read."""
    session = store.require_session_head(batch.session_id)
    session.batches = [batch]
    if as_json:
        _emit(session_document(session), out)
        return
    # The parents (a blend has two) as the musician sees them: their own name where they gave one.
    names = store.get_cluster_names(batch.session_id)
    labels: dict[uuid.UUID, str] = {}
    parents = {batch.parent_cluster_id, *(c.second_parent_cluster_id for c in batch.clusters)}
    for parent_id in parents - {None}:
        parent = store.get_cluster(batch.session_id, parent_id)  # type: ignore[arg-type]
        if parent is not None:
            labels[parent.id] = names.get(parent.id) or parent.label
    print_session(session, out, labels, names=names)
