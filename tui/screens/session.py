"""A session: the cluster tree, the track list, the batch being made, and the player."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Header, Static
from textual.worker import Worker, WorkerState

from core.models import Session
from tui.jobs import GenerationJob
from tui.screens.extend import ExtendActions
from tui.screens.session_batch import SessionBatches
from tui.screens.session_explore import SessionExplore
from tui.screens.session_grow import SessionGrow
from tui.screens.session_keys import SessionKeys
from tui.screens.session_load import SessionLoad
from tui.screens.session_play import SessionPlayback
from tui.screens.session_scope import SessionScope
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.footer import QuietFooter
from tui.widgets.player_bar import PlayerBar
from tui.widgets.track_table import TrackTable

if TYPE_CHECKING:
    from tui.app import SessionLabApp

SEEK_SEC = 5.0
TREE_WIDTH = 44  # the tree's columns where there is room (120 columns and up)
TREE_MIN_WIDTH = 24  # and at the least, on a narrow terminal
LIST_ROOM = 56  # what the list keeps first: its #, marks, cluster, length and similarity columns


# A Screen first among its bases: Textual's CSS follows the first DOMNode base only, and
# through the mixin it would lose Screen's rules (its opaque background: a transparent one
# has the sessions list beneath drawn again, tinted, at every repaint of this screen).
class SessionScreen(
    SessionBatches,
    SessionLoad,
    SessionScope,
    SessionPlayback,
    SessionGrow,
    SessionExplore,
    SessionKeys,
    ExtendActions,
):
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
        self.opening_held = False  # the collector held until the session is read whole
        self._binding_state: tuple[bool | None, ...] = ()
        self.resumed = False  # made current once (its styles applied as it was mounted)
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
            # The first frame draws the screen without the tree and the list: they show in
            # the frames that fill them (``_loaded``), and the screen's first frame (all of
            # it drawn, 120 x 36) costs half as much without them. Hidden, not taken out of
            # the layout: showing them then moves nothing, where a change of layout asked
            # for a second one (and a wait for the next frame) in the frame that showed them.
            self.query_one("#tree", ClusterTree).visible = False
            self.query_one("#tracks", TrackTable).visible = False
            # Focused now, not in a frame that draws the session.
            self.query_one("#tree", ClusterTree).focus()
            self._title(None)
            # No full collection until the session is read whole (``opening_done``): it
            # would scan what the reading builds, holding the interpreter lock for 40-60 ms.
            self.app.collector.hold()
            self.opening_held = True
            # Read once the screen's first frame is drawn: the reading (Python objects
            # built in a thread) would otherwise compete with it for the interpreter.
            self.call_after_refresh(self._load, self.session_id)
        else:
            self.loaded = True
            self._title(None)
        if self.first_job is not None:
            self.start_job(self.first_job)

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        # Run before Screen's own handler. The first time the screen is made current its
        # widgets' styles are the ones applied as they were mounted a moment before:
        # applying them all again cost 15-20 ms of the frame that first draws the screen.
        if not self.resumed:
            self.resumed = True
            event.refresh_styles = False

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

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        self.app.report_worker(event)
        worker = event.worker
        if worker.group == "load":
            if event.state == WorkerState.SUCCESS:
                self._loaded(worker.result)
            elif event.state == WorkerState.ERROR:
                self.opening_done()
                self.query_one("#tree", ClusterTree).visible = True
                self.query_one("#tracks", TrackTable).visible = True
                self.loaded = True
                self._reselect()
                self.settle()
        elif worker.group == "older":
            if event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
                self.opening_done()
        elif worker.group == "files":
            if event.state == WorkerState.SUCCESS:
                self._files_checked(worker.result)
        elif worker.group == "generate":
            self.generation_changed(event)

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

    def on_unmount(self) -> None:
        if self.generating:  # left mid-batch: its worker is cancelled with the screen
            self.app.collector.release()
        self.opening_done()  # left before the session was read whole
        self.release_map_holds()

    def action_back(self) -> None:
        self._remember_selection()
        self.app.stop_playback()
        self.dismiss(self.session.id if self.session is not None else None)
