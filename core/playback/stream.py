"""The stream: one sounddevice OutputStream per device, rate and channels; a run started
and ended on it, the callback that copies blocks to the device, and the end of a run
(the clip ended, an error, the device lost) told on a thread of its own.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from core.audio_output import LATENCY, PA_LOCK, describe, detail, streams
from core.errors import PlaybackError
from core.playback.loading import _Clip

if TYPE_CHECKING:
    from core.playback.player import Player


log = logging.getLogger("core.playback")  # the name it always logged under

BLOCKSIZE = 1024  # frames per callback: 21-32 ms at 48-32 kHz

DEVICE_LOST = "Playback stopped: the audio output device stopped working or was disconnected."

STOP_TIMEOUT = 2.0  # seconds to wait for the callback to end a run before aborting the stream


class PlayerStream:
    """How Player runs its output stream (a mixin of Player)."""

    def _start(self: Player, sd: ModuleType, info: dict[str, Any], clip: _Clip, *, position: int) -> None:
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

    def _open_stream(self: Player, sd: ModuleType, info: dict[str, Any], key: tuple[int, int, int]) -> None:
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

    def _halt(self: Player, *, unload: bool) -> None:
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

    def _stop_stream(self: Player, stream: Any) -> bool:
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

    def _discard_stream(self: Player) -> None:
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

    def _callback(self: Player, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
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

    def _on_stream_finished(self: Player, token: int) -> None:
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
