"""The use cases of core.pipeline called directly: a Run holds one call's state, Tools the rest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core import clustering
from core.models import BriefParams
from core.pipeline import generate, more_like
from core.pipeline.run import Run
from core.pipeline.tools import Tools
from core.providers.base import STAGE_GENERATING, STAGE_SAVING
from core.service import SessionService
from core.settings import Settings
from core.store import SessionStore
from tests.core.fakes import FakeEmbedder, FakeMusic, FakeNamer, FixedNamer, FlakyNamer

VECTORS = {200: [1.0, 0.0, 0.0], 400: [0.0, 1.0, 0.0], 800: [0.0, 0.0, 1.0]}
PARAMS = BriefParams(energy=0.4, density=0.6, duration_sec=0.5)
FIXED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def store(data_dir: Path):
    store = SessionStore(data_dir)
    yield store
    store.close()


def make_tools(store: SessionStore, **changes) -> Tools:
    options = dict(
        store=store,
        music=FakeMusic(),
        embedder=FakeEmbedder(VECTORS),
        namer=FakeNamer(),
        settings=Settings(data_dir=store.root),
        clusterer=clustering.cluster_embeddings,
    )
    options.update(changes)
    return Tools(**options)


def test_a_use_case_runs_on_tools_and_a_run_without_the_service(store):
    seen: list[str] = []
    ready: list[int] = []
    run = Run(progress=lambda stage, done, total: seen.append(stage), on_clip=lambda i, n, p: ready.append(i))
    tools = make_tools(store, now=lambda: FIXED)
    session = generate.initial(tools, run, "dusty keys", PARAMS, 6, seed=1)

    stored = store.require_session(session.id)
    (batch,) = stored.batches
    assert batch.num_generated == 6 and sorted(ready) == list(range(6))
    # Rows are stamped by the tools' clock, not the wall clock.
    assert batch.created_at == FIXED
    assert {t.created_at for t in batch.tracks} == {FIXED}
    assert {c.created_at for c in batch.clusters} == {FIXED}
    assert seen[0] == STAGE_GENERATING and seen[-1] == STAGE_SAVING
    assert run.timings is not None and set(run.timings["stages"]) >= {STAGE_GENERATING, STAGE_SAVING}
    assert run.notices == []

    child = more_like.more_like(tools, Run(), session.id, batch.clusters[0].id, 2, seed=5)
    assert child.parent_cluster_id == batch.clusters[0].id
    assert [b.id for b in store.require_session(session.id).batches] == [batch.id, child.id]


def test_each_call_keeps_its_own_notices(store):
    service = SessionService(
        store,
        FakeMusic(),
        FakeEmbedder(VECTORS),
        FlakyNamer(),
        settings=Settings(data_dir=store.root),
        fallback_namer=FixedNamer(),
    )
    service.create_initial_batch("first", PARAMS, 6, seed=1)
    first = service.notices
    assert any("failed" in notice for notice in first)
    kept = list(first)

    service.create_initial_batch("second", PARAMS, 6, seed=2)  # the flaky namer behaves now
    assert service.notices == []
    assert first == kept  # the second call wrote nothing into the first call's notices
