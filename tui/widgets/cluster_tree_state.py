"""What the session tree's parts share: the one declaration of the state its mixins
(layout, building, filtering, finding) read and write. ``ClusterTree.__init__`` sets it up;
each mixin subclasses this instead of declaring it again.

Not a Widget at run time (as ``tui.widgets.paint``): Textual's CSS follows the first
DOMNode base, which stays the widget's own class (Tree's styles, not a bare Widget's).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.models import Batch
from tui.widgets.cluster_tree_nodes import NodeData

if TYPE_CHECKING:
    from textual.widgets import Tree
    from textual.widgets.tree import TreeNode

    _Base = Tree[NodeData]
else:
    _Base = object


class ClusterTreeState(_Base):
    _quiet: int  # > 0 while nodes are added in a burst: the tree is laid out once, after
    _widths: dict[int, tuple[object, str, int]]  # node id -> (label, icon, width)
    nodes_by_key: dict[str, TreeNode[NodeData]]
    _problems: dict[str, str]  # track id -> why its file cannot be played
    _filled: set[str]  # keys of the nodes whose children have been added
    _roots: list[Batch]  # batches at the top level, in the order made
    _numbers: dict[uuid.UUID, int]  # batch id -> its number, in the order made
    _batches: dict[uuid.UUID, Batch]
    _batch_of_cluster: dict[uuid.UUID, Batch]
    _children: dict[uuid.UUID, list[Batch]]  # cluster id -> more-like batches
    _blends: dict[uuid.UUID, list[Batch]]  # second parent id -> its blends
    _track_clusters: dict[uuid.UUID, uuid.UUID] | None  # built on the first track lookup
    _visible: Callable[[uuid.UUID], bool] | None  # the clip filter (None: every clip)
