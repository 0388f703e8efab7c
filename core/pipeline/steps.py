"""The steps every use case shares: generate, embed, build the rows, persist.

Each takes the ``Tools`` it works with and the ``Run`` it reports to; none keeps state.
Clustering and naming are in ``core.pipeline.naming``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from core import clustering, paths
from core.errors import (
    CancelledError,
    GenerationFailedError,
    SessionLabError,
    ValidationError,
    disk_problem,
    is_out_of_memory,
    out_of_memory,
    sentence,
    storage_error,
)
from core.models import BATCH_IMPORT, Batch, BriefParams, ClusterSummary, Session, Track, new_id
from core.pipeline import routing
from core.pipeline.run import Run
from core.pipeline.tools import Tools
from core.providers.base import (
    STAGE_EMBEDDING,
    STAGE_GENERATING,
    STAGE_SAVING,
    GeneratedClip,
    GenerationRequest,
    MusicProvider,
    ReferenceClip,
)
from core.text import shown_line

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Candidate:
    """A clip on disk in staging, and its embedding."""

    clip: GeneratedClip
    embedding: np.ndarray


def generate(
    tools: Tools,
    run: Run,
    prompt: str,
    num_clips: int,
    params: BriefParams,
    seed: int,
    out_dir: Path,
    references: Sequence[ReferenceClip] = (),
    *,
    offset: int = 0,
    total: int | None = None,
    allow_empty: bool = False,
    blend_with: Sequence[ReferenceClip] = (),
    strength: str | None = None,
) -> list[GeneratedClip]:
    """Up to ``num_clips`` clips from the engine into ``out_dir``; clip i is shown as ``offset + i`` of ``total``."""
    run.check_cancel()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(f"create the staging dir {out_dir}", exc) from None
    shown_total = total if total is not None else num_clips

    def clip_ready(index: int, clip: GeneratedClip) -> None:
        run.timer.clip_ready()
        if run.on_clip is not None:
            run.on_clip(offset + index, shown_total, clip.audio_path)

    def generation_progress(stage: str, done: int, total_steps: int) -> None:
        if run.progress is None:
            return
        if stage == STAGE_GENERATING and total_steps == num_clips:
            run.progress(stage, offset + done, shown_total)
        else:
            run.progress(stage, done, total_steps)

    request = GenerationRequest(
        params=params,
        seed=seed,
        out_dir=out_dir,
        references=references,
        progress=generation_progress,
        cancel=run.cancel,
        on_clip=clip_ready,
        blend_with=blend_with,
        strength=strength,
    )
    started = time.perf_counter()
    try:
        clips = routing.with_fallback(
            tools,
            run,
            lambda music: list(
                call_engine(
                    tools,
                    lambda: music.generate_batch(prompt, num_clips, params.duration_sec, request),
                    out_dir,
                    music,
                )
            ),
            lambda music: _makes_clips_of(music, params.duration_sec),
        )
    finally:
        run.timer.add(STAGE_GENERATING, time.perf_counter() - started)
    music = routing.engine_of(tools, run)
    warning = getattr(music, "last_warning", None)
    if warning:
        run.notice(str(warning))
    run.check_cancel()
    clips = [c for c in clips if Path(c.audio_path).is_file()][:num_clips]
    if not clips and not allow_empty:
        raise GenerationFailedError(f"The {music.name} engine produced no clip; nothing was stored.")
    return clips


def call_engine(
    tools: Tools, call: Callable[[], T], out_dir: Path | None, music: MusicProvider | None = None
) -> T:
    """The music engine's ``call``; a provider bug or library failure becomes one sentence, and
    running out of memory an ``OutOfMemoryError`` of advice (which routing may hand on)."""
    name = (music or tools.music).name
    try:
        return call()
    except (SessionLabError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a provider bug or library failure: one sentence, nothing stored
        problem = disk_problem(exc)
        if problem is not None:  # not the engine's fault: the disk refused its clip
            raise storage_error(f"write a clip into {out_dir}", problem) from exc
        if is_out_of_memory(exc):
            raise out_of_memory(f"The {name} engine", "this machine", "making this batch") from exc
        log.exception("music provider failed", extra={"stage": STAGE_GENERATING, "reported": True})
        raise GenerationFailedError(f"The {name} engine failed: {sentence(exc)}") from exc


def _makes_clips_of(music: MusicProvider, seconds: float) -> str | None:
    limit = getattr(getattr(music, "capabilities", None), "longest_sec", seconds)
    return None if seconds <= limit else f"makes clips of at most {limit:g} seconds, not {seconds:g}"


def check_duration(tools: Tools, seconds: float) -> None:
    """One clear sentence when ``seconds`` is longer than the engine makes in one clip."""
    capabilities = getattr(tools.music, "capabilities", None)
    if capabilities is None:  # a provider that declares nothing is trusted with its own check
        return
    limit = float(capabilities.longest_sec)
    if seconds > limit + 1e-9:
        raise ValidationError(
            f"The {tools.music.name} engine makes clips of at most {limit:g} seconds, not {seconds:g};"
            " choose a shorter duration or another engine."
        )


def check_inputs(tools: Tools, params: BriefParams) -> None:
    """One clear sentence when the brief gives lyrics to an engine that does not sing."""
    capabilities = getattr(tools.music, "capabilities", None)
    if params.lyrics and capabilities is not None and not capabilities.lyrics_input:
        raise ValidationError(
            f"The {tools.music.name} engine does not sing: remove the lyrics or choose an engine that"
            " sings (ace-step)."
        )


def check_strength(tools: Tools, strength: str | None) -> str | None:
    """A more-like call's own strength, normalised; one clear sentence when it is not one of
    ``VARIATION_STRENGTHS`` or the engine does not take one (None: the setting applies)."""
    return strength_for(tools.music.name, getattr(tools.music, "capabilities", None), strength)


def strength_for(engine: str, capabilities: object | None, strength: str | None) -> str | None:
    """``check_strength`` for an engine known by its name and declared ``capabilities``
    (the CLI checks before it builds the engine)."""
    if strength is None:
        return None
    from core.providers.capabilities import ENGINES, VARIATION_STRENGTHS

    name = str(strength).strip().lower()
    if name not in VARIATION_STRENGTHS:
        raise ValidationError(
            f"The strength must be one of {', '.join(VARIATION_STRENGTHS)}, not {shown_line(str(strength))!r}."
        )
    if not getattr(capabilities, "variation_strength", False):
        takers = ", ".join(n for n, c in ENGINES.items() if c.variation_strength)
        raise ValidationError(
            f"The {shown_line(engine)} engine takes no variation strength; leave it out or choose an engine"
            f" that does ({takers})."
        )
    return name


def embed(tools: Tools, run: Run, clips: Sequence[GeneratedClip]) -> list[Candidate]:
    """Each clip with its embedding; a clip the embedder fails on is left out with a notice."""
    embedder = tools.embedder
    started = time.perf_counter()
    candidates: list[Candidate] = []
    failures: list[str] = []
    run.report(STAGE_EMBEDDING, 0, len(clips))
    for i, clip in enumerate(clips):
        run.check_cancel()
        try:
            vector = np.asarray(embedder.embed_audio(Path(clip.audio_path)), dtype=np.float32).ravel()
        except (CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            failures.append(f"{Path(clip.audio_path).name}: {sentence(exc)}")
            log.warning("embedding failed for %s: %s", clip.audio_path, exc, extra={"stage": STAGE_EMBEDDING})
            continue
        if vector.size == 0 or not np.all(np.isfinite(vector)):
            failures.append(f"{Path(clip.audio_path).name}: the embedder returned an invalid vector")
            continue
        candidates.append(Candidate(clip, vector))
        run.report(STAGE_EMBEDDING, i + 1, len(clips))
    run.timer.add(STAGE_EMBEDDING, time.perf_counter() - started)
    if failures and not candidates:
        raise GenerationFailedError(f"The {embedder.name} embedder failed: {failures[0]}.")
    if failures:
        run.notices.append(f"{len(failures)} clip(s) could not be analysed and were left out.")
    return candidates


def build_batch(
    tools: Tools,
    batch_id: uuid.UUID,
    session_id: uuid.UUID,
    prompt: str,
    params: BriefParams,
    *,
    kind: str,
    num_requested: int,
    seed: int | None,
    parent_cluster_id: uuid.UUID | None = None,
    run: Run | None = None,
) -> Batch:
    """An empty batch row. Its position is a placeholder: the store gives the session's next as it commits.

    It records the engine that made its clips: the chosen one, or the fallback that stood in (``run.music``).
    """
    imported = kind == BATCH_IMPORT
    music = tools.music if run is None else routing.engine_of(tools, run)
    return Batch(
        id=batch_id,
        session_id=session_id,
        created_at=tools.now(),
        prompt_text=prompt,
        num_requested=num_requested,
        num_generated=0,
        clusters=[],
        kind=kind,
        params=params,
        seed=seed,
        engine="import" if imported else music.name,
        model=None if imported else music.model,
        embedder=tools.embedder.space,
        namer=tools.namer.name,
        parent_cluster_id=parent_cluster_id,
        position=0,
    )


def make_track(
    tools: Tools,
    batch: Batch,
    cluster: ClusterSummary,
    candidate: Candidate,
    *,
    position: int,
    similarity: float,
) -> Track:
    track_id = new_id()
    clip = candidate.clip
    return Track(
        id=track_id,
        batch_id=batch.id,
        cluster_id=cluster.id,
        path=paths.track_path(tools.store.root, batch.session_id, track_id, Path(clip.audio_path).suffix),
        duration_sec=float(clip.duration_sec),
        raw_prompt=clip.raw_prompt,
        created_at=tools.now(),
        seed=clip.seed,
        similarity=round(float(similarity), 6),
        recipe=clip.recipe,
        position=position,
    )


def persist(
    tools: Tools,
    run: Run,
    batch: Batch,
    sources: dict[uuid.UUID, Candidate],
    *,
    new_session: tuple[str, BriefParams] | None,
) -> None:
    """Store the batch: its files move into place as its rows commit (the store's rule).

    A new session is stored by the same add_batch, in the same transaction as
    its first batch: a failure, a cancel or a kill leaves no empty session. The
    store gives the batch its position (the session's next, read as it commits).
    """
    store = tools.store
    run.check_cancel()
    started = time.perf_counter()
    run.report(STAGE_SAVING, 0, 1)
    created: Session | None = None
    if new_session is not None:
        brief, params = new_session
        created = store.draft_session(brief, params)
        batch.session_id = created.id
        for track in batch.tracks:
            track.path = paths.track_path(store.root, created.id, track.id, track.path.suffix)
    members: dict[uuid.UUID, list[np.ndarray]] = {}
    for track in batch.tracks:
        members.setdefault(track.cluster_id, []).append(sources[track.id].embedding)
    centroids = {cluster_id: clustering.centroid_of(vectors) for cluster_id, vectors in members.items()}
    store.add_batch(
        batch.session_id,
        batch,
        centroids,
        space=tools.embedder.space,
        embeddings={track.id: sources[track.id].embedding for track in batch.tracks},
        staged_files={track.id: Path(sources[track.id].clip.audio_path) for track in batch.tracks},
        new_session=created,
    )
    run.report(STAGE_SAVING, 1, 1)
    run.timer.add(STAGE_SAVING, time.perf_counter() - started)
