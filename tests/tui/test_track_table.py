"""TrackTable changes cells in place (a waveform drawn, a clip rendered, the playing
mark, marks) redrawing only their row: what it shows is what a list made afresh with
the same rows shows."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from core.curation_models import Curation
from tui.waveform import Waveform
from tui.widgets.track_table import TrackRow, TrackTable

pytestmark = pytest.mark.asyncio


class NoWaveforms(dict[str, Waveform]):
    pass


def rows() -> list[TrackRow]:
    return [
        TrackRow(key=f"t{i}", number=i + 1, label=f"Cluster {i}", path=f"/clips/{i}.wav", duration_sec=None, similarity=0.5)
        for i in range(4)
    ]  # fmt: skip


class Two(App[None]):
    def compose(self) -> ComposeResult:
        yield TrackTable(id="changed")
        yield TrackTable(id="fresh")


def shown(table: TrackTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_cells_changed_in_place_show_what_a_fresh_list_shows() -> None:
    app = Two()
    async with app.run_test(size=(100, 20)) as pilot:
        changed = app.query_one("#changed", TrackTable)
        fresh = app.query_one("#fresh", TrackTable)
        changed.show(rows(), "cluster:x", NoWaveforms())
        await pilot.pause()
        before = shown(changed)  # every line rendered and cached
        assert any("·" * 20 in line for line in before)

        drawn = Waveform("▁▂▃▄▅▆▇█" * 2 + "▁▂▃▄", 2.5)
        changed.set_waveform("t1", drawn)
        changed.mark_playing("t2")
        changed.set_curation("t3", Curation(kept=True, rating=4))
        changed.put_row(TrackRow("t0", 1, "Renamed", "/clips/0.wav", None, 0.5), drawn)
        await pilot.pause()

        now = rows()
        now[0] = TrackRow("t0", 1, "Renamed", "/clips/0.wav", None, 0.5)
        now[3] = TrackRow(
            "t3", 4, "Cluster 3", "/clips/3.wav", None, 0.5, curation=Curation(kept=True, rating=4)
        )
        fresh.playing_key = "t2"
        fresh.show(now, "cluster:x", NoWaveforms({"/clips/0.wav": drawn, "/clips/1.wav": drawn}))
        await pilot.pause()

        after = shown(changed)
        assert after != before
        assert after == shown(fresh)


class ListAndPanel(App[None]):
    CSS = "#changed { height: 1fr; } #panel { height: 4; display: none; }"

    def compose(self) -> ComposeResult:
        from textual.widgets import Static

        yield TrackTable(id="changed")
        yield Static("batch panel", id="panel")


async def test_a_change_of_height_alone_keeps_the_rows_rendered_and_shows_what_a_fresh_list_shows() -> None:
    app = ListAndPanel()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one("#changed", TrackTable)
        table.show(rows(), "cluster:x", NoWaveforms())
        await pilot.pause()
        tall = shown(table)
        rendered: list[object] = []
        render_lines = app.console.render_lines

        def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
            rendered.append(args[0])
            return render_lines(*args, **kwargs)

        app.console.render_lines = counted  # type: ignore[method-assign]
        app.query_one("#panel").display = True  # the batch panel appears below the list
        await pilot.pause()
        short = shown(table)
        assert table.size.height == 20 - 4 and len(short) < len(tall)
        assert not rendered  # no row was rendered again through Rich
        assert short == tall[: len(short)]

        table._clear_caches()  # what DataTable's own resize does: every row rendered afresh
        table._update_count += 1
        assert shown(table) == short and rendered

        rendered.clear()
        await pilot.resize_terminal(80, 20)  # a new width: rows rendered again, cut to it
        await pilot.pause()
        narrow = shown(table)
        assert rendered
        assert all(len(line) <= 80 for line in narrow) and narrow != short
