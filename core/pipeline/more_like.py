"""More like a cluster: generate near it, keep what is similar enough, store it as a new child batch."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import numpy as np

from core import clustering
from core.errors import NotFoundError
from core.models import BATCH_IMPORT, BATCH_MORE, Batch, BriefParams, ClusterSummary, Session, Track, new_id
from core.pipeline import rounds, steps
from core.pipeline.generate import random_seed
from core.pipeline.run import Run
from core.pipeline.tools import Tools
from core.prompt import render_prompt
from core.providers.base import STAGE_CLUSTERING, STAGE_EMBEDDING, ReferenceClip
from core.similarity import cosine_similarity, filter_by_similarity
from core.validation import validate_num_clips


def more_like(
    tools: Tools,
    run: Run,
    session_id: uuid.UUID,
    cluster_id: uuid.UUID,
    num_clips: int,
    *,
    seed: int | None,
    strength: str | None = None,
) -> Batch:
    """The stored child batch: one new cluster with the parent's label; the parent is never touched.

    Reads the session's own row and the parent cluster's batch, nothing else.
    Generates in rounds until ``num_clips`` candidates pass the similarity floor or
    ``num_clips * more_like_candidate_factor`` were made; then keeps the best.
    ``strength`` (one of ``VARIATION_STRENGTHS``, for an engine that takes one) overrides
    the ``variation_strength`` setting for this call.
    """
    settings = tools.settings
    num_clips = validate_num_clips(num_clips, settings.max_batch_size)
    strength = steps.check_strength(tools, strength)
    session = tools.store.require_session_head(session_id)
    found = tools.store.find_cluster(session_id, cluster_id)
    if found is None:
        raise NotFoundError(f"No cluster {cluster_id} in session {session_id}.")
    parent_batch, parent = found
    steps.check_duration(tools, _params(session, parent_batch).duration_sec)
    clustering.warm_up()
    run.start_clock()
    members = [t for t in parent_batch.tracks if t.id in set(parent.track_ids)]
    centroid = _centroid(tools, run, session.id, parent, members)
    prompt = _prompt(session, parent_batch)
    params = _params(session, parent_batch)
    batch_seed = random_seed() if seed is None else int(seed)
    references = [ReferenceClip(t.path, t.seed, t.recipe) for t in members]
    batch_id = new_id()
    with tools.store.staging_dir(batch_id) as staging:
        candidates = rounds.gather(
            tools,
            run,
            prompt,
            params,
            batch_seed,
            staging,
            references,
            num_clips,
            lambda vector: cosine_similarity(vector, centroid) >= settings.min_similarity,
            strength=strength,
        )
        run.check_cancel()
        started = time.perf_counter()
        run.report(STAGE_CLUSTERING, 0, 1)
        chosen = filter_by_similarity(
            [c.embedding for c in candidates], centroid, settings.min_similarity, num_clips
        )
        run.report(STAGE_CLUSTERING, 1, 1)
        run.timer.add(STAGE_CLUSTERING, time.perf_counter() - started)
        batch = rounds.store_child(
            tools,
            run,
            batch_id,
            session.id,
            prompt,
            params,
            [candidates[i] for i in chosen],
            kind=BATCH_MORE,
            label=parent.label,
            parent_cluster_id=parent.id,
            num_requested=num_clips,
            seed=batch_seed,
            similarity=lambda vector: cosine_similarity(vector, centroid),
        )
    return run.finish(batch)


def _centroid(
    tools: Tools, run: Run, session_id: uuid.UUID, cluster: ClusterSummary, members: Sequence[Track]
) -> np.ndarray:
    """The cluster's centroid in the current embedder's space, computed from its clips if needed.

    What it computes (the members' embeddings, the centroid) is a cache of derived
    values, stored as it goes: a cancelled batch leaves it, and the next one uses it.
    """
    store, embedder = tools.store, tools.embedder
    space = embedder.space
    stored = store.get_centroid(session_id, cluster.id, space)
    if stored is not None:
        return stored
    started = time.perf_counter()
    known = store.get_embeddings([t.id for t in members], space)
    fresh: dict[uuid.UUID, np.ndarray] = {}
    for track in members:
        if track.id not in known:
            fresh[track.id] = np.asarray(embedder.embed_audio(track.path), dtype=np.float32).ravel()
    if fresh:
        store.put_embeddings(space, fresh)
    vectors = [known[t.id] if t.id in known else fresh[t.id] for t in members]
    if not vectors:
        raise NotFoundError(f"Cluster {cluster.label!r} has no clips to start from.")
    centroid = clustering.centroid_of(vectors)
    store.put_centroid(cluster.id, space, centroid)
    run.timer.add(STAGE_EMBEDDING, time.perf_counter() - started)
    return centroid


def _prompt(session: Session, parent_batch: Batch) -> str:
    if parent_batch.kind == BATCH_IMPORT:
        return render_prompt(session.brief_text, _params(session, parent_batch))
    return parent_batch.prompt_text


def _params(session: Session, parent_batch: Batch) -> BriefParams:
    return parent_batch.params if parent_batch.params is not None else session.params
