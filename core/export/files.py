"""Names for exported files, and writing a file under a name that is not taken yet.

- ``file_stem``: ``{cluster}_{bpm}bpm_{key}_{n}`` in letters, digits, ``_``, ``-``
  and ``#`` (what sample-pack stores accept).
- ``write_new_file``: the file is written to a hidden temporary name in the
  folder, synced, and linked to its name only when whole (``os.link`` fails
  rather than replace, so an existing file is never overwritten; a name taken
  gets ``-2``, ``-3``...). A file system without hard links gets the name
  claimed with ``O_EXCL`` first and the file renamed onto it. An error or a
  cancel on the way removes the temporary file.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from core.errors import ValidationError

_NAME_BAD = re.compile(r"[^A-Za-z0-9_#-]+")


def file_stem(cluster: str, bpm: float | None, key: str | None, n: int) -> str:
    """``{cluster}_{bpm}bpm_{key}_{n}`` in letters, digits, ``_``, ``-`` and ``#``; unknown parts left out."""
    from core.audio.wav_meta import ascii_text

    label = _NAME_BAD.sub("-", ascii_text(cluster).replace("_", "-")).strip("-")[:40].strip("-") or "clip"
    parts = [label]
    if bpm is not None and math.isfinite(bpm) and bpm > 0:
        parts.append(f"{round(bpm)}bpm")
    if key:
        words = key.split()
        short = words[0] + ("min" if len(words) > 1 and words[1].lower() == "minor" else "maj")
        parts.append(_NAME_BAD.sub("", ascii_text(short)))
    parts.append(str(n))
    return "_".join(p for p in parts if p)


def new_file_mode() -> int:
    """The mode a plain new file gets here (0o666 less the umask), as a DAW or a
    colleague expects exported files to have: mkstemp's own 0o600 is for secrets."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o644  # the common umask 022, where the process's own cannot be read without changing it


def write_new_file(folder: Path, stem: str, suffix: str, write: Callable[[Path], None]) -> Path:
    """Write a file through ``write(tmp_path)`` and give it the first free name ``stem[-k]suffix``."""
    fd, tmp_name = tempfile.mkstemp(prefix=".sessionlab-", suffix=f".part{suffix}", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, new_file_mode())
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        for k in range(1, 10_000):
            final = folder / (f"{stem}{suffix}" if k == 1 else f"{stem}-{k}{suffix}")
            try:
                os.link(tmp, final)  # fails when the name is taken: never replaces
            except FileExistsError:
                continue
            except OSError:  # a file system without hard links (FAT, some network shares)
                try:
                    os.close(os.open(final, os.O_CREAT | os.O_EXCL | os.O_WRONLY))  # claim the name
                except FileExistsError:
                    continue
                os.replace(tmp, final)
            return final
        raise ValidationError(
            f"{folder} already holds ten thousand files named {stem}; choose another folder."
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
