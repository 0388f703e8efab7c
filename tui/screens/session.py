"""A session: the cluster tree, the track list, the batch being made, and the player."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import DataTable, Header, Static, Tree
from textual.worker import Worker, WorkerState, get_current_worker

from core.errors import NotFoundError
from core.models import Batch, Session, Track
from core.providers.registry import names as provider_names
from core.store.reads import SessionStart
from core.text import shown_line
from tui.formatting import plural, shorten
from tui.jobs import GenerationJob, NowPlaying
from tui.messages import WaveformReady
from tui.screens.extend import ExtendActions
from tui.screens.session_batch import SessionBatches, file_problems
from tui.screens.session_explore import SessionExplore
from tui.screens.session_keys import SessionKeys
from tui.widgets.cluster_tree import (
    RECENT_BATCHES,
    BatchNode,
    ClusterNode,
    ClusterTree,
    NodeData,
    PendingNode,
    TrackNode,
    blend_partner,
    cluster_tracks,
)
from tui.widgets.footer import QuietFooter
from tui.widgets.player_bar import PlayerBar
from tui.widgets.track_table import TrackRow, TrackTable

if TYPE_CHECKING:
    from tui.app import SessionLabApp

SEEK_SEC = 5.0
OLDER_CHUNK = 50  # batches read per step, after a big session is drawn (each put in place between frames)
TREE_WIDTH = 44  # the tree's columns where there is room (120 columns and up)
TREE_MIN_WIDTH = 24  # and at the least, on a narrow terminal
LIST_ROOM = 56  # what the list keeps first: its #, marks, cluster, length and similarity columns


class OlderBatchesRead(Message):
    """Batches of the open session read after it was drawn (a chunk of them), with
    their clips' file problems; ``last`` on the final chunk."""

    def __init__(
        self, session_id: uuid.UUID, batches: list[Batch], problems: dict[str, str], *, last: bool
    ) -> None:
        super().__init__()
        self.session_id = session_id
        self.batches = batches
        self.problems = problems
        self.last = last


