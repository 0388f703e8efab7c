"""The commands that only read: sessions, show and models."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from core.cli.common import _has_sessions, _no_session, _store
from core.cli.documents import _emit, _info_document, session_document
from core.cli.printing import _one_line, print_session
from core.errors import NotFoundError
from core.text import shown_line

if TYPE_CHECKING:
    from core.settings import Settings

COMMANDS = ("sessions", "show", "models")


def run(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    command = args.command
    if command == "sessions":
        return _sessions(args, settings, out)
    if command == "show":
        return _show(args, settings, out)
    return _models(args, settings, out)


def _sessions(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
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


def _show(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
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


def _models(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
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
