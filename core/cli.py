"""The ``sessionlab`` command: the same core the app uses, from a shell.

``sessionlab`` with no arguments opens the Textual app. Every user error ends
as one line on stderr and exit status 2, with nothing written.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from core.errors import (
    CancelledError,
    NotFoundError,
    SessionLabError,
    ValidationError,
    disk_problem,
    storage_error,
)
from core.models import (
    BATCH_EXTEND,
    Batch,
    BriefParams,
    Curation,
    Session,
    SessionInfo,
    Track,
    parse_length,
    validate_brief,
    validate_num_clips,
)
from core.text import shown_line

if TYPE_CHECKING:
    from core.service import SessionService
    from core.settings import Settings
    from core.store import SessionStore

EXIT_USER_ERROR = 2
EXIT_CANCELLED = 130
EXIT_INTERNAL_ERROR = 1

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ValidationError(f"{message} (see '{self.prog} --help').")


def _data_dir(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("the data dir is empty: name a folder")
    return Path(text)


def _common_flags(*, after_command: bool) -> argparse.ArgumentParser:
    """--data-dir, accepted before the command and after it (``sessionlab sessions --data-dir X``)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=_data_dir,
        # After the command: only set when given, so it never hides a --data-dir given before.
        default=argparse.SUPPRESS if after_command else None,
        help="where sessions live (default: the user data dir)",
    )
    return common


def _provider_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("providers (defaults from settings)")
    group.add_argument("--engine", help="music engine: sketch (default), musicgen, hf-endpoint")
    group.add_argument("--model", help="model id or local path for the engine")
    group.add_argument("--embedder", help="embedder: features (default), clap")
    group.add_argument("--embedder-model", help="model id or local path for the embedder")
    group.add_argument("--namer", help="cluster namer: describe (default), openai")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sessionlab",
        description="Session Lab: write a brief, get clips grouped by how they sound, ask for more like a group. "
        "Run without arguments to open the app.",
        parents=[_common_flags(after_command=False)],
    )
    common = [_common_flags(after_command=True)]
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    gen = commands.add_parser("generate", help="start a session from a brief", parents=common)
    gen.add_argument("--brief", required=True, help="what the music should be (at most 2,000 characters)")
    gen.add_argument("--energy", type=float, default=0.5, help="0 (calm) to 1 (intense); default 0.5")
    gen.add_argument("--density", type=float, default=0.5, help="0 (sparse) to 1 (busy); default 0.5")
    gen.add_argument(
        "--duration",
        type=float,
        default=10.0,
        help="seconds per clip (the engine's limit: sessionlab models); default 10",
    )
    gen.add_argument("--clips", type=int, default=None, help="number of clips (default: the max batch size)")
    gen.add_argument(
        "--bpm", type=float, help="tempo in beats per minute (30 to 300); default: the engine's choice"
    )
    gen.add_argument("--key", help="key, e.g. 'A minor' or 'F#'; default: the engine's choice")
    gen.add_argument("--lyrics", help="lyrics to sing (engines that sing: ace-step)")
    gen.add_argument("--seed", type=int, help="batch seed, to make a batch again exactly")
    gen.add_argument("--json", action="store_true", help="print the session as one JSON document")
    _provider_flags(gen)

    more = commands.add_parser("more", help="generate more like a cluster", parents=common)
    more.add_argument("session_id", help="session id (or a unique prefix)")
    more.add_argument("cluster_id", help="cluster id (or a unique prefix)")
    more.add_argument("--clips", type=int, default=None, help="number of clips (default: the max batch size)")
    more.add_argument("--seed", type=int, help="batch seed")
    more.add_argument(
        "--strength",
        metavar="STRENGTH",
        help="how far from the cluster: close, near, balanced, far or loose (default: the"
        " variation_strength setting; engines that take one: sketch, stable-audio, ace-step)",
    )
    more.add_argument("--json", action="store_true")
    _provider_flags(more)

    ext = commands.add_parser(
        "extend", help="continue a clip past its end: a new, longer clip beside it", parents=common
    )
    ext.add_argument("track", metavar="TRACK", help="clip id (or a unique prefix)")
    ext.add_argument(
        "--to",
        required=True,
        metavar="LENGTH",
        help="length of the new clip: seconds (90) or minutes:seconds (1:30)",
    )
    ext.add_argument("--seed", type=int, help="seed, to extend again exactly")
    ext.add_argument("--json", action="store_true")
    _provider_flags(ext)

    imp = commands.add_parser(
        "import",
        help="bring your own clips into a session",
        usage="sessionlab import (SESSION_ID | --new) FILE [FILE ...] [--json]",
        parents=common,
    )
    imp.add_argument("--new", action="store_true", help="start a new session from the files")
    imp.add_argument(
        "targets",
        nargs="+",
        metavar="SESSION_ID FILE",
        help="a session id (unless --new), then WAV/FLAC/OGG/MP3 files",
    )
    imp.add_argument("--json", action="store_true")
    _provider_flags(imp)

    ls = commands.add_parser("sessions", help="list saved sessions, newest first", parents=common)
    ls.add_argument("--json", action="store_true")

    show = commands.add_parser("show", help="show one session", parents=common)
    show.add_argument("session_id")
    show.add_argument(
        "--all", action="store_true", help="list discarded clips too (--json always lists them)"
    )
    show.add_argument("--json", action="store_true")

    reembed = commands.add_parser(
        "reembed", help="embed a session's clips in the chosen embedder's space", parents=common
    )
    reembed.add_argument("session_id")
    reembed.add_argument("--embedder", help="embedder: features (default), clap")
    reembed.add_argument("--embedder-model", help="model id, local path or features version (v1, v2, v3)")
    reembed.add_argument("--json", action="store_true")

    models = commands.add_parser(
        "models", help="list engines, embedders and namers and whether they can run", parents=common
    )
    models.add_argument("--json", action="store_true")

    recover = commands.add_parser(
        "recover", help="bring back sessions and batches the database lost, from the manifests and backups"
    )
    recover.add_argument("--no-backups", action="store_true", help="use only the manifests beside the audio")
    recover.add_argument("--json", action="store_true")
    doctor = commands.add_parser("doctor", help="check the data dir (database, audio, kept-aside files)")
    doctor.add_argument("--repair", action="store_true", help="fix what can be fixed without losing anything")
    doctor.add_argument("--json", action="store_true")

    from core import cli_curation, cli_explore
    from core.cli_export import add_export_parser

    cli_curation.add_commands(commands, common)
    cli_explore.add_commands(commands, common)
    add_export_parser(commands, common)
    return parser


