"""Domain errors. Each carries one readable sentence for the user."""

from __future__ import annotations

import errno


class SessionLabError(Exception):
    """Base class: ``str(error)`` is a sentence fit to show a musician."""


class ValidationError(SessionLabError):
    """Input the user gave is not acceptable (a bad brief, a bad count...)."""


class NotFoundError(SessionLabError):
    """A session, batch, cluster or track that does not exist."""


class GenerationFailedError(SessionLabError):
    """The music provider produced no clip at all."""


class CancelledError(SessionLabError):
    """The user cancelled; nothing of the unfinished batch was stored."""


class ProviderUnavailableError(SessionLabError):
    """A provider cannot run here: missing package, model, key or server."""


class AudioFileError(SessionLabError):
    """A file is not readable audio (not audio, empty, corrupt)."""


class StorageError(SessionLabError):
    """The data directory cannot be read or written."""


class PlaybackError(SessionLabError):
    """No audio library, no output device, or the device went away."""


# errno values that mean "the disk cannot take this write", whatever was being written.
_DISK_PROBLEMS = {
    errno.ENOSPC: "The disk is full",
    errno.EDQUOT: "The disk quota is used up",
    errno.EROFS: "The disk is read-only",
    errno.EFBIG: "The file would pass the size limit this system allows",
}


def disk_problem(exc: BaseException | None) -> OSError | None:
    """The OSError behind ``exc`` (itself, or what caused it) that says the disk refused a write."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _DISK_PROBLEMS:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def storage_error(action: str, exc: OSError, outcome: str = "nothing was stored") -> StorageError:
    """One sentence for an OSError while writing: a full, read-only or capped disk says so plainly."""
    reason = _DISK_PROBLEMS.get(exc.errno) if isinstance(exc, OSError) else None
    if reason is not None:
        return StorageError(f"{reason}, so Session Lab could not {action}; {outcome}.")
    return StorageError(f"Could not {action} ({exc.strerror or exc}).")
