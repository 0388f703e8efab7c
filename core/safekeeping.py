"""Moving files without losing any: the kept-aside folder, no-clobber moves, atomic small files.

A file in a session's media folder that no database row names is never deleted:
the database may be empty, deleted or an older copy. It is moved to
``kept-aside/`` under the data dir, keeping its path relative to the data dir
(``media/{session}/{track}.wav`` becomes ``kept-aside/media/{session}/{track}.wav``).
A name already taken there gets ``~1``, ``~2``... before its suffix; nothing is
ever overwritten. ``sessionlab recover`` and ``sessionlab doctor --repair`` move
files back when a row (or a manifest it restores) names them.

This module knows nothing of the database, so the store can use it freely.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

KEPT_ASIDE_DIR = "kept-aside"


def kept_aside_root(root: Path) -> Path:
    return Path(root) / KEPT_ASIDE_DIR


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def move_no_clobber(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target``; FileExistsError if ``target`` exists (it is never replaced)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_file() and not source.is_symlink():
        try:
            os.link(source, target)  # fails with EEXIST instead of replacing: no race
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                raise FileExistsError(errno.EEXIST, "exists", str(target)) from None
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
        else:
            os.unlink(source)
            return
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "exists", str(target))
    os.rename(source, target)


def free_name(target: Path) -> Path:
    """``target``, or ``name~N.suffix`` with the smallest N that names nothing yet."""
    if not os.path.lexists(target):
        return target
    stem, dot, suffix = (
        target.name.partition(".") if not target.name.startswith(".") else (target.name, "", "")
    )
    for n in range(1, 100_000):
        candidate = target.with_name(f"{stem}~{n}{dot}{suffix}")
        if not os.path.lexists(candidate):
            return candidate
    raise FileExistsError(errno.EEXIST, "no free name", str(target))


def keep_aside(root: Path, path: Path, *, sync: bool = True) -> Path:
    """Move ``path`` (a file or folder under ``root``) into the kept-aside folder; return where it went.

    With ``sync=False`` the caller fsyncs the target's folder once after a run of moves.
    """
    root = Path(root)
    relative = Path(path).relative_to(root)
    while True:
        target = free_name(kept_aside_root(root) / relative)
        try:
            move_no_clobber(Path(path), target)
        except FileExistsError:
            continue  # taken between the look and the move: try the next name
        if sync:
            with contextlib.suppress(OSError):
                fsync_dir(target.parent)
        return target


def original_name(name: str) -> str:
    """The name a kept-aside file had before ``~N`` was added (``x~2.wav`` -> ``x.wav``)."""
    stem, dot, suffix = name.partition(".") if not name.startswith(".") else (name, "", "")
    base, tilde, number = stem.rpartition("~")
    if tilde and base and number.isdigit():
        stem = base
    return f"{stem}{dot}{suffix}"


def kept_aside_copies(folder: Path, name: str) -> list[Path]:
    """The files in ``folder`` that were kept aside under ``name`` (``name``, ``name~1``...), in order."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    stem = name.partition(".")[0]
    return sorted(folder / n for n in names if n.startswith(stem) and original_name(n) == name)


def kept_aside_files(root: Path) -> Iterator[Path]:
    """Every file in the kept-aside folder, in a stable order."""
    top = kept_aside_root(root)
    if not top.is_dir():
        return
    for directory, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(directory) / name


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path``, fsync it, rename it into place, fsync the dir."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_dir(path.parent)
