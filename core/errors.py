"""Domain errors. Each carries one readable sentence for the user."""

from __future__ import annotations

import errno
from collections.abc import Iterator


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


def sentence(exc: BaseException) -> str:
    """An exception as one short line for the user."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


# errno values that mean "the disk cannot take this write", whatever was being written.
_DISK_PROBLEMS = {
    errno.ENOSPC: "The disk is full",
    errno.EDQUOT: "The disk quota is used up",
    errno.EROFS: "The disk is read-only",
    errno.EFBIG: "The file would pass the size limit this system allows",
}


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc``, then what caused it, and so on (each once)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def disk_problem(exc: BaseException | None) -> OSError | None:
    """The OSError behind ``exc`` (itself, or what caused it) that says the disk refused a write."""
    return next((e for e in _chain(exc) if isinstance(e, OSError) and e.errno in _DISK_PROBLEMS), None)


def storage_error(action: str, exc: OSError, outcome: str = "nothing was stored") -> StorageError:
    """One sentence for an OSError while writing: a full, read-only or capped disk says so plainly."""
    reason = _DISK_PROBLEMS.get(exc.errno) if isinstance(exc, OSError) else None
    if reason is not None:
        return StorageError(f"{reason}, so Session Lab could not {action}; {outcome}.")
    return StorageError(f"Could not {action} ({exc.strerror or exc}).")


class OutOfMemoryError(ProviderUnavailableError):
    """The engine ran out of memory: it cannot make this batch here as set up.

    A ``ProviderUnavailableError``, so routing treats it as any engine that cannot run
    (``settings.fallback_engines``); its sentence says what to change (``out_of_memory``).
    """


# What allocators say when memory runs out: CUDA and MPS ("... out of memory"), the CPU
# allocator ("DefaultCPUAllocator: can't allocate memory"), the C library ("Cannot allocate memory").
_OUT_OF_MEMORY_WORDS = ("out of memory", "can't allocate memory", "cannot allocate memory")


def is_out_of_memory(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) says memory ran out, without importing torch:
    ``MemoryError``, torch's ``OutOfMemoryError`` (CUDA) or an allocator's RuntimeError (CPU, MPS)."""
    return any(_says_out_of_memory(e) for e in _chain(exc))


def _says_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError | OutOfMemoryError):
        return True
    if any(cls.__name__ == "OutOfMemoryError" for cls in type(exc).__mro__):  # torch.OutOfMemoryError
        return True
    return isinstance(exc, RuntimeError) and any(w in str(exc).lower() for w in _OUT_OF_MEMORY_WORDS)


def out_of_memory(
    who: str,
    device: str,
    doing: str,
    *,
    chunk_setting: str | None = None,
    chunk: int | None = None,
    shorter: str = "a shorter clip",
) -> OutOfMemoryError:
    """One line of advice: ``who`` ran out of memory on ``device`` ``doing`` something; try fewer
    clips per chunk (when ``chunk_setting`` is given and more than one clip went at once),
    ``shorter`` or a smaller model.

    Half precision is not offered: the engines already run half precision on CUDA, where it is
    safe (MusicGen goes back to float32 only when float16 gave NaNs), and no setting asks for it
    on MPS or a CPU."""
    advice = []
    if chunk_setting and chunk is not None and chunk > 1:
        advice.append(f"fewer clips at once (lower {chunk_setting}, now {chunk})")
    if shorter:
        advice.append(shorter)
    advice.append("a smaller model")
    options = ", ".join(advice[:-1]) + f" or {advice[-1]}" if len(advice) > 1 else advice[0]
    return OutOfMemoryError(f"{who} ran out of memory on {device} {doing}; try {options}.")