# ---------------------------------------------------------------- documents


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


# ---------------------------------------------------------------- text output


def _one_line(text: str, width: int = 70) -> str:
    """User, file or model text for one line of output: control characters shown harmlessly."""
    flat = " ".join(shown_line(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


SHORT_ID_CHARS = 8  # a clip's id as ``show`` prints it: enough for keep/rate/... (unique prefixes)


def short_ids(ids: Sequence[uuid.UUID], minimum: int = SHORT_ID_CHARS) -> dict[uuid.UUID, str]:
    """Each id's first ``minimum`` hex digits, or as many more as it takes to tell these ids apart."""
    hexes = {i: i.hex for i in ids}
    width = minimum
    while width < 32 and len({h[:width] for h in hexes.values()}) < len(hexes):
        width += 1
    return {i: h[:width] for i, h in hexes.items()}


def _batch_kind(batch: Batch, labels: dict[uuid.UUID, str]) -> str:
    """What made the batch, in words: a blend names both parents, a more-like or an extension its one."""

    def label(cluster_id: uuid.UUID | None) -> str:
        return f'"{_one_line(labels.get(cluster_id, "?") if cluster_id else "?", 40)}"'

    if batch.kind == BATCH_EXTEND:
        return f"extended from {label(batch.parent_cluster_id)}"
    if batch.parent_cluster_id is None:
        return shown_line(batch.kind)
    second = next((c.second_parent_cluster_id for c in batch.clusters if c.second_parent_cluster_id), None)
    if second is not None:
        return f"blend of {label(batch.parent_cluster_id)} and {label(second)}"
    return f"more like {label(batch.parent_cluster_id)}"


def print_session(
    session: Session,
    out: TextIO,
    labels: dict[uuid.UUID, str] | None = None,
    curations: dict[uuid.UUID, Curation] | None = None,
    names: dict[uuid.UUID, str] | None = None,
    *,
    show_discarded: bool = False,
) -> None:
    """The session's batches as text; ``labels`` names parent clusters of batches not in ``session``.

    Each clip shows its marks; discarded clips are left out (and counted) unless ``show_discarded``."""
    from core.cli_curation import curation_line
    from core.clipcheck import clip_file_problem

    curations = curations or {}
    names = names or {}
    hidden = 0
    out.write(f"Session {session.id}  {_one_line(session.title)}\n")
    labels = {**(labels or {}), **{c.id: names.get(c.id) or c.label for c in session.clusters}}
    clip_ids = short_ids([t.id for t in session.tracks])  # what keep, rate, tag... take
    for batch in session.batches:
        kind = _batch_kind(batch, labels)
        clips = f"{batch.num_generated}/{_count(batch.num_requested, 'clip')}"
        seed = f", seed {batch.seed}" if batch.seed is not None else ""
        engine = f", {shown_line(batch.engine)}" if batch.engine != batch.kind else ""  # "import" once
        out.write(f"\n  Batch {batch.id} ({kind}, {clips}{engine}{seed})\n")
        tracks = {t.id: t for t in batch.tracks}
        for cluster in batch.clusters:
            name = names.get(cluster.id)
            generated = f" (generated: {_one_line(cluster.label, 40)})" if name else ""
            out.write(
                f"    Cluster {cluster.id}  {_one_line(name or cluster.label, 60)}{generated}"
                f"  ({_count(len(cluster.track_ids), 'clip')})\n"
            )
            for track_id in cluster.track_ids:
                track = tracks.get(track_id)
                if track is None:
                    continue
                marks = curations.get(track_id, Curation())
                if marks.discarded and not show_discarded:
                    hidden += 1
                    continue
                sim = f"  sim {track.similarity:.2f}" if track.similarity is not None else ""
                src = f"  from {shown_line(track.source)}" if track.source else ""
                problem = clip_file_problem(track.path)
                mark = f"  [{problem}]" if problem else ""
                line = curation_line(marks)
                marked = f"  {line}" if line else ""
                out.write(
                    f"      {clip_ids[track.id]}  {track.duration_sec:5.1f}s{sim}  {shown_line(track.path)}"
                    f"{src}{mark}{marked}\n"
                )
    if hidden:
        out.write(
            f"\n  {_count(hidden, 'discarded clip')} hidden; 'sessionlab show {session.id} --all' lists them.\n"
        )


class _ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self.last < 0.05:
            return
        self.last = now
        width = 30
        filled = int(width * done / total) if total else width
        bar = "█" * filled + "░" * (width - filled)
        self.stream.write(f"\r{stage:<14} {bar} {done}/{total} ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


# ---------------------------------------------------------------- commands


def _settings(args: argparse.Namespace) -> Settings:
    from core.settings import load_settings

    return load_settings(data_dir=getattr(args, "data_dir", None))


def _service(args: argparse.Namespace, settings: Settings) -> SessionService:
    from core.service import SessionService

    return SessionService.from_settings(
        settings,
        engine=getattr(args, "engine", None),
        model=getattr(args, "model", None),
        embedder=getattr(args, "embedder", None),
        embedder_model=getattr(args, "embedder_model", None),
        namer=getattr(args, "namer", None),
    )


def _store(settings: Settings) -> SessionStore:
    """For reading commands: opened read-only, so they work on a read-only dir, a full disk or a backup."""
    from core.store import SessionStore

    return SessionStore(settings.data_dir, read_only=True)


def _has_sessions(settings: Settings) -> bool:
    """Whether the data dir holds a database at all: reading commands never create one."""
    return Path(settings.db_path).is_file()


def _no_session(settings: Settings, text: str) -> NotFoundError:
    return NotFoundError(
        f"No session matches {_one_line(text.strip(), 40)!r}: there are no sessions in {settings.data_dir} yet."
    )


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


def _notices(service: SessionService, err: TextIO) -> None:
    for notice in service.notices:
        err.write(f"note: {' '.join(shown_line(notice).split())}\n")


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


def _run(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    command = args.command
    if command == "generate":
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
    if command == "more":
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
    if command == "extend":
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
    if command == "import":
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
    if command == "sessions":
        from core.recovery import manifest_files
        from core.safekeeping import kept_aside_files

        infos = _store(settings).list_sessions() if _has_sessions(settings) else []
        if args.json:
            _emit([_info_document(i) for i in infos], out)
        elif not infos and (manifest_files(settings.data_dir) or any(kept_aside_files(settings.data_dir))):
            out.write("No sessions in the database, but clips are on disk: 'sessionlab recover' brings back")
            out.write(" the sessions they belong to.\n")
        elif not infos:
            out.write("No sessions yet. Start one: sessionlab generate --brief 'warm lofi piano'\n")
        else:
            for info in infos:
                stamp = info.updated_at.astimezone().strftime("%Y-%m-%d %H:%M")
                clips = f"{info.num_tracks:3d} {'clip ' if info.num_tracks == 1 else 'clips'}"
                out.write(f"{info.id}  {stamp}  {clips}  {_one_line(info.title, 60)}\n")
        return 0
    if command == "show":
        if not _has_sessions(settings):
            raise _no_session(settings, args.session_id)
        store = _store(settings)
        session_id = store.resolve_session_id(args.session_id)
        session = store.get_session(session_id, recipes=False)  # neither output shows how a clip was made
        if session is None:
            raise NotFoundError(f"No session {session_id}.")
        curations, names = store.get_curations(session_id), store.get_cluster_names(session_id)
        if args.json:
            _emit(session_document(session, curations, names), out)
        else:
            print_session(session, out, None, curations, names, show_discarded=args.all)
        return 0
    if command == "reembed":
        from core.providers import registry
        from core.reembed import reembed_session
        from core.store import SessionStore

        if not _has_sessions(settings):
            raise _no_session(settings, args.session_id)
        embedder = registry.create_embedder(settings, args.embedder, args.embedder_model)
        store = SessionStore(settings.data_dir)
        try:
            result = reembed_session(store, store.resolve_session_id(args.session_id), embedder)
        finally:
            store.close()
        if args.json:
            _emit(result.document(), out)
        else:
            out.write(
                f"{result.embedded} clips embedded in {shown_line(result.space)} ({result.already} already were),"
                f" {result.centroids} cluster centroids.\n"
            )
            out.writelines(f"not embedded: {shown_line(line)}\n" for line in result.unreadable)
        return 0
    if command == "models":
        from core.providers.inventory import list_providers

        statuses = list_providers(settings)
        if args.json:
            _emit([s.__dict__ for s in statuses], out)
        else:
            for s in statuses:
                state = "ready" if s.installed and s.configured and s.present is not False else "not ready"
                model = f" [{shown_line(s.model)}]" if s.model else ""
                out.write(f"{s.role:<10} {s.name:<12} {state:<10} {shown_line(s.summary)}{model}")
                out.write(f" — {shown_line(s.detail)}\n" if s.detail else "\n")
        return 0
    if command in ("recover", "doctor"):
        from core import doctor, recovery

        if command == "recover":
            report = recovery.recover_data_dir(settings.data_dir, use_backups=not args.no_backups)
            failed = bool(report.problems)
        else:
            report = doctor.examine(settings.data_dir, repair=args.repair)
            failed = not report.healthy
        if args.json:
            _emit(report.document(), out)
        else:
            out.writelines(f"{shown_line(line)}\n" for line in report.lines())
        return 1 if failed else 0
    if command == "export":
        from core.cli_export import run_export

        return run_export(args, settings, out, err)
    from core import cli_curation, cli_explore

    if command in cli_curation.COMMANDS:
        return cli_curation.run(args, settings, out, err)
    if command in cli_explore.COMMANDS:
        return cli_explore.run(args, settings, out, err)
    raise ValidationError(f"Unknown command {shown_line(command)!r}.")


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    open_app: Callable[[Settings], None] | None = None,
) -> int:
    """Run one command. With no command, ``open_app(settings)`` runs the app (help if None)."""
    out = out or sys.stdout
    err = err or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    log_file = None
    try:
        args = build_parser().parse_args(argv)
        if args.command is None and open_app is None:
            build_parser().print_help(out)
            return 0
        settings = _settings(args)
        from core import logs

        # The app gets no terminal handler: nothing may draw over its screen.
        log_file = logs.configure(settings.log_level, stream=err if args.command is not None else None)
        if args.command is None:
            assert open_app is not None
            open_app(settings)
            return 0
        return _run(args, settings, out, err)
    except CancelledError:
        err.write("sessionlab: cancelled; nothing was stored.\n")
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        err.write("\nsessionlab: cancelled; nothing was stored.\n")
        return EXIT_CANCELLED
    except SessionLabError as exc:
        err.write(f"sessionlab: {' '.join(shown_line(exc).split())}\n")
        return EXIT_USER_ERROR
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug, or a disk that refused: one line here, the traceback in the log file
        problem = disk_problem(exc) if isinstance(exc, OSError) else None
        if problem is not None:
            log.warning("the disk refused a write", exc_info=True, extra={"reported": True})
            err.write(
                f"sessionlab: {storage_error('finish the command', problem, 'nothing more was stored')}\n"
            )
            return EXIT_USER_ERROR
        log.exception("unexpected error", extra={"reported": True})
        where = f"; details in {shown_line(log_file)}" if log_file is not None else ""
        detail = " ".join(shown_line(exc).split()) or type(exc).__name__
        err.write(f"sessionlab: unexpected error ({type(exc).__name__}: {detail[:200]}){where}\n")
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
