"""The ``sessionlab`` command: the same core the app uses, from a shell.

``sessionlab`` with no arguments opens the Textual app. Every user error ends
as one line on stderr and exit status 2, with nothing written.

The package: ``parser`` (the command line), ``making``, ``reading``, ``upkeep``,
``curation``, ``explore`` and ``export`` (the commands, by family), ``documents``
(the JSON output), ``printing`` (the text output) and ``common`` (what every
command needs). Here: ``main`` and the dispatch to the families.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from core.cli.common import EXIT_CANCELLED, EXIT_INTERNAL_ERROR, EXIT_USER_ERROR, _settings
from core.cli.parser import build_parser
from core.errors import CancelledError, SessionLabError, ValidationError, disk_problem, storage_error
from core.text import shown_line

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = ["main"]

log = logging.getLogger(__name__)


def _run(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """Hand the command to its family's module."""
    from core.cli import curation, explore, making, reading, upkeep
    from core.cli.export import run_export

    command = args.command
    if command in making.COMMANDS:
        return making.run(args, settings, out, err)
    if command in reading.COMMANDS:
        return reading.run(args, settings, out, err)
    if command in upkeep.COMMANDS:
        return upkeep.run(args, settings, out, err)
    if command == "export":
        return run_export(args, settings, out, err)
    if command in curation.COMMANDS:
        return curation.run(args, settings, out, err)
    if command in explore.COMMANDS:
        return explore.run(args, settings, out, err)
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
