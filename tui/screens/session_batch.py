"""The session screen's batch being made: its start, progress and end, spread over frames.

A base class of SessionScreen, so the screen module stays about loading and showing
a session. It relies on the screen's own helpers (``_show_scope``, ``_reselect``,
``_show_pending``, ``_title``, ``_sync_bindings``) and state (``session``, ``loaded``,
``clip_problems``, ``counts``).

Redrawing the tree, the list, the batch panel and the footer costs some 10-25 ms of
the UI thread each at 120 x 36; a batch that starts or ends changes all four. Done in
one callback, they were drawn in one frame (80-90 ms without an input handled); here
each is changed a frame after the one before (``in_frames``), so no frame draws more
than about two of them.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from textual import on, work
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.widgets import Static
from textual.worker import Worker, WorkerState, get_current_worker

from core.models import Batch, Session, Track
from tui.formatting import plural
from tui.jobs import GenerationJob, NowPlaying
from tui.messages import ClipRendered, GenerationProgress, WaveformReady
from tui.screens.extend import run_extend
from tui.screens.session_state import SessionState
from tui.waveform import file_key
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.cluster_tree_nodes import ClusterNode, PendingNode
from tui.widgets.generation_panel import GenerationPanel
from tui.widgets.track_table import TrackRow, TrackTable

_tokens = itertools.count(1)
# How long in_frames waits before asking for the next redraw: long enough for the step's
# refresh to reach the screen (its widgets' idle messages, a few event-loop turns), much
# shorter than a frame. A whole frame (1/60 s) here cost 40-50 ms of opening a session at
# 10k clips (bench/scale.py open_sec median 0.33 -> 0.28 s) with the same stalls.
STEP_GAP_SEC = 0.002


def file_problems(tracks: Iterable[Track]) -> dict[str, str]:
    """Each clip whose file cannot be played, and why, by track id. Reads file headers:
    call it in a worker."""
    from core.audio import clip_file_problem

    problems: dict[str, str] = {}
    for track in tracks:
        problem = clip_file_problem(track.path)
        if problem is not None:
            problems[str(track.id)] = problem
    return problems


@dataclass(frozen=True)
class BatchMade:
    """What a generation worker hands back: the batch stored (with the session, when the
    batch made it), the notices it gave, its clips' file problems and the names its clusters
    were given (a child of a cluster the musician named carries that name)."""

    batch: Batch
    notices: list[str]
    problems: dict[str, str]
    session: Session | None = None
    names: dict[uuid.UUID, str] = field(default_factory=dict)


def _nothing() -> None:
    """A step of in_frames that only waits for a frame."""


class SessionBatches(SessionState):
    # Nothing the screen draws itself reads it (repaint=True would repaint the whole
    # screen); the footer follows it when a change is settled (``_sync_bindings``).
    generating: reactive[bool] = reactive(False, repaint=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job: GenerationJob | None = None
        # The last job started here (None until on_mount starts first_job), so a waiter
        # that sees it set and not generating knows that job has ended.
        self.last_job: GenerationJob | None = None
        self.token = 0
        self.pending_rows: dict[str, TrackRow] = {}
        # > 0 while a change is spread over frames (in_frames): the highlight's list and
        # the footer wait for its last step, which settles both.
        self.settling = 0
        self.bindings_held = False  # the footer was asked to follow while settling
        # Waveforms asked for while settling: (row key, path), drawn once settled.
        self.waveforms_later: list[tuple[str, str]] = []

    # ------------------------------------------------------------ frames

    def in_frames(self, *steps: Callable[[], object]) -> None:
        """Run ``steps`` one frame apart: each after the screen has drawn what the one
        before it changed (the first now)."""
        first, *rest = steps
        first()
        if rest and self.is_attached:
            # A refresh asked for reaches the screen a moment later (the widget's idle
            # message), and a screen that knows of nothing to redraw runs after-refresh
            # callbacks at once: a moment later it knows, and the next step waits for
            # that redraw.
            self.set_timer(STEP_GAP_SEC, partial(self.call_after_refresh, self.in_frames, *rest))

    def settle(self, then: Callable[[], object] | None = None) -> None:
        """The last step of a change spread over frames: the list follows the highlight
        (if it moved meanwhile) and the footer what is possible now; what waited (the
        waveforms asked for, ``then``) runs once the footer is redrawn (its keys, made
        the first time, are mounted and drawn a frame or two after they are asked for)."""
        self.settling -= 1
        if self.settling:
            if then is not None:
                then()
            return
        if self.loaded:
            self._show_scope(self.query_one("#tree", ClusterTree).highlighted)  # type: ignore[attr-defined]
        if self.bindings_held:
            self.bindings_held = False
            super().refresh_bindings()
        self._sync_bindings()  # type: ignore[attr-defined]
        later, self.waveforms_later = self.waveforms_later, []

        def after() -> None:
            if later:
                self._waveforms(later)  # type: ignore[attr-defined]
            if then is not None:
                then()

        if later or then is not None:
            self.in_frames(_nothing, _nothing, after)

    def refresh_bindings(self) -> None:
        # Textual asks too (a focus moved): while settling, the footer waits for settle().
        if self.settling:
            self.bindings_held = True
        else:
            super().refresh_bindings()

    def _panel(self) -> GenerationPanel:
        """The panel of the batch being made (hidden while none is), mounted the first
        time it is asked for."""
        try:
            return self.query_one("#generation", GenerationPanel)
        except NoMatches:
            panel = GenerationPanel(id="generation")
            panel.display = False
            self.query_one("#right", Vertical).mount(panel)
            return panel

    def _premount_panel(self) -> None:
        if self.is_attached:
            self._panel()

    # ------------------------------------------------------------ start

    def start_job(self, job: GenerationJob) -> None:
        """Start making a batch: the panel in this frame (the list, shorter, redrawn with
        it), the list's slots in the next, then the tree's pending node, then the footer
        and the worker."""
        self.token = token = next(_tokens)
        self.job = job
        self.last_job = job
        # A slot per clip, filled in as each is rendered.
        self.pending_rows = {
            row.key: row for row in (self._pending_row(i, "rendering…") for i in range(job.num_clips))
        }
        self.generating = True
        self.app.collector.hold()
        self.settling += 1

        def panel() -> None:
            panel = self._panel()
            panel.display = True
            panel.start(job.title, job.num_clips)
            self.query_one("#session-empty", Static).display = False

        def slots() -> None:
            if self.loaded and token == self.token:
                self._show_scope(PendingNode(job.title), force=True)  # type: ignore[attr-defined]

        def tree() -> None:
            if self.loaded and token == self.token and self.generating:
                self._show_pending(job)  # type: ignore[attr-defined]
                tree = self.query_one("#tree", ClusterTree)
                tree.select_key("pending")
                tree.focus()

        def generate() -> None:
            if token == self.token and self.generating:
                self._generate(job, token)

        def settled() -> None:
            # The worker starts once the screen is redrawn, the footer's keys too (settle's
            # ``then``): the redraws do not compete with the engine for the interpreter.
            self.settle(then=generate)

        # A map being placed stops; the panel's frame waits for its thread to end.
        self.map_put_off(partial(self.in_frames, panel, slots, tree, settled))  # type: ignore[attr-defined]

    # ------------------------------------------------------------ making

    @work(thread=True, exclusive=True, exit_on_error=False, group="generate")
    def _generate(self, job: GenerationJob, token: int) -> BatchMade:
        from core.providers.base import STAGE_GENERATING
        from core.service import SessionService
        from tui.waveform import compute_waveform

        worker = get_current_worker()
        app = self.app
        observer = app.generation_observer
        clock = app.clock
        started: dict[str, float] = {}

        def progress(stage: str, done: int, total: int) -> None:
            now = clock()
            began = started.setdefault(stage, now)
            self.post_message(GenerationProgress(token, stage, done, total, at=now, stage_started=began))
            if observer is not None:
                observer(stage, done, total)

        def on_clip(index: int, total: int, path: Path) -> None:
            now = clock()
            began = started.setdefault(STAGE_GENERATING, now)
            self.post_message(ClipRendered(token, index, total, Path(path), at=now, stage_started=began))
            # Drawn here, in this thread, rather than in one more thread per clip.
            try:
                waveform = compute_waveform(Path(path))
            except Exception:  # the list keeps its dotted placeholder
                return
            self.post_message(WaveformReady(f"pending-{index}", Path(path), waveform))

        service = SessionService.from_settings(
            app.settings,
            store=app.store,
            engine=job.engine,
            model=job.model,
            embedder=job.embedder,
            namer=job.namer,
        )
        options: dict[str, Any] = {
            "seed": job.seed,
            "progress": progress,
            "cancel": worker.cancelled_event,
            "on_clip": on_clip,
        }
        if job.kind == "new":
            assert job.params is not None
            session = service.create_initial_batch(job.brief, job.params, job.num_clips, **options)
            batch = session.batches[-1]
            return BatchMade(batch, list(service.notices), file_problems(batch.tracks), session=session)
        if job.kind == "batch":
            assert job.params is not None and job.session_id is not None
            batch = service.add_brief_batch(job.session_id, job.brief, job.params, job.num_clips, **options)
        elif job.second_cluster_id is not None:  # a blend: a more-like job with two parents
            assert job.session_id is not None and job.cluster_id is not None
            batch = service.blend_clusters(
                job.session_id, job.cluster_id, job.second_cluster_id, job.num_clips, **options
            )
        elif job.kind == "extend":
            batch = run_extend(service, job, options)
        else:
            assert job.session_id is not None and job.cluster_id is not None
            batch = service.more_like_cluster(
                job.session_id, job.cluster_id, job.num_clips, strength=job.strength, **options
            )
        # The batch as stored: the screen adds it to the session it holds (no re-read).
        given = app.store.get_cluster_names(batch.session_id)
        names = {c.id: given[c.id] for c in batch.clusters if given.get(c.id)}
        return BatchMade(batch, list(service.notices), file_problems(batch.tracks), names=names)

    @on(GenerationProgress)
    def _progress(self, event: GenerationProgress) -> None:
        if event.token == self.token and self.generating:
            self._panel().progress(
                event.stage, event.done, event.total, at=event.at, stage_started=event.stage_started
            )

    @on(ClipRendered)
    def _clip_rendered(self, event: ClipRendered) -> None:
        if event.token != self.token or not self.generating or self.job is None:
            return
        self._panel().clip_ready(event.index, event.total, at=event.at, stage_started=event.stage_started)
        label = self.job.label if self.job.kind == "more" else "(not grouped yet)"
        row = self._pending_row(event.index, label, str(event.path))
        self.pending_rows[row.key] = row
        table = self.query_one("#tracks", TrackTable)
        if table.scope == "pending":
            # The slot was listed from the start: its cells change in place (no layout pass).
            # Its waveform follows from the generation thread (WaveformReady).
            table.put_row(row, self.app.waveforms.get(row.path))
        self._sync_bindings()  # type: ignore[attr-defined]

    @staticmethod
    def _pending_row(index: int, label: str, path: str = "") -> TrackRow:
        return TrackRow(
            key=f"pending-{index}",
            number=index + 1,
            label=label,
            path=path,
            duration_sec=None,
            similarity=None,
        )

    def generation_changed(self, event: Worker.StateChanged) -> None:
        """The generation worker ended: its batch shown, or the screen back as it was."""
        if not self.generating or self.job is None:
            return
        if event.state == WorkerState.SUCCESS:
            self._finish_job(event.worker.result)
        elif event.state == WorkerState.CANCELLED:
            self._end_job()
            self.notify("Cancelled: nothing of that batch was stored.", markup=False)
        elif event.state == WorkerState.ERROR:
            self._end_job()  # the app turns the error itself into one notification

    # ------------------------------------------------------------ end

    def _finish_job(self, made: BatchMade) -> None:
        batch = made.batch
        self.clip_problems.update(made.problems)
        whole: Session | None = None
        if made.session is not None or self.session is None or self.session.id != batch.session_id:
            # A new session (its first batch), or one this screen had not read: shown whole.
            whole = made.session or self.app.store.require_session(batch.session_id)
            self.session = whole
            self.counts = None
        else:
            # The session held here grows by the batch; the tree adds its nodes only,
            # under the names the store gave its clusters (the generated labels kept aside).
            for cluster in batch.clusters:
                if cluster.id in made.names:
                    self.generated_labels.setdefault(cluster.id, cluster.label)  # type: ignore[attr-defined]
                    self.cluster_names[cluster.id] = cluster.label = made.names[cluster.id]  # type: ignore[attr-defined]
            self.session.batches.append(batch)
            self.session.index_tracks([batch])
            if self.counts is not None:
                self.counts = (self.counts[0] + 1, self.counts[1] + len(batch.tracks))
        self.session_id = batch.session_id
        first = batch.clusters[0] if batch.clusters else None
        notes = [(notice, "") for notice in made.notices]
        if first is not None:
            clusters = plural(len(batch.clusters), "cluster")
            said = f"{plural(len(batch.tracks), 'clip')} in {clusters}: {', '.join(c.label for c in batch.clusters)}."
            notes.insert(0, (said, "Batch ready"))
            self._adopt_playing_clip(batch)

        def tree_change(tree: ClusterTree) -> None:
            if whole is None:
                tree.add_batch(batch, made.problems)
            elif self.loaded:
                tree.show_session(whole, self.clip_problems)

        self._end_job(
            select=ClusterNode(batch, first) if first is not None else None,
            tree_change=tree_change,
            notes=notes,
        )

    def _adopt_playing_clip(self, batch: Batch) -> None:
        """A clip played while the batch was made is now a stored track: name it so.

        The store moved the file into place (same file, new name), so it is found by
        the identity its waveform recorded.
        """
        now = self.app.now_playing
        if now is None or not now.key.startswith("pending-"):
            return
        drawn = self.app.waveforms.get(now.path)
        if drawn is None or not drawn.file_key:
            return
        labels = {tid: c.label for c in batch.clusters for tid in c.track_ids}
        for track in batch.tracks:
            if file_key(track.path) == drawn.file_key:
                self.app.now_playing = NowPlaying(
                    str(track.id), str(track.path), track.position + 1, labels.get(track.id, now.label)
                )
                return

    def _end_job(
        self,
        select: ClusterNode | None = None,
        tree_change: Callable[[ClusterTree], None] | None = None,
        notes: Sequence[tuple[str, str]] = (),
    ) -> None:
        """The batch ended (``select``: the cluster of it to highlight): the panel goes
        in this frame, the list shows ``select`` in the next, then the tree changes (its
        highlight already listed), then the footer, then the toasts (``notes``: message,
        title; a toast redraws what it covers); ``generating`` is False once all is
        settled."""
        self.job = None
        self.pending_rows = {}
        self.settling += 1

        def panel() -> None:
            self._panel().display = False

        def listed() -> None:
            if select is not None and self.loaded:
                self._show_scope(select, force=True)  # type: ignore[attr-defined]

        def tree() -> None:
            tree = self.query_one("#tree", ClusterTree)
            tree.clear_pending()
            if tree_change is not None:
                tree_change(tree)
            self._title(self.session)  # type: ignore[attr-defined]
            self.loaded = True
            # Listed already (the same scope): only the highlight moves; with none
            # chosen (cancelled), the list follows the highlight as it lands.
            self._reselect(select.key if select is not None else None, list_it=select is None)  # type: ignore[attr-defined]

        def settled() -> None:
            self.generating = False
            self.settle()
            for message, title in notes:
                self.call_after_refresh(self.notify, message, title=title, markup=False)
            # The young generation (all the batch made) collected in a frame of its own,
            # not in one that redraws the tree or the list.
            self.app.call_after_refresh(self.app.collector.release)
            # The map put off while the batch was made: placed once the toasts are drawn.
            self.in_frames(_nothing, _nothing, self.batch_settled)  # type: ignore[attr-defined]

        self.in_frames(panel, listed, tree, settled)

    def action_cancel(self) -> None:
        if not self.generating or self.job is None:
            return
        self._panel().set_cancelling()
        self.workers.cancel_group(self, "generate")
