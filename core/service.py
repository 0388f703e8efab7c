"""SessionService: brief -> clips -> embeddings -> clusters -> names -> disk.

A thin typed facade over ``core.pipeline`` for the CLI and the app: each public
method builds one call's ``Run``, hands it with the ``Tools`` to its use case,
and keeps what the caller reads afterwards (``notices``, ``last_timings``).

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

import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core import clustering
from core.errors import ProviderUnavailableError, SessionLabError
from core.models import Batch, BriefParams, Session, utcnow
from core.pipeline import blend, extend, generate, import_clips, more_like
from core.pipeline.generate import random_seed
from core.pipeline.run import ClipReadyFn, Run, StageTimer
from core.pipeline.tools import ClusterFn, Tools
from core.providers.base import ClusterNamingProvider, EmbeddingProvider, MusicProvider, ProgressFn
from core.settings import Settings

if TYPE_CHECKING:
    from core.store import SessionStore

__all__ = ["ClipReadyFn", "ClusterFn", "SessionService", "StageTimer", "random_seed"]

T = TypeVar("T")


def _now() -> datetime:
    # Read at each call, so a test that fixes the clock (core.service.utcnow) fixes the rows' times.
    return utcnow()


def _fallback_music(
    settings: Settings, chosen: str, why: ProviderUnavailableError
) -> tuple[MusicProvider, str]:
    """The first engine of ``settings.fallback_engines`` that can be built when ``chosen`` cannot;
    re-raises ``why`` when none is allowed or none can."""
    from core.errors import sentence
    from core.pipeline.routing import fallback_label, stand_ins

    for entry, music in stand_ins(settings, {chosen}):
        if not isinstance(music, SessionLabError):
            return (
                music,
                f"{sentence(why).rstrip('.')}. The {fallback_label(entry)} engine makes this batch instead.",
            )
    raise why


class SessionService:
    """Orchestrates providers and the store. One instance serves one UI or CLI run."""

    def __init__(
        self,
        store: SessionStore,
        music: MusicProvider,
        embedder: EmbeddingProvider,
        namer: ClusterNamingProvider,
        *,
        settings: Settings | None = None,
        fallback_namer: ClusterNamingProvider | None = None,
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
        # What the last call left for its caller: its stage timings (once its batch is
        # stored) and its one-line remarks for the user (e.g. a namer fell back).
        self.last_timings: dict[str, Any] = {}
        self.notices: list[str] = []
        # Why the chosen engine could not be built and which fallback stands in (from_settings).
        self.startup_notice: str | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store: SessionStore | None = None,
        engine: str | None = None,
        model: str | None = None,
        embedder: str | None = None,
        embedder_model: str | None = None,
        namer: str | None = None,
    ) -> SessionService:
        """Build providers by name (cheap: models load in the first batch) and open the store."""
        from core.providers import registry

        try:
            music = registry.create_music(settings, engine, model)
        except ProviderUnavailableError as exc:  # it cannot run here: the first allowed fallback that can
            music, remark = _fallback_music(settings, engine or settings.engine, exc)
        else:
            remark = None
        embed = registry.create_embedder(settings, embedder, embedder_model)
        name = registry.create_namer(settings, namer)
        if store is None:
            from core.store import SessionStore

            store = SessionStore(settings.data_dir)
        service = cls(store, music, embed, name, settings=settings)
        service.startup_notice = remark
        return service

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
        run = Run(progress, cancel, on_clip)
        return self._call(
            run, lambda tools: generate.initial(tools, run, brief, params, num_clips, seed=seed)
        )

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
        run = Run(progress, cancel, on_clip)
        return self._call(
            run, lambda tools: generate.add_brief(tools, run, session_id, brief, params, num_clips, seed=seed)
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
        strength: str | None = None,
    ) -> Batch:
        """Generate near a cluster, keep what is similar enough, store it as a new child batch.

        Reads the session's own row and the parent cluster's batch, nothing else. ``strength``
        (close ... loose) overrides the ``variation_strength`` setting for this call.
        """
        run = Run(progress, cancel, on_clip)
        return self._call(
            run,
            lambda tools: more_like.more_like(
                tools, run, session_id, cluster_id, num_clips, seed=seed, strength=strength
            ),
        )

    def blend_clusters(
        self,
        session_id: uuid.UUID,
        first_cluster_id: uuid.UUID,
        second_cluster_id: uuid.UUID,
        num_clips: int,
        *,
        seed: int | None = None,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        on_clip: ClipReadyFn | None = None,
    ) -> Batch:
        """Generate between two clusters, keep clips nearer the middle than either, store a child
        batch under the first (its cluster records both parents)."""
        run = Run(progress, cancel, on_clip)
        return self._call(
            run,
            lambda tools: blend.blend(
                tools, run, session_id, first_cluster_id, second_cluster_id, num_clips, seed=seed
            ),
        )

    def extend_track(
        self,
        track_id: uuid.UUID,
        to_sec: float,
        *,
        seed: int | None = None,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        on_clip: ClipReadyFn | None = None,
    ) -> Batch:
        """A new clip that continues ``track_id`` to ``to_sec`` seconds, stored as a batch beside its cluster.

        Progress counts windows; cancel stores nothing.
        """
        run = Run(progress, cancel, on_clip)
        return self._call(run, lambda tools: extend.extend(tools, run, track_id, to_sec, seed=seed))

    def extend_limit(self) -> float:
        """The longest clip ``extend_track`` makes with this engine (0: it cannot extend)."""
        return extend.extend_limit(self._tools())

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
        run = Run(progress, cancel)
        return self._call(run, lambda tools: import_clips.import_clips(tools, run, session_id, files))

    # ----------------------------------------------------------------- private

    def _call(self, run: Run, use_case: Callable[[Tools], T]) -> T:
        """Run one use case: its notices show in ``notices`` as they come (even if it fails),
        its timings in ``last_timings`` once its batch is stored."""
        self.notices = run.notices
        if self.startup_notice:
            run.notice(self.startup_notice)
        result = use_case(self._tools())
        if run.timings is not None:
            self.last_timings = run.timings
        return result

    def _tools(self) -> Tools:
        # Built per call from the attributes, so a caller may swap one (a planned clusterer).
        return Tools(
            store=self.store,
            music=self.music,
            embedder=self.embedder,
            namer=self.namer,
            settings=self.settings,
            clusterer=self.clusterer,
            fallback_namer=self._fallback,
            now=_now,
        )

    def _fallback(self) -> ClusterNamingProvider | None:
        """The namer that stands in when the chosen one fails: ``describe`` unless given, made once."""
        if self._fallback_namer is None:
            try:
                from core.providers import registry

                self._fallback_namer = registry.create_namer(self.settings, "describe")
            except SessionLabError:
                return None
        return None if self._fallback_namer is self.namer else self._fallback_namer
