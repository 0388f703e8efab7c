"""SessionStore on disk: staging dirs, the sweep, a moved data dir, threads, closing."""

from __future__ import annotations

import shutil
import threading
import uuid

import pytest

import core.store.batches as store_batches
from core import paths
from core.errors import StorageError
from core.models import (
    Session,
)
from core.store import SessionStore
from core.store.locks import _acquire, _release
from tests.core.store_child import add_one, write_wav
from tests.core.store_helpers import PARAMS, add_simple_batch, assert_consistent

# --------------------------------------------------------------------------- staging and sweeping


def test_staging_dir_is_locked_while_in_use_and_removed_after(store, monkeypatch):
    monkeypatch.setattr(store_batches, "STAGING_LOCK_WAIT_SEC", 0.05)
    batch_id = uuid.uuid4()
    with store.staging_dir(batch_id) as staging:
        assert staging == paths.tmp_root(store.root) / str(batch_id)
        write_wav(staging / "round-0" / "clip.wav", 330.0)
        with pytest.raises(StorageError, match="already being made"), store.staging_dir(batch_id):
            pass
        assert store.sweep_orphans() == 0  # held by us: not abandoned
        assert (staging / "round-0" / "clip.wav").is_file()
    assert not staging.exists()
    assert list(paths.tmp_root(store.root).iterdir()) == []
    with pytest.raises(RuntimeError), store.staging_dir(batch_id) as staging:
        write_wav(staging / "clip.wav", 330.0)
        raise RuntimeError("cancelled")
    assert list(paths.tmp_root(store.root).iterdir()) == []


def test_a_new_batch_waits_out_a_sweep_that_holds_its_lock_a_moment(store):
    """A sweep (here, or in a process opening the store) can lock a new batch's lock file
    between the batch creating it and locking it: the batch waits for it to let go
    instead of failing as if another process were making it."""
    batch_id = uuid.uuid4()
    lock_path = paths.tmp_root(store.root) / f"{batch_id}.lock"
    held = _acquire(lock_path, blocking=False)  # as sweep_staging does, then unlinks it
    assert held is not None
    sweep = threading.Timer(0.2, _release, args=(held, lock_path))
    sweep.start()
    try:
        with store.staging_dir(batch_id) as staging:
            assert staging.is_dir()
            assert _acquire(lock_path, blocking=False) is None  # ours now
    finally:
        sweep.join()
    assert list(paths.tmp_root(store.root).iterdir()) == []


def test_sweep_removes_what_no_row_names(store):
    session = store.create_session("brief", PARAMS)
    batch = add_simple_batch(store, session.id)
    media = paths.session_media_dir(store.root, session.id)
    orphan = write_wav(media / f"{uuid.uuid4()}.wav", 100.0)
    half_written = write_wav(media / ".tmp-abc.wav", 100.0)
    gone = paths.session_media_dir(store.root, uuid.uuid4())
    write_wav(gone / f"{uuid.uuid4()}.wav", 100.0)
    abandoned = paths.tmp_root(store.root) / str(uuid.uuid4())
    write_wav(abandoned / "clip.wav", 100.0)
    (paths.tmp_root(store.root) / f"{abandoned.name}.lock").touch()  # its maker died
    unrelated = paths.media_root(store.root) / "notes.txt"
    unrelated.write_text("not ours")
    stale_lock = store.root / "locks" / f"{uuid.uuid4()}.lock"  # of a session deleted by a crashed process
    stale_lock.touch()
    live_lock = store.root / "locks" / f"{session.id}.lock"
    assert live_lock.exists()

    assert store.sweep_orphans() == 4
    assert not orphan.exists() and not half_written.exists()
    assert not gone.exists() and not abandoned.exists()
    # Audio is never deleted because no row names it: it is kept aside (the staging dir of a dead maker goes).
    aside = store.root / "kept-aside" / "media"
    assert (aside / str(session.id) / orphan.name).is_file()
    assert (aside / str(session.id) / half_written.name).is_file()
    assert len(list((aside / gone.name).glob("*.wav"))) == 1
    assert list(paths.tmp_root(store.root).iterdir()) == []
    assert unrelated.exists()
    assert not stale_lock.exists() and live_lock.exists()
    assert all(t.path.is_file() for t in batch.tracks)
    assert store.sweep_orphans() == 0
    assert_consistent(store.root)


def test_a_moved_data_dir_still_finds_its_media(data_dir, tmp_path):
    with SessionStore(data_dir) as store:
        session = store.create_session("brief", PARAMS)
        batch = add_simple_batch(store, session.id)
    moved = tmp_path / "elsewhere"
    shutil.move(data_dir, moved)
    with SessionStore(moved) as store:
        tracks = store.require_session(session.id).tracks
        assert store.swept_at_open == 0
    assert [t.id for t in tracks] == [t.id for t in batch.tracks]
    assert all(t.path.is_relative_to(moved) and t.path.is_file() for t in tracks)


def test_threads_share_one_store(store):
    sessions = [store.create_session(f"s{i}", PARAMS) for i in range(2)]
    errors: list[BaseException] = []
    start = threading.Barrier(5)

    def writer(session: Session, first: int) -> None:
        try:
            start.wait()
            for i in range(10):
                add_one(store, session.id, n_tracks=2, position=first + i)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def reader() -> None:
        try:
            start.wait()
            for _ in range(40):
                for info in store.list_sessions():
                    store.get_session(info.id)
                store.sweep_orphans()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(sessions[0], 0)),
        threading.Thread(target=writer, args=(sessions[0], 100)),
        threading.Thread(target=writer, args=(sessions[1], 0)),
        threading.Thread(target=reader),
        threading.Thread(target=reader),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.require_session(sessions[0].id).batches) == 20
    assert len(store.require_session(sessions[1].id).tracks) == 20
    assert_consistent(store.root)


def test_closed_store_says_so(data_dir):
    store = SessionStore(data_dir)
    store.close()
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.list_sessions()
