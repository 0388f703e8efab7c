"""The player: ``Player`` and its public API (play, switch, pause, resume, seek, loop,
volume, device, state), with the state a listener sees; see core.playback.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from core.audio_output import import_sounddevice, query_output, refresh_portaudio
from core.errors import PlaybackError
from core.playback.loading import ClipLoading, _Clip
from core.playback.stream import PlayerStream
from core.settings import TARGET_LUFS

MIN_VOLUME_DB = -60.0  # the quietest volume step above silence; lower means muted
MAX_VOLUME_DB = 0.0  # never above the loudness match: the peak ceiling must hold
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


class Player(ClipLoading, PlayerStream):
    """Plays one clip at a time; see core.playback's docstring for threads and states."""

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
