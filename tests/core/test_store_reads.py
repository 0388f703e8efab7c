"""A big session read piece by piece (core/store/reads.py): its start, then batches by id,
fit together into exactly what get_session reads whole."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import core.store.reads as reads
from core.models import BATCH_MORE, Batch, BriefParams
from core.store import SessionStore
from tests.core.store_child import SPACE, add_one, make_batch

PARAMS = BriefParams(energy=0.7, density=0.3, duration_sec=4.0)


@pytest.fixture
def store(data_dir: Path):
    store = SessionStore(data_dir)
    yield store
    store.close()


def add_more(store: SessionStore, session_id: uuid.UUID, parent: uuid.UUID) -> uuid.UUID:
    """A more-like batch of ``parent`` (a cluster id), stored as the service stores one."""
    batch_id = uuid.uuid4()
    with store.staging_dir(batch_id) as staging:
        batch, centroids, embeddings, staged = make_batch(
            store, session_id, staging, n_tracks=2, n_clusters=1, batch_id=batch_id
        )
        batch.kind = BATCH_MORE
        batch.parent_cluster_id = parent
        for cluster in batch.clusters:
            cluster.parent_cluster_id = parent
        store.add_batch(session_id, batch, centroids, space=SPACE, embeddings=embeddings, staged_files=staged)
    return batch_id


def lineage(session_batches: list[Batch], batch: Batch) -> list[Batch]:
    """The batches a batch came from, nearest first (more-like parents up to the top)."""
    owner = {c.id: b for b in session_batches for c in b.clusters}
    chain = []
    while batch.parent_cluster_id in owner:
        batch = owner[batch.parent_cluster_id]
        chain.append(batch)
    return chain


def test_the_start_holds_the_first_the_latest_and_their_lineage(store):
    session = store.create_session("brief", PARAMS)
    other = store.create_session("other", PARAMS)
    add_one(store, other.id, n_tracks=2, position=0)
    ids = [add_one(store, session.id, n_tracks=3, position=0) for _ in range(6)]
    whole = store.require_session(session.id)
    # A chain of more-like batches from batch 2 (an old one), the last among the latest.
    parent = whole.batches[1].clusters[0].id
    for _ in range(2):
        more = add_more(store, session.id, parent)
        parent = next(b for b in store.require_session(session.id).batches if b.id == more).clusters[0].id
    for _ in range(3):
        ids.append(add_one(store, session.id, n_tracks=2, position=0))
    more = add_more(store, session.id, parent)  # the latest: a grandchild of batch 2's cluster
    whole = store.require_session(session.id)
    latest = whole.batches[-1]
    assert latest.id == more and len(lineage(whole.batches, latest)) == 3

    start = store.get_session_start(session.id, recent=2)
    assert start is not None
    assert start.order == [b.id for b in whole.batches]
    assert start.clips == len(whole.tracks)
    held = {b.id for b in start.session.batches}
    wanted = {whole.batches[0].id} | {b.id for b in whole.batches[-2:]}
    wanted |= {b.id for b in lineage(whole.batches, latest)}
    assert held == wanted
    # Each batch held is as get_session reads it, in the session's order; the head is the same.
    by_id = {b.id: b for b in whole.batches}
    assert start.session.batches == [by_id[i] for i in start.order if i in held]
    assert {**start.session.__dict__, "batches": []} == {**whole.__dict__, "batches": []}
    assert start.missing == [i for i in start.order if i not in held]

    # The rest by id, in any chunks: together, the whole session.
    rest: list[Batch] = []
    for first in range(0, len(start.missing), 2):
        rest += store.get_batches(session.id, start.missing[first : first + 2])
    assert sorted([*start.session.batches, *rest], key=lambda b: b.position) == whole.batches
    # Ids of another session, or of nothing, read nothing.
    foreign = store.require_session(other.id).batches[0].id
    assert store.get_batches(session.id, [foreign, uuid.uuid4()]) == []
    assert store.get_session_start(uuid.uuid4(), recent=5) is None


def test_the_start_of_a_small_session_is_the_whole_session(store):
    session = store.create_session("brief", PARAMS)
    for _ in range(3):
        add_one(store, session.id, n_tracks=2, position=0)
    whole = store.require_session(session.id)
    start = store.get_session_start(session.id, recent=5)
    assert start is not None and start.session == whole and start.missing == []
    # recent=0: the first batch only (what is highlighted when a session opens).
    start = store.get_session_start(session.id, recent=0)
    assert start is not None and start.session.batches == whole.batches[:1]
    empty = store.create_session("empty", PARAMS)
    start = store.get_session_start(empty.id, recent=5)
    assert start is not None and start.order == [] and start.clips == 0


def test_batches_read_in_chunks_larger_than_one_query(store, monkeypatch):
    """More ids than one IN (...) takes: read in several queries, still in order."""
    monkeypatch.setattr(reads, "_CHUNK", 2)
    session = store.create_session("brief", PARAMS)
    for _ in range(5):
        add_one(store, session.id, n_tracks=2, position=0)
    whole = store.require_session(session.id)
    ids = [b.id for b in reversed(whole.batches)]  # asked in any order: given in the session's
    assert store.get_batches(session.id, ids) == whole.batches
    start = store.get_session_start(session.id, recent=3)
    assert start is not None and start.order == [b.id for b in whole.batches]
