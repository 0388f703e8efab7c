"""The little waveform drawn in the track list.

Reading a WAV and folding it into a few levels is I/O plus numpy, so it only
ever runs in a worker thread; numpy is imported there, never at start-up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tui.formatting import WAVEFORM_WIDTH, sparkline


@dataclass(frozen=True)
class Waveform:
    spark: str
    duration_sec: float
    file_key: str = ""  # inode, size and mtime: survives the rename from staging to media


def file_key(path: Path | str) -> str:
    try:
        info = os.stat(path)
    except OSError:
        return ""
    return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"


class WaveformCache:
    """Waveforms by path, and by file identity: a clip drawn while it was being made
    (in the staging dir) is not drawn again once the batch moves it into place."""

    def __init__(self) -> None:
        self._by_path: dict[str, Waveform] = {}
        self._by_file: dict[str, Waveform] = {}

    def get(self, path: str) -> Waveform | None:
        found = self._by_path.get(path)
        if found is None:
            key = file_key(path)
            found = self._by_file.get(key) if key else None
            if found is not None:
                self._by_path[path] = found
        return found

    def put(self, path: str, waveform: Waveform) -> None:
        self._by_path[path] = waveform
        if waveform.file_key:
            self._by_file[waveform.file_key] = waveform

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.get(path) is not None


def compute_waveform(path: Path, width: int = WAVEFORM_WIDTH) -> Waveform:
    """The RMS envelope of a clip in ``width`` blocks, scaled to the clip's own peak.

    Scaling per clip shows the shape (a build, a drop, a gap) rather than the
    level, which the player matches anyway.
    """
    import numpy as np

    from core.audio import read_audio

    key = file_key(path)
    samples, rate = read_audio(path)
    seconds = len(samples) / float(rate)
    bins = np.array_split(samples.astype(np.float64), width)
    rms = np.array([float(np.sqrt(np.mean(b * b))) if len(b) else 0.0 for b in bins])
    peak = float(rms.max()) if rms.size else 0.0
    levels = rms / peak if peak > 0 else rms
    return Waveform(sparkline(levels.tolist()), seconds, key)
