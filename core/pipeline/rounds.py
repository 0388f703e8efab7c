"""What the child-batch use cases (more like, blend, extend) share.

``gather``: generate in rounds until enough candidates pass the use case's test or
the candidate cap is reached. ``store_child``: one cluster of the accepted clips,
hung under a parent cluster, stored as a new batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from core.errors import GenerationFailedError, ProviderUnavailableError, sentence
from core.models import Batch, BriefParams, ClusterSummary, new_id
from core.pipeline import steps
from core.pipeline.generate import SEED_LIMIT
from core.pipeline.run import Run
from core.pipeline.tools import Tools
from core.providers.base import ReferenceClip


def round_seed(seed: int, round_index: int) -> int:
    return (seed + round_index * 7_654_321) % SEED_LIMIT


def gather(
    tools: Tools,
    run: Run,
    prompt: str,
    params: BriefParams,
    seed: int,
    staging: Path,
    references: Sequence[ReferenceClip],
    num_clips: int,
    passes: Callable[[np.ndarray], bool],
    *,
    blend_with: Sequence[ReferenceClip] = (),
    strength: str | None = None,
) -> list[steps.Candidate]:
    """Candidates made in rounds until ``num_clips`` of them ``passes`` (an embedding test) or
    ``num_clips * more_like_candidate_factor`` were made, or a later round makes nothing.

    Round i uses ``round_seed(seed, i)`` and stages into ``staging / round-i``; none at all is
    one clear sentence. A round after the first that fails (the engine ran out of memory, or
    cannot run and no fallback can) ends the rounds with a notice; the candidates made stay.
    """
    cap = num_clips * tools.settings.more_like_candidate_factor
    candidates: list[steps.Candidate] = []
    round_index = 0
    while True:
        passing = sum(1 for c in candidates if passes(c.embedding))
        wanted = min(num_clips - passing, cap - len(candidates))
        if wanted <= 0:
            break
        try:
            clips = steps.generate(
                tools,
                run,
                prompt,
                wanted,
                params,
                round_seed(seed, round_index),
                staging / f"round-{round_index}",
                references,
                offset=len(candidates),
                total=num_clips if round_index == 0 else len(candidates) + wanted,
                allow_empty=round_index > 0,
                blend_with=blend_with,
                strength=strength,
            )
        except (GenerationFailedError, ProviderUnavailableError) as exc:
            if not candidates:
                raise
            # A later round that fails (out of memory, most often) keeps what the earlier ones made.
            run.notice(f"{sentence(exc).rstrip('.')}; the clips made before it are kept.")
            break
        candidates.extend(steps.embed(tools, run, clips))
        round_index += 1
        if not clips:
            break
    if not candidates:
        raise GenerationFailedError("The engine produced no usable clip; nothing was stored.")
    return candidates


def store_child(
    tools: Tools,
    run: Run,
    batch_id: uuid.UUID,
    session_id: uuid.UUID,
    prompt: str,
    params: BriefParams,
    accepted: Sequence[steps.Candidate],
    *,
    kind: str,
    label: str,
    parent_cluster_id: uuid.UUID,
    num_requested: int,
    seed: int,
    similarity: Callable[[np.ndarray], float],
    second_parent_cluster_id: uuid.UUID | None = None,
    namer: str | None = None,
) -> Batch:
    """The stored batch: one cluster ``label`` of ``accepted`` (in order) under ``parent_cluster_id``,
    named as the musician named that parent (a blend, with two parents, is not).

    Each track's similarity is ``similarity(embedding)``; ``namer`` (if given) replaces the
    batch's namer record. The batch records the engine that made the clips (a fallback
    that stood in for the chosen one is on ``run``).
    """
    cluster = ClusterSummary(
        id=new_id(),
        batch_id=batch_id,
        label=label,
        track_ids=[],
        created_at=tools.now(),
        parent_cluster_id=parent_cluster_id,
        position=0,
        second_parent_cluster_id=second_parent_cluster_id,
    )
    batch = steps.build_batch(
        tools,
        batch_id,
        session_id,
        prompt,
        params,
        kind=kind,
        num_requested=num_requested,
        seed=seed,
        parent_cluster_id=parent_cluster_id,
        run=run,
    )
    if namer is not None:
        batch.namer = namer
    tracks = [
        steps.make_track(tools, batch, cluster, c, position=i, similarity=similarity(c.embedding))
        for i, c in enumerate(accepted)
    ]
    cluster.track_ids = [t.id for t in tracks]
    batch.clusters = [cluster]
    batch.tracks = tracks
    batch.num_generated = len(tracks)
    sources = {t.id: c for t, c in zip(tracks, accepted, strict=True)}
    steps.persist(tools, run, batch, sources, new_session=None)
    if second_parent_cluster_id is None:  # more like, extend (a blend has no one parent's name)
        carry_name(tools, session_id, parent_cluster_id, cluster.id)
    return batch


def carry_name(tools: Tools, session_id: uuid.UUID, parent_id: uuid.UUID, child_id: uuid.UUID) -> None:
    """The musician's name for the parent cluster (if they gave one) becomes the child's too;
    the generated label stays the parent's label, as the spec says."""
    name = tools.store.get_cluster_names(session_id).get(parent_id)
    if name:
        tools.store.set_cluster_name(session_id, child_id, name)
