"""One widget style per repaint, not one per line.

Tree and DataTable read ``rich_style`` for every line they render, and Textual
computes it afresh each time by walking the widget's ancestors (their
backgrounds, tints, colours, opacity): for the session tree and track list a
good part of each repaint. The style cannot change in the middle of a repaint,
so here it is computed once when the repaint starts and read from there until
it ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip

if TYPE_CHECKING:
    from textual.widget import Widget

    _Base = Widget
else:
    _Base = object


class StylePerPaint(_Base):
    """Put before the widget's class in the bases: ``class T(StylePerPaint, Tree)``.

    Not a Widget itself at run time: Textual's CSS follows the first DOMNode base,
    which stays the widget's class (Tree's styles, not a bare Widget's)."""

    _paint_style: Style | None = None

    @property
    def rich_style(self) -> Style:
        style = self._paint_style
        return super().rich_style if style is None else style

    def render_lines(self, crop: Region) -> list[Strip]:
        self._paint_style = super().rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._paint_style = None
