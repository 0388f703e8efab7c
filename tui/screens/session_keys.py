"""The session screen's keys: their bindings and palette entries, and the marks
(keep, rate, discard, tags and note, the filter, a cluster's name).

A base class of SessionScreen (Textual merges BINDINGS along the class tree), so
the screen module stays about loading and showing a session; the keys on the
selected clip (A/B, which is better, auto-advance, details, copy path, delete,
export) are in its own base, ``session_clip_keys.py``. It relies on the screen's
own helpers (``_current_row``, ``_current_cluster``, ``_play``, ``_show_scope``,
``_load``); the screen calls back ``visible_rows``, ``row_curation``,
``scope_note``, ``curation_shown`` and ``can_curate``.

Every store call runs in a worker; the screen changes when it returns.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from core.curation_models import Curation
from core.models import Batch, Session
from core.text import shown_line
from tui.screens.session_clip_keys import UNTOUCHED, SessionClipKeys
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.track_table import TrackRow, TrackTable

if TYPE_CHECKING:
    pass

# Which clips the list shows: discarded ones are hidden unless asked for.
FILTERS = ("hide-discarded", "kept", "all")
FILTER_SAID = {
    "hide-discarded": "Showing every clip but the discarded ones.",
    "kept": "Showing kept clips only.",
    "all": "Showing every clip, discarded ones too (dimmed).",
}


@dataclass(frozen=True)
class CurationState:
    """What the store holds for a session: marks by clip, names by cluster."""

    curations: dict[uuid.UUID, Curation]
    names: dict[uuid.UUID, str]


class SessionKeys(SessionClipKeys):
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

    # ------------------------------------------------------------------ rename

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
