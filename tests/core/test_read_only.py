"""Reading where nothing can be written: a read-only data dir, a backup copy, a store opened read-only.

Root writes through chmod, so where the tests run as root a read-only bind mount
in a private mount namespace (``unshare -m``) makes the dir truly unwritable;
as another user, chmod does. Where neither is possible those tests skip, and the
read-only open itself is still tested through ``SessionStore(read_only=True)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from core import paths
from core.errors import StorageError
from core.models import BriefParams
from core.store import SessionStore
from tests.core.store_child import SPACE, add_one, write_wav

REPO = Path(__file__).resolve().parents[2]
PARAMS = BriefParams(duration_sec=1.0)
SQLITE_SIDE_FILES = {"sessionlab.db-wal", "sessionlab.db-shm"}


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (but SQLite's -wal/-shm) and a hash of its bytes."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name not in SQLITE_SIDE_FILES:
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@cache
def can_mount_read_only() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = Path(f"/tmp/sessionlab-ro-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        done = subprocess.run(
            [
                "unshare",
                "-m",
                "sh",
                "-c",
                'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1"',
                "sh",
                probe,
            ],
            capture_output=True,
        )
        return done.returncode == 0
    finally:
        probe.rmdir()


def read_only_runner() -> str:
    """How to run a command with a dir unwritable even by this user: 'mount' or 'chmod'."""
    if can_mount_read_only():
        return "mount"
    if os.geteuid() != 0:
        return "chmod"
    pytest.skip("running as root without permission to mount: nothing makes a dir read-only for root")


def run_read_only(root: Path, *argv: str) -> subprocess.CompletedProcess:
    """``argv`` (a command line) run while ``root`` cannot be written."""
    kind = read_only_runner()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if kind == "mount":
        script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
        return subprocess.run(
            ["unshare", "-m", "sh", "-c", script, "sh", str(root), *argv],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
    with chmod_read_only(root):
        return subprocess.run(
            argv, cwd=REPO, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )


@contextlib.contextmanager
def chmod_read_only(root: Path) -> Iterator[None]:
    dirs = [root, *(p for p in root.rglob("*") if p.is_dir())]
    for directory in dirs:
        directory.chmod(0o555)
    try:
        yield
    finally:
        for directory in dirs:
            directory.chmod(0o755)


def sessionlab(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "sessionlab", "--data-dir", str(root), *args]


@pytest.fixture
def populated(data_dir: Path) -> tuple[uuid.UUID, uuid.UUID]:
    """A data dir with one session of one batch; (session id, one of its cluster ids)."""
    with SessionStore(data_dir) as store:
        session = store.create_session("read me later", PARAMS)
        add_one(store, session.id, n_tracks=3, position=0)
        cluster_id = store.require_session(session.id).batches[0].clusters[0].id
    return session.id, cluster_id


# --------------------------------------------------------------------------- the store, read-only on request


def test_a_read_only_store_reads_everything_and_writes_nothing(data_dir, populated):
    session_id, cluster_id = populated
    stray = write_wav(paths.session_media_dir(data_dir, session_id) / f"{uuid.uuid4()}.wav", 100.0)
    before = snapshot(data_dir)
    with SessionStore(data_dir, read_only=True) as store:
        assert store.read_only and store.swept_at_open == 0
        [info] = store.list_sessions()
        session = store.require_session(session_id)
        assert info.num_tracks == 3 and len(session.tracks) == 3
        assert store.resolve_session_id(str(session_id)[:8]) == session_id
        assert store.get_centroid(session_id, cluster_id, SPACE) is not None
        assert len(store.get_embeddings([t.id for t in session.tracks], SPACE)) == 3
        track = session.tracks[0]
        refusals = [
            lambda: store.create_session("new", PARAMS),
            lambda: store.rename_session(session_id, "renamed"),
            lambda: store.delete_session(session_id),
            lambda: store.put_embeddings(SPACE, {track.id: np.ones(8)}),
            lambda: store.put_centroid(cluster_id, SPACE, np.ones(8)),
            lambda: store.staging_dir(uuid.uuid4()).__enter__(),
            lambda: add_one(store, session_id, n_tracks=1, position=1),
        ]
        for refused in refusals:
            with pytest.raises(StorageError, match="read-only, so nothing can be saved") as error:
                refused()
            assert "\n" not in str(error.value)
        assert store.sweep_orphans() == 0
    assert snapshot(data_dir) == before  # not a byte changed, not a file added or taken
    assert stray.is_file()


def test_a_read_only_open_of_a_missing_data_dir_creates_nothing(tmp_path):
    root = tmp_path / "never-made"
    with SessionStore(root, read_only=True) as store:
        assert store.list_sessions() == []
    assert not root.exists()


def test_a_writing_open_that_must_write_says_why_it_cannot(data_dir, populated):
    kind = read_only_runner()
    opener = (
        "import sys\nfrom core.store import SessionStore\nfrom core.errors import StorageError\n"
        "try:\n    SessionStore(sys.argv[1], read_only=False)\nexcept StorageError as e:\n    print(e)\n"
    )
    done = run_read_only(data_dir, sys.executable, "-c", opener, str(data_dir))
    assert done.returncode == 0, done.stderr
    why = "is on a read-only file system" if kind == "mount" else "is not writable"
    assert done.stdout.strip() == (
        f"The data directory {data_dir} {why}, so nothing can be saved there"
        " (its sessions can still be listed, shown and played)."
    )


# --------------------------------------------------------------------------- the CLI on an unwritable dir


def test_the_cli_lists_and_shows_a_read_only_data_dir_and_refuses_to_write_it(data_dir, populated, tmp_path):
    session_id, cluster_id = populated
    take = write_wav(tmp_path / "take.wav", 440.0, frames=8000)
    before = snapshot(data_dir)

    listed = run_read_only(data_dir, *sessionlab(data_dir, "sessions", "--json"))
    assert listed.returncode == 0, listed.stderr
    assert [s["id"] for s in json.loads(listed.stdout)] == [str(session_id)]
    shown = run_read_only(data_dir, *sessionlab(data_dir, "show", str(session_id), "--json"))
    assert shown.returncode == 0, shown.stderr
    assert len(json.loads(shown.stdout)["tracks"]) == 3

    writes = [
        ("generate", "--brief", "no room", "--clips", "1", "--duration", "1"),
        ("more", str(session_id), str(cluster_id), "--clips", "1"),
        ("import", str(session_id), str(take)),
        ("import", "--new", str(take)),
    ]
    for args in writes:
        refused = run_read_only(data_dir, *sessionlab(data_dir, *args))
        assert refused.returncode == 2, (args, refused.stderr)
        [line] = refused.stderr.splitlines()
        assert line.startswith(f"sessionlab: The data directory {data_dir} is "), line
        assert "nothing can be saved there" in line
    assert snapshot(data_dir) == before


def test_the_app_store_opens_a_read_only_dir_for_reading_and_its_clips_play(data_dir, populated):
    session_id, _ = populated
    reader = (
        "import sys, uuid\nfrom core.store import SessionStore\nfrom core.audio import read_audio\n"
        "store = SessionStore(sys.argv[1])\n"  # what the app opens: no read_only argument
        "tracks = store.require_session(uuid.UUID(sys.argv[2])).tracks\n"
        "print(store.read_only, [read_audio(t.path)[0].size for t in tracks])\n"
    )
    done = run_read_only(data_dir, sys.executable, "-c", reader, str(data_dir), str(session_id))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(" ", 1)[0] == "True"
    assert done.stdout.split(" ", 1)[1].strip() == "[800, 800, 800]"


def test_a_backup_copy_on_read_only_media_can_be_listed_and_shown(data_dir, populated, tmp_path):
    session_id, _ = populated
    backup = tmp_path / "backup"
    backup.mkdir()
    shutil.copy2(paths.db_path(data_dir), paths.db_path(backup))  # the database alone, no -wal or -shm
    shutil.copytree(paths.media_root(data_dir) / str(session_id), paths.media_root(backup) / str(session_id))
    listed = run_read_only(backup, *sessionlab(backup, "sessions"))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith(str(session_id))
    shown = run_read_only(backup, *sessionlab(backup, "show", str(session_id)))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count(str(paths.media_root(backup))) == 3
    assert sorted(p.name for p in backup.iterdir()) == ["media", "sessionlab.db"]


def test_listing_and_showing_never_write_the_data_dir(data_dir, populated):
    """Reading commands open read-only even where they could write: they sweep and migrate nothing."""
    session_id, _ = populated
    stray = write_wav(paths.session_media_dir(data_dir, session_id) / f"{uuid.uuid4()}.wav", 100.0)
    before = snapshot(data_dir)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for args in (("sessions",), ("show", str(session_id))):
        done = subprocess.run(sessionlab(data_dir, *args), cwd=REPO, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert stray.is_file()
    assert snapshot(data_dir) == before


def test_reading_commands_on_a_data_dir_that_does_not_exist_create_nothing(tmp_path):
    root = tmp_path / "typo"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(sessionlab(root, "sessions"), cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("No sessions yet.")
    assert not root.exists()
