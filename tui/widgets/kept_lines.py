"""A Tree's lines drawn once per look, not once per change anywhere in the tree.

Textual's Tree keeps the lines it has drawn by their line number and forgets them all
whenever any node is added, removed, opened or closed: the session tree then draws
every line in view again (some 30 lines, 10-15 ms of the event loop) when a batch
lands far below them, when the batch being made gets its node, or when a chunk of
older batches is read in above them. Here a drawn line is also kept by what it shows:
the nodes on its path (each with its own count of changes, and whether it is the last
of its siblings, which decides its guides), whether it is the line under the cursor
or the mouse, the widget's width (and the width lines are padded to: the widest line's
when that is wider), style and focus. A line shown again with the same
look is not drawn again; moved to another line number, it only gets the new number
in its mouse meta (what a click reads to find the line).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.strip import Strip

if TYPE_CHECKING:
    from textual.widgets import Tree

    _Base = Tree[Any]
else:
    _Base = object

KEPT_LINES = 1024  # looks kept (grown to the height of the widget if it is taller)


def _renumbered(strip: Strip, y: int) -> Strip:
    """The strip with ``y`` as the line number in its meta (over the one it was drawn with)."""
    line = Style(meta={"line": y})
    return Strip(Segment.apply_style(strip, post_style=line), strip.cell_length)


class KeptLines(_Base):
    """Put before Tree in the bases: ``class T(KeptLines, Tree)``."""

    _kept_lines: LRUCache[tuple[object, ...], tuple[Strip, int]] | None = None
    _look_generation = 0  # bumped when the widget's component styles may have changed

    def _kept(self) -> LRUCache[tuple[object, ...], tuple[Strip, int]]:
        if self._kept_lines is None:
            self._kept_lines = LRUCache(max(KEPT_LINES, self.size.height))
        return self._kept_lines

    def _look_of(self, y: int, base_style: Style) -> tuple[object, ...] | None:
        """What line ``y`` shows, as a key (None: no such line)."""
        lines = self._tree_lines
        if y >= len(lines):
            return None
        line = lines[y]
        path = line.path
        return (
            tuple((node._id, node._updates, node.is_last) for node in path),
            line.last,
            self.hover_line >= 0 and any(node._hover for node in path),
            self.hover_line == y,
            self.cursor_line == y,
            self.has_focus,
            self.size.width,
            max(self.virtual_size.width, self.size.width),  # the width lines are padded to
            self.show_guides,
            self.guide_depth,
            self._pseudo_class_state,
            base_style,
            self._look_generation,
        )

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        look = self._look_of(y, base_style)
        if look is None:
            return super()._render_line(y, x1, x2, base_style)
        kept = self._kept()
        found = kept.get(look)
        if found is None:
            whole = max(self.virtual_size.width, self.size.width)
            strip = super()._render_line(y, 0, whole, base_style)
        else:
            strip, drawn_at = found
            if drawn_at == y:
                return strip.crop(x1, x2)
            strip = _renumbered(strip, y)
        kept.set(look, (strip, y))
        return strip.crop(x1, x2)

    def notify_style_update(self) -> None:
        self._look_generation += 1
        super().notify_style_update()
