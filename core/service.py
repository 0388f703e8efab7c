"""SessionService: brief -> clips -> embeddings -> clusters -> names -> disk.

Seed 000's semantics, for a local studio:

- ``num_generated`` counts stored clips (initial, import) or clips accepted by
  the similarity filter (more-like); rejected candidates are never counted.
- A more-like batch gets one new cluster with the parent's label and
  ``parent_cluster_id``; the parent is never touched.
- Zero clips is an error that stores nothing. Cancelling stores nothing of the
  unfinished batch. Clips are staged in a locked temporary directory and moved
  into place by the store in the same step that commits their rows.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core import clustering, paths
from core.audio import read_audio, read_import
from core.errors import (
    CancelledError,
    GenerationFailedError,
    NotFoundError,
    SessionLabError,
    ValidationError,
    disk_problem,
    storage_error,
)
from core.labels import FALLBACK_LABEL, clean_label, unique_label
from core.models import (
    BATCH_IMPORT,
    BATCH_INITIAL,
    BATCH_MORE,
    MAX_DURATION_SEC,
    MIN_DURATION_SEC,
    Batch,
    BriefParams,
    ClusterSummary,
    Session,
    Track,
    new_id,
    utcnow,
    validate_brief,
    validate_num_clips,
)
from core.prompt import render_prompt
from core.providers.base import (
    STAGE_CLUSTERING,
    STAGE_EMBEDDING,
    STAGE_GENERATING,
    STAGE_NAMING,
    STAGE_SAVING,
    GeneratedClip,
    GenerationRequest,
    NamingContext,
    ProgressFn,
    ReferenceClip,
    check_cancel,
)
from core.settings import Settings
from core.similarity import cosine_similarity, filter_by_similarity

log = logging.getLogger(__name__)

ClipReadyFn = Callable[[int, int, Path], None]  # (index, total, playable path)
ClusterFn = Callable[[list[np.ndarray], int], list[list[int]]]  # (embeddings, max_k) -> index groups

_SEED_LIMIT = 2**31 - 1


def random_seed() -> int:
    return secrets.randbelow(_SEED_LIMIT)


def _round_seed(seed: int, round_index: int) -> int:
    return (seed + round_index * 7_654_321) % _SEED_LIMIT


@dataclass
class _Candidate:
    clip: GeneratedClip
    embedding: np.ndarray


@dataclass
class StageTimer:
    """Wall-clock seconds per stage of the last batch (read by bench/pipeline.py)."""

    started: float = field(default_factory=time.perf_counter)
    stages: dict[str, float] = field(default_factory=dict)
    first_clip_sec: float | None = None

    def add(self, stage: str, seconds: float) -> None:
        self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    def clip_ready(self) -> None:
        if self.first_clip_sec is None:
            self.first_clip_sec = time.perf_counter() - self.started

    def as_dict(self) -> dict[str, Any]:
        return {
            "stages": dict(self.stages),
            "first_clip_sec": self.first_clip_sec,
            "total_sec": time.perf_counter() - self.started,
        }


class SessionService:
    """Orchestrates providers and the store. One instance serves one UI or CLI run."""

    def __init__(
        self,
        store: Any,
        music: Any,
        embedder: Any,
        namer: Any,
        *,
        settings: Settings | None = None,
        fallback_namer: Any | None = None,
        clusterer: ClusterFn | None = None,
    ) -> None:
        self.store = store
        self.music = music
        self.embedder = embedder
        self.namer = namer
        self.settings = settings if settings is not None else Settings(data_dir=store.root)
        self._fallback_namer = fallback_namer
        # Groups a batch's embeddings: k-means (core.clustering) unless a caller that must
        # not depend on floating-point accidents (the screenshot scenes) plans the groups.
        self.clusterer: ClusterFn = clusterer if clusterer is not None else clustering.cluster_embeddings
        self.last_timings: dict[str, Any] = {}
        self._named_by: list[str] = []  # who named each cluster of the batch being made ("" = nobody)
        self.notices: list[str] = []  # one-line remarks for the user (e.g. a namer fell back)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store: Any | None = None,
        engine: str | None = None,
        model: str | None = None,
        embedder: str | None = None,
        embedder_model: str | None = None,
        namer: str | None = None,
    ) -> SessionService:
        """Build providers by name (cheap: models load in the first batch) and open the store."""
        from core.providers import registry

        music = registry.create_music(settings, engine, model)
        embed = registry.create_embedder(settings, embedder, embedder_model)
        name = registry.create_namer(settings, namer)
        if store is None:
            from core.store import SessionStore

            store = SessionStore(settings.data_dir)
        return cls(store, music, embed, name, settings=settings)

    # ------------------------------------------------------------------ public

    def create_initial_batch(
        self,
        brief: str,
        params: BriefParams,
        num_clips: int,
        *,
        seed: int | None = None,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        on_clip: ClipReadyFn | None = None,
    ) -> Session:
        """Create a session from a brief and its first batch; return the stored session."""
        self.notices = []
        brief, params, num_clips = self._check_brief(brief, params, num_clips)
        batch = self._scratch_batch(
            new_id(), brief, params, num_clips, seed, progress, cancel, on_clip, position=0, new_session=True
        )
        return self.store.require_session(batch.session_id)

    def add_brief_batch(
        self,
        session_id: uuid.UUID,
        brief: str,
        params: BriefParams,
        num_clips: int,
        *,
        seed: int | None = None,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        on_clip: ClipReadyFn | None = None,
    ) -> Batch:
        """A new from-scratch batch (its own brief) inside an existing session.

        Reads only the session's own row, never its other batches: the cost is the
        same in a session of 10 clips and of 10,000.
        """
        self.notices = []
        brief, params, num_clips = self._check_brief(brief, params, num_clips)
        head = self.store.require_session_head(session_id)
        return self._scratch_batch(
            head.id,
            brief,
            params,
            num_clips,
            seed,
            progress,
            cancel,
            on_clip,
            position=0,  # a placeholder: the store gives the session's next position as it commits
            new_session=False,
        )

    def more_like_cluster(
        self,
        session_id: uuid.UUID,
        cluster_id: uuid.UUID,
        num_clips: int,
        *,
        seed: int | None = None,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        on_clip: ClipReadyFn | None = None,
    ) -> Batch:
        """Generate near a cluster, keep what is similar enough, store it as a new child batch.

        Reads the session's own row and the parent cluster's batch, nothing else.
        """
        self.notices = []
        num_clips = validate_num_clips(num_clips, self.settings.max_batch_size)
        session = self.store.require_session_head(session_id)
        found = self.store.find_cluster(session_id, cluster_id)
        if found is None:
            raise NotFoundError(f"No cluster {cluster_id} in session {session_id}.")
        parent_batch, parent = found
        clustering.warm_up()
        timer = StageTimer()
        members = [t for t in parent_batch.tracks if t.id in set(parent.track_ids)]
        centroid = self._centroid(session.id, parent, members, timer)
        prompt = self._more_like_prompt(session, parent_batch)
        params = self._more_like_params(session, parent_batch)
        batch_seed = random_seed() if seed is None else int(seed)
        references = [ReferenceClip(t.path, t.seed, t.recipe) for t in members]
        factor = self.settings.more_like_candidate_factor
        cap = num_clips * factor
        batch_id = new_id()
        with self.store.staging_dir(batch_id) as staging:
            candidates: list[_Candidate] = []
            round_index = 0
            while True:
                passing = sum(
                    1
                    for c in candidates
                    if cosine_similarity(c.embedding, centroid) >= self.settings.min_similarity
                )
                wanted = min(num_clips - passing, cap - len(candidates))
                if wanted <= 0:
                    break
                clips = self._generate(
                    prompt,
                    wanted,
                    params,
                    _round_seed(batch_seed, round_index),
                    staging / f"round-{round_index}",
                    references,
                    progress,
                    cancel,
                    on_clip,
                    timer,
                    offset=len(candidates),
                    total=num_clips if round_index == 0 else len(candidates) + wanted,
                    allow_empty=round_index > 0,
                )
                candidates.extend(self._embed(clips, progress, cancel, timer))
                round_index += 1
                if not clips:
                    break
            if not candidates:
                raise GenerationFailedError("The engine produced no usable clip; nothing was stored.")
            check_cancel(cancel)
            started = time.perf_counter()
            _report(progress, STAGE_CLUSTERING, 0, 1)
            chosen = filter_by_similarity(
                [c.embedding for c in candidates], centroid, self.settings.min_similarity, num_clips
            )
            _report(progress, STAGE_CLUSTERING, 1, 1)
            timer.add(STAGE_CLUSTERING, time.perf_counter() - started)
            accepted = [candidates[i] for i in chosen]
            cluster = ClusterSummary(
                id=new_id(),
                batch_id=batch_id,
                label=parent.label,
                track_ids=[],
                created_at=utcnow(),
                parent_cluster_id=parent.id,
                position=0,
            )
            batch = self._build_batch(
                batch_id,
                session.id,
                prompt,
                params,
                kind=BATCH_MORE,
                num_requested=num_clips,
                seed=batch_seed,
                position=0,  # a placeholder: the store gives the session's next position as it commits
                parent_cluster_id=parent.id,
            )
            tracks = [
                self._track(
                    batch, cluster, c, position=i, similarity=cosine_similarity(c.embedding, centroid)
                )
                for i, c in enumerate(accepted)
            ]
            cluster.track_ids = [t.id for t in tracks]
            batch.clusters = [cluster]
            batch.tracks = tracks
            batch.num_generated = len(tracks)
            sources = {t.id: c for t, c in zip(tracks, accepted, strict=True)}
            self._persist(batch, sources, progress, cancel, timer, new_session=None)
        self.last_timings = timer.as_dict()
        _log_stages(batch, self.last_timings)
        return batch

    def import_clips(
        self,
        session_id: uuid.UUID | None,
        files: Sequence[Path | str],
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> Batch:
        """The musician's own clips join a session (a new one if ``session_id`` is None) as a batch.

        Every file is read before anything is written: one that is not audio, is
        empty or is corrupt is named in the error and nothing is stored. Returns
        the stored batch (its ``session_id`` names the session, new or not), like
        add_brief_batch and more_like_cluster: the session's other batches are never read.
        """
        self.notices = []
        if not files:
            raise ValidationError("Name at least one audio file to import.")
        sources = [Path(f).expanduser() for f in files]
        decoded: list[tuple[Path, np.ndarray, int, str]] = []
        for source in sources:
            samples, rate, suffix = read_import(source)  # mono, for analysis; the file is kept as it is
            decoded.append((source.resolve(), samples, rate, suffix))
        session = self.store.require_session_head(session_id) if session_id is not None else None
        clustering.warm_up()
        timer = StageTimer()
        names = ", ".join(_text_of(s.name) for s, _, _, _ in decoded)
        brief = session.brief_text if session is not None else validate_brief(f"Imported: {names}"[:2000])
        durations = [len(s) / r for _, s, r, _ in decoded]
        median = float(np.median(durations))
        params = (
            session.params
            if session is not None
            else BriefParams(duration_sec=max(MIN_DURATION_SEC, min(MAX_DURATION_SEC, median)))
        )
        session_key = session.id if session is not None else new_id()
        batch_id = new_id()
        with self.store.staging_dir(batch_id) as staging:
            clips: list[GeneratedClip] = []
            for i, (source, samples, rate, suffix) in enumerate(decoded):
                check_cancel(cancel)
                staged = _stage_import(source, staging / f"import-{i}", suffix)
                clips.append(
                    GeneratedClip(
                        audio_path=staged,
                        duration_sec=len(samples) / rate,
                        raw_prompt=_text_of(source.stem).replace("_", " ").replace("-", " "),
                        recipe={"source": _text_of(source), "sample_rate": rate},
                    )
                )
                _report(progress, "importing", i + 1, len(decoded))
            candidates = self._embed(clips, progress, cancel, timer)
            if not candidates:
                raise GenerationFailedError("None of the files could be analysed; nothing was stored.")
            batch, sources = self._cluster_and_name(
                batch_id,
                session_key,
                render_prompt(brief, params),
                params,
                candidates,
                kind=BATCH_IMPORT,
                num_requested=len(decoded),
                seed=None,
                position=0,  # a placeholder: the store gives the session's next position as it commits
                progress=progress,
                cancel=cancel,
                timer=timer,
            )
            for track in batch.tracks:
                recipe = sources[track.id].clip.recipe or {}
                track.source = recipe.get("source")
            self._persist(
                batch,
                sources,
                progress,
                cancel,
                timer,
                new_session=(brief, params) if session is None else None,
            )
        self.last_timings = timer.as_dict()
        _log_stages(batch, self.last_timings)
        return batch

    # --------------------------------------------------------------- pipeline

    def _check_brief(self, brief: str, params: BriefParams, num_clips: int) -> tuple[str, BriefParams, int]:
        """A from-scratch batch's input, checked before anything runs."""
        if not isinstance(params, BriefParams):
            raise ValidationError("Params must be BriefParams (energy, density, duration).")
        return validate_brief(brief), params, validate_num_clips(num_clips, self.settings.max_batch_size)

    def _scratch_batch(
        self,
        session_id: uuid.UUID,
        brief: str,
        params: BriefParams,
        num_clips: int,
        seed: int | None,
        progress: ProgressFn | None,
        cancel: threading.Event | None,
        on_clip: ClipReadyFn | None,
        *,
        position: int,
        new_session: bool,
    ) -> Batch:
        clustering.warm_up()
        timer = StageTimer()
        prompt = render_prompt(brief, params)
        batch_seed = random_seed() if seed is None else int(seed)
        batch_id = new_id()
        with self.store.staging_dir(batch_id) as staging:
            clips = self._generate(
                prompt, num_clips, params, batch_seed, staging, (), progress, cancel, on_clip, timer
            )
            candidates = self._embed(clips, progress, cancel, timer)
            batch, sources = self._cluster_and_name(
                batch_id,
                session_id,
                prompt,
                params,
                candidates,
                kind=BATCH_INITIAL,
                num_requested=num_clips,
                seed=batch_seed,
                position=position,
                progress=progress,
                cancel=cancel,
                timer=timer,
            )
            self._persist(
                batch, sources, progress, cancel, timer, new_session=(brief, params) if new_session else None
            )
        self.last_timings = timer.as_dict()
        _log_stages(batch, self.last_timings)
        return batch

    def _generate(
        self,
        prompt: str,
        num_clips: int,
        params: BriefParams,
        seed: int,
        out_dir: Path,
        references: Sequence[ReferenceClip],
        progress: ProgressFn | None,
        cancel: threading.Event | None,
        on_clip: ClipReadyFn | None,
        timer: StageTimer,
        *,
        offset: int = 0,
        total: int | None = None,
        allow_empty: bool = False,
    ) -> list[GeneratedClip]:
        check_cancel(cancel)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(f"create the staging dir {out_dir}", exc) from None
        shown_total = total if total is not None else num_clips

        def clip_ready(index: int, clip: GeneratedClip) -> None:
            timer.clip_ready()
            if on_clip is not None:
                on_clip(offset + index, shown_total, clip.audio_path)

        def generation_progress(stage: str, done: int, total_steps: int) -> None:
            if progress is None:
                return
            if stage == STAGE_GENERATING and total_steps == num_clips:
                progress(stage, offset + done, shown_total)
            else:
                progress(stage, done, total_steps)

        request = GenerationRequest(
            params=params,
            seed=seed,
            out_dir=out_dir,
            references=references,
            progress=generation_progress,
            cancel=cancel,
            on_clip=clip_ready,
        )
        started = time.perf_counter()
        try:
            clips = list(self.music.generate_batch(prompt, num_clips, params.duration_sec, request))
        except (SessionLabError, KeyboardInterrupt):
            raise
        except Exception as exc:  # a provider bug or library failure: one sentence, nothing stored
            if disk_problem(exc) is not None:  # not the engine's fault: the disk refused its clip
                raise storage_error(f"write a clip into {out_dir}", disk_problem(exc)) from exc
            log.exception("music provider failed", extra={"stage": STAGE_GENERATING, "reported": True})
            raise GenerationFailedError(f"The {self.music.name} engine failed: {_sentence(exc)}") from exc
        finally:
            timer.add(STAGE_GENERATING, time.perf_counter() - started)
        warning = getattr(self.music, "last_warning", None)
        if warning:
            self._notice(str(warning))
        check_cancel(cancel)
        clips = [c for c in clips if Path(c.audio_path).is_file()][:num_clips]
        if not clips and not allow_empty:
            raise GenerationFailedError(f"The {self.music.name} engine produced no clip; nothing was stored.")
        return clips

    def _embed(
        self,
        clips: Sequence[GeneratedClip],
        progress: ProgressFn | None,
        cancel: threading.Event | None,
        timer: StageTimer,
    ) -> list[_Candidate]:
        started = time.perf_counter()
        candidates: list[_Candidate] = []
        failures: list[str] = []
        _report(progress, STAGE_EMBEDDING, 0, len(clips))
        for i, clip in enumerate(clips):
            check_cancel(cancel)
            try:
                vector = np.asarray(
                    self.embedder.embed_audio(Path(clip.audio_path)), dtype=np.float32
                ).ravel()
            except (CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:
                failures.append(f"{Path(clip.audio_path).name}: {_sentence(exc)}")
                log.warning(
                    "embedding failed for %s: %s", clip.audio_path, exc, extra={"stage": STAGE_EMBEDDING}
                )
                continue
            if vector.size == 0 or not np.all(np.isfinite(vector)):
                failures.append(f"{Path(clip.audio_path).name}: the embedder returned an invalid vector")
                continue
            candidates.append(_Candidate(clip, vector))
            _report(progress, STAGE_EMBEDDING, i + 1, len(clips))
        timer.add(STAGE_EMBEDDING, time.perf_counter() - started)
        if failures and not candidates:
            raise GenerationFailedError(f"The {self.embedder.name} embedder failed: {failures[0]}.")
        if failures:
            self.notices.append(f"{len(failures)} clip(s) could not be analysed and were left out.")
        return candidates

    def _cluster_and_name(
        self,
        batch_id: uuid.UUID,
        session_id: uuid.UUID,
        prompt: str,
        params: BriefParams,
        candidates: Sequence[_Candidate],
        *,
        kind: str,
        num_requested: int,
        seed: int | None,
        position: int,
        progress: ProgressFn | None,
        cancel: threading.Event | None,
        timer: StageTimer,
    ) -> tuple[Batch, dict[uuid.UUID, _Candidate]]:
        check_cancel(cancel)
        started = time.perf_counter()
        _report(progress, STAGE_CLUSTERING, 0, 1)
        groups = self.clusterer([c.embedding for c in candidates], self.settings.default_max_k)
        _report(progress, STAGE_CLUSTERING, 1, 1)
        timer.add(STAGE_CLUSTERING, time.perf_counter() - started)
        batch = self._build_batch(
            batch_id,
            session_id,
            prompt,
            params,
            kind=kind,
            num_requested=num_requested,
            seed=seed,
            position=position,
        )
        started = time.perf_counter()
        self._named_by = []
        taken: list[str] = []
        tracks: list[Track] = []
        clusters: list[ClusterSummary] = []
        sources: dict[uuid.UUID, _Candidate] = {}
        for c_index, group in enumerate(groups):
            check_cancel(cancel)
            _report(progress, STAGE_NAMING, c_index, len(groups))
            members = [candidates[i] for i in group]
            centroid = clustering.centroid_of([m.embedding for m in members])
            label = self._name(members, taken)
            taken.append(label)
            cluster = ClusterSummary(
                id=new_id(),
                batch_id=batch_id,
                label=label,
                track_ids=[],
                created_at=utcnow(),
                position=c_index,
            )
            for i in group:
                track = self._track(
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
        _report(progress, STAGE_NAMING, len(groups), len(groups))
        timer.add(STAGE_NAMING, time.perf_counter() - started)
        batch.namer = _namer_record(self.namer.name, self._named_by)
        batch.clusters = clusters
        batch.tracks = sorted(tracks, key=lambda t: t.position)
        batch.num_generated = len(tracks)
        return batch, sources

    def _name(self, members: Sequence[_Candidate], taken: Sequence[str]) -> str:
        """Ask the namer; on an exception or junk ask the fallback; always unique in the batch."""
        prompts = [m.clip.raw_prompt for m in members]
        context = NamingContext(
            audio_paths=[Path(m.clip.audio_path) for m in members],
            embeddings=[m.embedding for m in members],
            taken=frozenset(taken),
        )
        for namer in (self.namer, self._fallback()):
            if namer is None:
                continue
            try:
                label = clean_label(namer.name_cluster(prompts, context))
                reason = getattr(namer, "last_fallback_reason", None)
                if reason:
                    self._notice(str(reason))
                    namer_used = "describe"  # the namer fell back inside (openai -> describe)
                else:
                    namer_used = str(getattr(namer, "name", ""))
            except (CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:
                log.warning("namer %s failed: %s", getattr(namer, "name", namer), exc)
                label = None
            if label:
                if namer is not self.namer:
                    self._notice(f"The {self.namer.name} namer failed; clusters were named by {namer.name}.")
                self._named_by.append(namer_used)
                return unique_label(label, taken)
            if namer is self.namer:
                log.warning("namer %s returned no usable label", getattr(namer, "name", namer))
        self._named_by.append("")
        return unique_label(FALLBACK_LABEL, taken)

    def _fallback(self) -> Any | None:
        if self._fallback_namer is None:
            try:
                from core.providers import registry

                self._fallback_namer = registry.create_namer(self.settings, "describe")
            except SessionLabError:
                return None
        return None if self._fallback_namer is self.namer else self._fallback_namer

    def _notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.append(text)

    def _build_batch(
        self,
        batch_id: uuid.UUID,
        session_id: uuid.UUID,
        prompt: str,
        params: BriefParams,
        *,
        kind: str,
        num_requested: int,
        seed: int | None,
        position: int,
        parent_cluster_id: uuid.UUID | None = None,
    ) -> Batch:
        imported = kind == BATCH_IMPORT
        return Batch(
            id=batch_id,
            session_id=session_id,
            created_at=utcnow(),
            prompt_text=prompt,
            num_requested=num_requested,
            num_generated=0,
            clusters=[],
            kind=kind,
            params=params,
            seed=seed,
            engine="import" if imported else self.music.name,
            model=None if imported else self.music.model,
            embedder=self.embedder.space,
            namer=self.namer.name,
            parent_cluster_id=parent_cluster_id,
            position=position,
        )

    def _track(
        self,
        batch: Batch,
        cluster: ClusterSummary,
        candidate: _Candidate,
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
            path=paths.track_path(self.store.root, batch.session_id, track_id, Path(clip.audio_path).suffix),
            duration_sec=float(clip.duration_sec),
            raw_prompt=clip.raw_prompt,
            created_at=utcnow(),
            seed=clip.seed,
            similarity=round(float(similarity), 6),
            recipe=clip.recipe,
            position=position,
        )

    def _persist(
        self,
        batch: Batch,
        sources: dict[uuid.UUID, _Candidate],
        progress: ProgressFn | None,
        cancel: threading.Event | None,
        timer: StageTimer,
        *,
        new_session: tuple[str, BriefParams] | None,
    ) -> None:
        """Store the batch: its files move into place as its rows commit (the store's rule).

        A new session is stored by the same add_batch, in the same transaction as
        its first batch: a failure, a cancel or a kill leaves no empty session. The
        store gives the batch its position (the session's next, read as it commits).
        """
        check_cancel(cancel)
        started = time.perf_counter()
        _report(progress, STAGE_SAVING, 0, 1)
        created: Session | None = None
        if new_session is not None:
            brief, params = new_session
            created = self.store.draft_session(brief, params)
            batch.session_id = created.id
            for track in batch.tracks:
                track.path = paths.track_path(self.store.root, created.id, track.id, track.path.suffix)
        members: dict[uuid.UUID, list[np.ndarray]] = {}
        for track in batch.tracks:
            members.setdefault(track.cluster_id, []).append(sources[track.id].embedding)
        centroids = {cluster_id: clustering.centroid_of(vectors) for cluster_id, vectors in members.items()}
        self.store.add_batch(
            batch.session_id,
            batch,
            centroids,
            space=self.embedder.space,
            embeddings={track.id: sources[track.id].embedding for track in batch.tracks},
            staged_files={track.id: Path(sources[track.id].clip.audio_path) for track in batch.tracks},
            new_session=created,
        )
        _report(progress, STAGE_SAVING, 1, 1)
        timer.add(STAGE_SAVING, time.perf_counter() - started)

    def _centroid(
        self, session_id: uuid.UUID, cluster: ClusterSummary, members: Sequence[Track], timer: StageTimer
    ) -> np.ndarray:
        """The cluster's centroid in the current embedder's space, computed from its clips if needed."""
        space = self.embedder.space
        stored = self.store.get_centroid(session_id, cluster.id, space)
        if stored is not None:
            return stored
        started = time.perf_counter()
        known = self.store.get_embeddings([t.id for t in members], space)
        fresh: dict[uuid.UUID, np.ndarray] = {}
        for track in members:
            if track.id not in known:
                fresh[track.id] = np.asarray(self.embedder.embed_audio(track.path), dtype=np.float32).ravel()
        if fresh:
            self.store.put_embeddings(space, fresh)
        vectors = [known.get(t.id, fresh.get(t.id)) for t in members]
        if not vectors:
            raise NotFoundError(f"Cluster {cluster.label!r} has no clips to start from.")
        centroid = clustering.centroid_of(vectors)
        self.store.put_centroid(cluster.id, space, centroid)
        timer.add(STAGE_EMBEDDING, time.perf_counter() - started)
        return centroid

    def _more_like_prompt(self, session: Session, parent_batch: Batch) -> str:
        if parent_batch.kind == BATCH_IMPORT:
            return render_prompt(session.brief_text, self._more_like_params(session, parent_batch))
        return parent_batch.prompt_text

    def _more_like_params(self, session: Session, parent_batch: Batch) -> BriefParams:
        return parent_batch.params if parent_batch.params is not None else session.params


def _report(progress: ProgressFn | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def _log_stages(batch: Batch, timings: dict[str, Any]) -> None:
    """One structured log record per stage of a stored batch, and one for the whole batch."""
    context = {"session": batch.session_id, "batch": batch.id}
    for stage, seconds in timings.get("stages", {}).items():
        log.info("%s done", stage, extra={**context, "stage": stage, "elapsed_ms": seconds * 1000})
    log.info(
        "%s batch stored: %d of %d clips, namer %s",
        batch.kind,
        batch.num_generated,
        batch.num_requested,
        batch.namer,
        extra={**context, "stage": "done", "elapsed_ms": timings.get("total_sec", 0.0) * 1000},
    )


def _namer_record(chosen: str, named_by: Sequence[str]) -> str:
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


def _text_of(path: Path | str) -> str:
    """A file name as text that can be stored: bytes that are not UTF-8 become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


def _stage_import(source: Path, stem: Path, suffix: str) -> Path:
    """The musician's file into staging as it was (its bytes) when its format can be kept, else as a float WAV.

    Either way every channel, the rate and the depth survive; analysis reads a mono copy.
    """
    target = stem.with_suffix(suffix or ".wav")
    try:
        if suffix:
            shutil.copyfile(source, target)
        else:
            import soundfile as sf

            samples, rate = read_audio(source, mono=False)
            sf.write(target, samples, rate, format="WAV", subtype="FLOAT")
    except OSError as exc:
        raise storage_error(f"write the clip {target.name} ({_text_of(source.name)})", exc) from None
    return target


def _sentence(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]
