"""The cluster tree draws a line again only when what it shows changed: lines moved by
nodes added above them, or untouched by a node added out of view, are not drawn again,
and every line shows exactly what Textual's Tree draws (its click meta included)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rich.segment import Segment
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import Tree

from tui.widgets.cluster_tree import ClusterTree

pytestmark = pytest.mark.asyncio


DRAW = Tree._render_line  # Textual's own, uncounted


class One(App[None]):
    def compose(self) -> ComposeResult:
        yield ClusterTree(id="tree")


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The line numbers Textual's Tree draws (from scratch or from its own cache)."""
    lines: list[int] = []
    real = Tree._render_line

    def counted(self: Tree[object], y: int, *args: object) -> object:
        lines.append(y)
        return real(self, y, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Tree, "_render_line", counted)
    yield lines


def shown(tree: ClusterTree) -> list[list[Segment]]:
    strips = tree.render_lines(Region(0, 0, tree.size.width, tree.size.height))
    return [list(strip) for strip in strips]


def drawn_afresh(tree: ClusterTree) -> list[list[Segment]]:
    """The lines in view as Textual's Tree draws them, with nothing kept."""
    tree._line_cache.clear()
    tree._pseudo_class_state = tree.get_pseudo_class_state()
    style = tree.rich_style
    scroll_x, scroll_y = tree.scroll_offset
    width = tree.size.width
    return [
        list(DRAW(tree, y + scroll_y, scroll_x, scroll_x + width, style)) for y in range(tree.size.height)
    ]


async def test_lines_are_drawn_again_only_where_they_changed(drawn: list[int]) -> None:
    app = One()
    async with app.run_test(size=(50, 12)) as pilot:
        tree = app.query_one(ClusterTree)
        tree.focus()
        leaves = [tree.root.add_leaf(Text(f"clip {i}")) for i in range(30)]
        parent = tree.root.add(Text("a batch"))
        parent.add_leaf(Text("its clip"))
        parent.expand()
        tree.root.expand()
        await pilot.pause()
        tree.move_cursor(leaves[3])
        await pilot.pause()
        height = tree.size.height
        first = shown(tree)
        assert first == drawn_afresh(tree)

        # A node added out of view: nothing in view is drawn again.
        drawn.clear()
        tree.root.add_leaf(Text("a wider label, still narrower than the tree"))
        await pilot.pause()
        assert shown(tree) == first
        # (The cursor's line may be: Textual's Tree marks its node selected again at every layout.)
        assert set(drawn) <= {tree.cursor_line}

        # Ten nodes added above, the view kept on the same nodes: the lines moved are not
        # drawn again, only given their new numbers (a click still finds its line).
        drawn.clear()
        for i in range(10):
            tree.root.add_leaf(Text(f"older {i}"), before=i)
        tree.scroll_to(y=tree.scroll_y + 10, animate=False)
        await pilot.pause()
        assert tree.cursor_line == 13 and tree.scroll_offset.y == 10
        moved = shown(tree)
        assert set(drawn) <= {tree.cursor_line}
        assert moved == drawn_afresh(tree)
        assert [s.text for s in first[0]] == [s.text for s in moved[0]]
        assert moved[0][0].style is not None and moved[0][0].style.meta["line"] == 10

        # One label changed: that line alone is drawn again.
        drawn.clear()
        leaves[5].set_label(Text("renamed"))
        await pilot.pause()
        relabelled = shown(tree)
        assert set(drawn) == {15}
        assert relabelled == drawn_afresh(tree)

        # The cursor moved: the two lines it left and reached.
        drawn.clear()
        tree.move_cursor(leaves[4])
        await pilot.pause()
        cursor_moved = shown(tree)
        assert set(drawn) == {13, 14}
        assert cursor_moved == drawn_afresh(tree)

        # The focus gone: every line's look changed, every line drawn again.
        drawn.clear()
        tree.blur()
        await pilot.pause()
        blurred = shown(tree)
        assert sorted(set(drawn)) == list(range(10, 10 + height))
        assert blurred == drawn_afresh(tree)


async def test_an_empty_tree_is_not_laid_out_again_when_resized(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shown empty while a session is read, a resize asks nothing of the screen (Tree's
    own handler asks for a second layout right after the one that resized it); a tree
    with lines is laid out again as Tree does."""
    invalidated: list[int] = []
    real = Tree._invalidate

    def counted(self: Tree[object]) -> None:
        invalidated.append(len(self.root.children))
        real(self)

    monkeypatch.setattr(Tree, "_invalidate", counted)
    app = One()
    async with app.run_test(size=(50, 12)) as pilot:
        tree = app.query_one(ClusterTree)
        await pilot.pause()
        invalidated.clear()
        await pilot.resize_terminal(60, 14)
        await pilot.pause()
        assert tree.size.height == 14 and invalidated == []

        tree.root.add_leaf(Text("a clip"))
        await pilot.pause()
        invalidated.clear()
        await pilot.resize_terminal(50, 12)
        await pilot.pause()
        assert tree.size.height == 12 and invalidated and set(invalidated) == {1}
        assert [s.text for s in shown(tree)[0]] == [s.text for s in drawn_afresh(tree)[0]]
