"""The session map: deterministic, old points still under a new batch, a refit turned onto the old map."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from core import clustering
from core.errors import CancelledError
from core.maps import (
    MapPoint,
    fit_prefixes,
    forget_placed,
    nearest_in_direction,
    project,
    session_map,
    session_space,
)
from core.models import BriefParams
from core.service import SessionService
from core.settings import Settings
from core.store import SessionStore
from core.store import clips as clips_module
from tests.core.fakes import FakeEmbedder, FakeMusic, FakeNamer

PARAMS = BriefParams(duration_sec=0.2)


def spread(xy: np.ndarray) -> float:
    return float(np.sqrt(((xy - xy.mean(axis=0)) ** 2).sum(axis=1).mean()))


def moved(before: np.ndarray, after: np.ndarray) -> float:
    """Mean distance moved, over the spread of the earlier map."""
    return float(np.linalg.norm(before - after, axis=1).mean()) / spread(before)


def plane(rng: np.random.Generator, n: int, scales: tuple[float, float], dim: int = 8) -> np.ndarray:
    """``n`` points spread along axes 0 and 1 by ``scales``, with a little noise elsewhere."""
    rows = rng.normal(scale=0.01, size=(n, dim))
    rows[:, 0] = rng.normal(scale=scales[0], size=n)
    rows[:, 1] = rng.normal(scale=scales[1], size=n)
    return rows


def test_fit_prefixes_refit_only_when_the_session_doubles() -> None:
    assert fit_prefixes([6]) == [6]
    assert fit_prefixes([6, 2, 3, 10]) == [6, 21]  # 8 and 11 are under 12
    assert fit_prefixes([1, 1, 2, 4, 8]) == [1, 2, 4, 8, 16]


def test_the_projection_is_deterministic_and_its_axes_have_a_sign() -> None:
    rows = plane(np.random.default_rng(1), 30, (3.0, 1.0))
    first = project(rows, [30])
    assert np.array_equal(first, project(rows.copy(), [30]))
    # Flipping the data's axes flips the data, not the picture: the signs are fixed by the loadings.
    mirrored = project(-rows, [30])
    assert np.allclose(np.abs(mirrored), np.abs(first))
    # The first axis carries the most spread.
    assert first[:, 0].std() > 2 * first[:, 1].std()


def test_a_small_new_batch_does_not_move_the_old_points_at_all() -> None:
    rng = np.random.default_rng(2)
    old = plane(rng, 20, (3.0, 1.0))
    new = plane(rng, 5, (1.0, 3.0)) + 2.0
    before = project(old, [20])
    after = project(np.vstack([old, new]), [20, 5])
    assert np.array_equal(after[:20], before)


def test_a_refit_turns_the_new_basis_onto_the_old_map() -> None:
    """The second batch swaps which axis spreads most: a fresh PCA would turn the picture
    by 90 degrees; the refit is aligned, so the old points stay where they were."""
    rng = np.random.default_rng(3)
    old = plane(rng, 20, (3.0, 1.0))
    new = plane(rng, 30, (1.0, 4.0))
    both = np.vstack([old, new])
    before = project(old, [20])
    aligned = project(both, [20, 30])[:20]
    fresh = project(both, [50])[:20]  # the same clips fitted from scratch, as a naive map would
    assert fit_prefixes([20, 30]) == [20, 50]  # this batch does refit
    assert moved(before, fresh) > 0.5
    assert moved(before, aligned) < 0.05


@pytest.fixture
def service(data_dir: Path):
    vectors = {200: [1.0, 0.0, 0.0], 400: [0.0, 1.0, 0.0], 800: [0.0, 0.0, 1.0]}
    store = SessionStore(data_dir)
    yield SessionService(
        store,
        FakeMusic(),
        FakeEmbedder(vectors),
        FakeNamer(),
        settings=Settings(data_dir=data_dir),
        clusterer=clustering.cluster_embeddings,
    )
    store.close()


def test_the_map_of_a_stored_session_is_the_same_on_every_visit(
    service: SessionService, data_dir: Path
) -> None:
    session = service.create_initial_batch("dusty keys", PARAMS, 6, seed=1)
    service.add_brief_batch(session.id, "bright bells", PARAMS, 2, seed=2)  # 8 < 12: no refit
    stored = service.store.require_session(session.id)
    first = session_map(service.store, stored)
    assert first.space == "fake-v1" == session_space(stored)
    assert len(first.points) == 8 and first.missing == 0
    assert [p.track_id for p in first.points] == [t.id for t in stored.tracks]
    assert {p.cluster_id for p in first.points} == {c.id for c in stored.clusters}
    forget_placed()  # as a new process would: nothing kept
    with SessionStore(data_dir, read_only=True) as reader:  # a new process's visit, read-only
        again = session_map(reader, reader.require_session(session.id))
    assert again.points == first.points
    # The first batch's clips sit where they sat before the second batch came.
    only_first = stored.batches[0].tracks
    stored.batches = stored.batches[:1]
    alone = session_map(service.store, stored)
    assert [(p.x, p.y) for p in alone.points] == [
        (first.point(t.id).x, first.point(t.id).y) for t in only_first
    ]


def test_clips_without_a_vector_in_the_space_are_counted_not_placed(service: SessionService) -> None:
    session = service.create_initial_batch("dusty keys", PARAMS, 6, seed=1)
    stored = service.store.require_session(session.id)
    other = session_map(service.store, stored, space="clap:nothing-here")
    assert other.points == [] and other.missing == 6


def test_arrows_go_to_the_nearest_clip_that_way() -> None:
    ids = [uuid.UUID(int=i) for i in range(5)]
    cluster = uuid.UUID(int=99)
    centre, east, far_east, north, north_east = (
        MapPoint(ids[0], cluster, 0.0, 0.0),
        MapPoint(ids[1], cluster, 1.0, 0.1),
        MapPoint(ids[2], cluster, 3.0, 0.0),
        MapPoint(ids[3], cluster, 0.0, 2.0),
        MapPoint(ids[4], cluster, 1.5, 1.4),
    )
    points = [centre, east, far_east, north, north_east]
    assert nearest_in_direction(points, centre, 1, 0) == east
    assert nearest_in_direction(points, east, 1, 0) == far_east
    assert nearest_in_direction(points, centre, 0, 1) == north
    assert nearest_in_direction(points, centre, -1, 0) is None
    assert nearest_in_direction(points, centre, 0, -1) is None
    # Measured as drawn: up and to the right is off to the side until x is squashed; then it is nearest.
    upward = [centre, north, north_east]
    assert nearest_in_direction(upward, centre, 0, 1) == north
    assert nearest_in_direction(upward, centre, 0, 1, scale=(0.1, 1.0)) == north_east


def test_a_session_asked_again_is_not_placed_again_and_a_grown_one_projects_only_its_new_clips(
    service: SessionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = service.store
    session = service.create_initial_batch("dusty keys", PARAMS, 6, seed=1)
    first = session_map(store, store.require_session(session.id))
    reads: list[object] = []
    read = SessionStore.get_session_vectors

    def counted(self: SessionStore, *args: object, **kwargs: object) -> object:
        reads.append(args)
        return read(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SessionStore, "get_session_vectors", counted)
    # Reopened (a new copy of the same batches): the same map, nothing read again.
    assert session_map(store, store.require_session(session.id)) is first and reads == []
    # A batch that brings no refit (8 < 12): only its clips are read, projected onto the
    # basis in force, exactly where placing the whole session afresh puts them.
    service.add_brief_batch(session.id, "bright bells", PARAMS, 2, seed=2)
    grown_session = store.require_session(session.id)
    grown = session_map(store, grown_session)
    assert reads == [] and len(grown) == 8
    assert grown.track_ids[:6] == first.track_ids and np.array_equal(grown.xy[:6], first.xy)
    forget_placed()
    fresh = session_map(store, grown_session)
    assert len(reads) == 1
    assert (fresh.track_ids, fresh.cluster_ids) == (grown.track_ids, grown.cluster_ids)
    np.testing.assert_allclose(grown.xy, fresh.xy, rtol=0, atol=1e-12)
    # A batch that doubles the session refits: the whole session is read and placed again.
    service.add_brief_batch(session.id, "low drone", PARAMS, 6, seed=3)  # 14 >= 2 * 6
    refit_session = store.require_session(session.id)
    refit = session_map(store, refit_session)
    assert len(reads) == 2 and len(refit) == 14
    forget_placed()
    np.testing.assert_array_equal(session_map(store, refit_session).xy, refit.xy)


class StopAfter(threading.Event):
    """An event that sets itself at its ``looks``-th look: a placing stopped at each
    point where it looks, in turn."""

    def __init__(self, looks: int) -> None:
        super().__init__()
        self.looks_left = looks
        self.looked = 0

    def is_set(self) -> bool:
        self.looked += 1
        if self.looks_left <= 0:
            self.set()
        self.looks_left -= 1
        return super().is_set()


def test_a_placing_stopped_anywhere_keeps_nothing_and_the_next_is_the_same_map(
    service: SessionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = service.store
    session = service.create_initial_batch("dusty keys", PARAMS, 6, seed=1)
    service.add_brief_batch(session.id, "bright bells", PARAMS, 2, seed=2)
    service.add_brief_batch(session.id, "low drone", PARAMS, 6, seed=3)  # 14 >= 2 * 6: two epochs
    stored = store.require_session(session.id)
    never = session_map(store, stored)  # never stopped
    forget_placed()
    monkeypatch.setattr(clips_module, "VECTOR_CHUNK", 4)  # 14 clips: four chunks, a look before each
    monkeypatch.setattr(clips_module, "PROGRESS_STEPS", 300)  # and looks from SQLite while it sorts
    counting = StopAfter(10**6)
    assert session_map(store, stored, stop=counting).xy.shape == (14, 2)
    looks = counting.looked
    # Five in the read (four chunks and the end), one before the fit, one per refit, and SQLite's.
    assert looks > 7, looks
    reads: list[object] = []
    read = SessionStore.get_session_vectors

    def counted(self: SessionStore, *args: object, **kwargs: object) -> object:
        reads.append(args)
        return read(self, *args, **kwargs)  # type: ignore[arg-type]

    stopped = 0
    for stop_at in range(looks):
        forget_placed()
        stop = StopAfter(stop_at)
        try:
            whole = session_map(store, stored, stop=stop)
        except CancelledError:
            stopped += 1
        else:  # SQLite's looks are not always as many from one read to the next: never set
            assert stop.looked <= stop_at, stop_at
            np.testing.assert_array_equal(whole.xy, never.xy)
            continue
        # Nothing half made was kept, the read's transaction and the store's lock are let go.
        reads.clear()
        with monkeypatch.context() as patched:
            patched.setattr(SessionStore, "get_session_vectors", counted)
            again = session_map(store, stored, stop=threading.Event())
        assert len(reads) == 1, stop_at
        assert (again.track_ids, again.cluster_ids) == (never.track_ids, never.cluster_ids)
        np.testing.assert_array_equal(again.xy, never.xy)
    assert stopped >= looks - 2
    # The store still writes (no read left open).
    service.add_brief_batch(session.id, "soft pads", PARAMS, 2, seed=4)


def test_a_grown_placing_stopped_keeps_the_map_before_it(service: SessionService) -> None:
    store = service.store
    session = service.create_initial_batch("dusty keys", PARAMS, 6, seed=1)
    first = session_map(store, store.require_session(session.id))
    service.add_brief_batch(session.id, "bright bells", PARAMS, 2, seed=2)  # 8 < 12: projected, no refit
    grown = store.require_session(session.id)
    for stop_at in range(2):  # before the new clips' vectors are read, and after
        with pytest.raises(CancelledError):
            session_map(store, grown, stop=StopAfter(stop_at))
        before = store.require_session(session.id)
        before.batches = before.batches[:1]
        assert session_map(store, before) is first  # still kept, untouched
    placed = session_map(store, grown, stop=threading.Event())
    assert placed.track_ids[:6] == first.track_ids and np.array_equal(placed.xy[:6], first.xy)
    forget_placed()
    np.testing.assert_allclose(session_map(store, grown).xy, placed.xy, rtol=0, atol=1e-12)
