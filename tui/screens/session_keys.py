"""The session screen's curation and audition keys: keep, rate, discard, A/B, prefer,
rename a cluster, delete, the filter, the detail view, auto-advance, export.

A base class of SessionScreen (Textual merges BINDINGS along the class tree), so
the screen module stays about loading and showing a session. It relies on the
screen's own helpers (``_current_row``, ``_current_cluster``, ``_play``,
``_show_scope``, ``_load``); the screen calls back ``visible_rows``, ``row_curation``,
``scope_note``, ``curation_shown`` and ``can_curate``.

Every store call runs in a worker; the screen changes when it returns.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Tree
from textual.worker import Worker, WorkerState

from core.models import Batch, Curation, Session, Track
from core.text import shown_line
from tui.audition import ABPair
from tui.jobs import NowPlaying
from tui.widgets.cluster_tree import BatchNode, ClusterTree
from tui.widgets.detail import ClipDetail, ClipFacts
from tui.widgets.track_table import TrackRow, TrackTable

if TYPE_CHECKING:
    from tui.app import SessionLabApp

# Which clips the list shows: discarded ones are hidden unless asked for.
FILTERS = ("hide-discarded", "kept", "all")
FILTER_SAID = {
    "hide-discarded": "Showing every clip but the discarded ones.",
    "kept": "Showing kept clips only.",
    "all": "Showing every clip, discarded ones too (dimmed).",
}
UNTOUCHED = Curation()


@dataclass(frozen=True)
class CurationState:
    """What the store holds for a session: marks by clip, names by cluster."""

    curations: dict[uuid.UUID, Curation]
    names: dict[uuid.UUID, str]


class SessionKeys(Screen[uuid.UUID | None]):
    BINDINGS = [
        Binding("s", "keep", "Keep", id="keep", show=False, tooltip="Keep the clip (★), or take the star back"),
        Binding("x", "discard", "Discard", id="discard", show=False, tooltip="Discard the clip (hidden), or bring it back"),
        *(Binding(str(n), f"rate({n})", f"Rate {n}", show=False) for n in range(6)),
        Binding("a", "ab", "A/B", id="ab", show=False, tooltip="Mark the clip A, then B; then flip between them at the same position"),
        Binding("A", "ab_clear", "Clear A/B", id="ab-clear", show=False, tooltip="Forget the A/B pair"),
        Binding("v", "prefer", "Which is better", id="prefer", show=False, tooltip="Say which of A and B is better, or the same"),
        Binding("t", "tags", "Tags and note", id="tags", show=False, tooltip="Edit the clip's tags and note"),
        Binding("N", "tags(True)", "Note", id="note", show=False, tooltip="Edit the clip's note (and tags)"),
        Binding("f", "filter", "Filter", id="filter", show=False, tooltip="Hide discarded clips / kept only / every clip"),
        Binding("i", "detail", "Details", id="detail", show=False, tooltip="Show or hide the selected clip's details"),
        Binding("y", "copy_path", "Copy path", id="copy-path", show=False, tooltip="Copy the clip's file path"),
        Binding("c", "app.toggle_auto_advance", "Auto-advance", id="auto-advance", show=False, tooltip="Play the next clip when one ends, or stop (on by default)"),
        Binding("r", "rename_cluster", "Rename cluster", id="rename-cluster", show=False, tooltip="Give the cluster your own name"),
        Binding("D,delete", "delete", "Delete", id="delete", show=False, tooltip="Delete the clip (or the highlighted batch) with its files, asked first"),
        Binding("e", "export", "Export", id="export", show=False, tooltip="Export clips for a DAW (WAV or FLAC, loudness, metadata)"),
    ]  # fmt: skip

    COMMAND_ACTIONS = (
        ("Keep clip (star)", "keep", "Keep the selected clip, or take the star back (s)"),
        ("Discard clip", "discard", "Hide the selected clip, or bring it back (x)"),
        ("Clear rating", "rate(0)", "Take the selected clip's rating off (0; 1-5 rate)"),
        ("Tags and note", "tags", "Edit the selected clip's tags and note (t; N starts on the note)"),
        ("Mark A/B or flip", "ab", "Mark the clip A, then B; then flip at the same position (a)"),
        ("Clear A/B", "ab_clear", "Forget the A/B pair (A)"),
        ("Which is better: A or B", "prefer", "Store which of the A/B pair is better, or the same (v)"),
        ("Filter clips", "filter", "Hide discarded / kept only / every clip (f)"),
        ("Clip details", "detail", "Brief, prompt, seed, engine, tempo, key, loudness, file (i)"),
        ("Copy clip path", "copy_path", "Copy the selected clip's file path (y)"),
        ("Toggle auto-advance", "app.toggle_auto_advance", "Play the next clip when one ends (c)"),
        ("Rename cluster", "rename_cluster", "Give the cluster your own name (r)"),
        ("Delete clip or batch", "delete", "Delete with its files, asked first (D)"),
        ("Export for a DAW", "export", "Kept clips, this cluster or the selected one, to a folder (e)"),
    )

    app: SessionLabApp  # type: ignore[assignment]
    session: Session | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.curations: dict[uuid.UUID, Curation] = {}
        self.cluster_names: dict[uuid.UUID, str] = {}
        self.generated_labels: dict[uuid.UUID, str] = {}  # cluster id -> the label it was made with
        self.filter_mode = FILTERS[0]

    # ----------------------------------------------------------- hooks of the screen

    @on(events.Mount)
    def _filter_the_tree(self) -> None:
        """The tree shows the clips the filter lets through, as the list does."""
        self.query_one("#tree", ClusterTree).set_filter(
            lambda track_id: self._passes(self.curations.get(track_id))
        )

    def curation_shown(self, session: Session) -> None:
        """The screen holds a session (read or re-read): fetch its marks and names."""
        for cluster in session.clusters:
            self.generated_labels.setdefault(cluster.id, cluster.label)
        self._read_curation(session.id)

    def older_shown(self, batches: list[Batch]) -> None:
        """Older batches of a big session came in: their clusters get the names given."""
        for batch in batches:
            for cluster in batch.clusters:
                self.generated_labels.setdefault(cluster.id, cluster.label)
        if batches and self.cluster_names:
            self._apply_names(self.cluster_names)  # their labels and the nodes the tree just made

    def row_curation(self, track_id: uuid.UUID) -> Curation | None:
        return self.curations.get(track_id)

    def visible_rows(self, rows: list[TrackRow]) -> list[TrackRow]:
        """The rows the filter lets through (the batch being made is never filtered)."""
        return [row for row in rows if row.pending or self._passes(row.curation)]

    def scope_note(self, rows: list[TrackRow], shown: list[TrackRow]) -> str:
        """A few words for the list's title: what the filter hides."""
        hidden = len(rows) - len(shown)
        if self.filter_mode == "kept":
            return f"   kept only · {hidden} hidden (f)" if hidden else "   kept only (f)"
        return f"   {hidden} discarded hidden (f)" if hidden else ""

    def _passes(self, curation: Curation | None) -> bool:
        curation = curation or UNTOUCHED
        if self.filter_mode == "kept":
            return curation.kept and not curation.discarded
        if self.filter_mode == "hide-discarded":
            return not curation.discarded
        return True

    def can_curate(self, action: str) -> bool | None:
        action = action.split("(")[0]  # the palette asks with the arguments ("rate(0)")
        if action in ("keep", "discard", "rate", "tags", "detail", "copy_path"):
            return True if self._stored_row() is not None else None
        if action == "ab":
            row = self._current_row()  # type: ignore[attr-defined]
            return True if (row is not None and row.path) or self.app.ab_pair.complete else None
        if action == "ab_clear":
            return True if self.app.ab_pair.a is not None else None
        if action == "prefer":
            return True  # without a stored pair, v says what to do first
        if action == "rename_cluster":
            return True if self._current_cluster() is not None else None  # type: ignore[attr-defined]
        if action == "delete":
            return True if self._delete_target() is not None else None
        if action == "export":
            return True if self.session is not None else None
        return True

    # ------------------------------------------------------------------ reading

    @work(thread=True, exclusive=True, exit_on_error=False, group="curation")
    def _read_curation(self, session_id: uuid.UUID) -> CurationState:
        store = self.app.store
        return CurationState(store.get_curations(session_id), store.get_cluster_names(session_id))

    @on(Worker.StateChanged)
    def _curation_worker(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state != WorkerState.SUCCESS:
            return
        if worker.group == "curation":
            state: CurationState = worker.result
            if not (state.curations or state.names or self.curations or self.cluster_names):
                return  # a session never marked or named: the tree and list stay as drawn
            self.curations = dict(state.curations)
            self._apply_names(state.names)
            self.query_one("#tree", ClusterTree).refilter()
            self._refresh_list()
        elif worker.group == "clip-facts":
            self._facts_ready(worker.result)

    def _apply_names(self, names: dict[uuid.UUID, str]) -> None:
        """The musician's names become the clusters' labels everywhere this screen shows
        them (the tree, the list, "more like"); the generated ones are kept aside."""
        self.cluster_names = dict(names)
        if self.session is None:
            return
        tree = self.query_one("#tree", ClusterTree)
        for cluster in self.session.clusters:
            generated = self.generated_labels.setdefault(cluster.id, cluster.label)
            label = names.get(cluster.id) or generated
            if label == cluster.label:
                continue
            cluster.label = label
            tree.relabel_cluster(cluster)

    def _refresh_list(self, *, keep_key: str | None = None) -> None:
        """List the scope again (the filter or the marks changed), the cursor kept on
        ``keep_key`` (or the row it was on) when that row is still shown."""
        table = self.query_one("#tracks", TrackTable)
        current = table.current
        key = keep_key or (current.key if current is not None else None)
        index = table.cursor_row
        searched = getattr(self, "search_result", None)
        if searched is not None:
            self.show_search(searched, again=True)  # type: ignore[attr-defined]
        else:
            self._show_scope(self.query_one("#tree", ClusterTree).highlighted, force=True)  # type: ignore[attr-defined]
        if table.row_count and (key is None or not table.move_to(key)):
            table.move_cursor(row=min(max(index, 0), table.row_count - 1))
        self._sync_bindings()  # type: ignore[attr-defined]
        self._update_detail()

    # ------------------------------------------------------------------ marks

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

    def action_keep(self) -> None:
        row = self._stored_row()
        if row is not None:
            current = self.curations.get(uuid.UUID(row.key), UNTOUCHED)
            self._curate(row.key, "keep", not current.kept)

    def action_discard(self) -> None:
        row = self._stored_row()
        if row is not None:
            current = self.curations.get(uuid.UUID(row.key), UNTOUCHED)
            self._curate(row.key, "discard", not current.discarded)

    def action_rate(self, rating: int) -> None:
        row = self._stored_row()
        if row is not None:
            self._curate(row.key, "rate", int(rating) or None)

    def action_tags(self, note: bool = False) -> None:
        row = self._stored_row()
        if row is None:
            return
        from tui.screens.curation_dialogs import TagsNoteScreen

        key = row.key
        current = self.curations.get(uuid.UUID(key), UNTOUCHED)

        def written(result: tuple[tuple[str, ...], str] | None) -> None:
            if result is not None and result != (current.tags, current.note):
                self._curate(key, "annotate", result)

        self.app.push_screen(
            TagsNoteScreen(row.number, row.label, current.tags, current.note, focus_note=bool(note)), written
        )

    @work(thread=True, exit_on_error=False, group="curate")
    def _curate(self, key: str, what: str, value: Any) -> None:
        from core import curation

        track_id = uuid.UUID(key)
        if what == "annotate":
            marks = curation.annotate(self.app.store, track_id, *value)
        else:
            change = {"keep": curation.keep, "discard": curation.discard, "rate": curation.rate}[what]
            marks = change(self.app.store, track_id, value)
        self.app.call_from_thread(self._marked, key, what, marks)

    def _marked(self, key: str, what: str, marks: Curation) -> None:
        track_id = uuid.UUID(key)
        if marks == UNTOUCHED:
            self.curations.pop(track_id, None)
        else:
            self.curations[track_id] = marks
        self.query_one("#tree", ClusterTree).refilter_clip(track_id)
        table = self.query_one("#tracks", TrackTable)
        row = table.rows_by_key.get(key)
        if row is not None and not self._passes(marks):
            # Hidden by the filter now: the list moves on to the next clip.
            self._refresh_list(keep_key=None)
            if what == "discard":
                self.notify(
                    "Discarded: hidden from the list (f shows it again; x brings it back).", markup=False
                )
        else:
            table.set_curation(key, marks)
            self._update_detail()

    # ------------------------------------------------------------------ filter

    def action_filter(self) -> None:
        self.filter_mode = FILTERS[(FILTERS.index(self.filter_mode) + 1) % len(FILTERS)]
        self.query_one("#tree", ClusterTree).refilter()
        self._refresh_list()
        self.notify(FILTER_SAID[self.filter_mode], markup=False)

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

    def _facts_ready(self, facts: ClipFacts) -> None:
        with contextlib.suppress(NoMatches):
            self.query_one("#detail", ClipDetail).set_facts(facts)

    def action_copy_path(self) -> None:
        row = self._stored_row()
        if row is None:
            return
        self.app.copy_to_clipboard(row.path)
        self.notify(f"Copied the path of clip #{row.number}.", markup=False)

    # ---------------------------------------------------------- rename, delete

    def action_rename_cluster(self) -> None:
        found = self._current_cluster()  # type: ignore[attr-defined]
        if found is None or self.session is None:
            return
        _, cluster = found
        from tui.screens.modals import TextPromptScreen

        generated = self.generated_labels.get(cluster.id, cluster.label)
        session_id = self.session.id

        def named(name: str | None) -> None:
            if name is not None:
                self._rename(session_id, cluster.id, name)

        self.app.push_screen(
            TextPromptScreen(
                "Name this cluster",
                cluster.label,
                placeholder=generated,
                hint=f"Enter saves, Esc cancels. An empty name brings back the generated one, “{shown_line(generated)}”.",
            ),
            named,
        )

    @work(thread=True, exit_on_error=False, group="curate")
    def _rename(self, session_id: uuid.UUID, cluster_id: uuid.UUID, name: str) -> None:
        from core import curation

        store = self.app.store
        curation.rename_cluster(store, session_id, cluster_id, name)
        names = store.get_cluster_names(session_id)
        self.app.call_from_thread(self._renamed, names)

    def _renamed(self, names: dict[uuid.UUID, str]) -> None:
        self._apply_names(names)
        self._refresh_list()

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
