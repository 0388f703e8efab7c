"""The session map drawn in the terminal with plotext (textual-plotext's canvas).

Each cluster keeps its colour and marker (core.maps.style_of); the selected clip
is a ring, the playing one a note. A terminal cell shows one character, so a
big session is thinned to one point per cell (the newest clip there) before
plotext sees it: 10,000 clips cost what a screenful of cells costs.

The drawing (``draw_canvas``) needs no widget: the session screen makes it in a
worker, at the size the map screen will give the plot, together with the map
itself, so M shows a drawn map at once. The widget draws through the line API;
the marks are put on a copy of the lines they fall on, so moving the selection
does not draw the clips again.
"""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from plotext._dict import themes as plotext_themes
from plotext._utility import get_matrix_data
from rich.color import Color
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.color import Color as TextualColor
from textual.strip import Strip
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot, _rgbify_theme, _sequence

from core.maps import SessionMap, style_of
from core.text import shown_line

if TYPE_CHECKING:
    from textual.app import App

# plotext markers, one character each, matching core.maps.MARKERS in spirit.
TERMINAL_MARKERS = {"o": "•", "s": "■", "^": "▲", "D": "◆", "v": "▼", "P": "+", "*": "*", "X": "x"}
SELECTED_MARKER = "◉"
PLAYING_MARKER = "♪"
MARK_COLOUR = Color.from_rgb(255, 255, 255)
LEGEND_MAX = 8  # clusters named in the legend; beyond that the status line names the selected one


@dataclass(frozen=True)
class MapLayer:
    style: int
    xs: list[float]
    ys: list[float]


def terminal_style(style: int) -> tuple[str, str]:
    """(marker character, #rrggbb colour) of a cluster style in the terminal."""
    marker, colour = style_of(style)
    return TERMINAL_MARKERS.get(marker, "•"), colour


def legend(
    clusters: list[tuple[uuid.UUID, str]], style_of_cluster: dict[uuid.UUID, int]
) -> list[tuple[str, str]]:
    """(text, style) pieces naming each cluster by its marker in its colour; a count past LEGEND_MAX."""
    if len(clusters) > LEGEND_MAX:
        return [(f"{len(clusters)} clusters: the status line names the selected clip's", "dim")]
    pieces: list[tuple[str, str]] = []
    for cluster_id, label in clusters:
        marker, colour = terminal_style(style_of_cluster.get(cluster_id, 0))
        pieces += [(marker, f"bold {colour}"), (f" {shown_line(label)}   ", "")]
    return pieces


_SGR = re.compile(r"\x1b\[([0-9;]*)m")


@lru_cache(maxsize=512)
def _sgr_style(codes: str) -> Style | None:
    """The style of one SGR sequence of the kinds plotext writes (reset, 24-bit and
    256-colour foreground and background); None for any other (the caller falls back)."""
    if codes in ("", "0"):
        return Style.null()
    parts = codes.split(";")
    if len(parts) == 5 and parts[0] in ("38", "48") and parts[1] == "2":
        colour = Color.from_rgb(int(parts[2]), int(parts[3]), int(parts[4]))
    elif len(parts) == 3 and parts[0] in ("38", "48") and parts[1] == "5":
        colour = Color.from_ansi(int(parts[2]))
    else:
        return None
    return Style(color=colour) if parts[0] == "38" else Style(bgcolor=colour)


def ansi_to_lines(ansi: str) -> list[list[Segment]]:
    """plotext's canvas as rich segments, one list a line (it only has to know plotext's few
    sequences; a canvas with any other is read by Text.from_ansi)."""
    lines: list[list[Segment]] = []
    style = Style.null()
    for line in ansi.split("\n"):
        segments: list[Segment] = []
        position = 0
        for match in _SGR.finditer(line):
            if match.start() > position:
                segments.append(Segment(line[position : match.start()], style))
            change = _sgr_style(match.group(1))
            if change is None:
                console = Console(width=10_000, color_system="truecolor", file=io.StringIO())
                return [list(row.render(console, end="")) for row in Text.from_ansi(ansi).split("\n")]
            style = Style.null() if change == Style.null() else style + change
            position = match.end()
        if position < len(line):
            segments.append(Segment(line[position:], style))
        lines.append(segments)
    return lines


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def thin_to_cells(xy: np.ndarray, width: int, height: int) -> list[int]:
    """Indices of the points (rows of ``xy``) to draw: the last (newest) one of each of
    ``width`` x ``height`` cells."""
    if not len(xy):
        return []
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    cx = np.round((xy[:, 0] - low[0]) / span[0] * max(1, width - 1)).astype(np.int64)
    cy = np.round((xy[:, 1] - low[1]) / span[1] * max(1, height - 1)).astype(np.int64)
    cells = cx * (height + 1) + cy
    _, first_from_end = np.unique(cells[::-1], return_index=True)
    return sorted((len(cells) - 1 - first_from_end).tolist())


