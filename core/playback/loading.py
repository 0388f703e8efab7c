"""Loading a clip to play: read, folded to what the device takes, resampled only when the
device refuses the file's rate, and loudness-matched (the gain cached per file).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from core.audio import limit_peak, loudness_gain, read_audio, resample
from core.audio_output import MAX_CHANNELS, PA_LOCK
from core.errors import AudioFileError, PlaybackError

if TYPE_CHECKING:
    from core.playback.player import Player


CEILING_DBFS = -1.0  # sample-peak ceiling of what reaches the device
_GAIN_CACHE_SIZE = 4096


@dataclass(frozen=True)
class _Clip:
    path: Path
    buffer: np.ndarray  # (frames, channels) float32 at the stream's rate, gain applied
    rate: int
    gain_db: float


class ClipLoading:
    """How Player reads and loudness-matches a clip (a mixin of Player)."""

    def _read(self: Player, path: Path) -> tuple[np.ndarray, int]:
        try:
            data, rate = read_audio(path, mono=False)
        except AudioFileError as exc:
            raise PlaybackError(str(exc)) from exc
        channels = data.shape[1]
        if channels > MAX_CHANNELS:  # no surround downmix rules here: fold to mono
            data = data.mean(axis=1, keepdims=True)
        return np.ascontiguousarray(data, dtype=np.float32), rate

    def _gain(self: Player, path: Path, data: np.ndarray, rate: int) -> float:
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

    def _pick_rate(self: Player, sd: ModuleType, info: dict[str, Any], channels: int, rate: int) -> int:
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

    def _load(self: Player, sd: ModuleType, path: Path, info: dict[str, Any]) -> _Clip:
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
