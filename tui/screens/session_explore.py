"""The session screen's exploring keys: the map (M), search (/) and blends (B).

A base class of SessionScreen (Textual merges BINDINGS along the class tree), so
the screen module stays about loading and showing a session. It relies on the
screen's own helpers (``_current_row``, ``_current_cluster``, ``_row``,
``_show_scope``, ``_reselect``, ``start_job``, ``action_more_like``).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.binding import Binding
from textual.content import Content
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState, get_current_worker

from core.models import Batch, ClusterSummary, Session
from core.text import shown_line
from tui.formatting import plural
from tui.jobs import GenerationJob

if TYPE_CHECKING:
    from core.search import SearchResult
    from tui.app import SessionLabApp
    from tui.screens.map import PreparedMap
    from tui.widgets.track_table import TrackRow

SEARCH_SCOPE = "search"
# A batch's first frame waits for a stopped map placing to end (see ``map_put_off``), at most
# this long, looking every PLACING_POLL_SEC.
PLACING_END_WAIT_SEC = 0.25
PLACING_POLL_SEC = 0.005


class Placing:
    """One placing of the map, as its thread sees it: begun, ended. (Textual's worker is
    finished the moment it is cancelled; its thread goes on until it looks at ``stop``.)"""

    def __init__(self) -> None:
        self.begun = False
        self.ended = False
        self.worker: Worker[PreparedMap | None] | None = None

    @property
    def stopping(self) -> bool:
        """Cancelled, and its thread still running."""
        return self.worker is not None and self.worker.is_cancelled and self.begun and not self.ended


class SearchBar(Input):
    """The `/` filter: Enter searches (the focus stays here, so what is typed next is
    still words), ↓ or Tab moves into the hits, Escape closes it and shows the tree's
    clips again."""

    BINDINGS = [
        Binding("escape", "close", "Close search", show=False),
        Binding("down", "hits", "The hits", show=False),
        Binding("tab", "hits", "The hits", show=False),
    ]

    def action_hits(self) -> None:
        from tui.widgets.track_table import TrackTable

        table = self.screen.query_one("#tracks", TrackTable)
        if table.row_count:
            table.focus()
        else:
            self.screen.focus_next()

    def action_close(self) -> None:
        screen = self.screen
        if isinstance(screen, SessionExplore):
            screen.close_search()


class SessionExplore(Screen[uuid.UUID | None]):
    BINDINGS = [
        Binding("M", "map", "Map", id="map", show=False, tooltip="The session on a map: every clip by how it sounds"),
        Binding("slash", "search", "Search", id="search", show=False, tooltip="Find clips by words: labels, briefs, notes, tags (and sound)"),
        Binding("B", "blend", "Blend", id="blend", show=False, tooltip="Mark a cluster, then press B on another to blend them"),
    ]  # fmt: skip

    COMMAND_ACTIONS = (
        ("Session map", "map", "Every clip on a map, each cluster its own colour and shape (M)"),
        ("Search clips", "search", "Filter the clips by words, and by sound where the embedder can (/)"),
        ("Blend two clusters", "blend", "Mark a cluster, then another: clips between them (B)"),
    )

    app: SessionLabApp  # type: ignore[assignment]
    session: Session | None
    generating: bool
    blend_first: tuple[Batch, ClusterSummary] | None = None
    search_result: SearchResult | None = None
    # The map, placed and drawn in the background once the session is read whole (and
    # after each batch), so M shows it at once.
    prepared_map: PreparedMap | None = None
    map_stale = False  # the map was due to be placed again while a batch was made
    placings: tuple[Placing, ...] = ()  # those whose thread may not have ended yet
    map_holds: frozenset[Worker[Any]] = frozenset()  # placings holding off full collections

    # ------------------------------------------------------------------ map

    def action_map(self) -> None:
        if self.session is None:
            return
        from tui.screens.map import MapChoice, MapScreen

        row = self._current_row()  # type: ignore[attr-defined]
        selected = None
        if row is not None and not row.pending:
            with contextlib.suppress(ValueError):
                selected = uuid.UUID(row.key)

        prepared = self.prepared_map
        count = sum(len(b.tracks) for b in self.session.batches)
        ready = prepared if prepared is not None and prepared.count == count else None

        def chosen(choice: MapChoice | None) -> None:
            if choice is None or choice.track_id is None:
                return
            self.close_search()
            self._reselect(f"track:{choice.track_id}")  # type: ignore[attr-defined]
            self.query_one("#tree").focus()
            if choice.more_like:
                self.action_more_like()  # type: ignore[attr-defined]
            elif choice.blend is not None and self.session is not None:
                first = self.session.find_cluster(choice.blend[0])
                second = self.session.find_cluster(choice.blend[1])
                if first is not None and second is not None and not self.generating:
                    self._ask_blend(first[0], first[1], second[1])

        self.app.push_screen(MapScreen(self.session, selected, ready), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="map-prepare", description="place the map")
    def _prepare_map(
        self, session: Session, size: tuple[int, int], theme: str, placing: Placing
    ) -> PreparedMap | None:
        from tui.screens.map import prepare_map

        placing.begun = True
        try:
            # Cancelled (a batch starts, or a newer map is asked for): it stops before drawing.
            return prepare_map(
                self.app.store, session, size, theme, stop=get_current_worker().cancelled_event
            )
        finally:
            placing.ended = True

    # --------------------------------------------------------------- search

    def action_search(self) -> None:
        if self.session is None:
            return
        try:
            bar = self.query_one("#search", SearchBar)
        except NoMatches:
            bar = SearchBar(placeholder="search: words in labels, briefs, notes, tags", id="search")
            self.query_one("#right").mount(bar, before=0)
        bar.focus()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        query = event.value.strip()
        if not query:
            self.close_search()
            return
        if self.session is not None:
            self._search(self.session, query)

    @work(thread=True, exclusive=True, exit_on_error=False, group="search")
    def _search(self, session: Session, query: str) -> SearchResult:
        from core.maps import session_space
        from core.search import embedder_for, search

        embedder, why_not = embedder_for(self.app.settings, session_space(session), None, None)
        result = search(self.app.store, session, query, embedder)
        if why_not:
            result.notes.append(why_not)
        return result

    @on(Worker.StateChanged)
    def _explore_worker_done(self, event: Worker.StateChanged) -> None:
        if event.worker in self.map_holds and event.worker.is_finished:
            self._map_hold_ended(event.worker, placed=event.state == WorkerState.SUCCESS)
        if event.state != WorkerState.SUCCESS:
            return
        group = event.worker.group
        if group == "search":
            self.show_search(event.worker.result)
        elif group == "map-prepare":
            self.prepared_map = event.worker.result
            self._update_open_map(self.prepared_map)
        elif group in ("load", "older", "generate"):
            # After the screen has taken the session (its start, the rest of it, a new batch) in.
            self.call_after_refresh(self._prepare_current_map)

    def map_put_off(self, then: Callable[[], object]) -> None:
        """A batch starts: a map being placed stops before it is drawn, and is placed again
        once the batch's end is drawn (unless the map is open: it shows the session as it grows).

        ``then`` (the batch's first frame) runs once a stopped placing's thread has ended:
        it looks at its stop between chunks of its read and fit, and until then it shares the
        interpreter with that frame (at 10k clips: 5-15 ms of it beside the frame's 30-45).
        At once when none is stopping; at most PLACING_END_WAIT_SEC later."""
        if not self._map_open():
            for worker in self.workers:
                if worker.node is self and worker.group == "map-prepare" and not worker.is_finished:
                    worker.cancel()
                    self.map_stale = True
        self._when_placings_ended(then, time.monotonic() + PLACING_END_WAIT_SEC)

    def _when_placings_ended(self, then: Callable[[], object], deadline: float) -> None:
        self.placings = tuple(p for p in self.placings if not p.ended)
        if self.is_attached and time.monotonic() < deadline and any(p.stopping for p in self.placings):
            self.set_timer(PLACING_POLL_SEC, partial(self._when_placings_ended, then, deadline))
        else:
            then()

    def batch_settled(self) -> None:
        """A batch's end is drawn: the map is placed now if it was put off meanwhile."""
        if self.map_stale:
            self.map_stale = False
            self._prepare_current_map()

    def _map_open(self) -> bool:
        from tui.screens.map import MapScreen

        return any(isinstance(s, MapScreen) and s.session is self.session for s in self.app.screen_stack)

    def _update_open_map(self, prepared: PreparedMap) -> None:
        """The map screen open on this session (M pressed before it was read whole, or while a
        batch was made) shows the map of the session as it now is."""
        from tui.screens.map import MapScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, MapScreen) and screen.session is self.session:
                screen.show_prepared(prepared)

    def _prepare_current_map(self) -> None:
        from tui.screens.map import plot_size
        from tui.widgets.session_map import plotext_theme

        if self.generating and not self._map_open():
            # Put off until the batch's end is drawn (``batch_settled``): placing thousands
            # of clips holds the interpreter lock for much of the frames that draw a batch.
            self.map_stale = True
            return
        if self.counts is not None and not self._map_open():  # type: ignore[attr-defined]
            # Older batches are still being read: placed once they are all in (the older
            # reading's end asks again); a map of the first few batches would be placed in
            # vain, competing with the frames that draw the opening (0.25 s of the
            # interpreter at 10k clips).
            return
        if self.session is not None and self.session.tracks:
            placing = Placing()
            self.placings = (*(p for p in self.placings if not p.ended), placing)
            placing.worker = self._prepare_map(
                self.session, plot_size(*self.app.size), plotext_theme(self.app), placing
            )
            # No full collection while it is placed: its 10,000 ids and rows would set one
            # off in its thread, scanning all that is not frozen with the interpreter held
            # (29 ms at 10k, right after a batch). Once placed, what it keeps is frozen.
            self.app.collector.hold()
            self.map_holds = self.map_holds | {placing.worker}

    def _map_hold_ended(self, worker: Worker[Any], *, placed: bool) -> None:
        self.map_holds = self.map_holds - {worker}
        self.app.collector.release()
        if placed:
            self.app.collector.settle()

    def release_map_holds(self) -> None:
        """The screen is left: the placings' holds let go (their end is not heard of)."""
        for worker in self.map_holds:
            self._map_hold_ended(worker, placed=False)

    def show_search(self, result: SearchResult, *, again: bool = False) -> None:
        """The hits in the track list (text matches first), with what they matched on; only
        those the filter (f) lets through, as everywhere in the list. ``again``: the same
        search shown again (the filter or the marks changed): the cursor and focus stay."""
        from tui.widgets.track_table import TrackTable

        if self.session is None:
            return
        self.search_result = result
        labels = {c.id: c.label for c in self.session.clusters}
        tracks = {t.id: t for t in self.session.tracks}
        every: list[TrackRow] = [
            self._row(tracks[h.track_id], labels.get(tracks[h.track_id].cluster_id, ""))  # type: ignore[attr-defined]
            for h in result.hits
            if h.track_id in tracks
        ]
        rows = self.visible_rows(every)  # type: ignore[attr-defined]
        shown_ids = {row.key for row in rows}
        table = self.query_one("#tracks", TrackTable)
        table.show(rows, SEARCH_SCOPE, self.app.waveforms)
        self._request_waveforms(rows)  # type: ignore[attr-defined]
        now = self.app.now_playing
        table.mark_playing(now.key if now is not None else None)
        words = sum(1 for h in result.hits if h.matched and str(h.track_id) in shown_ids)
        parts: list[str | tuple[str, str]] = [
            (f"Search “{shown_line(result.query)}”", "bold"),
            (f"   {plural(words, 'clip')} by words", "dim"),
        ]
        if result.ranked_by:
            # Every clip already matched by its words: "none more", not "0 more clips".
            more = plural(len(rows) - words, "more clip") if len(rows) > words else "none more"
            parts.append((f" · {more} by sound ({result.ranked_by})", "dim"))
        parts.append((self.scope_note(every, rows), "dim"))  # type: ignore[attr-defined]
        # The keys before the notes: on a narrow terminal the line is cut at its end.
        parts.append(("   ↓/tab: the hits · esc: the tree's clips", "dim"))
        for note in result.notes:
            parts.append((f"   {shown_line(note)}", "dim italic"))
        self.query_one("#scope-title", Static).update(Content.assemble(*parts), layout=False)
        if again:
            return
        if rows:
            table.move_cursor(row=0)
        elif every:
            self.notify(
                f"No clip shown matches “{shown_line(result.query)}”: "
                f"{plural(len(every), 'match', 'matches')} hidden by the filter (f).",
                markup=False,
            )
        else:
            self.notify(f"No clip matches “{shown_line(result.query)}”.", markup=False)

    def on_key(self, event: events.Key) -> None:
        # esc on the hits (where Enter leaves the focus) closes the search as on the bar. The key
        # reaches the screen before its bindings: while a batch is made, esc closes the search
        # first and a second esc cancels the batch.
        if event.key == "escape" and self.search_result is not None:
            event.stop()
            event.prevent_default()
            self.close_search()

    def close_search(self) -> None:
        self.search_result = None
        with contextlib.suppress(NoMatches):
            self.query_one("#search", SearchBar).remove()
        from tui.widgets.cluster_tree import ClusterTree

        tree = self.query_one("#tree", ClusterTree)
        self._show_scope(tree.highlighted, force=True)  # type: ignore[attr-defined]
        tree.focus()

    # ---------------------------------------------------------------- blend

    def action_blend(self) -> None:
        if self.session is None or self.generating:
            return
        found: Any = self._current_cluster()  # type: ignore[attr-defined]
        if found is None:
            self.notify("Highlight a cluster (or one of its clips) to blend it.", markup=False)
            return
        batch, cluster = found
        if self.blend_first is None:
            self.blend_first = (batch, cluster)
            self.notify(
                f"“{shown_line(cluster.label)}” marked: highlight another cluster and press B to blend them.",
                markup=False,
            )
            return
        first_batch, first = self.blend_first
        if first.id == cluster.id:
            self.blend_first = None
            self.notify(f"“{shown_line(cluster.label)}” is no longer marked for a blend.", markup=False)
            return
        self._ask_blend(first_batch, first, cluster)

    def _ask_blend(self, first_batch: Batch, first: ClusterSummary, second: ClusterSummary) -> None:
        from core.providers.registry import names as provider_names
        from tui.screens.modals import CountScreen

        assert self.session is not None
        settings = self.app.settings
        session_id = self.session.id
        engine = first_batch.engine if first_batch.engine in provider_names("music") else None
        default = self.app.last_more_count or settings.max_batch_size

        def counted(count: int | None) -> None:
            if count is None:
                return
            self.blend_first = None
            self.app.last_more_count = count
            self.start_job(  # type: ignore[attr-defined]
                GenerationJob(
                    kind="more",
                    num_clips=count,
                    session_id=session_id,
                    cluster_id=first.id,
                    second_cluster_id=second.id,
                    label=f"{first.label} + {second.label}",
                    engine=engine,
                    model=first_batch.model if engine else None,
                )
            )

        question = f"Blend “{shown_line(first.label)}” and “{shown_line(second.label)}”: how many clips?"
        self.app.push_screen(CountScreen(question, default, settings.max_batch_size), counted)
