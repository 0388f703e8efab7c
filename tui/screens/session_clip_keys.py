"""The session screen's keys on the selected clip: A/B and which is better,
auto-advance, the detail view, copy the path, delete, export.

A base class of ``SessionKeys`` (which holds the bindings and the marks: see
``session_keys.py``). It relies on the screen's own helpers (``_current_row``,
``_current_cluster``, ``_play``, ``_sync_bindings``, ``_remember_selection``,
``_load``) and on the marks ``SessionKeys`` keeps (``curations``,
``generated_labels``).

Every store call runs in a worker; the screen changes when it returns.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Tree
from textual.worker import Worker, WorkerState

from core.curation_models import Curation
from core.models import Batch, Session, Track
from tui.audition import ABPair
from tui.jobs import NowPlaying
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.cluster_tree_nodes import BatchNode
from tui.widgets.detail import ClipDetail, ClipFacts
from tui.widgets.track_table import TrackRow, TrackTable

if TYPE_CHECKING:
    from tui.app import SessionLabApp

UNTOUCHED = Curation()


class SessionClipKeys(Screen[uuid.UUID | None]):
    app: SessionLabApp  # type: ignore[assignment]
    session: Session | None
    curations: dict[uuid.UUID, Curation]  # set up by SessionKeys
    generated_labels: dict[uuid.UUID, str]

    def _stored_row(self) -> TrackRow | None:
        try:
            row = self._current_row()  # type: ignore[attr-defined]
        except NoMatches:
            return None
        if row is None or row.pending or self.session is None:
            return None
        return row

    def _track_of(self, row: TrackRow) -> tuple[Batch, Track] | None:
        if self.session is None:
            return None
        return self.session.find_track(uuid.UUID(row.key))

    # ------------------------------------------------------------------ A/B

    def _now_of(self, row: TrackRow) -> NowPlaying:
        return NowPlaying(row.key, row.path, row.number, row.label or "new clip")

    def action_ab(self) -> None:
        """Mark the selected clip A, then B; with both marked, flip between them."""
        app = self.app
        pair = app.ab_pair
        row = self._current_row()  # type: ignore[attr-defined]
        if not pair.complete and row is not None and pair.side(row.key) is not None:
            self.notify(
                f"#{row.number} is A already: choose another clip and press a to mark it B.", markup=False
            )
            return
        if not pair.complete and row is not None and row.path and pair.side(row.key) is None:
            if row.problem:
                app.clip_unplayable(row.number, row.problem)
                return
            pair = pair.marked(self._now_of(row))
            app.ab_pair = pair
            self._sync_bindings()  # type: ignore[attr-defined]
            if not pair.complete:
                self.notify(
                    f"A is #{row.number}. Choose another clip and press a to mark it B.", markup=False
                )
                return
            self.notify(
                "A/B ready: a flips between them at the same position; v says which is better.",
                markup=False,
            )
        if not pair.complete:
            return
        now = app.now_playing
        target = pair.other(now.key if now is not None else None)
        if target is None:
            return
        if now is not None and pair.side(now.key) is not None:
            app.flip_to(target)
        else:
            app.play(target)
        self.query_one("#tracks", TrackTable).move_to(target.key)

    def action_ab_clear(self) -> None:
        self.app.ab_pair = ABPair()
        self._sync_bindings()  # type: ignore[attr-defined]

    def action_prefer(self) -> None:
        pair = self.app.ab_pair
        if not pair.complete or pair.a is None or pair.b is None:
            self.notify("Mark two clips first: a on one (A), a on another (B).", markup=False)
            return
        if any(clip.key.startswith("pending-") for clip in pair):
            self.notify("Wait until the batch is saved, then press v to say which is better.", markup=False)
            return
        from tui.screens.curation_dialogs import PreferenceScreen

        a, b = pair.a, pair.b

        def chosen(choice: str | None) -> None:
            if choice is not None:
                self._prefer(a, b, choice)

        self.app.push_screen(PreferenceScreen(a, b), chosen)

    @work(thread=True, exit_on_error=False, group="curate")
    def _prefer(self, a: NowPlaying, b: NowPlaying, choice: str) -> None:
        from core import curation

        curation.prefer(self.app.store, uuid.UUID(a.key), uuid.UUID(b.key), choice)
        said = {
            "a": f"Noted: A (#{a.number}) is better than B (#{b.number}).",
            "b": f"Noted: B (#{b.number}) is better than A (#{a.number}).",
            "same": f"Noted: A (#{a.number}) and B (#{b.number}) are as good as each other.",
        }[choice]
        self.app.call_from_thread(self.notify, said, markup=False)

    # ------------------------------------------------------------ auto-advance

    def play_next_after(self, ended: NowPlaying) -> None:
        """The app's auto-advance: the clip after ``ended`` in the cluster listed, if any
        (a batch being made, or a whole batch, is auditioned clip by clip)."""
        try:
            table = self.query_one("#tracks", TrackTable)
        except NoMatches:  # a clip ended as the screen is taken down (the app closing)
            return
        if not (table.scope or "").startswith("cluster:") or ended.key not in table.rows_by_key:
            return
        index = table.get_row_index(ended.key)
        if index + 1 >= table.row_count:
            return  # the end of the cluster (or batch): the player stops there
        follow = table.cursor_row == index
        key = table.coordinate_to_cell_key((index + 1, 0)).row_key.value
        row = table.rows_by_key.get(key or "")
        if row is None or not row.path:
            return
        if follow:
            table.move_cursor(row=index + 1)
        self._play(row)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ detail

    def action_detail(self) -> None:
        try:
            detail = self.query_one("#detail", ClipDetail)
        except NoMatches:
            detail = ClipDetail(id="detail")
            self.query_one("#right").mount(detail, after="#tracks")
            self._update_detail()
            return
        detail.display = not detail.display
        self._update_detail()

    @on(DataTable.RowHighlighted, "#tracks")
    def _detail_follows_row(self) -> None:
        self._update_detail()

    @on(Tree.NodeHighlighted, "#tree")
    def _detail_follows_node(self) -> None:
        self._update_detail()

    def _update_detail(self) -> None:
        try:
            detail = self.query_one("#detail", ClipDetail)
        except NoMatches:
            return
        if not detail.display:
            return
        row = self._stored_row()
        found = self._track_of(row) if row is not None else None
        if row is None or found is None:
            detail.show_nothing("Select a stored clip to see its details.")
            return
        batch, track = found
        cluster = batch.cluster(track.cluster_id)
        label = cluster.label if cluster is not None else row.label
        generated = self.generated_labels.get(track.cluster_id, label)
        changed = detail.track_id != track.id
        detail.show_clip(batch, track, label, self.curations.get(track.id, UNTOUCHED), generated)
        if changed:
            self._clip_facts(track)

    @work(thread=True, exclusive=True, exit_on_error=False, group="clip-facts", description="clip details")
    def _clip_facts(self, track: Track) -> ClipFacts:
        from tui.widgets.detail import clip_facts

        return clip_facts(self.app.store, track)

    @on(Worker.StateChanged)
    def _clip_facts_worker(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.SUCCESS and event.worker.group == "clip-facts":
            self._facts_ready(event.worker.result)

    def _facts_ready(self, facts: ClipFacts) -> None:
        with contextlib.suppress(NoMatches):
            self.query_one("#detail", ClipDetail).set_facts(facts)

    def action_copy_path(self) -> None:
        row = self._stored_row()
        if row is None:
            return
        self.app.copy_to_clipboard(row.path)
        self.notify(f"Copied the path of clip #{row.number}.", markup=False)

    # ------------------------------------------------------------------ delete

    def _delete_target(self) -> tuple[str, Batch, Track | None] | None:
        """What D deletes: the selected clip, or the highlighted batch (tree focused)."""
        if self.session is None or getattr(self, "generating", False):
            return None
        tree = self.query_one("#tree", ClusterTree)
        if tree.has_focus and isinstance(tree.highlighted, BatchNode):
            return ("batch", tree.highlighted.batch, None)
        row = self._stored_row()
        found = self._track_of(row) if row is not None else None
        if found is None:
            return None
        return ("clip", found[0], found[1])

    def action_delete(self) -> None:
        target = self._delete_target()
        if target is None:
            return
        from tui.formatting import plural
        from tui.screens.modals import ConfirmScreen

        kind, batch, track = target
        if track is not None:
            # #3 alone could be any batch's third clip: its cluster says which.
            row = self._stored_row()
            of = f" of “{row.label}”" if row is not None and row.label else ""
            question = f"Delete clip #{track.position + 1}{of}?"
            detail = "Its audio file is deleted too. This cannot be undone."
        else:
            node = self.query_one("#tree", ClusterTree).highlighted
            number = node.number if isinstance(node, BatchNode) else batch.position + 1
            question = f"Delete batch {number} and its {plural(len(batch.tracks), 'clip')}?"
            detail = "Their audio files are deleted too. This cannot be undone."

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(kind, batch.id if track is None else track.id)

        self.app.push_screen(ConfirmScreen(question, detail), answered)

    @work(thread=True, exit_on_error=False, group="curate")
    def _delete(self, kind: str, ident: uuid.UUID) -> None:
        from core import curation

        store = self.app.store
        gone = curation.delete_track(store, ident) if kind == "clip" else curation.delete_batch(store, ident)
        self.app.call_from_thread(self._deleted, gone)

    def _deleted(self, gone: Any) -> None:
        app = self.app
        removed = {str(t) for t in gone.track_ids}
        now = app.now_playing
        if now is not None and now.key in removed:
            app.stop_playback()
        if any(clip.key in removed for clip in app.ab_pair):
            app.ab_pair = ABPair()
        for track_id in gone.track_ids:
            self.curations.pop(track_id, None)
        count = len(gone.track_ids)
        said = "Deleted 1 clip and its file." if count == 1 else f"Deleted {count} clips and their files."
        if gone.files_left:
            said += f" {len(gone.files_left)} file(s) could not be removed now; they are kept aside at the next start."
        self.notify(said, markup=False)
        if gone.session_removed:
            self.dismiss(None)
            return
        self._remember_selection()  # type: ignore[attr-defined]
        self._load(gone.session_id)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ export

    def action_export(self) -> None:
        if self.session is None:
            return
        from tui.screens.export import ExportScreen

        row = self._stored_row()
        cluster = self._current_cluster()  # type: ignore[attr-defined]
        self.app.push_screen(
            ExportScreen(
                self.session,
                self.curations,
                cluster=cluster[1] if cluster is not None else None,
                selected=uuid.UUID(row.key) if row is not None else None,
            )
        )
