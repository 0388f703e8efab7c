"""The session map drawn in the terminal with plotext (textual-plotext's canvas).

Each cluster keeps its colour and marker (core.maps.style_of); the selected clip
is a ring, the playing one a note. A terminal cell shows one character, so a
big session is thinned to one point per cell (the newest clip there) before
plotext sees it: 10,000 clips cost what a screenful of cells costs.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual_plotext import PlotextPlot

from core.maps import SessionMap, style_of
from core.text import shown_line

# plotext markers, one character each, matching core.maps.MARKERS in spirit.
TERMINAL_MARKERS = {"o": "•", "s": "■", "^": "▲", "D": "◆", "v": "▼", "P": "+", "*": "*", "X": "x"}
SELECTED_MARKER = "◉"
PLAYING_MARKER = "♪"
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


def ansi_to_text(ansi: str) -> Text:
    """plotext's canvas as a Text, several times faster than Text.from_ansi on a full
    canvas (it only has to know plotext's few sequences; any other falls back to it)."""
    text = Text(end="")
    style = Style.null()
    for i, line in enumerate(ansi.split("\n")):
        if i:
            text.append("\n")
        position = 0
        for match in _SGR.finditer(line):
            if match.start() > position:
                text.append(line[position : match.start()], style)
            change = _sgr_style(match.group(1))
            if change is None:
                return Text.from_ansi(ansi)
            style = Style.null() if change == Style.null() else style + change
            position = match.end()
        if position < len(line):
            text.append(line[position:], style)
    return text


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


class SessionMapPlot(PlotextPlot):
    """The plot: set ``show(...)`` and it redraws."""

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

    def show(
        self,
        session_map: SessionMap,
        styles: dict[uuid.UUID, int],
        labels: dict[uuid.UUID, str],
    ) -> None:
        self.session_map, self.style_of_cluster, self.labels = session_map, styles, labels
        self.refresh()

    def mark(self, selected: uuid.UUID | None, playing: uuid.UUID | None) -> None:
        if (selected, playing) != (self.selected, self.playing):
            self.selected, self.playing = selected, playing
            self.refresh()

    def layers(self, width: int, height: int) -> list[MapLayer]:
        """What to draw, one layer per style in use, thinned to the canvas."""
        if self.session_map is None:
            return []
        points = self.session_map.points
        keep = thin_to_cells(self.session_map.xy, width, height)
        by_style: dict[int, MapLayer] = {}
        for i in keep:
            p = points[i]
            style = self.style_of_cluster.get(p.cluster_id, 0)
            layer = by_style.get(style)
            if layer is None:
                layer = by_style[style] = MapLayer(style, [], [])
            layer.xs.append(p.x)
            layer.ys.append(p.y)
        return [by_style[s] for s in sorted(by_style)]

    def render(self) -> Text:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        width, height = max(10, self.size.width), max(5, self.size.height)
        # Layout of the plot itself; textual-plotext sizes it to the widget in render.
        plt.xticks([])
        plt.yticks([])
        plt.frame(True)
        for layer in self.layers(width, height):
            marker, colour = terminal_style(layer.style)
            plt.scatter(layer.xs, layer.ys, marker=marker, color=_rgb(colour))
        if self.session_map is not None and self.session_map.points:
            low, high = self.session_map.xy.min(axis=0), self.session_map.xy.max(axis=0)
            # A margin, so no clip sits on the frame.
            pad_x = float(high[0] - low[0]) * 0.04 or 1.0
            pad_y = float(high[1] - low[1]) * 0.06 or 1.0
            plt.xlim(float(low[0]) - pad_x, float(high[0]) + pad_x)
            plt.ylim(float(low[1]) - pad_y, float(high[1]) + pad_y)
            for track_id, marker in ((self.playing, PLAYING_MARKER), (self.selected, SELECTED_MARKER)):
                point = self.session_map.point(track_id) if track_id is not None else None
                if point is not None:
                    plt.scatter([point.x], [point.y], marker=marker, color=(255, 255, 255))
        # As PlotextPlot.render does (size, theme), with a faster reading of its output.
        plt.plotsize(self.size.width, self.size.height)
        plt._set_size(self.size.width, self.size.height)
        plt.theme(self._get_plotext_theme_name(self.app.theme))
        return ansi_to_text(plt.build())
