"""What every command needs: exit statuses, settings, the service or a read-only store, notices."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from core.cli.printing import _one_line
from core.errors import NotFoundError
from core.text import shown_line

if TYPE_CHECKING:
    from core.service import SessionService
    from core.settings import Settings
    from core.store import SessionStore

EXIT_USER_ERROR = 2
EXIT_CANCELLED = 130
EXIT_INTERNAL_ERROR = 1


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


def _notices(service: SessionService, err: TextIO) -> None:
    for notice in service.notices:
        err.write(f"note: {' '.join(shown_line(notice).split())}\n")
