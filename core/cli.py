"""The ``sessionlab`` command: the same core the app uses, from a shell.

``sessionlab`` with no arguments opens the Textual app. Every user error ends
as one line on stderr and exit status 2, with nothing written.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from core.errors import CancelledError, SessionLabError, ValidationError, disk_problem, storage_error
from core.models import Batch, BriefParams, Session, SessionInfo

EXIT_USER_ERROR = 2
EXIT_CANCELLED = 130


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ValidationError(f"{message} (see '{self.prog} --help').")


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
    )
    parser.add_argument("--data-dir", type=Path, help="where sessions live (default: the user data dir)")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    gen = commands.add_parser("generate", help="start a session from a brief")
    gen.add_argument("--brief", required=True, help="what the music should be (at most 2,000 characters)")
    gen.add_argument("--energy", type=float, default=0.5, help="0 (calm) to 1 (intense); default 0.5")
    gen.add_argument("--density", type=float, default=0.5, help="0 (sparse) to 1 (busy); default 0.5")
    gen.add_argument("--duration", type=float, default=10.0, help="seconds per clip, at most 30; default 10")
    gen.add_argument("--clips", type=int, default=None, help="number of clips (default: the max batch size)")
    gen.add_argument("--seed", type=int, help="batch seed, to make a batch again exactly")
    gen.add_argument("--json", action="store_true", help="print the session as one JSON document")
    _provider_flags(gen)

    more = commands.add_parser("more", help="generate more like a cluster")
    more.add_argument("session_id", help="session id (or a unique prefix)")
    more.add_argument("cluster_id", help="cluster id (or a unique prefix)")
    more.add_argument("--clips", type=int, default=None, help="number of clips (default: the max batch size)")
    more.add_argument("--seed", type=int, help="batch seed")
    more.add_argument("--json", action="store_true")
    _provider_flags(more)

    imp = commands.add_parser(
        "import",
        help="bring your own clips into a session",
        usage="sessionlab import (SESSION_ID | --new) FILE [FILE ...] [--json]",
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

    ls = commands.add_parser("sessions", help="list saved sessions, newest first")
    ls.add_argument("--json", action="store_true")

    show = commands.add_parser("show", help="show one session")
    show.add_argument("session_id")
    show.add_argument("--json", action="store_true")

    models = commands.add_parser("models", help="list engines, embedders and namers and whether they can run")
    models.add_argument("--json", action="store_true")
    return parser


# ---------------------------------------------------------------- documents


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def batch_document(batch: Batch) -> dict[str, Any]:
    tracks = {t.id: t for t in batch.tracks}
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
                "parent_cluster_id": str(c.parent_cluster_id) if c.parent_cluster_id else None,
                "track_ids": [str(t) for t in c.track_ids],
                "tracks": [_track_document(tracks[t]) for t in c.track_ids if t in tracks],
            }
            for c in batch.clusters
        ],
    }


def _track_document(track: Any) -> dict[str, Any]:
    return {
        "id": str(track.id),
        "cluster_id": str(track.cluster_id),
        "path": str(track.path),
        "duration_sec": round(track.duration_sec, 3),
        "similarity": track.similarity,
        "seed": track.seed,
        "source": track.source,
        "raw_prompt": track.raw_prompt,
    }


def session_document(session: Session) -> dict[str, Any]:
    return {
        "id": str(session.id),
        "name": session.name,
        "created_at": _iso(session.created_at),
        "updated_at": _iso(session.updated_at),
        "brief_text": session.brief_text,
        "params": session.params.to_dict(),
        "batches": [batch_document(b) for b in session.batches],
        "tracks": [_track_document(t) for t in session.tracks],
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
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def print_session(session: Session, out: TextIO, only_batch: uuid.UUID | None = None) -> None:
    out.write(f"Session {session.id}  {_one_line(session.title)}\n")
    labels = {c.id: c.label for c in session.clusters}
    for batch in session.batches:
        if only_batch is not None and batch.id != only_batch:
            continue
        origin = ""
        if batch.parent_cluster_id is not None:
            origin = f" more like {labels.get(batch.parent_cluster_id, '?')!r}"
        out.write(
            f"\n  Batch {batch.id} ({batch.kind}{origin}, {batch.num_generated}/{batch.num_requested} clips, "
            f"{batch.engine}, seed {batch.seed})\n"
        )
        tracks = {t.id: t for t in batch.tracks}
        for cluster in batch.clusters:
            out.write(f"    Cluster {cluster.id}  {cluster.label}  ({len(cluster.track_ids)} clips)\n")
            for track_id in cluster.track_ids:
                track = tracks.get(track_id)
                if track is None:
                    continue
                sim = f"  sim {track.similarity:.2f}" if track.similarity is not None else ""
                src = f"  from {track.source}" if track.source else ""
                out.write(f"      {track.duration_sec:5.1f}s{sim}  {track.path}{src}\n")


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


def _settings(args: argparse.Namespace) -> Any:
    from core.settings import load_settings

    return load_settings(data_dir=args.data_dir)


def _service(args: argparse.Namespace, settings: Any) -> Any:
    from core.service import SessionService

    return SessionService.from_settings(
        settings,
        engine=getattr(args, "engine", None),
        model=getattr(args, "model", None),
        embedder=getattr(args, "embedder", None),
        embedder_model=getattr(args, "embedder_model", None),
        namer=getattr(args, "namer", None),
    )


def _store(settings: Any) -> Any:
    """For reading commands: opened read-only, so they work on a read-only dir, a full disk or a backup."""
    from core.store import SessionStore

    return SessionStore(settings.data_dir, read_only=True)


def _emit(document: Any, out: TextIO) -> None:
    json.dump(document, out, indent=2, ensure_ascii=False)
    out.write("\n")


def _notices(service: Any, err: TextIO) -> None:
    for notice in service.notices:
        err.write(f"note: {notice}\n")


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = _settings(args)
    command = args.command
    if command == "generate":
        params = BriefParams(energy=args.energy, density=args.density, duration_sec=args.duration)
        clips = args.clips if args.clips is not None else settings.max_batch_size
        service = _service(args, settings)
        bar = _ProgressBar(err)
        try:
            session = service.create_initial_batch(args.brief, params, clips, seed=args.seed, progress=bar)
        finally:
            bar.close()
        _notices(service, err)
        _emit(session_document(session), out) if args.json else print_session(session, out)
        return 0
    if command == "more":
        service = _service(args, settings)
        session_id = service.store.resolve_session_id(args.session_id)
        cluster_id = service.store.resolve_cluster_id(session_id, args.cluster_id)
        clips = args.clips if args.clips is not None else settings.max_batch_size
        bar = _ProgressBar(err)
        try:
            batch = service.more_like_cluster(session_id, cluster_id, clips, seed=args.seed, progress=bar)
        finally:
            bar.close()
        _notices(service, err)
        session = service.store.require_session(session_id)
        if args.json:
            document = session_document(session)
            document["batch"] = batch_document(batch)
            _emit(document, out)
        else:
            print_session(session, out, only_batch=batch.id)
        return 0
    if command == "import":
        service = _service(args, settings)
        files = [Path(t) for t in (args.targets if args.new else args.targets[1:])]
        if not files:
            raise ValidationError("Name a session (or --new) and at least one audio file to import.")
        session_id = None if args.new else service.store.resolve_session_id(args.targets[0])
        bar = _ProgressBar(err)
        try:
            session = service.import_clips(session_id, files, progress=bar)
        finally:
            bar.close()
        _notices(service, err)
        if args.json:
            _emit(session_document(session), out)
        else:
            print_session(session, out, only_batch=session.batches[-1].id)
        return 0
    if command == "sessions":
        infos = _store(settings).list_sessions()
        if args.json:
            _emit([_info_document(i) for i in infos], out)
        elif not infos:
            out.write("No sessions yet. Start one: sessionlab generate --brief 'warm lofi piano'\n")
        else:
            for info in infos:
                stamp = info.updated_at.astimezone().strftime("%Y-%m-%d %H:%M")
                out.write(f"{info.id}  {stamp}  {info.num_tracks:3d} clips  {_one_line(info.title, 60)}\n")
        return 0
    if command == "show":
        store = _store(settings)
        session = store.require_session(store.resolve_session_id(args.session_id))
        _emit(session_document(session), out) if args.json else print_session(session, out)
        return 0
    if command == "models":
        from core.providers.inventory import list_providers

        statuses = list_providers(settings)
        if args.json:
            _emit([s.__dict__ for s in statuses], out)
        else:
            for s in statuses:
                state = "ready" if s.installed and s.configured and s.present is not False else "not ready"
                model = f" [{s.model}]" if s.model else ""
                out.write(f"{s.role:<10} {s.name:<12} {state:<10} {s.summary}{model}")
                out.write(f" — {s.detail}\n" if s.detail else "\n")
        return 0
    raise ValidationError(f"Unknown command {command!r}.")


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    open_app: Callable[[Any], None] | None = None,
) -> int:
    """Run one command. With no command, ``open_app(settings)`` runs the app (help if None)."""
    out = out or sys.stdout
    err = err or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            if open_app is None:
                build_parser().print_help(out)
                return 0
            open_app(_settings(args))
            return 0
        return _run(args, out, err)
    except CancelledError:
        err.write("sessionlab: cancelled; nothing was stored.\n")
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        err.write("\nsessionlab: cancelled; nothing was stored.\n")
        return EXIT_CANCELLED
    except SessionLabError as exc:
        err.write(f"sessionlab: {' '.join(str(exc).split())}\n")
        return EXIT_USER_ERROR
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if disk_problem(exc) is None:
            raise
        err.write(
            f"sessionlab: {storage_error('finish the command', disk_problem(exc), 'nothing more was stored')}\n"
        )
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
