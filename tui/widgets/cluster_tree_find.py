"""Finding and moving in the session tree (a mixin of ``ClusterTree``): nodes by key
("cluster:<id>", ...), made with those above them when not made yet; every batch or
cluster key in the order shown; the cursor moved to a key, and nodes opened with their
parents."""

from __future__ import annotations

import uuid

from textual.widgets.tree import TreeNode

from core.models import Batch
from tui.widgets.cluster_tree_nodes import NodeData
from tui.widgets.cluster_tree_state import ClusterTreeState


class ClusterTreeFind(ClusterTreeState):
    def _open_with_parents(self, node: TreeNode[NodeData]) -> None:
        opened: TreeNode[NodeData] | None = node
        while opened is not None:
            self._fill(opened)
            if not opened.is_expanded and (opened.children or opened is self.root):
                opened.expand()
            opened = opened.parent

    def _key_of(self, node: TreeNode[NodeData]) -> str:
        return "root" if node is self.root or node.data is None else node.data.key

    def _parent_key(self, key: str) -> str | None:
        """The key of the node a node hangs under, from the session (None: the top level
        or unknown)."""
        kind, _, text = key.partition(":")
        try:
            ident = uuid.UUID(text)
        except ValueError:
            return None
        if kind == "batch":
            batch = self._batches.get(ident)
            if batch is None or batch.parent_cluster_id not in self._batch_of_cluster:
                return None
            return f"cluster:{batch.parent_cluster_id}"
        if kind == "cluster":
            owner = self._batch_of_cluster.get(ident)
            return f"batch:{owner.id}" if owner is not None else None
        if kind == "track":
            if self._track_clusters is None:
                self._track_clusters = {t.id: t.cluster_id for b in self._batches.values() for t in b.tracks}
            cluster_id = self._track_clusters.get(ident)
            return f"cluster:{cluster_id}" if cluster_id is not None else None
        return None

    def ensure_key(self, key: str) -> TreeNode[NodeData] | None:
        """The node for a key ("cluster:<id>", ...), made (with those above it) if the
        session has it but it is not made yet; None if the session has no such thing."""
        node = self.nodes_by_key.get(key)
        if node is not None:
            return node
        parent_key = self._parent_key(key)
        if parent_key is None:
            return None
        parent = self.ensure_key(parent_key)
        if parent is None:
            return None
        self._fill(parent)
        return self.nodes_by_key.get(key)

    def keys_in_order(self, kind: str) -> list[str]:
        """Every batch ("batch") or cluster ("cluster") key of the session, in the order
        the tree shows them when open, whether or not their nodes are made yet."""
        keys: list[str] = []

        def visit(batch: Batch) -> None:
            if kind == "batch":
                keys.append(f"batch:{batch.id}")
            for cluster in sorted(batch.clusters, key=lambda c: c.position):
                if kind == "cluster":
                    keys.append(f"cluster:{cluster.id}")
                for child in self._children.get(cluster.id, ()):
                    visit(child)

        for batch in self._roots:
            visit(batch)
        return keys

    def first_key(self) -> str | None:
        """What to highlight when nothing was chosen: the first cluster, else the first node."""
        clusters = self.keys_in_order("cluster")
        if clusters:
            return clusters[0]
        return next(iter(self.nodes_by_key), None)

    def select_key(self, key: str) -> bool:
        """Move the cursor to a node by its key ("cluster:<id>", ...); False if absent."""
        node = self.ensure_key(key)
        if node is None:
            return False
        if node.parent is not None:
            self._open_with_parents(node.parent)
        _ = self._tree_lines  # lay the lines out now, so the node knows its line
        self.move_cursor(node)
        return True

    def toggle_cursor(self) -> None:
        """Open (its children made first, so no frame shows it empty) or close the node
        under the cursor."""
        node = self.cursor_node
        if node is None or not node.allow_expand:
            return
        if node.is_expanded:
            node.collapse()
        else:
            self._fill(node)
            node.expand()

    @property
    def highlighted(self) -> NodeData | None:
        node = self.cursor_node
        return node.data if node is not None else None
