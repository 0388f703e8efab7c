"""The little waveform drawn in the track list.

Reading a WAV and folding it into a few levels is I/O plus numpy, so it only
ever runs in a worker thread; numpy is imported there, never at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tui.formatting import WAVEFORM_WIDTH, sparkline


@dataclass(frozen=True)
class Waveform:
    spark: str
    duration_sec: float


def compute_waveform(path: Path, width: int = WAVEFORM_WIDTH) -> Waveform:
    """The RMS envelope of a clip in ``width`` blocks, scaled to the clip's own peak.

    Scaling per clip shows the shape (a build, a drop, a gap) rather than the
    level, which the player matches anyway.
    """
    import numpy as np

    from core.audio import read_audio

    samples, rate = read_audio(path)
    seconds = len(samples) / float(rate)
    bins = np.array_split(samples.astype(np.float64), width)
    rms = np.array([float(np.sqrt(np.mean(b * b))) if len(b) else 0.0 for b in bins])
    peak = float(rms.max()) if rms.size else 0.0
    levels = rms / peak if peak > 0 else rms
    return Waveform(sparkline(levels.tolist()), seconds)
