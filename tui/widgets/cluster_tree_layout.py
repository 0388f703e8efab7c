"""Laying the session tree out (a mixin of ``ClusterTree``): many nodes added under one
layout, an empty tree kept still when resized, and each line's width measured without
rendering its label, and kept until its label or icon changes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets.tree import TreeNode

from tui.widgets.cluster_tree_nodes import NodeData
from tui.widgets.cluster_tree_state import ClusterTreeState


class ClusterTreeLayout(ClusterTreeState):
    @contextmanager
    def _building(self) -> Iterator[None]:
        """Add many nodes, lay the tree out once (Tree lays it out again at every add)."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1
            if not self._quiet:
                self._invalidate()

    def _invalidate(self) -> None:
        if not self._quiet:
            super()._invalidate()

    def _on_resize(self, event: events.Resize) -> None:
        """An empty tree (shown while a session is read) keeps still when resized: Tree's
        own handler lays it out again, which asks the screen for a second layout just
        after the frame that resized it (drawn already at its new size), and that frame
        waits for the next free frame slot: 30-40 ms of opening a session for nothing."""
        if not self.root.children:
            self._line_cache.grow(event.size.height)
            event.prevent_default()

    def get_label_width(self, node: TreeNode[NodeData]) -> int:
        # Measured without rendering (Tree renders every label to measure it, each layout),
        # and kept until the node's label or icon changes: every layout measures every
        # line (some 2,000 at the top of a session of 10,000 clips).
        icon = ""
        if node.allow_expand:
            icon = self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE
        label = node.label
        known = self._widths.get(node.id)
        if known is not None and known[0] is label and known[1] == icon:
            return known[2]
        width = cell_len(icon) + (label.cell_len if isinstance(label, Text) else cell_len(str(label)))
        self._widths[node.id] = (label, icon, width)
        return width
