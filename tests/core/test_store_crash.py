"""The store across real processes: SIGKILL inside add_batch, in-flight batches, two writers at once.

Each child is ``python -m tests.core.store_child`` (see that module). The tests
synchronise with it over its stdin and stdout lines, never with sleeps.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from core import paths
from core.models import BriefParams
from core.store import SCHEMA_VERSION, SessionStore

REPO = Path(__file__).resolve().parents[2]
TRACKS = 3


class Child:
    """A store_child process driven line by line."""

    def __init__(self, data_dir: Path, session_id: uuid.UUID, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.core.store_child", str(data_dir), str(session_id), *args],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def expect(self, word: str) -> None:
        line = self.proc.stdout.readline().strip()
        if line != word:
            self.proc.kill()
            _, err = self.proc.communicate()
            pytest.fail(f"child said {line!r} instead of {word!r}: {err}")

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait() == -signal.SIGKILL
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.proc.stdin.close()

    def finish(self) -> list[str]:
        out, err = self.proc.communicate()  # closes stdin: the child needs no more lines
        assert self.proc.returncode == 0, err
        return json.loads(out.strip().splitlines()[-1])["batches"]


def query(root: Path, sql: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(paths.db_path(root))
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def session_files(root: Path, session_id: uuid.UUID) -> set[Path]:
    media = paths.session_media_dir(root, session_id)
    return set(media.glob("*.wav")) if media.is_dir() else set()


def staging_dirs(root: Path) -> list[Path]:
    return [p for p in paths.tmp_root(root).iterdir() if p.is_dir()]


def assert_no_row_without_file(root: Path) -> None:
    for (relative,) in query(root, "SELECT path FROM tracks"):
        assert (root / relative).is_file(), relative
    assert query(root, "PRAGMA integrity_check") == [("ok",)]


def assert_rows_and_files_match(root: Path) -> None:
    assert_no_row_without_file(root)
    named = {root / p for (p,) in query(root, "SELECT path FROM tracks")}
    on_disk = {p for p in paths.media_root(root).glob("*/*.wav") if p.parent.name != "tmp"}
    assert named == on_disk


@pytest.fixture
def session_id(data_dir: Path) -> uuid.UUID:
    with SessionStore(data_dir) as store:
        return store.create_session("crash test", BriefParams()).id


@pytest.mark.parametrize(
    ("pause_at", "renamed", "manifests"),
    [("after-move:1", 1, 0), ("after-move:3", 3, 0), ("before-commit:1", 3, 1)],
    ids=["after-first-rename", "after-last-rename", "inside-the-transaction"],
)
def test_sigkill_inside_add_batch_leaves_no_row_and_the_next_open_keeps_its_files_aside(
    data_dir, session_id, pause_at, renamed, manifests
):
    child = Child(data_dir, session_id, "--tracks", str(TRACKS), "--pause-at", pause_at)
    child.expect("READY")
    child.go()
    child.expect("PAUSED")
    child.kill()

    assert query(data_dir, "SELECT count(*) FROM batches") == [(0,)]
    assert query(data_dir, "SELECT count(*) FROM tracks") == [(0,)]
    assert len(session_files(data_dir, session_id)) == renamed
    assert len(staging_dirs(data_dir)) == 1  # the dead child's, with any clips it had not moved
    assert_no_row_without_file(data_dir)

    assert len(list(paths.session_media_dir(data_dir, session_id).glob("*.json"))) == manifests
    moved = {p.name for p in session_files(data_dir, session_id)}

    with SessionStore(data_dir) as store:
        assert store.swept_at_open == renamed + manifests + 1  # + the staging dir, removed
        assert session_files(data_dir, session_id) == set()
        assert staging_dirs(data_dir) == []
        assert store.require_session(session_id).batches == []
        # The database is writable again: the dead writer's lock went with it.
        store.rename_session(session_id, "after the crash")
    assert_rows_and_files_match(data_dir)
    # Never deleted: the renamed clips (and the manifest, if written) wait in kept-aside/.
    aside = data_dir / "kept-aside" / "media" / str(session_id)
    assert {p.name for p in aside.glob("*.wav")} == moved
    assert len(list(aside.glob("*.json"))) == manifests
    # Killed with its manifest written: recover brings the whole batch back (the musician keeps the clips).
    from core.recovery import recover

    with SessionStore(data_dir) as store:
        report = recover(store, use_backups=False)
        tracks = store.require_session(session_id).tracks
    if manifests:
        assert report.clips == TRACKS and report.problems == []
        assert len(tracks) == TRACKS and all(t.path.is_file() for t in tracks)
    else:
        assert report.clips == 0 and tracks == []
    assert_rows_and_files_match(data_dir)


@pytest.mark.parametrize("pause_at", ["after-move:1", "after-move:3", "before-commit:1", "after-commit:1"])
def test_sigkill_while_a_new_session_is_stored_leaves_it_whole_or_absent(data_dir, pause_at):
    session_id = uuid.uuid4()
    child = Child(data_dir, session_id, "--new-session", "--tracks", str(TRACKS), "--pause-at", pause_at)
    child.expect("READY")
    child.go()
    child.expect("PAUSED")
    child.kill()
    committed = pause_at == "after-commit:1"
    assert query(data_dir, "SELECT id FROM sessions") == ([(str(session_id),)] if committed else [])
    assert query(data_dir, "SELECT count(*) FROM tracks") == [(TRACKS if committed else 0,)]
    assert_no_row_without_file(data_dir)
    with SessionStore(data_dir) as store:
        sessions = [store.require_session(info.id) for info in store.list_sessions()]
    assert [len(s.tracks) for s in sessions] == ([TRACKS] if committed else [])


def test_sigkill_after_commit_keeps_the_whole_batch(data_dir, session_id):
    child = Child(data_dir, session_id, "--tracks", str(TRACKS), "--pause-at", "after-commit:1")
    child.expect("READY")
    child.go()
    child.expect("PAUSED")
    child.kill()
    with SessionStore(data_dir) as store:
        assert store.swept_at_open == 1  # only the staging dir the child did not get to remove
        tracks = store.require_session(session_id).tracks
    assert len(tracks) == TRACKS and all(t.path.is_file() for t in tracks)
    assert_rows_and_files_match(data_dir)


@pytest.mark.parametrize("pause_at", ["after-move:3", "before-commit:1"])
def test_files_of_a_batch_in_flight_in_a_live_process_are_not_swept(data_dir, session_id, pause_at):
    child = Child(data_dir, session_id, "--tracks", str(TRACKS), "--pause-at", pause_at)
    child.expect("READY")
    child.go()
    child.expect("PAUSED")
    in_flight = session_files(data_dir, session_id)
    assert len(in_flight) == TRACKS

    with SessionStore(data_dir) as store:  # opening sweeps
        assert store.swept_at_open == 0
        assert store.sweep_orphans() == 0
        assert session_files(data_dir, session_id) == in_flight
        assert len(staging_dirs(data_dir)) == 1
        # Other sessions stay usable meanwhile (reads, and writes when the child is not mid-transaction).
        assert [s.id for s in store.list_sessions()] == [session_id]
        if pause_at.startswith("after-move"):
            other = store.create_session("meanwhile", BriefParams())
            assert store.get_session(other.id) is not None

    child.go()
    [batch_id] = child.finish()
    with SessionStore(data_dir) as store:
        assert store.swept_at_open == 0
        [batch] = store.require_session(session_id).batches
    assert str(batch.id) == batch_id
    assert {t.path for t in batch.tracks} == in_flight
    assert_rows_and_files_match(data_dir)


def test_two_processes_add_batches_to_one_session_at_once(data_dir, session_id):
    batches = 12
    children = [
        Child(data_dir, session_id, "--batches", str(batches), "--tracks", str(TRACKS), "--sweep-between")
        for _ in range(2)
    ]
    for child in children:
        child.expect("READY")
    for child in children:
        child.go()
    stored = [child.finish() for child in children]

    assert len(set(stored[0]) | set(stored[1])) == 2 * batches
    with SessionStore(data_dir) as store:
        assert store.swept_at_open == 0
        session = store.require_session(session_id)
        assert {str(b.id) for b in session.batches} == set(stored[0]) | set(stored[1])
        # Both children asked for positions 0..11: the store hands out each position once.
        assert [b.position for b in session.batches] == list(range(2 * batches))
        assert all(len(b.tracks) == TRACKS and len(b.clusters) == 2 for b in session.batches)
        tracks = session.tracks
        assert len(store.get_embeddings([t.id for t in tracks], "features-v1")) == 2 * batches * TRACKS
        for batch in session.batches:
            for cluster in batch.clusters:
                assert store.get_centroid(session_id, cluster.id, "features-v1") is not None
    assert all(t.path.is_file() and t.path.stat().st_size > 44 for t in tracks)
    assert query(data_dir, "PRAGMA foreign_key_check") == []
    assert_rows_and_files_match(data_dir)
    assert staging_dirs(data_dir) == []


def wait_until_blocked_on(lock_file: Path, thread: threading.Thread) -> None:
    """Return once a thread of this process waits for a flock on ``lock_file`` (Linux /proc/locks),
    or once ``thread`` has ended (it did not wait: the caller's next assertion tells)."""
    inode = f":{lock_file.stat().st_ino} "
    while thread.is_alive() and not any(
        line.split()[2:3] == ["FLOCK"] and f" {os.getpid()} " in line and inode in line
        for line in Path("/proc/locks").read_text().splitlines()
        if " -> " in line
    ):
        time.sleep(0.005)  # polling a condition, not asserting on time


def test_processes_opening_a_new_data_dir_at_once_agree_on_one_schema(data_dir):
    opener = (
        "import sys; from core.store import SessionStore; from core.models import BriefParams; "
        "sys.stdin.readline(); store = SessionStore(sys.argv[1]); "
        "print(store.create_session('opened at once', BriefParams()).id); store.close()"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", opener, str(data_dir)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for proc in procs:  # every interpreter is up before any opens the store
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, [err for _, err in results]
    created = {uuid.UUID(out.strip()) for out, _ in results}
    with SessionStore(data_dir) as store:
        assert {s.id for s in store.list_sessions()} == created
    assert query(data_dir, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert query(data_dir, "PRAGMA journal_mode") == [("wal",)]
    assert query(data_dir, "PRAGMA integrity_check") == [("ok",)]


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux /proc/locks")
def test_deleting_a_session_waits_for_its_batch_in_flight(data_dir, session_id):
    """delete_session here while another process is mid add_batch: the batch commits, then all goes."""
    child = Child(data_dir, session_id, "--tracks", str(TRACKS), "--pause-at", "after-move:2")
    child.expect("READY")
    child.go()
    child.expect("PAUSED")
    with SessionStore(data_dir) as store:
        errors: list[BaseException] = []

        def delete() -> None:
            try:
                store.delete_session(session_id)
            except BaseException as exc:
                errors.append(exc)

        deleter = threading.Thread(target=delete)
        deleter.start()
        wait_until_blocked_on(data_dir / "locks" / f"{session_id}.lock", deleter)
        assert store.get_session(session_id) is not None  # blocked: nothing deleted yet
        child.go()
        [batch_id] = child.finish()  # the batch commits whole...
        deleter.join()
        assert errors == []
        assert store.get_session(session_id) is None  # ...then the delete takes its rows and files
    assert batch_id
    assert not paths.session_media_dir(data_dir, session_id).exists()
    assert query(data_dir, "SELECT count(*) FROM tracks") == [(0,)]
    assert_rows_and_files_match(data_dir)
    assert os.listdir(paths.tmp_root(data_dir)) == []


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux /proc/locks")
def test_a_lock_file_unlinked_by_its_holder_is_locked_afresh(tmp_path):
    from core.store import _acquire, _release

    path = tmp_path / "thing.lock"
    holder = _acquire(path, blocking=True)
    got: list[int | None] = []
    waiter = threading.Thread(target=lambda: got.append(_acquire(path, blocking=True)))
    waiter.start()
    wait_until_blocked_on(path, waiter)
    _release(holder, path)  # the holder removes what it guarded: the waiter wakes on a dead inode
    waiter.join()
    [fd] = got
    assert os.fstat(fd).st_ino == os.stat(path).st_ino  # it locked the file now at the path
    assert _acquire(path, blocking=False) is None  # and that lock excludes others
    _release(fd)
    assert _acquire(path, blocking=False) is not None


def test_doctor_does_not_take_a_batch_in_flight_for_unknown_files(data_dir, session_id):
    from core.doctor import check

    child = Child(data_dir, session_id, "--tracks", str(TRACKS), "--pause-at", "before-commit:1")
    child.expect("READY")
    child.go()
    child.expect("PAUSED")
    report = check(data_dir)  # the clips and manifest are in place, the rows not yet committed
    assert report.problems == []
    assert [f.code for f in report.findings if f.code == "in-flight"] == ["in-flight"]
    child.go()
    child.finish()
    assert check(data_dir).healthy


def run_cli_killed_at(data_dir: Path, kill_at: str, *args: str) -> subprocess.CompletedProcess:
    """``sessionlab ARGS`` in a child that SIGKILLs itself at store checkpoint ``kill_at`` (POINT:N)."""
    return subprocess.run(
        [sys.executable, "-m", "tests.core.cli_child", kill_at, "--data-dir", str(data_dir), *args],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )


def new_session_command(command: str, tmp_path: Path) -> list[str]:
    if command == "generate":
        return [
            "generate",
            "--brief",
            "killed while saving",
            "--clips",
            "2",
            "--duration",
            "1",
            "--seed",
            "5",
        ]
    from tests.core.store_child import write_wav

    takes = [write_wav(tmp_path / f"take-{i}.wav", 300.0 + 200.0 * i, frames=8000) for i in range(2)]
    return ["import", "--new", *map(str, takes)]


@pytest.mark.parametrize(
    ("command", "kill_at"),
    [
        ("generate", "after-move:1"),
        ("generate", "after-move:2"),
        ("generate", "before-commit:1"),
        ("import", "after-move:1"),
        ("import", "before-commit:1"),
    ],
)
def test_a_kill_while_a_new_session_is_saved_leaves_no_empty_session(data_dir, tmp_path, command, kill_at):
    killed = run_cli_killed_at(data_dir, kill_at, *new_session_command(command, tmp_path))
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    # The session and its first batch commit together: killed before the commit, neither exists.
    assert query(data_dir, "SELECT count(*) FROM sessions") == [(0,)]
    assert query(data_dir, "SELECT count(*) FROM batches") == [(0,)]
    assert_no_row_without_file(data_dir)
    with SessionStore(data_dir) as store:  # a later open (which sweeps) has no empty session to keep
        assert store.list_sessions() == []


@pytest.mark.parametrize("command", ["generate", "import"])
def test_a_kill_just_after_a_new_session_commits_keeps_it_whole(data_dir, tmp_path, command):
    killed = run_cli_killed_at(data_dir, "after-commit:1", *new_session_command(command, tmp_path))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with SessionStore(data_dir) as store:
        [info] = store.list_sessions()
        session = store.require_session(info.id)
    assert [len(b.tracks) for b in session.batches] == [2]
    assert all(t.path.is_file() for t in session.tracks)
    assert_rows_and_files_match(data_dir)
