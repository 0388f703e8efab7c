"""Domain errors. Each carries one readable sentence for the user."""

from __future__ import annotations


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
