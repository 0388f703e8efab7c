"""Whether a stored clip can be played: one cheap question for ``show``, the app and ``doctor``.

Kept apart from core.audio so a reading command can ask it without importing numpy.
"""

from __future__ import annotations

import os
from pathlib import Path

# WAV format tags whose samples libsndfile reads as they are: PCM, IEEE float, extensible
# (whose sub-format must then be one of the first two).
_PLAIN_WAV_TAGS = frozenset({0x0001, 0x0003, 0xFFFE})
_PLAIN_WAV_BITS = frozenset({8, 16, 24, 32, 64})


def _plain_wav_is_playable(path: Path, size: int | None = None) -> bool:
    """Whether ``path`` is a WAV whose header says it plays: PCM or float, with at least one frame.

    Pure Python on the first few kilobytes, no libsndfile: cheap enough for every clip
    of a big session. False means "not sure", never "broken": the caller asks libsndfile.
    ``size`` is the file's size when the caller has just checked that it is a regular file.
    """
    import stat
    import struct

    try:
        if size is None:
            found = os.stat(path)
            if not stat.S_ISREG(found.st_mode):  # never open a pipe (it would block) or a device
                return False
            size = found.st_size
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)  # plain os calls: cheaper
        try:
            head = os.read(fd, 4096)
        finally:
            os.close(fd)
    except OSError:
        return False
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return False
    offset = 12
    block_align = 0
    while offset + 8 <= len(head):
        name, length = head[offset : offset + 4], struct.unpack_from("<I", head, offset + 4)[0]
        body = offset + 8
        if name == b"fmt ":
            if length < 16 or body + 16 > len(head):
                return False
            tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", head, body)
            if tag == 0xFFFE:  # extensible: the real format is the sub-format GUID's first two bytes
                if length < 40 or body + 26 > len(head):
                    return False
                tag = struct.unpack_from("<H", head, body + 24)[0]
            if tag not in _PLAIN_WAV_TAGS - {0xFFFE} or channels < 1 or rate < 1:
                return False
            if bits not in (_PLAIN_WAV_BITS if tag == 0x0001 else {32, 64}):
                return False
            if block_align != channels * bits // 8:
                return False
        elif name == b"data":
            present = min(length, size - body)
            return block_align > 0 and present // block_align > 0
        offset = body + length + (length & 1)
    return False


def clip_file_problem(path: Path | str) -> str | None:
    """Why a stored clip cannot be played, in a few words ("missing", "unreadable"), or None if it can.

    Cheap (reads the header only): the CLI's ``show``, the app's track list and
    ``doctor`` all ask this one question the same way. A plain PCM or float WAV
    (every clip the studio writes) is judged from its header in Python; anything
    else, or a WAV whose header is unusual, is asked of libsndfile.
    """
    import stat

    path = path if isinstance(path, Path) else Path(path)  # Path(a Path) parses it again
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return _libsndfile_problem(path)
    if not stat.S_ISREG(found.st_mode):  # a directory, a pipe (opening it would block), a device
        return "unreadable"
    if _plain_wav_is_playable(path, found.st_size):
        return None
    return _libsndfile_problem(path)


def _libsndfile_problem(path: Path) -> str | None:
    """clip_file_problem's answer from libsndfile itself (it opens the file and reads its header)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except FileNotFoundError:
        return "missing"
    except (RuntimeError, sf.LibsndfileError, ValueError, OSError):
        return "unreadable" if path.exists() else "missing"
    if info.frames <= 0 or info.samplerate <= 0:
        return "unreadable"
    return None
