"""Batches -> clusters -> tracks, with more-like batches under their parent cluster.

The widget, its bindings and its state's set-up; its parts beside it: the nodes and
their titles (``cluster_tree_nodes``), laying out (``_layout``), building (``_build``),
the clip filter (``_filter``) and finding by key (``_find``), over the state declared
once in ``cluster_tree_state``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from core.models import Batch
from tui.widgets.audition_keys import AUDITION_BINDINGS
from tui.widgets.cluster_tree_build import ClusterTreeBuild
from tui.widgets.cluster_tree_filter import ClusterTreeFilter
from tui.widgets.cluster_tree_find import ClusterTreeFind
from tui.widgets.cluster_tree_layout import ClusterTreeLayout
from tui.widgets.cluster_tree_nodes import NodeData
from tui.widgets.kept_lines import KeptLines
from tui.widgets.paint import StylePerPaint


# Its parts are mixins, not Widgets (see cluster_tree_state.py): Tree stays the first
# DOMNode base, so the tree keeps Tree's styles, and BINDINGS stay here.
class ClusterTree(
    ClusterTreeLayout,
    ClusterTreeBuild,
    ClusterTreeFilter,
    ClusterTreeFind,
    StylePerPaint,
    KeptLines,
    Tree[NodeData],
):
    """The lineage of a session's ideas.

    Batches come in the order they were made; a more-like batch hangs under the
    cluster it came from (its ``parent_cluster_id``), so following the tree down
    follows an idea as it was refined.

    The tree keeps the session it shows and grows with it: a batch that lands adds
    its own nodes (``add_batch``), the batch being made is one node (``set_pending``).
    Nodes are made when they are first shown: a batch starts closed with no nodes
    under it, and its clusters and clips are added when it is opened (``NodeExpanded``)
    or when something under it is selected (``select_key``), so opening a session of
    thousands of clips makes a node per batch, not per clip.

    A big session is shown before it is read whole: ``show_session`` takes the batches
    read so far with the order of all of them (``order``), and ``add_older`` puts the
    rest in their places as they are read, a chunk at a time.
    """

    BINDINGS = AUDITION_BINDINGS

    def __init__(self, *, id: str | None = None) -> None:
        self._quiet = 0  # > 0 while nodes are added in a burst: the tree is laid out once, after
        self._widths: dict[int, tuple[object, str, int]] = {}  # node id -> (label, icon, width)
        super().__init__(Text("Session"), id=id)
        self.show_root = False
        self.guide_depth = 3
        self.nodes_by_key: dict[str, TreeNode[NodeData]] = {}
        self._problems: dict[str, str] = {}
        self._filled: set[str] = set()  # keys of the nodes whose children have been added
        self._roots: list[Batch] = []  # batches at the top level, in the order made
        self._numbers: dict[uuid.UUID, int] = {}
        self._batches: dict[uuid.UUID, Batch] = {}
        self._batch_of_cluster: dict[uuid.UUID, Batch] = {}
        self._children: dict[uuid.UUID, list[Batch]] = defaultdict(list)  # cluster id -> more-like batches
        self._blends: dict[uuid.UUID, list[Batch]] = defaultdict(list)  # second parent id -> its blends
        self._track_clusters: dict[uuid.UUID, uuid.UUID] | None = None  # built on the first track lookup
        self._visible: Callable[[uuid.UUID], bool] | None = None  # the clip filter (None: every clip)
