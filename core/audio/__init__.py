"""Audio: files in and out (``io``), loudness and true peak (``loudness``), small
signal tools (``dsp``), metadata a DAW reads (``wav_meta``) and tempo and key
(``analysis``).

The names used across the project are re-exported here, so ``from core.audio
import read_audio`` keeps working; ``wav_meta`` and ``analysis`` are imported
from their own modules by the code that needs them.
"""

from core.audio.dsp import equal_power_crossfade, fade_edges, moving_average, resample
from core.audio.io import (
    MAX_IMPORT_RATE,
    MIN_IMPORT_RATE,
    SAMPLE_RATE,
    audio_duration,
    check_import,
    read_audio,
    read_import,
    write_wav_atomic,
)
from core.audio.loudness import (
    SILENCE_LUFS,
    integrated_loudness,
    integrated_lufs,
    limit_peak,
    loudness_gain,
    mix_matched,
    peak_dbfs,
    true_peak_dbtp,
)
from core.clipcheck import clip_file_problem  # at home in core.clipcheck, which needs no numpy

__all__ = [
    "MAX_IMPORT_RATE",
    "MIN_IMPORT_RATE",
    "SAMPLE_RATE",
    "SILENCE_LUFS",
    "audio_duration",
    "check_import",
    "clip_file_problem",
    "equal_power_crossfade",
    "fade_edges",
    "integrated_loudness",
    "integrated_lufs",
    "limit_peak",
    "loudness_gain",
    "mix_matched",
    "moving_average",
    "peak_dbfs",
    "read_audio",
    "read_import",
    "resample",
    "true_peak_dbtp",
    "write_wav_atomic",
]
