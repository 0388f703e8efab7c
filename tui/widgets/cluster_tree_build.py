"""Building the session tree (a mixin of ``ClusterTree``): a session shown, batches added
as they land or as older ones are read, the batch being made, clip problems noted; and
each node's children made the first time it is opened or something under it is wanted.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from core.models import Batch, ClusterSummary, Session, Track
from core.text import shown_line
from tui.formatting import shorten
from tui.widgets.cluster_tree_nodes import (
    BatchNode,
    ClusterNode,
    NodeData,
    PendingNode,
    TrackNode,
    batch_title,
    blend_partner,
    cluster_title,
    cluster_tracks,
    track_title,
)
from tui.widgets.cluster_tree_state import ClusterTreeState

RECENT_BATCHES = 5  # a session opens with its latest batches open; older ones open on demand


class ClusterTreeBuild(ClusterTreeState):
    def show_session(
        self,
        session: Session | None,
        problems: dict[str, str] | None = None,
        *,
        open_recent: int = RECENT_BATCHES,
        order: Sequence[uuid.UUID] | None = None,
    ) -> None:
        """Show a session: a node per top-level batch; the latest ``open_recent`` batches
        open (with the nodes above them), the rest closed until opened.

        ``problems``: track id -> why its file cannot be played, noted on its line.
        ``order``: every batch id of the session in the order made, when ``session``
        holds only some of them (the others come through ``add_older``); numbers
        batches ("Batch 12") by it.
        """
        with self._building():
            self._show(session, problems, open_recent, order)

    def _show(
        self,
        session: Session | None,
        problems: dict[str, str] | None,
        open_recent: int,
        order: Sequence[uuid.UUID] | None,
    ) -> None:
        self.clear()
        self._widths = {}
        self.nodes_by_key = {}
        self._filled = set()
        self._roots = []
        self._numbers = {batch_id: number for number, batch_id in enumerate(order or (), 1)}
        self._batches = {}
        self._batch_of_cluster = {}
        self._children = defaultdict(list)
        self._blends = defaultdict(list)
        self._track_clusters = None
        self._problems = dict(problems or {})
        if session is not None:
            self.root.set_label(Text(shorten(session.title, 60)))
            for batch in session.batches:
                self._index(batch)
            for batch in self._roots:
                self._add_batch_node(self.root, batch)
            for batch in session.batches[-open_recent:] if open_recent > 0 else []:
                node = self.ensure_key(f"batch:{batch.id}")
                if node is not None:
                    self._open_with_parents(node)
        self._filled.add("root")
        self.root.expand()

    def add_batch(self, batch: Batch, problems: dict[str, str] | None = None) -> TreeNode[NodeData] | None:
        """A batch that landed in the session shown: its nodes are added, opened; no other
        node is touched."""
        if problems:
            self._problems.update(problems)
        self._index(batch)
        parent_key = self._parent_key(f"batch:{batch.id}")
        parent = self.root if parent_key is None else self.nodes_by_key.get(parent_key)
        if parent is None or self._key_of(parent) not in self._filled:
            # Its parent's children are not made yet: they will include it when they are.
            node = self.ensure_key(f"batch:{batch.id}")
        else:
            node = self._add_batch_node(parent, batch)
        if node is not None:
            self._open_with_parents(node)
        return node

    def add_older(self, batches: Iterable[Batch], problems: dict[str, str] | None = None) -> None:
        """Batches of the session shown that were not read when it was shown (given in
        the order made, each after the batch it came from): each is put in its place,
        closed; no other node is touched, and the highlighted one stays in view."""
        if problems:
            self._problems.update(problems)
        cursor = self.cursor_node
        line = cursor.line if cursor is not None else -1
        with self._building():
            for batch in batches:
                if batch.id in self._batches:
                    continue
                index = self._index(batch)
                parent_key = self._parent_key(f"batch:{batch.id}")
                parent = self.root if parent_key is None else self.nodes_by_key.get(parent_key)
                if parent is None or self._key_of(parent) not in self._filled:
                    continue  # made with its parent's children, when they are
                if parent is not self.root:  # a cluster's clips come before its more-like batches
                    index += sum(1 for child in parent.children if isinstance(child.data, TrackNode))
                self._add_batch_node(parent, batch, before=index)
        if cursor is not None and line >= 0:
            _ = self._tree_lines  # laid out now: the node's new line
            moved = cursor.line - line  # lines added above it
            if moved:
                self.set_scroll(None, self.scroll_y + moved)

    def mark_problems(self, problems: dict[str, str]) -> None:
        """Note on their lines the clips whose files cannot be played (nodes made later
        read them as they are made)."""
        self._problems.update(problems)
        for key, problem in problems.items():
            node = self.nodes_by_key.get(f"track:{key}")
            if node is not None and isinstance(node.data, TrackNode):
                node.set_label(track_title(node.data.track, problem))

    def set_pending(self, title: str, under: str | None = None) -> TreeNode[NodeData]:
        """The batch being made, as one node (under ``under``'s node, if given)."""
        self.clear_pending()
        parent = self.ensure_key(under) if under is not None else None
        if parent is None:
            parent = self.root
        self._fill(parent)
        data = PendingNode(title)
        node = parent.add_leaf(Text(f"◌ {shown_line(title)}…", style="italic"), data=data)
        self.nodes_by_key[data.key] = node
        self._open_with_parents(parent)
        return node

    def clear_pending(self) -> None:
        node = self.nodes_by_key.pop("pending", None)
        if node is not None:
            node.remove()

    def _index(self, batch: Batch) -> int:
        """Note a batch and where it hangs; return its index among the batches there
        (they are kept in the order made, whichever order they are read in)."""
        number = self._numbers.setdefault(batch.id, len(self._numbers) + 1)
        self._batches[batch.id] = batch
        parent = batch.parent_cluster_id
        if parent is not None and parent in self._batch_of_cluster:
            siblings = self._children[parent]
        else:
            siblings = self._roots
        index = bisect_left(siblings, number, key=lambda b: self._numbers[b.id])
        siblings.insert(index, batch)
        for cluster in batch.clusters:
            self._batch_of_cluster[cluster.id] = batch
            self._retitle_blends(cluster.id)  # blends of it read before it: named now
        partner = blend_partner(batch)
        if partner is not None:
            self._blends[partner].append(batch)
        if self._track_clusters is not None:
            self._track_clusters.update((t.id, t.cluster_id) for t in batch.tracks)
        return index

    def _add_batch_node(
        self, parent: TreeNode[NodeData], batch: Batch, *, before: int | None = None
    ) -> TreeNode[NodeData]:
        data = BatchNode(batch, self._numbers[batch.id])
        node = parent.add(
            self._batch_label(batch, data.number), data=data, before=before, allow_expand=bool(batch.clusters)
        )
        self.nodes_by_key[data.key] = node
        return node

    def _batch_label(self, batch: Batch, number: int) -> Text:
        partner = blend_partner(batch)
        if partner is None:
            return batch_title(batch, number)
        owner = self._batch_of_cluster.get(partner)
        cluster = owner.cluster(partner) if owner is not None else None
        return batch_title(batch, number, cluster.label if cluster is not None else "")

    def _retitle_blends(self, cluster_id: uuid.UUID) -> None:
        """The titles of the blends made with this cluster as second parent (made nodes only)."""
        for batch in self._blends.get(cluster_id, ()):
            node = self.nodes_by_key.get(f"batch:{batch.id}")
            if node is not None:
                node.set_label(self._batch_label(batch, self._numbers[batch.id]))

    def _fill(self, node: TreeNode[NodeData]) -> None:
        """Add a node's children, once: a batch's clusters (each open, with its clips), a
        cluster's clips and the more-like batches made from it (closed)."""
        key = self._key_of(node)
        if key in self._filled:
            return
        self._filled.add(key)
        with self._building():
            self._add_children(node)

    def _add_children(self, node: TreeNode[NodeData]) -> None:
        data = node.data
        if isinstance(data, BatchNode):
            for cluster in sorted(data.batch.clusters, key=lambda c: c.position):
                cluster_data = ClusterNode(data.batch, cluster)
                cluster_node = node.add(self._cluster_label(data.batch, cluster), data=cluster_data)
                self.nodes_by_key[cluster_data.key] = cluster_node
                self._fill(cluster_node)
                cluster_node.expand()
        elif isinstance(data, ClusterNode):
            batch, cluster = data.batch, data.cluster
            self._add_tracks(node, batch, cluster)
            for child in self._children.get(cluster.id, ()):
                self._add_batch_node(node, child)

    def _shown_tracks(self, batch: Batch, cluster: ClusterSummary) -> list[Track]:
        tracks = cluster_tracks(batch, cluster)
        visible = self._visible
        return tracks if visible is None else [t for t in tracks if visible(t.id)]

    def _cluster_label(self, batch: Batch, cluster: ClusterSummary) -> Text:
        count = len(cluster.track_ids)
        if self._visible is None:
            return cluster_title(cluster, count)
        return cluster_title(cluster, count, len(self._shown_tracks(batch, cluster)))

    def _add_tracks(self, node: TreeNode[NodeData], batch: Batch, cluster: ClusterSummary) -> None:
        """A cluster's clips that the filter lets through, first under its node, in order."""
        for index, track in enumerate(self._shown_tracks(batch, cluster)):
            track_data = TrackNode(batch, cluster, track)
            label = track_title(track, self._problems.get(str(track.id)))
            self.nodes_by_key[track_data.key] = node.add_leaf(label, data=track_data, before=index)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        # Opened by a key or a click: its children are made now, the first time.
        if event.node.tree is self:
            self._fill(event.node)
