"""Audio files in and out: reading any format soundfile knows, checking a musician's
file before import, and writing a clip atomically.

``write_wav_atomic`` writes to a temporary name in the same directory and
renames it into place, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np

from core.errors import AudioFileError, disk_problem, storage_error

SAMPLE_RATE = 32_000  # the studio's native rate: MusicGen's, and the sketch engine's


def read_audio(path: Path | str, *, mono: bool = True) -> tuple[np.ndarray, int]:
    """Read any file soundfile understands; float32, mono by default.

    Raises AudioFileError with the file's name when it is not audio, is empty
    or is corrupt.
    """
    import soundfile as sf

    path = Path(path)
    try:
        # The name as bytes: a file whose name is not valid UTF-8 (Latin-1, say) still opens.
        data, rate = sf.read(_os_name(path), dtype="float32", always_2d=True)
    except FileNotFoundError:
        raise AudioFileError(f"{path.name}: no such file.") from None
    except (RuntimeError, sf.LibsndfileError, ValueError, OSError) as exc:
        if not path.exists():  # soundfile reports a missing file as "System error"
            raise AudioFileError(f"{path.name}: no such file.") from None
        detail = str(exc).split(":")[-1].strip().rstrip(".") or "unreadable"
        raise AudioFileError(f"{path.name} is not a readable audio file ({detail}).") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{path.name} contains no audio.")
    if not np.all(np.isfinite(data)):
        raise AudioFileError(f"{path.name} contains invalid samples.")
    if mono:
        data = data.mean(axis=1)
    return np.ascontiguousarray(data, dtype=np.float32), int(rate)


def _os_name(path: Path) -> str | bytes:
    return str(path) if os.name == "nt" else os.fsencode(path)


MIN_IMPORT_RATE = 8_000
MAX_IMPORT_RATE = 384_000

# Formats whose files are kept byte for byte on import, and the extension they are stored under.
_KEPT_FORMATS = {
    "WAV": ".wav",
    "WAVEX": ".wav",
    "RF64": ".wav",
    "FLAC": ".flac",
    "OGG": ".ogg",
    "MP3": ".mp3",
    "AIFF": ".aiff",
    "CAF": ".caf",
    "W64": ".w64",
}


def _check_regular_file(path: Path) -> None:
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise AudioFileError(f"{path.name}: no such file.") from None
    except OSError as exc:
        raise AudioFileError(f"{path.name} cannot be read ({exc.strerror or exc}).") from None
    if stat.S_ISDIR(mode):
        raise AudioFileError(f"{path.name} is a directory, not an audio file.")
    if not stat.S_ISREG(mode):  # a pipe would block the read, a device never ends
        raise AudioFileError(f"{path.name} is not a regular file (a pipe, device or socket); import a file.")


def _wav_truncation(path: Path) -> tuple[int, int] | None:
    """(bytes the WAV's data chunk declares, bytes present) when the file is cut short, else None.

    libsndfile reads a truncated WAV without a word, as a shorter clip. A header
    size of 0 or 0xFFFFFFFF (a recorder that streams and never fixes the header)
    is not a promise, so it is not checked.
    """
    import struct

    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        offset = 12
        while offset + 8 <= size:
            handle.seek(offset)
            chunk = handle.read(8)
            if len(chunk) < 8:
                return None
            name, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"data":
                present = size - (offset + 8)
                if length in (0, 0xFFFFFFFF) or length <= present:
                    return None
                return length, present
            offset += 8 + length + (length & 1)
    return None


def check_import(path: Path | str) -> tuple[int, str]:
    """Check a musician's file from its header, without decoding it: (sample rate, extension to keep it under).

    One AudioFileError sentence naming the file when it is missing, a directory,
    a pipe, not audio, cut short, or at a sample rate outside 8 kHz..384 kHz.
    The extension is "" for a format that cannot be kept as it is.
    """
    import soundfile as sf

    path = Path(path)
    _check_regular_file(path)
    try:
        truncated = _wav_truncation(path)
    except OSError as exc:
        raise AudioFileError(f"{path.name} cannot be read ({exc.strerror or exc}).") from None
    if truncated is not None:
        declared, present = truncated
        raise AudioFileError(
            f"{path.name} is cut short: its header promises {declared:,} bytes of audio but only"
            f" {present:,} are there (an interrupted copy or export?); nothing was imported."
        )
    try:
        info = sf.info(_os_name(path))
    except (RuntimeError, sf.LibsndfileError, ValueError, OSError) as exc:
        detail = str(exc).split(":")[-1].strip().rstrip(".") or "unreadable"
        raise AudioFileError(f"{path.name} is not a readable audio file ({detail}).") from None
    rate = int(info.samplerate)
    if not MIN_IMPORT_RATE <= rate <= MAX_IMPORT_RATE:
        raise AudioFileError(
            f"{path.name} has a sample rate of {rate:,} Hz; Session Lab imports"
            f" {MIN_IMPORT_RATE // 1000} kHz to {MAX_IMPORT_RATE // 1000} kHz."
        )
    return rate, _KEPT_FORMATS.get(info.format, "")


def read_import(path: Path | str) -> tuple[np.ndarray, int, str]:
    """``check_import``, then the file decoded: (mono samples for analysis, rate, extension to keep it under)."""
    _, suffix = check_import(path)
    samples, rate = read_audio(path)
    return samples, rate, suffix


def audio_duration(path: Path | str) -> float:
    import soundfile as sf

    info = sf.info(str(path))
    return info.frames / float(info.samplerate)


def write_wav_atomic(path: Path | str, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    """Write 16-bit PCM WAV to ``path`` via a temporary file and a rename.

    A disk that refuses the write (full, read-only, over quota or a file size
    limit) raises StorageError with one sentence, and leaves no partial file.
    """
    import soundfile as sf

    path = Path(path)
    samples = np.asarray(samples, dtype=np.float32)
    # Encoded in memory first: libsndfile writing through a Python file object
    # swallows the OSError of a full disk, prints it, and fails with a bare assert.
    encoded = io.BytesIO()
    sf.write(encoded, np.clip(samples, -1.0, 1.0), rate, format="WAV", subtype="PCM_16")
    tmp_name: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".wav", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(encoded.getbuffer())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        if tmp_name is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
        if disk_problem(exc) is not None:
            raise storage_error(f"write the clip {path.name}", disk_problem(exc)) from exc
        raise
    return path
