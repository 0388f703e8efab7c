"""Cluster a batch's candidates and name each cluster (the namer, its fallback, a fixed label)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from core import clustering
from core.errors import CancelledError
from core.labels import FALLBACK_LABEL, clean_label, unique_label
from core.models import Batch, BriefParams, ClusterSummary, Track, new_id
from core.pipeline.run import Run
from core.pipeline.steps import Candidate, build_batch, make_track
from core.pipeline.tools import Tools
from core.providers.base import STAGE_CLUSTERING, STAGE_NAMING, NamingContext
from core.similarity import cosine_similarity

log = logging.getLogger(__name__)


def cluster_and_name(
    tools: Tools,
    run: Run,
    batch_id: uuid.UUID,
    session_id: uuid.UUID,
    prompt: str,
    params: BriefParams,
    candidates: Sequence[Candidate],
    *,
    kind: str,
    num_requested: int,
    seed: int | None,
) -> tuple[Batch, dict[uuid.UUID, Candidate]]:
    """The batch with its clusters and tracks (not stored yet), and the candidate behind each track."""
    run.check_cancel()
    started = time.perf_counter()
    run.report(STAGE_CLUSTERING, 0, 1)
    groups = tools.clusterer(
        [c.embedding for c in candidates],
        tools.settings.default_max_k,
        space=tools.embedder.space,
    )
    run.report(STAGE_CLUSTERING, 1, 1)
    run.timer.add(STAGE_CLUSTERING, time.perf_counter() - started)
    batch = build_batch(
        tools,
        batch_id,
        session_id,
        prompt,
        params,
        kind=kind,
        num_requested=num_requested,
        seed=seed,
        run=run,
    )
    started = time.perf_counter()
    named_by: list[str] = []  # who named each cluster ("" = nobody)
    taken: list[str] = []
    tracks: list[Track] = []
    clusters: list[ClusterSummary] = []
    sources: dict[uuid.UUID, Candidate] = {}
    for c_index, group in enumerate(groups):
        run.check_cancel()
        run.report(STAGE_NAMING, c_index, len(groups))
        members = [candidates[i] for i in group]
        centroid = clustering.centroid_of([m.embedding for m in members])
        label, namer_used = name_cluster(tools, run, members, taken)
        named_by.append(namer_used)
        taken.append(label)
        cluster = ClusterSummary(
            id=new_id(),
            batch_id=batch_id,
            label=label,
            track_ids=[],
            created_at=tools.now(),
            position=c_index,
        )
        for i in group:
            track = make_track(
                tools,
                batch,
                cluster,
                candidates[i],
                position=i,
                similarity=cosine_similarity(candidates[i].embedding, centroid),
            )
            cluster.track_ids.append(track.id)
            tracks.append(track)
            sources[track.id] = candidates[i]
        clusters.append(cluster)
    run.report(STAGE_NAMING, len(groups), len(groups))
    run.timer.add(STAGE_NAMING, time.perf_counter() - started)
    batch.namer = namer_record(tools.namer.name, named_by)
    batch.clusters = clusters
    batch.tracks = sorted(tracks, key=lambda t: t.position)
    batch.num_generated = len(tracks)
    return batch, sources


def name_cluster(
    tools: Tools, run: Run, members: Sequence[Candidate], taken: Sequence[str]
) -> tuple[str, str]:
    """A label unique in the batch, and who gave it ("" = nobody: the fixed fallback label).

    Asks the namer; on an exception or junk asks the fallback namer.
    """
    chosen = tools.namer
    prompts = [m.clip.raw_prompt for m in members]
    context = NamingContext(
        audio_paths=[Path(m.clip.audio_path) for m in members],
        embeddings=[m.embedding for m in members],
        taken=frozenset(taken),
    )
    for namer in (chosen, tools.fallback_namer()):
        if namer is None:
            continue
        try:
            label = clean_label(namer.name_cluster(prompts, context))
            reason = getattr(namer, "last_fallback_reason", None)
            if reason:
                run.notice(str(reason))
                namer_used = "describe"  # the namer fell back inside (openai -> describe)
            else:
                namer_used = str(getattr(namer, "name", ""))
        except (CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            log.warning("namer %s failed: %s", getattr(namer, "name", namer), exc)
            label = None
        if label:
            if namer is not chosen:
                run.notice(f"The {chosen.name} namer failed; clusters were named by {namer.name}.")
            return unique_label(label, taken), namer_used
        if namer is chosen:
            log.warning("namer %s returned no usable label", getattr(namer, "name", namer))
    return unique_label(FALLBACK_LABEL, taken), ""


def namer_record(chosen: str, named_by: Sequence[str]) -> str:
    """What a batch records as its namer: the chosen one, and the fallback when it stood in.

    "openai" when it named every cluster; "openai (fallback: describe)" when the
    fallback named them all; "openai (fallback: describe for 1 of 3)" when some.
    The first word is always the namer the musician chose.
    """
    stand_ins = [name for name in named_by if name != chosen]
    if not stand_ins:
        return chosen
    fallback = ", ".join(sorted({name or "none" for name in stand_ins}))
    if len(stand_ins) == len(named_by):
        return f"{chosen} (fallback: {fallback})"
    return f"{chosen} (fallback: {fallback} for {len(stand_ins)} of {len(named_by)})"