# A Screen first among its bases: Textual's CSS follows the first DOMNode base only, and
# through the mixin it would lose Screen's rules (its opaque background: a transparent one
# has the sessions list beneath drawn again, tinted, at every repaint of this screen).
class SessionScreen(SessionBatches, SessionExplore, SessionKeys, ExtendActions):
    """Audition a session's clips and grow it, batch by batch.

    Dismissed with the session's id (None if nothing was stored), so the sessions
    list can highlight the session just made or visited.
    """

    BINDINGS = [
        Binding("enter", "play", "Play", id="play", tooltip="Play the selected clip"),
        Binding("space", "pause", "Pause", id="pause", tooltip="Pause or resume"),
        # Seeking is in the help and the player bar's hint; the footer keeps room for the rest.
        Binding(
            "left",
            "seek(-5)",
            "−5 s",
            id="seek-back",
            show=False,
            tooltip="Seek back 5 seconds",
        ),
        Binding(
            "right",
            "seek(5)",
            "+5 s",
            id="seek-forward",
            show=False,
            tooltip="Seek forward 5 seconds",
        ),
        Binding("n", "step(1)", "Next", id="next", tooltip="Play the next clip in the list"),
        Binding("p", "step(-1)", "Prev", id="previous", tooltip="Play the previous clip in the list"),
        Binding("l", "loop", "Loop", id="loop", tooltip="Loop the clip on or off"),
        Binding("m", "more_like", "More like", id="more-like", tooltip="Generate more like this cluster"),
        Binding("b", "new_batch", "New batch", id="new-batch", tooltip="Another brief in this session"),
        Binding("escape", "cancel", "Cancel", id="cancel", tooltip="Stop the batch being made"),
        Binding(
            "o",
            "toggle_open",
            "Open",
            id="open",
            show=False,
            tooltip="Open or close the highlighted batch or cluster",
        ),
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
        Binding("g", "ends('top')", "First", show=False),
        Binding("G", "ends('bottom')", "Last", show=False),
        Binding("q", "back", "Back", id="back", tooltip="Back to the sessions"),
    ]

    COMMAND_ACTIONS = (
        ("Play selected clip", "play", "Play the clip under the cursor"),
        ("Pause or resume", "pause", "Pause or resume the clip playing"),
        ("Toggle loop", "loop", "Loop the clip playing, or stop looping"),
        ("More like this cluster", "more_like", "Generate clips near the selected cluster"),
        ("New batch from a brief", "new_batch", "Another brief in this session"),
        ("Cancel generation", "cancel", "Stop the batch being made; nothing of it is stored"),
        ("Back to sessions", "back", "Leave this session"),
    )

    app: SessionLabApp  # type: ignore[assignment]

    def __init__(self, *, session_id: uuid.UUID | None = None, job: GenerationJob | None = None) -> None:
        super().__init__()
        self.session_id = session_id if session_id is not None else (job.session_id if job else None)
        self.session: Session | None = None
        self.first_job = job
        # track id -> why its file cannot be played ("missing", "unreadable"); checked in
        # the worker that read the session, never on the UI thread.
        self.clip_problems: dict[str, str] = {}
        self.loaded = False
        # While a big session's older batches are still being read: (batches, clips) of
        # the whole session, for the title; None once ``session`` holds every batch.
        self.counts: tuple[int, int] | None = None
        # (the node highlighted when the session was last left, the one highlighted
        # instead): the first is highlighted when its batch is read, unless the cursor moved.
        self._select_later: tuple[str, str | None] | None = None
        self._binding_state: tuple[bool | None, ...] = ()
        if self.session_id is not None:
            # Settling from the start: the footer's keys are made once the session is
            # drawn (_loaded, or the error), in a frame of their own.
            self.settling += 1

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="session-title", classes="screen-title")
        with Horizontal(id="session-body"):
            yield ClusterTree(id="tree")
            with Vertical(id="right"):
                yield Static(id="scope-title")
                yield TrackTable(id="tracks")
                yield Static(id="session-empty")
                # The batch panel (#generation) is mounted after the session is drawn
                # (``_panel``): not part of the cost of opening one.
        yield PlayerBar(id="player-bar")
        yield QuietFooter()

    def on_mount(self) -> None:
        self.query_one("#session-empty", Static).display = False
        self._fit_tree(self.app.size.width)
        self.watch(self.app, "now_playing", self._now_playing_changed, init=False)
        if self.session_id is not None:
            # Focused now, not in a frame that draws the session.
            self.query_one("#tree", ClusterTree).focus()
            self._title(None)
            self._load(self.session_id)
        else:
            self.loaded = True
            self._title(None)
        if self.first_job is not None:
            self.start_job(self.first_job)

    @on(events.Resize)
    def _resized(self, event: events.Resize) -> None:
        self._fit_tree(event.size.width)

    def _fit_tree(self, columns: int) -> None:
        """The tree is 44 columns where there is room, narrower (to 24) on a narrow
        terminal, so the list keeps its length and similarity columns (at 80)."""
        width = max(TREE_MIN_WIDTH, min(TREE_WIDTH, columns - LIST_ROOM))
        tree = self.query_one("#tree", ClusterTree)
        if tree.styles.width is None or tree.styles.width.value != width:
            tree.styles.width = width

    # --------------------------------------------------------------- loading

    @work(thread=True, exclusive=True, exit_on_error=False, group="load")
    def _load(self, session_id: uuid.UUID) -> SessionStart:
        # Its start only (the first and latest batches, the order of all): drawn at once,
        # however big the session; the other batches are read after (_load_older).
        start = self.app.store.get_session_start(session_id, recent=RECENT_BATCHES)
        if start is None:
            raise NotFoundError(f"No session {session_id}.")
        return start

    @work(thread=True, exclusive=True, exit_on_error=False, group="older", description="read older batches")
    def _load_older(self, session_id: uuid.UUID, batch_ids: list[uuid.UUID]) -> None:
        """The batches not read yet, a chunk at a time, each with its clips' files
        checked: the screen puts each chunk in place between frames."""
        worker = get_current_worker()
        store = self.app.store
        for start in range(0, len(batch_ids), OLDER_CHUNK):
            if worker.is_cancelled:
                return
            batches = store.get_batches(session_id, batch_ids[start : start + OLDER_CHUNK])
            problems = file_problems(t for b in batches for t in b.tracks)
            last = start + OLDER_CHUNK >= len(batch_ids)
            self.post_message(OlderBatchesRead(session_id, batches, problems, last=last))

    @on(OlderBatchesRead)
    def _older_read(self, event: OlderBatchesRead) -> None:
        session = self.session
        if session is None or session.id != event.session_id:
            return
        held = {b.id for b in session.batches}
        older = [b for b in event.batches if b.id not in held]
        session.batches[:] = sorted([*session.batches, *older], key=lambda b: b.position)
        session.index_tracks(older)
        self.clip_problems.update(event.problems)
        tree = self.query_one("#tree", ClusterTree)
        tree.add_older(older, event.problems)
        self.older_shown(older)
        if self._select_later is not None:
            wanted, instead = self._select_later
            shown = tree.highlighted
            if shown is None or shown.key != instead:
                self._select_later = None  # the cursor moved: it stays where it was put
            elif tree.select_key(wanted):
                self._select_later = None
                self._show_scope(tree.highlighted)
        # Each chunk settled as it comes: a full collection then never scans the whole session.
        self.app.collector.settle()
        if event.last:
            self.counts = None
            self._title(session)

    # A description given: Textual would otherwise repr every argument (thousands of tracks).
    @work(thread=True, exclusive=True, exit_on_error=False, group="files", description="check clip files")
    def _check_files(self, tracks: list[Track]) -> dict[str, str]:
        # After the tree is drawn: thousands of file headers are not worth a wait to open.
        return file_problems(tracks)

    def _files_checked(self, problems: dict[str, str]) -> None:
        """Mark the clips whose files cannot be played (their nodes, if made, and rows)."""
        if not problems:
            return
        self.clip_problems.update(problems)
        self.query_one("#tree", ClusterTree).mark_problems(problems)
        table = self.query_one("#tracks", TrackTable)
        if any(key in table.rows_by_key for key in problems):
            self._show_scope(self.query_one("#tree", ClusterTree).highlighted, force=True)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        self.app.report_worker(event)
        worker = event.worker
        if worker.group == "load":
            if event.state == WorkerState.SUCCESS:
                self._loaded(worker.result)
            elif event.state == WorkerState.ERROR:
                self.loaded = True
                self._reselect()
                self.settle()
        elif worker.group == "files":
            if event.state == WorkerState.SUCCESS:
                self._files_checked(worker.result)
        elif worker.group == "generate":
            self.generation_changed(event)

    def _loaded(self, start: SessionStart) -> None:
        """The session's start is read: the tree is drawn in this frame, the highlighted
        node's clips listed in the next (``loaded`` then), the footer and the rest after."""
        session = start.session
        self.session = session
        session.index_tracks(session.batches)  # the start's few batches
        self.session_id = session.id
        older = start.missing
        self.counts = (len(start.order), start.clips) if older else None
        tree = self.query_one("#tree", ClusterTree)  # settling since on_mount

        def tree_step() -> None:
            self._title(session)
            tree.show_session(session, self.clip_problems, order=start.order)
            if self.generating and self.job is not None:
                self._show_pending(self.job)
            remembered = self.app.selection_memory.get(session.id)
            self._reselect(remembered, list_it=False)
            shown = tree.highlighted
            if older and remembered is not None and (shown is None or shown.key != remembered):
                self._select_later = (remembered, shown.key if shown is not None else None)
            tree.focus()

        def list_step() -> None:
            if self.generating and self.job is not None and "pending" not in tree.nodes_by_key:
                self._show_pending(self.job)  # a batch started since the tree was drawn
            self._show_scope(tree.highlighted, force=True)
            self.loaded = True

        def settled() -> None:
            # The tree, list and footer drawn before anything else runs.
            self.settle(then=lambda: self._after_drawn(session, older))

        self.in_frames(tree_step, list_step, settled)

    def _after_drawn(self, session: Session, older: list[uuid.UUID]) -> None:
        self._check_files(list(session.tracks))
        if older:
            self._load_older(session.id, older)
        self.curation_shown(session)
        self.call_after_refresh(self._premount_panel)  # in a frame of its own, before a batch needs it

    def _title(self, session: Session | None) -> None:
        title = self.query_one("#session-title", Static)
        if session is None:
            job = self.job or self.first_job
            text = shorten(job.brief, 100) if job is not None and job.brief else "Loading…"
            title.update(Content.assemble(("New session", "bold"), "   ", (text, "dim")), layout=False)
            return
        parts: list[str | tuple[str, str]] = [(shorten(session.title, 80), "bold")]
        if session.name:
            parts += ["   ", (shorten(session.brief_text, 60), "dim")]
        batches, clips = self.counts or (len(session.batches), len(session.tracks))
        parts.append((f"   {plural(batches, 'batch', 'batches')} · {plural(clips, 'clip')}", "dim"))
        title.update(Content.assemble(*parts), layout=False)

    # ------------------------------------------------------------------ tree

    def _show_pending(self, job: GenerationJob) -> None:
        """The batch being made: one node (under its parent cluster for more-like)."""
        under = f"cluster:{job.cluster_id}" if job.kind in ("more", "extend") else None
        self.query_one("#tree", ClusterTree).set_pending(job.title, under)

    def _reselect(self, select: str | None = None, *, list_it: bool = True) -> None:
        """Highlight ``select`` (made if not yet), else the first cluster; list its clips
        (``list_it`` False: ``select``'s are listed, or will be, by the caller)."""
        tree = self.query_one("#tree", ClusterTree)
        if select is None or not tree.select_key(select):
            list_it = list_it or select is not None  # not found: what is highlighted instead
            chosen = tree.first_key()
            if chosen is not None:
                tree.select_key(chosen)
        if list_it:
            self._show_scope(tree.highlighted, force=True)
        empty = self.query_one("#session-empty", Static)
        nothing = self.session is None and self.job is None  # no batch being made (or ending)
        empty.display = nothing
        if nothing:
            empty.update(
                Content("Nothing was stored for this brief. Press b to write it again, or q to go back.")
            )
        self._sync_bindings()

    def _remember_selection(self) -> None:
        if self.session is None:
            return
        data = self.query_one("#tree", ClusterTree).highlighted
        if data is not None and not isinstance(data, PendingNode):
            self.app.selection_memory[self.session.id] = data.key

    @on(Tree.NodeHighlighted, "#tree")
    def _node_highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        if self.settling:
            return  # listed by a step of its own (and checked again when settled)
        self._show_scope(event.node.data)
        self._sync_bindings()

    @on(Tree.NodeSelected, "#tree")
    def _node_selected(self, event: Tree.NodeSelected[NodeData]) -> None:
        # The tree's own Enter (a mouse click); keyboard Enter is the screen's play.
        if isinstance(event.node.data, TrackNode):
            self._play_current()

    @on(DataTable.RowHighlighted, "#tracks")
    def _row_highlighted(self) -> None:
        self._sync_bindings()

    @on(DataTable.RowSelected, "#tracks")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self._play_current()

    def _show_scope(self, data: NodeData | None, *, force: bool = False) -> None:
        """Fill the track list for the highlighted node (rows kept if the scope is unchanged)."""
        table = self.query_one("#tracks", TrackTable)
        scope_title = self.query_one("#scope-title", Static)
        if data is None:
            table.show([], "none", self.app.waveforms)
            scope_title.update("", layout=False)
            return
        if isinstance(data, PendingNode):
            scope, rows = "pending", list(self.pending_rows.values())
            title = Content.assemble(
                (shown_line(data.title), "bold"), ("   clips appear here as soon as they are rendered", "dim")
            )
        elif isinstance(data, BatchNode):
            batch = data.batch
            scope, rows = data.key, self._batch_rows(batch)
            partner = blend_partner(batch)
            if partner is not None:
                named = self._cluster_label_of(partner)
                label = f"Blend with “{shown_line(named)}”" if named else "Blend"
            elif batch.kind == "more" and batch.clusters:
                label = "More like " + shown_line(batch.clusters[0].label)
            else:
                label = f"Batch {data.number}"
            title = Content.assemble(
                (label, "bold"),
                (f"   {plural(len(batch.clusters), 'cluster')} · {plural(len(rows), 'clip')}", "dim"),
                ("   " + shorten(batch.prompt_text, 70), "dim italic"),
            )
        else:
            cluster = data.cluster
            scope = f"cluster:{cluster.id}"
            rows = [self._row(t, cluster.label) for t in cluster_tracks(data.batch, cluster)]
            title = Content.assemble(
                (shown_line(cluster.label), "bold"),
                (f"   {plural(len(rows), 'clip')}", "dim"),
                (
                    "   similarity is to the cluster's centre"
                    if data.batch.kind != "more"
                    else "   similarity is to the midpoint of its two parents' centres"
                    if cluster.second_parent_cluster_id is not None
                    else "   similarity is to the parent cluster's centre",
                    "dim",
                ),
            )
        if force or table.scope != scope:
            shown = self.visible_rows(rows)
            table.show(shown, scope, self.app.waveforms)
            scope_title.update(Content.assemble(title, (self.scope_note(rows, shown), "dim")), layout=False)
            rows = shown
            now = self.app.now_playing
            table.mark_playing(now.key if now is not None else None)
            self._request_waveforms(rows)
        if isinstance(data, TrackNode):
            table.move_to(str(data.track.id))

    def _cluster_label_of(self, cluster_id: uuid.UUID) -> str:
        """What a cluster of the session is called now ("" if it is not in it)."""
        found = self.session.find_cluster(cluster_id) if self.session is not None else None
        return found[1].label if found is not None else ""

    def _batch_rows(self, batch: Batch) -> list[TrackRow]:
        labels = {tid: c.label for c in batch.clusters for tid in c.track_ids}
        return [self._row(t, labels.get(t.id, "")) for t in sorted(batch.tracks, key=lambda t: t.position)]

    def _row(self, track: Any, label: str) -> TrackRow:
        return TrackRow(
            key=str(track.id),
            number=track.position + 1,
            label=label,
            path=str(track.path),
            duration_sec=track.duration_sec,
            similarity=track.similarity,
            problem=self.clip_problems.get(str(track.id)),
            curation=self.row_curation(track.id),
        )

    # ------------------------------------------------------------- waveforms

    def _request_waveforms(self, rows: list[TrackRow]) -> None:
        missing = [
            (r.key, r.path) for r in rows if r.path and not r.problem and r.path not in self.app.waveforms
        ]
        if missing and self.settling:
            # Each one drawn redraws the list: not in the frames of a change being settled.
            self.waveforms_later = missing
        elif missing:
            self._waveforms(missing)

    @work(thread=True, exit_on_error=False, group="waveforms", description="draw waveforms")
    def _waveforms(self, items: list[tuple[str, str]]) -> None:
        from tui.waveform import compute_waveform

        worker = get_current_worker()
        for key, path in items:
            if worker.is_cancelled:
                return
            try:
                waveform = compute_waveform(Path(path))
            except Exception:  # a clip that cannot be drawn keeps its dotted placeholder
                continue
            self.post_message(WaveformReady(key, Path(path), waveform))

    @on(WaveformReady)
    def _waveform_ready(self, event: WaveformReady) -> None:
        self.app.waveforms.put(str(event.path), event.waveform)
        self.query_one("#tracks", TrackTable).set_waveform(event.key, event.waveform)

    # --------------------------------------------------------------- actions

    _GATED = ("play", "pause", "seek", "step", "more_like", "new_batch", "extend", "cancel")

    def _sync_bindings(self) -> None:
        """Refresh the footer only when what it shows changes (a refresh recomposes it);
        while a change is spread over frames, once it is settled (``settle``)."""
        if self.settling:
            return
        state = tuple(self.check_action(action, ()) for action in self._GATED)
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        try:
            return self._can(action)
        except NoMatches:  # asked while the screen is being built or taken down
            return True

    def _can(self, action: str) -> bool | None:
        if action == "cancel":
            return self.generating
        if action == "play":
            row = self._current_row()
            return True if row is not None and row.path else None
        if action in ("pause", "seek"):
            return True if self.app.now_playing is not None else None
        if action == "step":
            return True if self.query_one("#tracks", TrackTable).row_count else None
        if action == "more_like":
            if self.generating:
                return None
            # A batch of several clusters: m says which to choose rather than nothing.
            chosen = self._current_cluster() is not None or self._batch_without_choice() is not None
            return True if chosen else None
        if action == "new_batch":
            return None if self.generating else True
        if action == "extend":
            return self.can_extend()
        return self.can_curate(action)

    def _current_row(self) -> TrackRow | None:
        tree = self.query_one("#tree", ClusterTree)
        table = self.query_one("#tracks", TrackTable)
        if tree.has_focus:
            data = tree.highlighted
            if isinstance(data, TrackNode):
                return table.rows_by_key.get(str(data.track.id)) or self._row(data.track, data.cluster.label)
        return table.current

    def _current_cluster(self) -> tuple[Batch, Any] | None:
        """The cluster "more like" applies to: the highlighted one, or the highlighted track's."""
        if self.session is None:
            return None
        tree = self.query_one("#tree", ClusterTree)
        table = self.query_one("#tracks", TrackTable)
        if table.has_focus:
            row = table.current
            if row is None or row.pending:
                return None
            found = self._find_track(uuid.UUID(row.key))
            if found is None:
                return None
            batch, track = found
            cluster = batch.cluster(track.cluster_id)
            return (batch, cluster) if cluster is not None else None
        data = tree.highlighted
        if isinstance(data, (ClusterNode, TrackNode)):
            return data.batch, data.cluster
        if isinstance(data, BatchNode) and len(data.batch.clusters) == 1:
            return data.batch, data.batch.clusters[0]
        return None

    def _find_track(self, track_id: uuid.UUID) -> tuple[Batch, Track] | None:
        """A listed clip and its batch: looked for in the highlighted node's batch (the
        list's rows are its), not through every batch of a session of thousands."""
        data = self.query_one("#tree", ClusterTree).highlighted
        if isinstance(data, (BatchNode, ClusterNode, TrackNode)):
            for track in data.batch.tracks:
                if track.id == track_id:
                    return data.batch, track
        return self.session.find_track(track_id) if self.session is not None else None

    def action_play(self) -> None:
        self._play_current()

    def _play_current(self) -> None:
        row = self._current_row()
        if row is None:
            return
        self._play(row)

    def _play(self, row: TrackRow) -> None:
        if not row.path:
            return  # a slot of the batch being made, not rendered yet
        if row.problem:
            self.app.clip_unplayable(row.number, row.problem)
            return
        # No audio device: the attempt to start says so, once (a note here as well made two).
        self.app.play(NowPlaying(row.key, row.path, row.number, row.label or "new clip"))

    def _now_playing_changed(self, now: NowPlaying | None) -> None:
        self.query_one("#tracks", TrackTable).mark_playing(now.key if now is not None else None)
        self._sync_bindings()

    def action_pause(self) -> None:
        self.app.toggle_pause()

    def action_seek(self, seconds: float) -> None:
        self.app.seek(float(seconds))

    def action_loop(self) -> None:
        self.app.toggle_loop()

    def action_step(self, offset: int) -> None:
        """n / p: the next or previous clip of the list; past either end of a cluster (or
        batch), on to the next or previous one in the tree, as a player moves on to the
        next album. At the very end it says so rather than starting the clip again."""
        table = self.query_one("#tracks", TrackTable)
        if table.row_count == 0:
            return
        offset = int(offset)
        if 0 <= table.cursor_row + offset < table.row_count:
            row = table.step(offset)
            if row is not None:
                self._play(row)
            return
        if not self._step_scope(1 if offset > 0 else -1):
            where = "last" if offset > 0 else "first"
            of = "the batch being made" if table.scope == "pending" else "this session"
            self.notify(f"That was the {where} clip of {of}.", markup=False)

    def _step_scope(self, direction: int) -> bool:
        """Show the next (or previous) cluster or batch of the tree and play its first (or
        last) clip; False if there is none."""
        tree = self.query_one("#tree", ClusterTree)
        table = self.query_one("#tracks", TrackTable)
        scope = table.scope or ""
        kind = scope.partition(":")[0]
        if kind not in ("cluster", "batch"):
            return False  # the batch being made has no neighbour to move on to
        # The session's order, not the nodes made so far: closed batches have none yet.
        keys = tree.keys_in_order(kind)
        if scope not in keys:
            return False
        index = keys.index(scope)
        following = keys[index + 1 :] if direction > 0 else keys[:index][::-1]
        for key in following:
            if not tree.select_key(key):
                continue
            self._show_scope(tree.highlighted)
            if table.row_count == 0:
                continue
            table.move_cursor(row=0 if direction > 0 else table.row_count - 1)
            row = table.current
            if row is not None:
                self._play(row)
            return True
        return False

    def action_cursor(self, offset: int) -> None:
        focused = self.focused
        if isinstance(focused, (Tree, DataTable)):
            (focused.action_cursor_down if offset > 0 else focused.action_cursor_up)()

    def action_toggle_open(self) -> None:
        self.query_one("#tree", ClusterTree).toggle_cursor()

    def action_ends(self, which: str) -> None:
        focused = self.focused
        if isinstance(focused, Tree):
            lines = focused.last_line
            if lines >= 0:
                focused.move_cursor_to_line(0 if which == "top" else lines)
        elif isinstance(focused, DataTable) and focused.row_count:
            focused.move_cursor(row=0 if which == "top" else focused.row_count - 1)

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

    def on_unmount(self) -> None:
        if self.generating:  # left mid-batch: its worker is cancelled with the screen
            self.app.collector.batch_ended()

    def action_back(self) -> None:
        self._remember_selection()
        self.app.stop_playback()
        self.dismiss(self.session.id if self.session is not None else None)