def plotext_theme(app: App[object]) -> str:
    """The plotext theme a PlotextPlot in ``app`` draws with (its "auto" theme, registered with
    plotext as the widget registers it), so a canvas can be drawn before the widget exists."""
    name = f"textual-auto-{app.theme}"
    if name not in plotext_themes:
        variables = app.theme_variables
        surface = TextualColor.parse(variables.get("surface", "black")).rgb
        foreground = TextualColor.parse(variables.get("foreground", "white")).rgb
        plotext_themes[name] = _rgbify_theme(surface, surface, foreground, "default", _sequence)
    return name


def layers_of(
    session_map: SessionMap | None, style_of_cluster: dict[uuid.UUID, int], width: int, height: int
) -> list[MapLayer]:
    """What to draw, one layer per style in use, thinned to the canvas."""
    if session_map is None:
        return []
    keep = thin_to_cells(session_map.xy, width, height)
    by_style: dict[int, MapLayer] = {}
    xy, cluster_ids = session_map.xy, session_map.cluster_ids
    for i in keep:
        style = style_of_cluster.get(cluster_ids[i], 0)
        layer = by_style.get(style)
        if layer is None:
            layer = by_style[style] = MapLayer(style, [], [])
        layer.xs.append(float(xy[i, 0]))
        layer.ys.append(float(xy[i, 1]))
    return [by_style[s] for s in sorted(by_style)]


@dataclass(frozen=True, eq=False)
class MapCanvas:
    """plotext's drawing of a map's clips at one size and theme, as rich segments a line.

    Pure and thread-safe to make (its own plotext figure), so the session screen draws
    it in a worker with the map; the selected and playing clips are marked on a copy
    of the line they fall on, at the cell plotext would have put them in (``cell``).
    """

    session_map: SessionMap | None
    width: int
    height: int
    theme: str
    lines: list[Strip]
    area: tuple[int, int, int, int] | None  # the plot's inside: left, top, width, height (cells)
    limits: tuple[float, float, float, float] | None  # x from, x to, y from, y to

    def fits(self, session_map: SessionMap | None, width: int, height: int, theme: str) -> bool:
        return (self.session_map, self.width, self.height, self.theme) == (session_map, width, height, theme)

    def cell(self, x: float, y: float) -> tuple[int, int] | None:
        """(column, row) of the canvas where plotext puts a marker at (x, y); None outside."""
        if self.area is None or self.limits is None:
            return None
        left, top, width, height = self.area
        x0, x1, y0, y1 = self.limits
        (column,) = get_matrix_data([x], [x0, x1], width)
        (row,) = get_matrix_data([y], [y0, y1], height)
        if not (0 <= column < width and 0 <= row < height):
            return None
        return left + column, top + height - 1 - row


def draw_canvas(
    session_map: SessionMap | None,
    style_of_cluster: dict[uuid.UUID, int],
    width: int,
    height: int,
    theme: str,
) -> MapCanvas:
    """The map drawn by plotext at ``width`` x ``height`` cells with plotext theme ``theme``."""
    plt = Plot()
    plt.xticks([])
    plt.yticks([])
    plt.frame(True)
    for layer in layers_of(session_map, style_of_cluster, max(10, width), max(5, height)):
        marker, colour = terminal_style(layer.style)
        plt.scatter(layer.xs, layer.ys, marker=marker, color=_rgb(colour))
    limits = None
    if session_map is not None and len(session_map):
        low, high = session_map.xy.min(axis=0), session_map.xy.max(axis=0)
        # A margin, so no clip sits on the frame.
        pad_x = float(high[0] - low[0]) * 0.04 or 1.0
        pad_y = float(high[1] - low[1]) * 0.06 or 1.0
        limits = (
            float(low[0]) - pad_x,
            float(high[0]) + pad_x,
            float(low[1]) - pad_y,
            float(high[1]) + pad_y,
        )
        plt.xlim(limits[0], limits[1])
        plt.ylim(limits[2], limits[3])
    # As PlotextPlot.render does (size, theme), with a faster reading of its output.
    plt.plotsize(width, height)
    plt._set_size(width, height)
    plt.theme(theme)
    lines = ansi_to_lines(plt.build())
    inside = _frame_inside(lines)
    return MapCanvas(session_map, width, height, theme, [Strip(line) for line in lines], inside, limits)


