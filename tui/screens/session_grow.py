"""The session screen's growing keys: more like a cluster (m) and a new batch from a
brief (b), each asked for in a dialog and started as a job.

A base class of SessionScreen (see ``session.py``); it relies on the scope's
``_current_cluster`` and the batch's ``start_job``.
"""

from __future__ import annotations

from core.models import Batch
from core.providers.registry import names as provider_names
from core.text import shown_line
from tui.jobs import GenerationJob
from tui.screens.session_state import SessionState
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.cluster_tree_nodes import BatchNode
from tui.widgets.track_table import TrackTable


class SessionGrow(SessionState):
    def _batch_without_choice(self) -> Batch | None:
        """The highlighted batch, when it has several clusters and none is chosen."""
        if self.session is None or self.query_one("#tracks", TrackTable).has_focus:
            return None
        data = self.query_one("#tree", ClusterTree).highlighted
        if isinstance(data, BatchNode) and len(data.batch.clusters) > 1:
            return data.batch
        return None

    def action_more_like(self) -> None:
        if self.session is None or self.generating:
            return
        found = self._current_cluster()
        if found is None:
            batch = self._batch_without_choice()
            if batch is not None:
                self.notify(
                    f"This batch has {len(batch.clusters)} clusters: highlight one of them "
                    "(or one of its clips) and press m again.",
                    markup=False,
                )
            return
        batch, cluster = found
        from tui.screens.more_like import MoreLikeChoice, MoreLikeScreen, takes_strength

        settings = self.app.settings
        default = self.app.last_more_count or settings.max_batch_size
        session_id = self.session.id
        engine = batch.engine if batch.engine in provider_names("music") else None

        strength = settings.variation_strength if takes_strength(engine or settings.engine) else None

        def counted(choice: MoreLikeChoice | None) -> None:
            if choice is None:
                return
            self.app.last_more_count = choice.count
            self.start_job(
                GenerationJob(
                    kind="more",
                    num_clips=choice.count,
                    # Only a strength other than the setting's travels: the setting applies anyway,
                    # and a model that takes none (Stable Audio Open) still runs at its default.
                    strength=choice.strength if choice.strength != settings.variation_strength else None,
                    session_id=session_id,
                    cluster_id=cluster.id,
                    label=cluster.label,
                    # The parent's engine (and model) if it was generated; the
                    # embedder from settings (the core re-embeds the parent if
                    # its vectors are in another space).
                    engine=engine,
                    model=batch.model if engine else None,
                )
            )

        self.app.push_screen(
            MoreLikeScreen(
                f"More like “{shown_line(cluster.label)}”: how many clips?",
                default,
                settings.max_batch_size,
                strength,
            ),
            counted,
        )

    def action_new_batch(self) -> None:
        if self.generating:
            return
        from tui.screens.brief import BriefScreen

        session = self.session
        last = self.last_job
        if session is not None:
            latest = session.batches[-1] if session.batches else None
            providers: dict[str, str] = {}
            if latest is not None:
                # Batches record the engine and namer by name (the embedder by its
                # vector space, so that one comes from settings).
                if latest.engine in provider_names("music"):
                    providers["engine"] = latest.engine
                chosen_namer = latest.namer.split(" ")[0]  # "openai (fallback: describe)" -> "openai"
                if chosen_namer in provider_names("naming"):
                    providers["namer"] = chosen_namer
            screen = BriefScreen(
                title="New batch in this session",
                session_id=session.id,
                brief=session.brief_text,
                params=session.params,
                providers=providers,
            )
        else:
            screen = BriefScreen(
                title="New session",
                brief=last.brief if last is not None else "",
                params=last.params if last is not None else None,
                num_clips=last.num_clips if last is not None and last.kind != "more" else None,
            )

        def written(job: GenerationJob | None) -> None:
            if job is not None:
                self.start_job(job)

        self.app.push_screen(screen, written)
