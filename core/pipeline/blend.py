"""Blend two clusters: generate between them, keep what lands between them, store it as a child batch.

The engine gets references from both clusters. One that blends (``blends`` true,
the sketch engine: it blends the two recipes) or makes audio-to-audio variations
(``capabilities.variation``: Stable Audio 3, ACE-Step: it varies a loudness-matched
mix of the two clips, core.providers.diffusers_references.blended_references) starts each
clip from one clip of each, paired in turn (the first cluster's clips as
``references``, the second's as ``blend_with``); any other gets the two clusters'
clips as plain references, taken in turn from one and the other. The filter keeps a clip when it is nearer (by cosine) to the
midpoint of the two centroids than to either centroid alone; if fewer than asked
pass after the candidate cap, the nearest to passing fill the batch and a notice
says how many. The new cluster is named by the namer from its own clips, records
both parents (the first in ``parent_cluster_id``, where the tree puts it; the
second in ``second_parent_cluster_id``), and neither parent is touched.
"""

from __future__ import annotations

import time
import uuid

import numpy as np

from core import clustering
from core.errors import NotFoundError, ValidationError
from core.models import BATCH_MORE, Batch, BriefParams, Session, new_id
from core.pipeline import rounds
from core.pipeline.generate import random_seed
from core.pipeline.more_like import _centroid, _params, _prompt
from core.pipeline.naming import name_cluster, namer_record
from core.pipeline.run import Run
from core.pipeline.tools import Tools
from core.prompt import render_prompt
from core.providers.base import STAGE_CLUSTERING, STAGE_NAMING, ReferenceClip
from core.similarity import cosine_similarity
from core.validation import validate_num_clips


def blend_margin(vector: np.ndarray, first: np.ndarray, second: np.ndarray, midpoint: np.ndarray) -> float:
    """How much nearer ``vector`` is to the midpoint than to the nearer parent (> 0 passes)."""
    to_mid = cosine_similarity(vector, midpoint)
    return to_mid - max(cosine_similarity(vector, first), cosine_similarity(vector, second))


def midpoint_of(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return clustering.centroid_of([first, second])


def blend(
    tools: Tools,
    run: Run,
    session_id: uuid.UUID,
    first_id: uuid.UUID,
    second_id: uuid.UUID,
    num_clips: int,
    *,
    seed: int | None,
) -> Batch:
    """The stored blend batch: one new cluster between ``first_id`` and ``second_id``."""
    settings = tools.settings
    num_clips = validate_num_clips(num_clips, settings.max_batch_size)
    if first_id == second_id:
        raise ValidationError("A blend needs two different clusters.")
    session = tools.store.require_session_head(session_id)
    parents = []
    for cluster_id in (first_id, second_id):
        found = tools.store.find_cluster(session_id, cluster_id)
        if found is None:
            raise NotFoundError(f"No cluster {cluster_id} in session {session_id}.")
        parents.append(found)
    clustering.warm_up()
    run.start_clock()
    centroids, references = [], []
    for parent_batch, parent in parents:
        members = [t for t in parent_batch.tracks if t.id in set(parent.track_ids)]
        centroids.append(_centroid(tools, run, session.id, parent, members))
        references.append([ReferenceClip(t.path, t.seed, t.recipe) for t in members])
    midpoint = midpoint_of(*centroids)
    (batch_a, cluster_a), (batch_b, _) = parents
    prompt, params = _blend_prompt(session, batch_a, batch_b)
    batch_seed = random_seed() if seed is None else int(seed)
    if takes_blends(run.music if run.music is not None else tools.music):
        given, blend_with = references[0], references[1]
    else:  # the two clusters' clips in turn
        given = [r for pair in _zip_longest(references[0], references[1]) for r in pair]
        blend_with = []
    batch_id = new_id()
    with tools.store.staging_dir(batch_id) as staging:
        candidates = rounds.gather(
            tools,
            run,
            prompt,
            params,
            batch_seed,
            staging,
            given,
            num_clips,
            lambda vector: blend_margin(vector, *centroids, midpoint) > 0,
            blend_with=blend_with,
        )
        run.check_cancel()
        started = time.perf_counter()
        run.report(STAGE_CLUSTERING, 0, 1)
        margins = [blend_margin(c.embedding, *centroids, midpoint) for c in candidates]
        order = sorted(range(len(candidates)), key=lambda i: -margins[i])[:num_clips]
        chosen = sorted(order)
        below = sum(1 for i in chosen if margins[i] <= 0)
        if below:
            run.notice(
                f"{below} of {len(chosen)} clips were nearer to a parent than to the middle;"
                " they are the nearest to the middle the engine made."
            )
        run.report(STAGE_CLUSTERING, 1, 1)
        run.timer.add(STAGE_CLUSTERING, time.perf_counter() - started)
        accepted = [candidates[i] for i in chosen]
        run.report(STAGE_NAMING, 0, 1)
        label, named_by = name_cluster(tools, run, accepted, [])
        run.report(STAGE_NAMING, 1, 1)
        batch = rounds.store_child(
            tools,
            run,
            batch_id,
            session.id,
            prompt,
            params,
            accepted,
            kind=BATCH_MORE,
            label=label,
            parent_cluster_id=cluster_a.id,
            num_requested=num_clips,
            seed=batch_seed,
            similarity=lambda vector: cosine_similarity(vector, midpoint),
            second_parent_cluster_id=second_id,
            namer=namer_record(tools.namer.name, [named_by]),
        )
    return run.finish(batch)


def takes_blends(music: object) -> bool:
    """Whether ``music`` starts a clip from one reference of each parent (``blend_with``): it
    blends recipes, or its audio-to-audio variation varies a mix of the two."""
    capabilities = getattr(music, "capabilities", None)
    return bool(getattr(music, "blends", False) or getattr(capabilities, "variation", False))


def _blend_prompt(session: Session, batch_a: Batch, batch_b: Batch) -> tuple[str, BriefParams]:
    """Both parents' briefs, and their params half way (the first parent's clip length)."""
    a, b = _params(session, batch_a), _params(session, batch_b)
    params = BriefParams((a.energy + b.energy) / 2, (a.density + b.density) / 2, a.duration_sec)
    brief_a = _prompt(session, batch_a).split(" | energy=")[0].strip()
    brief_b = _prompt(session, batch_b).split(" | energy=")[0].strip()
    brief = brief_a if brief_a == brief_b else f"{brief_a} + {brief_b}"
    return render_prompt(brief, params), params


def _zip_longest(first: list[ReferenceClip], second: list[ReferenceClip]) -> list[tuple[ReferenceClip, ...]]:
    longest = max(len(first), len(second))
    return [tuple(side[i] for side in (first, second) if i < len(side)) for i in range(longest)]
