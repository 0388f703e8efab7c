"""The session map: every clip of the session on a plane, each cluster its own colour and shape.

Arrows go to the nearest clip in that direction, Enter plays, m asks for more like
the selected clip's cluster; leaving (q, escape, M) hands the selected clip back so
the session's tree and track list follow it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from core.errors import CancelledError
from core.maps import MapPoint, SessionMap, cluster_styles, session_map
from core.models import Session, Track
from core.text import shown_line
from tui.formatting import plural
from tui.jobs import NowPlaying
from tui.widgets.footer import QuietFooter
from tui.widgets.player_bar import PlayerBar
from tui.widgets.session_map import (
    PLAYING_MARKER,
    SELECTED_MARKER,
    MapCanvas,
    SessionMapPlot,
    draw_canvas,
    legend,
    plotext_theme,
)

if TYPE_CHECKING:
    import threading

    from core.playback import PlayerState
    from tui.app import SessionLabApp


@dataclass(frozen=True)
class MapChoice:
    """What the map hands back: the clip selected on it, and whether more-like was asked for."""

    track_id: uuid.UUID | None
    more_like: bool = False
    blend: tuple[uuid.UUID, uuid.UUID] | None = None  # two clusters to blend (the first marked first)


DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, 1), "down": (0, -1)}
# The rows around the plot: title, legend, status, player bar, footer (a pilot test checks).
CHROME_ROWS = 5


def plot_size(screen_width: int, screen_height: int) -> tuple[int, int]:
    """The size the plot gets on a screen of this size: what a canvas drawn beforehand is drawn at."""
    return screen_width, max(1, screen_height - CHROME_ROWS)


@dataclass(frozen=True)
class PreparedMap:
    """Everything the map screen shows, made in a worker: the clips placed, their drawing at
    the size the plot is expected to get, and the legend's and status line's lookups."""

    placed: SessionMap
    canvas: MapCanvas
    labels: dict[uuid.UUID, str]  # every cluster's name (the musician's over the given label)
    styles: dict[uuid.UUID, int]
    shown: list[tuple[uuid.UUID, str]]  # the clusters with clips on the map, in session order
    count: int  # the session's clips when it was made (a later batch makes it stale)


def prepare_map(
    store: Any, session: Session, size: tuple[int, int], theme: str, stop: threading.Event | None = None
) -> PreparedMap | None:
    """The map of ``session``, placed and drawn at ``size`` with plotext theme ``theme`` (in a worker).
    None once ``stop`` is set: the placing stops soon (between chunks of its read, or of its fit)
    and keeps nothing; set once the clips are placed, the placing is kept (asked again, it is not
    done again) and they are not drawn."""
    count = sum(len(b.tracks) for b in session.batches)
    try:
        placed = session_map(store, session, stop=stop).warm()
    except CancelledError:
        return None
    if stop is not None and stop.is_set():
        return None
    names = store.get_cluster_names(session.id)
    labels = distinct_labels(session, names)
    clusters = session.clusters
    styles = cluster_styles(session)
    shown = [(c.id, labels[c.id]) for c in clusters if c.id in placed.clusters]
    return PreparedMap(placed, draw_canvas(placed, styles, *size, theme), labels, styles, shown, count)


def distinct_labels(session: Session, names: dict[uuid.UUID, str]) -> dict[uuid.UUID, str]:
    """Every cluster's name (the musician's over the given label), told apart where two
    share one (a more-like batch inherits its parent's): "Dark Punchy · batch 2"."""
    named = [
        (c.id, names.get(c.id) or c.label, number)
        for number, batch in enumerate(session.batches, 1)
        for c in sorted(batch.clusters, key=lambda c: c.position)
    ]
    counts = Counter(label for _, label, _ in named)
    labels = {
        cluster_id: f"{label} · batch {number}" if counts[label] > 1 else label
        for cluster_id, label, number in named
    }
    # Still alike (two of one batch named the same by the musician): numbered in order.
    again = Counter(labels.values())
    seen: Counter[str] = Counter()
    for cluster_id, label in list(labels.items()):
        if again[label] > 1:
            seen[label] += 1
            labels[cluster_id] = f"{label} ({seen[label]})"
    return labels


class MapScreen(Screen[MapChoice]):
    BINDINGS = [
        Binding("left", "move('left')", "←", show=False),
        Binding("right", "move('right')", "→", show=False),
        Binding("up", "move('up')", "↑", show=False),
        Binding("down", "move('down')", "↓", show=False),
        Binding("h", "move('left')", "Left", show=False),
        Binding("l", "move('right')", "Right", show=False),
        Binding("k", "move('up')", "Up", show=False),
        Binding("j", "move('down')", "Down", show=False),
        Binding("enter", "play", "Play", id="map-play", tooltip="Play the selected clip"),
        Binding("space", "pause", "Pause", id="map-pause", tooltip="Pause or resume"),
        Binding("m", "more_like", "More like", id="map-more-like", tooltip="More like the selected clip's cluster"),
        Binding("B", "blend", "Blend", id="map-blend", tooltip="Mark the clip's cluster; B on a clip of another asks for a blend"),
        Binding("q,escape,M", "back", "Back", id="map-back", tooltip="Back to the session, on the selected clip"),
    ]  # fmt: skip

    app: SessionLabApp

    def __init__(
        self, session: Session, selected: uuid.UUID | None = None, prepared: PreparedMap | None = None
    ) -> None:
        super().__init__()
        self.session = session
        self.selected = selected
        self.prepared = prepared  # placed and drawn in the background by the session screen
        self.blend_first: uuid.UUID | None = None  # a cluster marked for a blend
        self._was_sounding = False  # whether the player was sounding when the marks were drawn
        self.placed: SessionMap | None = None
        self.labels: dict[uuid.UUID, str] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="map-title")
        yield Static(id="map-legend")
        yield SessionMapPlot(id="map")
        yield Static(id="map-status")
        yield PlayerBar(id="player-bar")
        yield QuietFooter()

    def on_mount(self) -> None:
        title = Content.assemble(
            ("Map  ", "bold"), (shown_line(self.session.title), "bold"), ("   placing the clips…", "dim")
        )
        self.query_one("#map-title", Static).update(title)
        self.watch(self.app, "now_playing", self._now_playing_changed, init=False)
        self.watch(self.app, "player_state", self._player_state_changed, init=False)
        if self.prepared is not None:
            self._show(self.prepared)
        else:
            self._place(plot_size(*self.app.size), plotext_theme(self.app))

    @work(thread=True, exclusive=True, exit_on_error=False, group="map")
    def _place(self, size: tuple[int, int], theme: str) -> PreparedMap:
        prepared = prepare_map(self.app.store, self.session, size, theme)
        assert prepared is not None  # nothing stops it but the app's exit
        return prepared

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        self.app.report_worker(event)
        if event.worker.group != "map" or event.state != WorkerState.SUCCESS:
            return
        self._show(event.worker.result)

    def show_prepared(self, prepared: PreparedMap) -> None:
        """A newer map of the session (it was read whole, or grew by a batch), placed elsewhere."""
        if self.placed is not None and prepared.placed is self.placed:
            return
        self.workers.cancel_group(self, "map")  # a placing of the older session, if still running
        self.prepared = prepared
        self._show(prepared)

    def _show(self, prepared: PreparedMap) -> None:
        placed = self.placed = prepared.placed
        self.labels = prepared.labels
        if self.selected is None or self.selected not in placed.index:
            self.selected = placed.track_ids[0] if len(placed) else None
        self.query_one("#map", SessionMapPlot).show(placed, prepared.styles, self.labels, prepared.canvas)
        self.query_one("#map-legend", Static).update(
            Content.assemble(*legend(prepared.shown, prepared.styles))
        )
        missing = f" · {placed.missing} without a vector in it not shown" if placed.missing else ""
        self.query_one("#map-title", Static).update(
            Content.assemble(
                ("Map  ", "bold"),
                (shown_line(self.session.title), "bold"),
                (f"   {plural(len(placed), 'clip')} · space {placed.space}{missing}", "dim"),
            )
        )
        self._marks()

    def _now_playing_changed(self, now: NowPlaying | None) -> None:
        self._marks()

    def _player_state_changed(self, state: PlayerState | None) -> None:
        # The state changes at every poll of the position: marked again only when the clip
        # starts or stops sounding.
        sounding = self._sounding()
        if sounding != self._was_sounding:
            self._marks()

    def _sounding(self) -> bool:
        """The player has a clip it plays or holds paused (not one that stopped or ended)."""
        state = self.app.player_state
        return state is not None and (state.playing or state.paused)

    def _playing_id(self) -> uuid.UUID | None:
        now = self.app.now_playing
        if now is None or now.key.startswith("pending-") or not self._sounding():
            return None
        try:
            return uuid.UUID(now.key)
        except ValueError:
            return None

    def _clip_name(self, track: Track) -> str:
        """A clip as the track list names it: its cluster and its number there."""
        return f"{shown_line(self.labels.get(track.cluster_id, ''))} #{track.position + 1}"

    def _marks(self) -> None:
        self._was_sounding = self._sounding()
        self.query_one("#map", SessionMapPlot).mark(self.selected, self._playing_id())
        status = self.query_one("#map-status", Static)
        track = self._track(self.selected)
        if self.placed is not None and not len(self.placed):
            status.update(Content("No clip of this session has a stored vector to place it by."))
            return
        if track is None:
            status.update("")
            return
        parts: list[str | tuple[str, str]] = [
            (f"{SELECTED_MARKER} {self._clip_name(track)}", "bold"),
            ("   arrows move · enter plays · m more like this cluster · B blend · q back", "dim"),
        ]
        now = self._track(self._playing_id())
        if now is not None:
            state = self.app.player_state
            doing = "paused" if state is not None and state.paused else "playing"
            parts.insert(1, (f"   {PLAYING_MARKER} {doing} {self._clip_name(now)}", "dim"))
        status.update(Content.assemble(*parts))

    def _current(self) -> MapPoint | None:
        if self.placed is None or self.selected is None:
            return None
        return self.placed.point(self.selected)

    def action_move(self, direction: str) -> None:
        if self._current() is None or self.placed is None or self.selected is None:
            return
        plot = self.query_one("#map", SessionMapPlot)
        span = self.placed.xy.max(axis=0) - self.placed.xy.min(axis=0)
        # Distances as drawn: the canvas stretches each axis to its own size, and a cell is
        # about twice as tall as it is wide.
        width = max(1e-9, float(span[0])) / max(1, plot.size.width)
        height = max(1e-9, float(span[1])) / max(1, plot.size.height) * 0.5
        dx, dy = DIRECTIONS[direction]
        found = self.placed.nearest(self.selected, dx, dy, scale=(1 / width, 1 / height))
        if found is not None:
            self.selected = found.track_id
            self._marks()

    def _track(self, track_id: uuid.UUID | None) -> Track | None:
        found = self.session.find_track(track_id) if track_id is not None else None
        return found[1] if found is not None else None

    def action_play(self) -> None:
        track = self._track(self.selected)
        if track is None:
            return
        self.app.play(
            NowPlaying(
                str(track.id), str(track.path), track.position + 1, self.labels.get(track.cluster_id, "")
            )
        )

    def action_pause(self) -> None:
        self.app.toggle_pause()

    def action_blend(self) -> None:
        track = self._track(self.selected)
        if track is None:
            return
        cluster_id = track.cluster_id
        label = shown_line(self.labels.get(cluster_id, ""))
        if self.blend_first is None:
            self.blend_first = cluster_id
            self.notify(f"“{label}” marked: select a clip of another cluster and press B.", markup=False)
        elif self.blend_first == cluster_id:
            self.blend_first = None
            self.notify(f"“{label}” is no longer marked for a blend.", markup=False)
        else:
            self.dismiss(MapChoice(self.selected, blend=(self.blend_first, cluster_id)))

    def action_more_like(self) -> None:
        if self.selected is not None:
            self.dismiss(MapChoice(self.selected, more_like=True))

    def action_back(self) -> None:
        self.dismiss(MapChoice(self.selected))
