"""A full disk, for real: the CLI says one line, stores nothing half, and drops no clip silently.

The disk is a small tmpfs mounted for the test (needs root and permission to
mount; skipped otherwise), filled with a filler file until the kernel answers
ENOSPC, then given back exactly the room a case needs. A portable variant caps
the file size with RLIMIT_FSIZE (EFBIG), which any user can do.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core import paths
from core.errors import StorageError
from core.models import BriefParams
from tests.core.store_child import write_wav

REPO = Path(__file__).resolve().parents[2]
PAGE = 4096
CLIP_1S_BYTES = 44 + 32_000 * 2  # one second of the sketch engine's 16-bit mono at 32 kHz


def sessionlab(root: Path, *args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sessionlab", "--data-dir", str(root), *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        **options,
    )


def query(root: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{paths.db_path(root)}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def stored_state(root: Path) -> tuple:
    """What a musician has: sessions, batches, clips and the audio files in session folders."""
    wavs = sorted(
        str(p.relative_to(root)) for p in paths.media_root(root).glob("*/*.wav") if p.parent.name != "tmp"
    )
    return (
        query(root, "SELECT id FROM sessions ORDER BY id"),
        query(root, "SELECT id FROM batches ORDER BY id"),
        query(root, "SELECT path FROM tracks ORDER BY path"),
        wavs,
    )


def assert_one_line_and_nothing_stored(
    done: subprocess.CompletedProcess, root: Path, before: tuple, says: str
):
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("sessionlab: ") and says in line, line
    assert stored_state(root) == before
    assert [p for p in paths.tmp_root(root).iterdir() if p.is_dir()] == []  # no staging left over
    assert query(root, "PRAGMA integrity_check") == [("ok",)]


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs with one generated session on it; yields (data dir, fill(free_bytes))."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "sessionlab-test", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    root = mount_point / "data"
    try:
        made = sessionlab(
            root, "generate", "--brief", "before the disk filled", "--clips", "1", "--duration", "1"
        )
        assert made.returncode == 0, made.stderr
        # Held open so SQLite's -wal and -shm stay in place: the room each case leaves is then exact.
        holder = sqlite3.connect(paths.db_path(root))
        holder.execute("SELECT count(*) FROM sessions").fetchall()
        filler = mount_point / "filler"

        def fill(free_bytes: int) -> None:
            with open(filler, "ab", buffering=0) as handle:
                try:
                    while handle.write(b"\0" * PAGE):
                        pass
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
            pages = -(-free_bytes // PAGE)
            os.truncate(filler, max(0, filler.stat().st_size - pages * PAGE))
            assert os.statvfs(mount_point).f_bavail * os.statvfs(mount_point).f_frsize >= free_bytes

        yield root, fill
        holder.close()
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def test_a_full_disk_still_lists_and_shows_and_refuses_writes_in_one_line(small_disk, tmp_path):
    root, fill = small_disk
    [(session_id,)] = query(root, "SELECT id FROM sessions")
    [(cluster_id,)] = query(root, "SELECT id FROM clusters")
    take = write_wav(tmp_path / "take.wav", 440.0, frames=8000)
    fill(0)
    before = stored_state(root)

    listed = sessionlab(root, "sessions")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith(session_id)
    shown = sessionlab(root, "show", session_id)
    assert shown.returncode == 0, shown.stderr
    assert "before the disk filled" in shown.stdout

    for args in (
        ("generate", "--brief", "no room", "--clips", "1", "--duration", "1"),
        ("more", session_id, cluster_id, "--clips", "1"),
        ("import", "--new", str(take)),
        ("import", session_id, str(take)),
    ):
        refused = sessionlab(root, *args)
        assert_one_line_and_nothing_stored(refused, root, before, "full")


@pytest.mark.parametrize(
    ("args", "clip"),
    [
        (("generate", "--brief", "no room", "--clips", "2", "--duration", "2"), "sketch-"),
        (("import", "--new", "TAKE"), "import-0.wav"),
    ],
    ids=["generate", "import"],
)
def test_no_room_for_a_clip_is_one_line_and_nothing_stored(small_disk, tmp_path, args, clip):
    root, fill = small_disk
    take = write_wav(tmp_path / "take.wav", 440.0, frames=64000, rate=32000)  # 2 s: 125 kB
    args = tuple(str(take) if a == "TAKE" else a for a in args)
    fill(10 * PAGE)
    before = stored_state(root)
    done = sessionlab(root, *args)
    assert_one_line_and_nothing_stored(
        done, root, before, "The disk is full, so Session Lab could not write the clip"
    )
    assert clip in done.stderr


def test_room_for_one_clip_of_two_drops_none_silently(small_disk):
    """The sketch engine used to skip a clip it could not write and store the rest, exit 0."""
    root, fill = small_disk
    fill(CLIP_1S_BYTES + 4 * PAGE)
    before = stored_state(root)
    done = sessionlab(root, "generate", "--brief", "two clips", "--clips", "2", "--duration", "1")
    assert_one_line_and_nothing_stored(
        done, root, before, "The disk is full, so Session Lab could not write the clip"
    )


def test_room_for_the_clip_but_not_the_database_is_one_line_and_nothing_stored(small_disk):
    root, fill = small_disk
    fill(CLIP_1S_BYTES + 2 * PAGE)  # the clip is written and moved; the commit finds no room
    before = stored_state(root)
    done = sessionlab(root, "generate", "--brief", "no room to commit", "--clips", "1", "--duration", "1")
    assert_one_line_and_nothing_stored(
        done,
        root,
        before,
        f"The disk is full, so the session database {paths.db_path(root)} could not be written",
    )
    assert sorted(
        p.name for p in paths.media_root(root).iterdir()
    ) == sorted(  # no empty folder of a new session
        [p[0].split("/")[1] for p in query(root, "SELECT path FROM tracks")] + ["tmp"]
    )


# --------------------------------------------------------------------------- portable: a file size limit


def file_size_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("command", ["generate", "import"])
def test_a_file_size_limit_is_one_line_and_nothing_stored(data_dir, tmp_path, command):
    made = sessionlab(data_dir, "generate", "--brief", "before the limit", "--clips", "1", "--duration", "1")
    assert made.returncode == 0, made.stderr
    before = stored_state(data_dir)
    if command == "generate":
        args = ("generate", "--brief", "too big", "--clips", "2", "--duration", "3")
    else:
        args = ("import", "--new", str(write_wav(tmp_path / "take.wav", 440.0, frames=96000, rate=32000)))
    # Room for the database and its -shm, not for a 3 s clip (192 kB).
    done = sessionlab(data_dir, *args, preexec_fn=file_size_limit(150_000))
    assert_one_line_and_nothing_stored(done, data_dir, before, "size limit this system allows")


def test_an_engine_that_hits_a_full_disk_is_not_blamed(data_dir):
    """Engines that write their own files (musicgen) raise the OSError itself: it is the disk's fault."""
    from core.service import SessionService
    from core.settings import Settings
    from core.store import SessionStore
    from tests.core.fakes import FakeEmbedder, FakeMusic, FakeNamer

    class FullDiskMusic(FakeMusic):
        def generate_batch(self, *args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

    with SessionStore(data_dir) as store:
        service = SessionService(
            store,
            FullDiskMusic(),
            FakeEmbedder({200: [1.0]}),
            FakeNamer(),
            settings=Settings(data_dir=data_dir),
        )
        with pytest.raises(
            StorageError, match=r"^The disk is full, so Session Lab could not write a clip into "
        ):
            service.create_initial_batch("x", BriefParams(duration_sec=0.5), 1)
        assert store.list_sessions() == []


def test_the_cli_turns_a_stray_disk_error_into_one_line(monkeypatch):
    """A disk error that no layer below worded (a library writing its own file) is still one line."""
    import io

    import core.cli

    def raises(error: BaseException):
        def run(*args, **kwargs):
            raise error

        return run

    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(core.cli, "_run", raises(OSError(errno.EDQUOT, "Disk quota exceeded")))
    assert core.cli.main(["sessions"], out=out, err=err) == 2
    assert err.getvalue() == (
        "sessionlab: The disk quota is used up, so Session Lab could not finish the command;"
        " nothing more was stored.\n"
    )
    monkeypatch.setattr(core.cli, "_run", raises(BrokenPipeError(errno.EPIPE, "Broken pipe")))
    assert core.cli.main(["sessions"], out=out, err=err) == 0  # a closed pipe is still no error
    monkeypatch.setattr(core.cli, "_run", raises(PermissionError(errno.EACCES, "Permission denied")))
    err = io.StringIO()
    assert core.cli.main(["sessions"], out=out, err=err) == 1  # not a disk problem: an unexpected error
    [line] = err.getvalue().splitlines()
    assert line.startswith("sessionlab: unexpected error (PermissionError: ")


def test_a_clip_the_sketch_engine_cannot_write_is_not_dropped_silently(data_dir, monkeypatch):
    """An OSError that is not a full disk still costs the sketch engine only that clip, but says so."""
    import core.providers.sketch
    from core.audio import write_wav_atomic
    from core.service import SessionService
    from core.settings import Settings

    written = {"count": 0}

    def second_fails(path, samples, rate):
        written["count"] += 1
        if written["count"] == 2:
            raise OSError(errno.EIO, "Input/output error")
        return write_wav_atomic(path, samples, rate)

    monkeypatch.setattr(core.providers.sketch, "write_wav_atomic", second_fails)
    service = SessionService.from_settings(Settings(data_dir=data_dir))
    session = service.create_initial_batch("two clips", BriefParams(duration_sec=0.5), 2, seed=3)
    assert [b.num_generated for b in session.batches] == [1]
    assert service.notices == [
        "1 of 2 clips were made; one could not be written ([Errno 5] Input/output error)."
    ]
    service.store.close()
