"""The tracks of the selected cluster or batch, rows keyed by track id."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist, RowKey

from core.curation_models import Curation
from core.text import shown_line
from tui.formatting import WAVEFORM_WIDTH, duration, similarity
from tui.widgets.audition_keys import AUDITION_BINDINGS
from tui.widgets.paint import StylePerPaint

COLUMNS = (
    ("num", "#", 4),
    ("marks", "Marks", 7),
    ("cluster", "Cluster", 14),
    ("length", "Length", 7),
    ("sim", "Similarity", 10),
    ("wave", "Waveform", WAVEFORM_WIDTH),
)
PENDING_WAVE = "·" * WAVEFORM_WIDTH


@dataclass(frozen=True)
class TrackRow:
    """One row: a stored track, or a clip of the batch being made ("pending-N")."""

    key: str
    number: int
    label: str
    path: str
    duration_sec: float | None
    similarity: float | None
    problem: str | None = None  # why its file cannot be played ("missing", "unreadable")
    curation: Curation | None = None  # the musician's marks (None: none yet)

    @property
    def pending(self) -> bool:
        return self.key.startswith("pending-")


def marks_cell(curation: Curation | None) -> Text:
    """★ for a kept clip, the rating as five dots, ✕ for a discarded one."""
    text = Text(no_wrap=True)
    if curation is None:
        return text
    if curation.discarded:
        text.append("✕ ", style="dim")
    else:
        text.append("★ " if curation.kept else "  ", style="bold yellow")
    if curation.rating is not None:
        text.append("●" * curation.rating, style="dim" if curation.discarded else "")
        text.append("○" * (5 - curation.rating), style="dim")
    return text


class TrackTable(StylePerPaint, DataTable[Text | str]):
    """Rows keyed by track id, so a waveform or the playing mark updates in place."""

    BINDINGS = AUDITION_BINDINGS

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.rows_by_key: dict[str, TrackRow] = {}
        self.scope: str | None = None  # which tree node the rows belong to
        self.playing_key: str | None = None
        self._rendered_width: int | None = None

    def _on_resize(self, event: events.Resize) -> None:
        """A change of height alone (the batch panel shown or hidden below the list)
        keeps the rows rendered: DataTable's own drops every render at any resize,
        and the frame that shows the panel drew the whole list again through Rich
        (10-15 ms of the UI thread). The columns have fixed widths, so a row's
        render depends on the width only; a new width goes to DataTable's handler."""
        if event.size.width == self._rendered_width:
            event.prevent_default()
            return
        self._rendered_width = event.size.width

    def on_mount(self) -> None:
        for key, title, width in COLUMNS:
            self.add_column(title, key=key, width=width)

    def show(self, rows: list[TrackRow], scope: str, waveforms: Any) -> None:
        """Replace the rows (a new cluster or batch was chosen)."""
        self.clear()
        self.scope = scope
        self.rows_by_key = {}
        for row in rows:
            self._add(row, waveforms.get(row.path))

    def put_row(self, row: TrackRow, waveform: object | None = None) -> None:
        """Fill a row in place (a clip just rendered), or append it if it is new."""
        if row.key not in self.rows_by_key:
            self._add(row, waveform)
            return
        self.rows_by_key[row.key] = row
        spark = getattr(waveform, "spark", None)
        with contextlib.suppress(CellDoesNotExist, RowDoesNotExist):
            self.update_cell(row.key, "cluster", self._label_cell(row))
            self.update_cell(row.key, "wave", Text(spark or PENDING_WAVE, style="" if spark else "dim"))
            if waveform is not None:
                seconds = getattr(waveform, "duration_sec", None)
                self.update_cell(row.key, "length", Text(duration(seconds), justify="right"))

    def _add(self, row: TrackRow, waveform: object | None) -> None:
        self.rows_by_key[row.key] = row
        spark = getattr(waveform, "spark", None)
        seconds = (
            row.duration_sec if row.duration_sec is not None else getattr(waveform, "duration_sec", None)
        )
        self.add_row(
            self._number_cell(row),
            marks_cell(row.curation),
            self._label_cell(row),
            Text(duration(seconds), justify="right"),
            Text(similarity(row.similarity), justify="right"),
            self._wave_cell(row, spark),
            key=row.key,
        )

    def update_cell(  # type: ignore[override]
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: Text | str,
        *,
        update_width: bool = False,
    ) -> None:
        """A cell's new value, its row alone redrawn.

        DataTable's own drops every rendered row and cell and redraws the whole list
        (10-25 ms of the UI thread at 120 x 36, at each waveform drawn, clip rendered,
        mark or play): here only the row's own renders are dropped and its lines
        redrawn. Widths are recomputed only when asked (as DataTable does)."""
        if update_width:
            super().update_cell(row_key, column_key, value, update_width=True)
            return
        row_key = RowKey(row_key) if isinstance(row_key, str) else row_key
        column_key = ColumnKey(column_key) if isinstance(column_key, str) else column_key
        cells = self._data.get(row_key)
        if cells is None or column_key not in cells:
            raise CellDoesNotExist(f"No cell exists for row_key={row_key!r}, column_key={column_key!r}.")
        cells[column_key] = value
        index = self._row_locations.get(row_key)
        if index is None:
            return
        region = self._get_row_region(index)
        lines = range(region.y, region.bottom)
        for cache, stale in (
            (self._row_renderable_cache, lambda key: key[1] == index),
            (self._cell_render_cache, lambda key: key[0] == row_key),
            (self._row_render_cache, lambda key: key[0] == row_key),
            (self._line_cache, lambda key: key[0] in lines),
        ):
            # An LRUCache, not a dict: its keys are listed by keys().
            for cached in [key for key in cache.keys() if stale(key)]:  # type: ignore[attr-defined]  # noqa: SIM118
                cache.discard(cached)  # type: ignore[attr-defined]
        self._refresh_region(region)

    @staticmethod
    def _label_cell(row: TrackRow) -> Text:
        discarded = row.curation is not None and row.curation.discarded
        return Text(
            shown_line(row.label), no_wrap=True, overflow="ellipsis", style="dim strike" if discarded else ""
        )

    def set_curation(self, key: str, curation: Curation) -> None:
        """New marks for a row: its cells change in place."""
        row = self.rows_by_key.get(key)
        if row is None:
            return
        from dataclasses import replace

        row = replace(row, curation=curation)
        self.rows_by_key[key] = row
        with contextlib.suppress(CellDoesNotExist, RowDoesNotExist):
            self.update_cell(key, "marks", marks_cell(curation))
            self.update_cell(key, "cluster", self._label_cell(row))

    @staticmethod
    def _wave_cell(row: TrackRow, spark: str | None) -> Text:
        if row.problem:
            # Said, not pretended: the file is gone or unreadable, so there is nothing to draw or play.
            return Text(f"file {row.problem}", style="dim italic", no_wrap=True, overflow="ellipsis")
        return Text(spark or PENDING_WAVE, style="" if spark else "dim")

    def _number_cell(self, row: TrackRow) -> Text:
        if row.key == self.playing_key:
            return Text(f"▶ {row.number}", style="bold")
        return Text(f"  {row.number}")

    def set_waveform(self, key: str, waveform: object) -> None:
        row = self.rows_by_key.get(key)
        if row is None:
            return
        try:
            self.update_cell(key, "wave", Text(getattr(waveform, "spark", PENDING_WAVE)))
            if row.duration_sec is None:
                seconds = getattr(waveform, "duration_sec", None)
                self.update_cell(key, "length", Text(duration(seconds), justify="right"))
        except (CellDoesNotExist, RowDoesNotExist):
            pass

    def mark_playing(self, key: str | None) -> None:
        """Move the ▶ mark to the row being played (cells updated in place)."""
        previous, self.playing_key = self.playing_key, key
        for changed in (previous, key):
            if changed is None or changed not in self.rows_by_key:
                continue
            with contextlib.suppress(CellDoesNotExist, RowDoesNotExist):
                self.update_cell(changed, "num", self._number_cell(self.rows_by_key[changed]))

    @property
    def current(self) -> TrackRow | None:
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except (CellDoesNotExist, RowDoesNotExist):
            return None
        return self.rows_by_key.get(key) if key is not None else None

    def move_to(self, key: str) -> bool:
        try:
            index = self.get_row_index(key)
        except RowDoesNotExist:
            return False
        self.move_cursor(row=index)
        return True

    def step(self, offset: int) -> TrackRow | None:
        """Move the cursor by ``offset`` rows (clamped) and return the row there."""
        if self.row_count == 0:
            return None
        index = min(self.row_count - 1, max(0, self.cursor_row + offset))
        self.move_cursor(row=index)
        return self.current
