"""The commands that look after the data: reembed, recover and doctor."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from core.cli.common import _has_sessions, _no_session
from core.cli.documents import _emit
from core.text import shown_line

if TYPE_CHECKING:
    from core.settings import Settings

COMMANDS = ("reembed", "recover", "doctor")


def run(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    command = args.command
    if command == "reembed":
        return _reembed(args, settings, out)
    return _recover_or_doctor(args, settings, out, command)


def _reembed(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
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


def _recover_or_doctor(args: argparse.Namespace, settings: Settings, out: TextIO, command: str) -> int:
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
