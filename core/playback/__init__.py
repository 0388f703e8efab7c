"""Audition: play one clip at a time through sounddevice (PortAudio), loudness-matched.

One ``sounddevice.OutputStream`` with a callback reads from a numpy buffer under a
lock. A clip is read with ``core.audio.read_audio``, resampled to the device's
default rate only when the device refuses the file's rate, and scaled by
``core.audio.loudness_gain`` so that every clip plays at the same integrated
loudness (``TARGET_LUFS``) without its peak passing ``CEILING_DBFS``. The file on
disk is never touched. The gain is cached per file (clips are immutable; the key
also holds the file's size and mtime).

Threads
    ``on_finished(path)`` and ``on_error(sentence)`` are called on a short-lived
    background thread of the player, never on the caller's thread and never
    inside PortAudio's own thread: a Textual app must hop back to its loop
    (``app.call_from_thread``). Calling player methods from them is safe.
    ``monitor(block, path, position_sec)``, when set, is called on PortAudio's
    audio thread with a copy of every block written to the device (after gain);
    it must be quick (meters, tests).

State
    ``playing`` and ``paused`` are never both true: playing (True, False),
    paused (False, True), stopped or at the end of the clip (False, False). At the
    end of a clip (no loop) the clip stays loaded with ``position_sec ==
    duration_sec``; ``resume``/``toggle_pause`` then plays it again from the start.
    ``stop`` unloads the clip (``path`` None). While paused the stream keeps
    running and writes silence, so resume is instant and the position exact.

Failures
    No PortAudio library, no output device, a device that refuses to open: one
    sentence in a ``PlaybackError`` from ``play`` (and from ``check_audio_output``
    as a returned string). A stream that dies mid-play (device unplugged, server
    gone, an error in the callback): ``on_error(sentence)``, state back to not
    playing, and the next ``play`` opens a fresh stream (re-scanning PortAudio's
    device list first when no other stream is open).

Audition habits
    ``switch(path)`` puts another clip in at the position the current one has
    reached (A/B between two takes): same stream, same paused or playing state, no
    gap when both clips share a rate. ``volume_db`` (at most 0 dB, so the ceiling
    holds) scales what reaches the device on top of the loudness match, at once,
    even mid-clip. A device asked for that is not there: a ``PlaybackError``, or,
    with ``fallback_to_default``, the default device plays and ``take_notice()``
    returns one sentence saying so (once).

``sounddevice`` is imported inside functions only (core.audio_output, which also
lists devices and checks one): importing it loads PortAudio (and raises OSError
when the library is missing) and enumerates devices.
"""

from __future__ import annotations

# What core.playback offered before its split stays importable from it.
from core.audio import limit_peak, loudness_gain, read_audio, resample  # noqa: F401
from core.audio_output import (  # noqa: F401
    LATENCY,
    MAX_CHANNELS,
    NO_PORTAUDIO,
    PA_LOCK,
    OutputDevice,
    check_audio_output,
    describe,
    detail,
    import_sounddevice,
    output_devices,
    query_output,
    refresh_portaudio,
    streams,
)
from core.errors import AudioFileError, PlaybackError  # noqa: F401
from core.playback.loading import (  # noqa: F401
    _GAIN_CACHE_SIZE,
    CEILING_DBFS,
    ClipLoading,
    _Clip,
)
from core.playback.player import (  # noqa: F401
    _PLAYERS,
    MAX_VOLUME_DB,
    MIN_VOLUME_DB,
    Player,
    PlayerState,
    _close_all_players,
    _exit_hook_registered,
    _import_sounddevice,
    clamp_volume_db,
)
from core.playback.stream import (  # noqa: F401
    BLOCKSIZE,
    DEVICE_LOST,
    STOP_TIMEOUT,
    PlayerStream,
    _call_safely,
    _EndRun,
    log,
)
from core.settings import TARGET_LUFS  # noqa: F401

# The device side lives in core.audio_output; these names stay here for callers.
__all__ = [
    "CEILING_DBFS",
    "DEVICE_LOST",
    "MAX_VOLUME_DB",
    "MIN_VOLUME_DB",
    "NO_PORTAUDIO",
    "OutputDevice",
    "Player",
    "PlayerState",
    "check_audio_output",
    "clamp_volume_db",
    "output_devices",
]
