"""Logging, configured once per process by whoever starts it (the CLI or the app).

- Every record goes as one JSON line (time, level, logger, message, and session,
  batch, stage, elapsed_ms where the code knows them) to a rotating file in the
  user log dir (``SESSIONLAB_LOG_DIR`` overrides it). If that dir cannot be
  written, logging goes on without the file.
- The terminal gets one readable line only for an error nobody else has told the
  user about. Warnings (a namer fell back, a clip could not be analysed) reach
  the user once, as the CLI's notices or the app's notifications, not also as a
  log line; an error the code turns into the command's own error line is logged
  with ``extra={"reported": True}`` and stays in the file.
- The app passes no stream: nothing may draw over its screen. Python warnings go
  to the file too.

Give a record its context with ``extra``::

    log.info("stage done", extra={"session": sid, "batch": bid, "stage": "embedding", "elapsed_ms": 12.5})
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from core import paths

LOG_DIR_ENV = "SESSIONLAB_LOG_DIR"
LOG_FILE = "sessionlab.log"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MAX_BYTES = 1_000_000
BACKUP_COUNT = 3
CONTEXT_FIELDS = ("session", "batch", "stage", "elapsed_ms")

_installed: list[logging.Handler] = []


def log_dir() -> Path:
    """Where the log file goes: ``SESSIONLAB_LOG_DIR`` or the user log dir."""
    override = os.environ.get(LOG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return platformdirs.user_log_path(paths.APP_NAME)


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record, ASCII only (a lone surrogate from a bad byte cannot break the file)."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is None:
                continue
            if key == "elapsed_ms":
                document[key] = round(float(value), 1)
            else:
                document[key] = str(value)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=True, default=str)


class _TerminalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        from core.text import shown_line

        return f"sessionlab: {shown_line(record.getMessage())}"


class _QuietFileHandler(logging.handlers.RotatingFileHandler):
    """A log file made at its first record (a run that logs nothing writes nothing), that never
    complains on the terminal when it cannot be written (a full disk)."""

    def _open(self):  # type: ignore[no-untyped-def]
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        pass


def _writable(directory: Path) -> bool:
    """Whether ``directory`` is, or could be made, a writable dir (nothing is created to find out)."""
    probe = directory.absolute()
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


class _QuietStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        pass


def _not_reported(record: logging.LogRecord) -> bool:
    return not getattr(record, "reported", False)


def level_number(level: str) -> int:
    name = str(level).strip().upper()
    if name not in LEVELS:
        raise ValueError(name)
    return int(logging.getLevelName(name))


def configure(
    level: str = "INFO", *, stream: TextIO | None = None, directory: Path | None = None
) -> Path | None:
    """Set up logging for this process (again if called again); return the log file, or None without one.

    ``stream`` is where the one-line errors go (stderr for the CLI); None for the app.
    """
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()
    root.setLevel(level_number(level))
    # Never Python's last-resort handler (it prints warnings on stderr, over the app).
    _installed.append(logging.NullHandler())
    log_file: Path | None = None
    try:
        where = directory if directory is not None else log_dir()
        if not _writable(where):
            raise PermissionError(where)
        file_handler = _QuietFileHandler(
            where / LOG_FILE, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
        )
    except (OSError, ValueError):
        pass  # no log file: go on without it
    else:
        file_handler.setFormatter(JsonLineFormatter())
        _installed.append(file_handler)
        log_file = where / LOG_FILE
    if stream is not None:
        terminal = _QuietStreamHandler(stream)
        terminal.setLevel(logging.ERROR)
        terminal.addFilter(_not_reported)
        terminal.setFormatter(_TerminalFormatter())
        _installed.append(terminal)
    for handler in _installed:
        root.addHandler(handler)
    logging.captureWarnings(True)
    return log_file
