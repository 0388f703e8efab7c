"""The session map's drawing: marks where plotext puts a clip, and a big session's map
placed and drawn in the background once the session is read whole, so M shows it at once."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import numpy as np
import pytest

from core.maps import SessionMap
from core.models import Session
from tests.tui.scenes import wait_for
from tests.tui.test_big_session import HeldReads, big, big_session, open_big  # noqa: F401  (fixtures)
from tui.app import SessionLabApp
from tui.screens.map import MapScreen, plot_size
from tui.widgets.session_map import SELECTED_MARKER, SessionMapPlot, draw_canvas, terminal_style


def text_of(canvas_lines: list) -> list[str]:  # type: ignore[type-arg]
    return ["".join(segment.text for segment in line) for line in canvas_lines]


def test_a_mark_sits_in_the_cell_plotext_draws_that_clip_in() -> None:
    """canvas.cell reads plotext's own mapping: a clip given a style of its own is drawn by
    plotext with that marker in exactly the cell ``cell`` names, wherever it lies."""
    rng = np.random.default_rng(7)
    xy = rng.normal(size=(60, 2)) * (3.0, 0.5) + (10.0, -2.0)
    ids = [uuid.UUID(int=i) for i in range(len(xy))]
    plain, alone = uuid.UUID(int=1000), uuid.UUID(int=1001)
    styles = {plain: 0, alone: 1}
    marker = terminal_style(1)[0]
    assert marker != terminal_style(0)[0]
    extremes = [
        int(np.argmin(xy[:, 0])),
        int(np.argmax(xy[:, 0])),
        int(np.argmin(xy[:, 1])),
        int(np.argmax(xy[:, 1])),
    ]
    for chosen in [*extremes, 5, 17, 33]:
        order = [i for i in range(len(xy)) if i != chosen] + [chosen]  # last: the cell keeps it
        clusters = [alone if i == chosen else plain for i in order]
        placed = SessionMap("test", [ids[i] for i in order], clusters, xy[order], 0)
        for width, height in ((120, 31), (47, 13)):
            canvas = draw_canvas(placed, styles, width, height, "dark")
            rows = text_of(canvas.lines)
            cells = [(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch == marker]
            column, row = canvas.cell(*xy[chosen])
            assert cells == [(row, column)]


@pytest.mark.asyncio
async def test_a_big_sessions_map_is_ready_when_it_is_read_whole_and_m_shows_that_drawing(
    make_app: Callable[..., SessionLabApp],
    big: Session,  # noqa: F811
) -> None:
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_big(pilot, app)
        clips = sum(len(b.tracks) for b in big.batches)
        await wait_for(
            pilot,
            lambda: screen.prepared_map is not None and screen.prepared_map.count == clips,
            "the whole session's map prepared",
        )
        prepared = screen.prepared_map
        assert len(prepared.placed) == clips == len(big.tracks)
        assert (prepared.canvas.width, prepared.canvas.height) == plot_size(120, 36)

        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MapScreen), "the map")
        chart = app.screen
        await pilot.pause()
        assert chart.prepared is prepared and chart.placed is prepared.placed
        plot = chart.query_one(SessionMapPlot)
        # The plot got the size the drawing was made at: the worker's drawing is the one shown.
        assert (plot.size.width, plot.size.height) == plot_size(120, 36)
        assert plot.canvas is prepared.canvas
        # The selected clip is marked in its cell, once.
        point = chart.placed.point(chart.selected)
        column, row = plot.canvas.cell(point.x, point.y)
        shown = text_of(plot.lines())
        assert shown[row][column] == SELECTED_MARKER
        assert sum(line.count(SELECTED_MARKER) for line in shown) == 1
        # Moving the selection moves the mark; the drawing of the clips stays the same.
        before = chart.selected
        for key in ("right", "left", "up", "down"):
            await pilot.press(key)
            await pilot.pause()
            if chart.selected != before:
                break
        assert chart.selected != before
        assert plot.canvas is prepared.canvas
        point = chart.placed.point(chart.selected)
        column, row = plot.canvas.cell(point.x, point.y)
        shown = text_of(plot.lines())
        assert shown[row][column] == SELECTED_MARKER
        assert sum(line.count(SELECTED_MARKER) for line in shown) == 1


def test_plotexts_canvas_is_read_as_rich_reads_it() -> None:
    """ansi_to_lines (plotext's few sequences) gives each cell the character and style
    Text.from_ansi gives it; an unknown sequence falls back to Text.from_ansi."""
    from rich.console import Console
    from rich.text import Text
    from textual_plotext.plot import Plot

    from tui.widgets.session_map import ansi_to_lines

    plt = Plot()
    plt.scatter([1, 2, 3, 4], [4, 1, 3, 2], marker="■", color=(255, 127, 14))
    plt.scatter([2.5], [2.5], marker="•", color=(31, 119, 180))
    plt.plotsize(40, 12)
    plt.theme("dark")
    ansi = plt.build()

    def cells_of_lines(lines: list) -> list[list[tuple[str, object]]]:  # type: ignore[type-arg]
        return [[(ch, segment.style) for segment in line for ch in segment.text] for line in lines]

    def cells_of_text(text: Text) -> list[list[tuple[str, object]]]:
        rows = []
        for line in text.split("\n", allow_blank=True):
            rows.append([(ch, line.get_style_at_offset(console, i)) for i, ch in enumerate(line.plain)])
        return rows

    console = Console()
    expected = cells_of_text(Text.from_ansi(ansi))
    ours = cells_of_lines(ansi_to_lines(ansi))
    assert [[c for c, _ in row] for row in ours] == [[c for c, _ in row] for row in expected]
    assert [[s for _, s in row] for row in ours] == [[s for _, s in row] for row in expected]
    odd = "\x1b[1mbold\x1b[0m plain"
    assert "".join(s.text for s in ansi_to_lines(odd)[0]) == "bold plain"


@pytest.mark.asyncio
async def test_a_map_opened_before_the_session_is_read_whole_is_redrawn_with_all_of_it(
    make_app: Callable[..., SessionLabApp],
    big: Session,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held = HeldReads(monkeypatch)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_big(pilot, app, whole=False)
        await wait_for(pilot, lambda: bool(held.calls), "the older batches asked for")
        await pilot.press("M")
        await wait_for(
            pilot, lambda: isinstance(app.screen, MapScreen) and app.screen.placed is not None, "the map"
        )
        chart = app.screen
        start = len(chart.placed)
        assert start == sum(len(b.tracks) for b in screen.session.batches) < len(big.tracks)
        chart.selected = chart.placed.track_ids[-1]
        held.release.set()
        await wait_for(pilot, lambda: len(chart.placed) == len(big.tracks), "the whole session on the map")
        await pilot.pause()
        assert app.screen is chart and chart.placed is screen.prepared_map.placed
        plot = chart.query_one(SessionMapPlot)
        assert plot.session_map is chart.placed and plot.canvas is screen.prepared_map.canvas
        assert "clips" in str(chart.query_one("#map-title").render()) and str(len(big.tracks)) in str(
            chart.query_one("#map-title").render()
        )
        assert chart.selected in chart.placed.index  # the clip selected stays selected