def _frame_inside(lines: list[list[Segment]]) -> tuple[int, int, int, int] | None:
    """Where the inside of plotext's frame lies (left, top, width, height), read off the drawing."""
    texts = ["".join(segment.text for segment in line) for line in lines]
    tops = [i for i, text in enumerate(texts) if "┌" in text]
    bottoms = [i for i, text in enumerate(texts) if "└" in text]
    if not tops or not bottoms:
        return None
    top, bottom = tops[0], bottoms[-1]
    left, right = texts[top].index("┌"), texts[top].rindex("┐")
    if right - left < 2 or bottom - top < 2:
        return None
    return left + 1, top + 1, right - left - 1, bottom - top - 1


def _mark(line: Strip, column: int, marker: str) -> Strip:
    """``line`` with the cell at ``column`` replaced by ``marker`` in white over that cell's background."""
    before, cell, after = line.divide([column, column + 1, line.cell_length])
    under = next((segment.style for segment in cell if segment.style is not None), None)
    bgcolor = under.bgcolor if under is not None else None
    return Strip([*before, Segment(marker, Style(color=MARK_COLOUR, bgcolor=bgcolor)), *after])


class SessionMapPlot(PlotextPlot):
    """The plot: set ``show(...)`` and it redraws; ``mark(...)`` moves the marks only.

    Drawn through the line API: the canvas (``MapCanvas``, made here or handed over
    ready by ``show``) is turned into strips once per size, theme and marks."""

    DEFAULT_CSS = """
    SessionMapPlot { width: 1fr; height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session_map: SessionMap | None = None
        self.style_of_cluster: dict[uuid.UUID, int] = {}
        self.labels: dict[uuid.UUID, str] = {}
        self.selected: uuid.UUID | None = None
        self.playing: uuid.UUID | None = None
        self.canvas: MapCanvas | None = None
        self._strips: tuple[tuple[object, ...], list[Strip]] | None = None

    def show(
        self,
        session_map: SessionMap,
        styles: dict[uuid.UUID, int],
        labels: dict[uuid.UUID, str],
        canvas: MapCanvas | None = None,
    ) -> None:
        """Draw ``session_map``; ``canvas``, when given, is its drawing made beforehand (used if it fits)."""
        self.session_map, self.style_of_cluster, self.labels = session_map, styles, labels
        self.canvas = canvas if canvas is not None and canvas.session_map is session_map else None
        self.refresh()

    def mark(self, selected: uuid.UUID | None, playing: uuid.UUID | None) -> None:
        if (selected, playing) != (self.selected, self.playing):
            self.selected, self.playing = selected, playing
            self.refresh()

    def layers(self, width: int, height: int) -> list[MapLayer]:
        """What to draw, one layer per style in use, thinned to the canvas."""
        return layers_of(self.session_map, self.style_of_cluster, width, height)

    def current_canvas(self) -> MapCanvas:
        """The drawing at the widget's size and theme (drawn now if the one held does not fit)."""
        width, height, theme = self.size.width, self.size.height, plotext_theme(self.app)
        canvas = self.canvas
        if canvas is None or not canvas.fits(self.session_map, width, height, theme):
            canvas = self.canvas = draw_canvas(self.session_map, self.style_of_cluster, width, height, theme)
        return canvas

    def lines(self) -> list[Strip]:
        """The canvas with the playing clip and then the selected one marked, as strips."""
        canvas = self.current_canvas()
        width = self.size.width
        key = (canvas, self.selected, self.playing, width)
        if self._strips is not None and self._strips[0] == key:
            return self._strips[1]
        lines = list(canvas.lines)
        if self.session_map is not None:
            for track_id, marker in ((self.playing, PLAYING_MARKER), (self.selected, SELECTED_MARKER)):
                point = self.session_map.point(track_id) if track_id is not None else None
                cell = canvas.cell(point.x, point.y) if point is not None else None
                if cell is not None and cell[1] < len(lines):
                    lines[cell[1]] = _mark(lines[cell[1]], cell[0], marker)
        # plotext gives every cell its colours; only a canvas narrower than the widget is padded.
        base = Style(bgcolor=self.visual_style.rich_style.bgcolor)
        strips = [
            line if line.cell_length == width else line.adjust_cell_length(width, base) for line in lines
        ]
        self._strips = (key, strips)
        return strips

    def render_line(self, y: int) -> Strip:
        lines = self.lines()
        if 0 <= y < len(lines):
            return lines[y]
        return Strip.blank(self.size.width, self.visual_style.rich_style)
