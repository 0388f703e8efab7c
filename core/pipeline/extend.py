"""Extend a clip past its end: a new clip that continues it, stored beside it.

The engine's ``extend_clip`` makes the longer clip (the sketch engine renders the
recipe longer; MusicGen continues it window by window, ``core.windowed``); here
it is checked, embedded and stored as a batch of kind ``extend`` with one cluster
whose ``parent_cluster_id`` is the source's cluster, so the tree hangs it beside
its source as it hangs a more-like batch. Cancel or failure stores nothing.
"""

from __future__ import annotations

import dataclasses
import math
import time
import uuid

from core.errors import GenerationFailedError, NotFoundError, ValidationError
from core.models import BATCH_EXTEND, Batch, new_id
from core.pipeline import rounds, routing, steps
from core.pipeline.generate import random_seed
from core.pipeline.more_like import _centroid, _params, _prompt
from core.pipeline.run import Run
from core.pipeline.tools import Tools
from core.providers.base import STAGE_GENERATING, ExtendRequest, GeneratedClip, MusicProvider, ReferenceClip
from core.similarity import cosine_similarity


def extend_limit(tools: Tools, music: MusicProvider | None = None) -> float:
    """The longest clip the engine's extend makes (the chosen one's unless ``music`` is given),
    in seconds (0: it cannot extend)."""
    music = tools.music if music is None else music
    if not callable(getattr(music, "extend_clip", None)):
        return 0.0
    return float(music.capabilities.extend_sec)


def check_length(tools: Tools, source_sec: float, to_sec: object) -> float:
    """``to_sec`` as seconds, or one clear sentence: longer than the source, within the engine's limit."""
    if isinstance(to_sec, bool):
        raise ValidationError(f"The length to extend to must be a number of seconds, not {to_sec!r}.")
    try:
        seconds = float(to_sec)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError(
            f"The length to extend to must be a number of seconds, not {to_sec!r}."
        ) from None
    if not math.isfinite(seconds):
        raise ValidationError(f"The length to extend to must be a finite number of seconds, not {to_sec!r}.")
    limit = extend_limit(tools)
    if limit <= 0:
        raise ValidationError(f"The {tools.music.name} engine cannot extend clips.")
    if seconds <= source_sec + 0.05:
        raise ValidationError(
            f"The clip is already {source_sec:.1f} s long: extend it to more than that, not {seconds:g} s."
        )
    if seconds > limit:
        raise ValidationError(
            f"The {tools.music.name} engine extends clips to at most {limit:g} seconds, not {seconds:g}."
        )
    return seconds


def extend(tools: Tools, run: Run, track_id: uuid.UUID, to_sec: float, *, seed: int | None = None) -> Batch:
    """The stored ``extend`` batch: one clip, ``to_sec`` long, continuing ``track_id``."""
    store = tools.store
    session_id = store.track_session_id(track_id)
    track = store.get_track(session_id, track_id)
    if track is None:
        raise NotFoundError(f"No clip {track_id}.")
    seconds = check_length(tools, track.duration_sec, to_sec)
    session = store.require_session_head(session_id)
    found = store.find_cluster(session_id, track.cluster_id)
    if found is None:
        raise NotFoundError(f"The cluster of clip {track_id} is gone.")
    source_batch, source_cluster = found
    run.start_clock()
    prompt = _prompt(session, source_batch)
    base = _params(session, source_batch)
    params = dataclasses.replace(base, duration_sec=seconds)
    batch_seed = random_seed() if seed is None else int(seed)
    members = [t for t in source_batch.tracks if t.id in set(source_cluster.track_ids)]
    centroid = _centroid(tools, run, session.id, source_cluster, members)
    batch_id = new_id()
    with store.staging_dir(batch_id) as staging:
        request = ExtendRequest(
            source=ReferenceClip(track.path, track.seed, track.recipe),
            to_sec=seconds,
            prompt=prompt,
            params=params,
            seed=batch_seed,
            out_dir=staging,
            stride_sec=tools.settings.extend_stride_sec,
            overlap_sec=tools.settings.extend_overlap_sec,
            progress=run.progress,
            cancel=run.cancel,
        )
        clip = _make(tools, run, request)
        candidates = steps.embed(tools, run, [clip])
        batch = rounds.store_child(
            tools,
            run,
            batch_id,
            session.id,
            prompt,
            params,
            candidates[:1],
            kind=BATCH_EXTEND,
            label=source_cluster.label,
            parent_cluster_id=source_cluster.id,
            num_requested=1,
            seed=batch_seed,
            similarity=lambda vector: cosine_similarity(vector, centroid),
        )
    return run.finish(batch)


def _make(tools: Tools, run: Run, request: ExtendRequest) -> GeneratedClip:
    """The engine's longer clip, checked to be there and as long as asked; errors as one sentence.

    An engine that cannot run (no CUDA, missing weights, out of memory) hands the clip to the
    next engine of ``settings.fallback_engines`` that can extend this far (``routing.with_fallback``).
    """
    started = time.perf_counter()
    try:
        clip = routing.with_fallback(
            tools,
            run,
            lambda music: steps.call_engine(
                tools,
                lambda: music.extend_clip(request),  # type: ignore[attr-defined]
                request.out_dir,
                music,
            ),
            lambda music: _cannot_extend(tools, music, request.to_sec),
        )
    finally:
        run.timer.add(STAGE_GENERATING, time.perf_counter() - started)
    run.check_cancel()
    if not clip.audio_path.is_file():
        name = routing.engine_of(tools, run).name
        raise GenerationFailedError(f"The {name} engine produced no clip; nothing was stored.")
    run.timer.clip_ready()
    if run.on_clip is not None:
        run.on_clip(0, 1, clip.audio_path)
    return clip


def _cannot_extend(tools: Tools, music: MusicProvider, seconds: float) -> str | None:
    limit = extend_limit(tools, music)
    if limit <= 0:
        return "cannot extend clips"
    return None if seconds <= limit else f"extends clips to at most {limit:g} seconds, not {seconds:g}"
