"""The ``sessionlab`` command line: the parser, its shared flags and every command's arguments.

The curation, exploring and export commands add their own (core.cli.curation,
core.cli.explore, core.cli.export).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.errors import ValidationError


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

    from core.cli import curation, explore
    from core.cli.export import add_export_parser

    curation.add_commands(commands, common)
    explore.add_commands(commands, common)
    add_export_parser(commands, common)
    return parser
