"""The cluster tree keeps each line's measured width until its label or icon changes:
the tree's width follows a relabelled node, and one opened or closed."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from tui.widgets.cluster_tree import ClusterTree

pytestmark = pytest.mark.asyncio


class One(App[None]):
    def compose(self) -> ComposeResult:
        yield ClusterTree(id="tree")


async def test_widths_follow_labels_and_icons() -> None:
    app = One()
    async with app.run_test(size=(60, 10)) as pilot:
        tree = app.query_one(ClusterTree)
        short = tree.root.add_leaf(Text("short"))
        parent = tree.root.add(Text("a parent"))
        parent.add_leaf(Text("child"))
        tree.root.expand()
        await pilot.pause()
        assert tree.virtual_size.width == len(tree.ICON_NODE) + len("a parent")

        short.set_label(Text("a label much longer than the others"))
        tree.root.add_leaf(Text("x"))  # laid out again: every line measured
        await pilot.pause()
        assert tree.virtual_size.width == len("a label much longer than the others")
        assert tree.get_label_width(short) == len("a label much longer than the others")

        closed = tree.get_label_width(parent)
        parent.expand()
        await pilot.pause()
        opened = tree.get_label_width(parent)
        assert opened == len(tree.ICON_NODE_EXPANDED) + len("a parent")
        assert closed == len(tree.ICON_NODE) + len("a parent")
