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

import atexit
import contextlib
import functools
import logging
import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from core.audio import limit_peak, loudness_gain, read_audio, resample
from core.audio_output import (
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
from core.errors import AudioFileError, PlaybackError
from core.settings import TARGET_LUFS

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

log = logging.getLogger(__name__)

CEILING_DBFS = -1.0  # sample-peak ceiling of what reaches the device
MIN_VOLUME_DB = -60.0  # the quietest volume step above silence; lower means muted
MAX_VOLUME_DB = 0.0  # never above the loudness match: the peak ceiling must hold
BLOCKSIZE = 1024  # frames per callback: 21-32 ms at 48-32 kHz
_GAIN_CACHE_SIZE = 4096

DEVICE_LOST = "Playback stopped: the audio output device stopped working or was disconnected."

STOP_TIMEOUT = 2.0  # seconds to wait for the callback to end a run before aborting the stream
_PLAYERS: weakref.WeakSet[Player] = weakref.WeakSet()
_exit_hook_registered = False


def _close_all_players() -> None:
    """At exit, end runs gracefully before sounddevice's own exit handler terminates PortAudio."""
    for player in list(_PLAYERS):
        with contextlib.suppress(Exception):
            player.close()


@dataclass(frozen=True)
class PlayerState:
    path: Path | None
    position_sec: float
    duration_sec: float
    playing: bool
    paused: bool
    loop: bool
    gain_db: float  # the loudness-matching gain applied to this clip
    volume_db: float = 0.0  # the listener's volume, on top of the loudness match


@dataclass(frozen=True)
class _Clip:
    path: Path
    buffer: np.ndarray  # (frames, channels) float32 at the stream's rate, gain applied
    rate: int
    gain_db: float


def _import_sounddevice() -> ModuleType:
    sd = import_sounddevice()
    global _exit_hook_registered
    if not _exit_hook_registered:
        # atexit runs last-registered first: after sounddevice's import, so ours runs before its.
        atexit.register(_close_all_players)
        _exit_hook_registered = True
    return sd


def clamp_volume_db(volume_db: float) -> float:
    """A volume in dB held to [MIN_VOLUME_DB, MAX_VOLUME_DB] (anything lower is muted: -inf)."""
    if not math.isfinite(volume_db) and volume_db > 0:
        return MAX_VOLUME_DB
    if volume_db < MIN_VOLUME_DB or math.isnan(volume_db):
        return -math.inf
    return min(MAX_VOLUME_DB, float(volume_db))


class Player:
    """Plays one clip at a time; see the module docstring for threads and states."""

    def __init__(
        self,
        *,
        target_lufs: float = TARGET_LUFS,
        device: int | str | None = None,
        on_finished: Callable[[Path], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        volume_db: float = 0.0,
        fallback_to_default: bool = False,
    ) -> None:
        self.target_lufs = target_lufs
        self.on_finished = on_finished
        self.on_error = on_error
        self.monitor: Callable[[np.ndarray, Path | None, float], None] | None = None
        self._device = device
        self._notice: str | None = None  # a device asked for was missing: said once
        self._fell_back = False
        self.fallback_to_default = fallback_to_default
        self._gains: dict[tuple[str, int, int], float] = {}
        self._gains_lock = threading.Lock()  # prepare() may run on a worker while play() runs
        self._op_lock = threading.RLock()  # serialises play/stop/... (never taken by PortAudio's thread)
        self._lock = threading.Lock()  # state shared with the audio callback
        self._sd: ModuleType | None = None
        self._stream: Any = None
        self._stream_key: tuple[int, int, int] | None = None
        self._stream_token = 0
        self._broken = False
        self._rates_refused: set[tuple[int, int, int]] = set()
        # Below: guarded by self._lock.
        self._clip: _Clip | None = None
        self._pos = 0
        self._playing = False
        self._paused = False
        self._loop = False
        self._volume_db = clamp_volume_db(volume_db)
        self._volume = self._amplitude(self._volume_db)
        self._gen = 0
        self._want_active = False
        self._abort_requested = False
        self._end: tuple[str, int, Any] | None = None
        self._run_done = threading.Event()  # set when the current run's thread has finished
        self._run_done.set()
        _PLAYERS.add(self)

    # ------------------------------------------------------------------ public API

    @property
    def device(self) -> int | str | None:
        return self._device

    @device.setter
    def device(self, value: int | str | None) -> None:
        """Takes effect at the next ``play``; stops what is playing."""
        with self._op_lock:
            self._halt(unload=True)
            self._discard_stream()
            self._device = value
            self._fell_back = False
            self._notice = None

    @property
    def volume_db(self) -> float:
        with self._lock:
            return self._volume_db

    @volume_db.setter
    def volume_db(self, value: float) -> None:
        """Takes effect from the next block the device asks for (mid-clip too)."""
        level = clamp_volume_db(value)
        with self._lock:
            self._volume_db = level
            self._volume = self._amplitude(level)

    @staticmethod
    def _amplitude(volume_db: float) -> float:
        return 0.0 if volume_db == -math.inf else 10 ** (volume_db / 20)

    def take_notice(self) -> str | None:
        """A sentence the listener should read once (the chosen device was missing and the
        default one plays instead), or None; cleared by reading it."""
        with self._lock:
            notice, self._notice = self._notice, None
            return notice

    def play(self, path: Path | str, *, loop: bool | None = None) -> None:
        """Stop the current clip, then play ``path`` from the start.

        ``loop`` None keeps the player's loop setting; True/False changes it.
        Raises PlaybackError with one sentence (unreadable file, no PortAudio, no device).
        """
        self._play(Path(path), loop=loop, position_sec=0.0)

    def _play(self, path: Path, *, loop: bool | None, position_sec: float) -> None:
        with self._op_lock:
            self._halt(unload=True)
            if loop is not None:
                with self._lock:
                    self._loop = bool(loop)
            sd = _import_sounddevice()
            self._sd = sd
            rescanned = False
            if self._broken:  # the device went away: look for it (or another default) afresh
                self._discard_stream()
                rescanned = self._rescan(sd)
                self._broken = False
            info = self._output_info(sd, rescanned)
            clip = self._load(sd, path, info)
            start = int(min(max(round(position_sec * clip.rate), 0), clip.buffer.shape[0] - 1))
            self._start(sd, info, clip, position=start)

    def _output_info(self, sd: ModuleType, rescanned: bool) -> dict[str, Any]:
        """The device to play on: the one asked for, else (it is missing) the default one."""
        device = None if self._fell_back else self._device
        try:
            return query_output(sd, device)
        except PlaybackError as missing:
            self._discard_stream()
            if not rescanned and self._rescan(sd):
                with contextlib.suppress(PlaybackError):
                    return query_output(sd, device)
            if device is None or not self.fallback_to_default:
                raise
            info = query_output(sd, None)  # no default either: that sentence is the one to read
            self._fell_back = True
            with self._lock:
                self._notice = (
                    f"{str(missing).rstrip('.')}; playing on the default audio output device instead."
                )
            return info

    def switch(self, path: Path | str) -> None:
        """A/B: play ``path`` from the position the current clip has reached, keeping
        its paused or playing state (a clip that ended, or none: from the start).

        With both clips at the stream's rate, the new clip takes over at the next
        block on the same stream: no gap, no click from a restart. Raises
        PlaybackError like ``play``.
        """
        path = Path(path)
        with self._op_lock:
            with self._lock:
                clip, pos, paused = self._clip, self._pos, self._paused
                running = self._want_active and (self._playing or self._paused)
            if clip is None:
                self._play(path, loop=None, position_sec=0.0)
                return
            seconds = pos / clip.rate if pos < clip.buffer.shape[0] else 0.0
            if running and self._stream is not None and not self._broken and self._sd is not None:
                info = query_output(self._sd, None if self._fell_back else self._device)
                new = self._load(self._sd, path, info)
                key = (int(info["index"]), new.rate, int(new.buffer.shape[1]))
                with self._lock:
                    if key == self._stream_key and self._want_active and self._clip is clip:
                        # Where the old clip is now (it went on playing while the new one loaded).
                        seconds = self._pos / clip.rate
                        self._clip = new
                        self._pos = int(min(max(round(seconds * new.rate), 0), new.buffer.shape[0] - 1))
                        self._end = None
                        self._gen += 1
                        return
            self._play(path, loop=None, position_sec=seconds)
            if paused:
                self.pause()

    def _rescan(self, sd: ModuleType) -> bool:
        if not refresh_portaudio(sd):
            return False
        self._rates_refused.clear()  # device indices may have changed
        return True

    def prepare(self, path: Path | str) -> float:
        """Compute (and cache) a clip's loudness gain in dB without playing it.

        Useful from a worker thread so that ``play`` itself stays quick (~0.1 s saved
        per 10 s clip). Raises PlaybackError when the file is unreadable.
        """
        path = Path(path)
        data, rate = self._read(path)
        return 20 * math.log10(self._gain(path, data, rate))

    def pause(self) -> None:
        with self._lock:
            if self._playing:
                self._playing = False
                self._paused = True

    def resume(self) -> None:
        """Continue a paused clip; a clip that ended (or whose device was lost) plays again."""
        with self._op_lock:
            with self._lock:
                if self._paused and self._want_active:
                    self._paused = False
                    self._playing = True
                    return
                if self._playing or self._clip is None:
                    return
                clip, pos = self._clip, self._pos
            if pos >= clip.buffer.shape[0]:
                pos = 0
            self._play(clip.path, loop=None, position_sec=pos / clip.rate)

    def toggle_pause(self) -> bool:
        """Pause when playing, else resume (see ``resume``); returns the new paused flag."""
        with self._op_lock:
            if self.state.playing:
                self.pause()
            else:
                self.resume()
            return self.state.paused

    def stop(self) -> None:
        """Stop and unload the clip, and release the output device."""
        with self._op_lock:
            self._halt(unload=True)
            self._discard_stream()

    def seek(self, seconds: float, *, relative: bool = True) -> None:
        """Move the play position; the result is clamped to [0, duration]."""
        with self._lock:
            clip = self._clip
            if clip is None or not math.isfinite(seconds):
                return
            frames = clip.buffer.shape[0]
            target = (self._pos / clip.rate + seconds) if relative else seconds
            self._pos = int(min(max(round(target * clip.rate), 0), frames))

    def set_loop(self, loop: bool) -> None:
        with self._lock:
            self._loop = bool(loop)

    @property
    def state(self) -> PlayerState:
        with self._lock:
            clip = self._clip
            if clip is None:
                return PlayerState(
                    None, 0.0, 0.0, self._playing, self._paused, self._loop, 0.0, self._volume_db
                )
            return PlayerState(
                path=clip.path,
                position_sec=self._pos / clip.rate,
                duration_sec=clip.buffer.shape[0] / clip.rate,
                playing=self._playing,
                paused=self._paused,
                loop=self._loop,
                gain_db=clip.gain_db,
                volume_db=self._volume_db,
            )

    def close(self) -> None:
        """Stop and release the device. The player can still ``play`` afterwards."""
        self.stop()

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ loading

    def _read(self, path: Path) -> tuple[np.ndarray, int]:
        try:
            data, rate = read_audio(path, mono=False)
        except AudioFileError as exc:
            raise PlaybackError(str(exc)) from exc
        channels = data.shape[1]
        if channels > MAX_CHANNELS:  # no surround downmix rules here: fold to mono
            data = data.mean(axis=1, keepdims=True)
        return np.ascontiguousarray(data, dtype=np.float32), rate

    def _gain(self, path: Path, data: np.ndarray, rate: int) -> float:
        try:
            stat = path.stat()
            key: tuple[str, int, int] | None = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = None
        with self._gains_lock:
            cached = self._gains.get(key) if key is not None else None
        if cached is not None:
            return cached
        gain = loudness_gain(data, rate, self.target_lufs, CEILING_DBFS)
        if key is not None:
            with self._gains_lock:
                if len(self._gains) >= _GAIN_CACHE_SIZE:
                    self._gains.pop(next(iter(self._gains)))
                self._gains[key] = gain
        return gain

    def _pick_rate(self, sd: ModuleType, info: dict[str, Any], channels: int, rate: int) -> int:
        index = int(info["index"])
        if self._stream is not None and self._stream_key == (index, rate, channels) and not self._broken:
            return rate
        key = (index, rate, channels)
        if key not in self._rates_refused:
            try:
                with PA_LOCK:
                    sd.check_output_settings(
                        device=index, channels=channels, dtype="float32", samplerate=rate
                    )
                return rate
            except (sd.PortAudioError, ValueError):
                self._rates_refused.add(key)
        return int(round(float(info["default_samplerate"])))

    def _load(self, sd: ModuleType, path: Path, info: dict[str, Any]) -> _Clip:
        data, rate = self._read(path)
        gain = self._gain(path, data, rate)
        out_channels = min(MAX_CHANNELS, int(info["max_output_channels"]))
        stream_rate = self._pick_rate(sd, info, out_channels, rate)
        if stream_rate != rate:
            data = resample(data, rate, stream_rate)
        scaled = (data * np.float32(gain)).astype(np.float32, copy=False)
        # Resampling can overshoot between the original samples: hold the ceiling anyway.
        limited = limit_peak(scaled, CEILING_DBFS)
        peak_before = float(np.max(np.abs(scaled)))
        if limited is not scaled and peak_before > 0:
            gain *= float(np.max(np.abs(limited))) / peak_before
        if limited.shape[1] < out_channels:
            limited = np.repeat(limited, out_channels, axis=1)
        elif limited.shape[1] > out_channels:
            limited = limited.mean(axis=1, keepdims=True)
        buffer = np.ascontiguousarray(limited, dtype=np.float32)
        buffer.setflags(write=False)
        return _Clip(path=path, buffer=buffer, rate=stream_rate, gain_db=20 * math.log10(gain))

    # ------------------------------------------------------------------ stream

    def _start(self, sd: ModuleType, info: dict[str, Any], clip: _Clip, *, position: int) -> None:
        key = (int(info["index"]), clip.rate, int(clip.buffer.shape[1]))
        if self._stream is not None and self._stream_key != key:
            self._discard_stream()
        if self._stream is None:
            self._open_stream(sd, info, key)
        with self._lock:
            self._clip = clip
            self._pos = position
            self._playing = True
            self._paused = False
            self._end = None
            self._gen += 1
        try:
            if not self._stop_stream(self._stream):
                raise PlaybackError("the previous run did not stop")
            with self._lock:
                self._want_active = True
                self._abort_requested = False
            self._run_done.clear()
            self._stream.start()
        except Exception as exc:
            with self._lock:
                self._playing = False
                self._want_active = False
            self._discard_stream()
            raise PlaybackError(
                f"{describe(self._device).capitalize()} could not be started ({detail(exc)})."
            ) from None

    def _open_stream(self, sd: ModuleType, info: dict[str, Any], key: tuple[int, int, int]) -> None:
        index, rate, channels = key
        with PA_LOCK:
            self._stream_token += 1
            try:
                stream = sd.OutputStream(
                    samplerate=rate,
                    blocksize=BLOCKSIZE,
                    device=index,
                    channels=channels,
                    dtype="float32",
                    latency=LATENCY,
                    callback=self._callback,
                    finished_callback=functools.partial(self._on_stream_finished, self._stream_token),
                )
            except Exception as exc:
                raise PlaybackError(
                    f"{describe(self._device).capitalize()} could not be opened ({detail(exc)})."
                ) from None
            streams.open += 1
        self._stream = stream
        self._stream_key = key

    def _halt(self, *, unload: bool) -> None:
        """End the current run at once (the device's buffer is dropped, not drained)."""
        with self._lock:
            self._want_active = False
            self._abort_requested = True  # from now on the callback writes nothing of this clip
            self._gen += 1
            self._playing = False
            self._paused = False
            self._end = None
            if unload:
                self._clip = None
                self._pos = 0
        if self._stream is not None and not self._stop_stream(self._stream):
            self._discard_stream()

    def _stop_stream(self, stream: Any) -> bool:
        """Bring ``stream`` to 'stopped'; False when PortAudio failed (the stream is then discarded).

        Pa_AbortStream on ALSA is pthread_cancel of the callback thread, which must not
        happen while that thread runs Python (it can be cancelled waiting for the GIL and
        leave the interpreter locked). So the callback itself ends the run (it sees
        _abort_requested and raises CallbackAbort); stop() then only joins a finished
        thread. abort() is the fallback for a callback that never comes (a hung device).
        """
        with self._lock:
            self._want_active = False
            self._abort_requested = True
        try:
            if stream.stopped:
                return True
            if self._run_done.wait(STOP_TIMEOUT):
                stream.stop(ignore_errors=False)
            else:
                log.warning("the audio callback did not stop within %s s; aborting the stream", STOP_TIMEOUT)
                stream.abort(ignore_errors=False)
            return True
        except Exception:
            log.debug("stopping the stream failed", exc_info=True)
            return False

    def _discard_stream(self) -> None:
        stream, self._stream, self._stream_key = self._stream, None, None
        if stream is None:
            return
        self._stop_stream(stream)
        with PA_LOCK:
            try:
                stream.close(ignore_errors=True)
            except Exception:
                log.debug("closing a broken stream failed", exc_info=True)
            streams.open -= 1

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's thread: copy the next block; never blocks on anything but self._lock."""
        sd = self._sd
        assert sd is not None
        finished = False
        gen = -1
        try:
            with self._lock:
                if self._abort_requested:
                    outdata.fill(0)
                    raise _EndRun
                gen = self._gen
                clip = self._clip
                if clip is None or not self._playing:
                    outdata.fill(0)
                    path = clip.path if clip is not None else None
                    position = self._pos / clip.rate if clip is not None else 0.0
                else:
                    buffer = clip.buffer
                    total = buffer.shape[0]
                    pos = min(self._pos, total)
                    written = 0
                    while written < frames:
                        take = min(frames - written, total - pos)
                        if take > 0:
                            outdata[written : written + take] = buffer[pos : pos + take]
                            written += take
                            pos += take
                        if pos >= total:
                            if self._loop:
                                pos = 0
                                continue
                            break
                    if written < frames:
                        outdata[written:] = 0
                    if self._volume != 1.0:
                        outdata[:written] *= np.float32(self._volume)
                    self._pos = pos
                    if pos >= total and not self._loop:
                        self._playing = False
                        self._want_active = False
                        self._end = ("ended", gen, clip.path)
                        finished = True
                    path = clip.path
                    position = pos / clip.rate
            monitor = self.monitor
            if monitor is not None:
                monitor(outdata.copy(), path, position)
        except _EndRun:
            raise sd.CallbackAbort from None
        except Exception as exc:
            log.exception("audio callback failed")
            with self._lock:
                self._playing = False
                self._paused = False
                self._want_active = False
                self._end = ("error", gen, f"Playback stopped because of an internal error ({detail(exc)}).")
            outdata.fill(0)
            raise sd.CallbackAbort from None
        if finished:
            raise sd.CallbackStop

    def _on_stream_finished(self, token: int) -> None:
        """PortAudio's thread, once the stream became inactive (on its own or because we asked)."""
        events: list[tuple[Callable[[Any], None] | None, Any]] = []
        # PortAudio calls this synchronously inside abort()/stop()/close() (the callback
        # thread is joined there), so a finish we asked for always sees _want_active False.
        current = token == self._stream_token and self._stream is not None
        with self._lock:
            end, self._end = self._end, None
            if end is not None:
                kind, gen, payload = end
                if gen == self._gen:
                    if kind == "ended":
                        events.append((self.on_finished, payload))
                    else:
                        self._broken = True
                        events.append((self.on_error, payload))
            elif current and self._want_active:
                # Nobody asked the stream to stop: the device or the sound server went away.
                self._want_active = False
                self._broken = True
                if self._playing or self._paused:
                    self._playing = False
                    self._paused = False
                    events.append((self.on_error, DEVICE_LOST))
        if token == self._stream_token:
            self._run_done.set()
        for handler, arg in events:
            if handler is not None:
                threading.Thread(
                    target=_call_safely, args=(handler, arg), name="sessionlab-player-event", daemon=True
                ).start()


class _EndRun(Exception):
    """Raised inside the callback to end the run we were asked to stop."""


def _call_safely(handler: Callable[[Any], None], arg: Any) -> None:
    try:
        handler(arg)
    except Exception:
        log.exception("player event handler failed")
