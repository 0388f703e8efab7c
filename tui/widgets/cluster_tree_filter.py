"""The session tree's clip filter (a mixin of ``ClusterTree``): which clips it shows,
applied to the nodes made (``refilter``) and to those made later; and cluster titles
shown again when a cluster is renamed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from core.models import ClusterSummary
from tui.widgets.cluster_tree_nodes import ClusterNode, TrackNode
from tui.widgets.cluster_tree_state import ClusterTreeState


class ClusterTreeFilter(ClusterTreeState):
    def set_filter(self, visible: Callable[[uuid.UUID], bool] | None) -> None:
        """Which clips the tree shows (by track id); applied to the nodes made now by
        ``refilter``, and to those made later as they are made."""
        self._visible = visible

    def refilter(self, cluster_ids: Iterable[uuid.UUID] | None = None) -> None:
        """Show again the clips of the clusters given (None: every cluster made) as the
        filter says, and their titles; nothing else is touched. The cursor, if it was on
        a clip now hidden, moves to its cluster."""
        if cluster_ids is None:
            keys = [k for k in self.nodes_by_key if k.startswith("cluster:")]
        else:
            keys = [f"cluster:{c}" for c in cluster_ids]
        cursor = self.cursor_node
        cursor_key = self._key_of(cursor) if cursor is not None else None
        with self._building():
            for key in keys:
                node = self.nodes_by_key.get(key)
                if node is None or not isinstance(node.data, ClusterNode):
                    continue
                batch, cluster = node.data.batch, node.data.cluster
                node.set_label(self._cluster_label(batch, cluster))
                if key not in self._filled:
                    continue  # its clips are made, filtered, when it is filled
                made = [child for child in node.children if isinstance(child.data, TrackNode)]
                if [t.id for t in self._shown_tracks(batch, cluster)] == [c.data.track.id for c in made]:  # type: ignore[union-attr]
                    continue  # unchanged: its nodes stay as they are
                for child in made:
                    self.nodes_by_key.pop(child.data.key, None)  # type: ignore[union-attr]
                    child.remove()
                self._add_tracks(node, batch, cluster)
        if cursor is None or cursor_key is None or cursor_key == "root":
            return
        # Back on the same clip's new node, or its cluster when the clip is hidden.
        node = self.nodes_by_key.get(cursor_key)
        if node is None:
            parent = self._parent_key(cursor_key)
            node = self.nodes_by_key.get(parent) if parent is not None else None
        if node is not None and node is not cursor:
            _ = self._tree_lines
            self.move_cursor(node)

    def refilter_clip(self, track_id: uuid.UUID) -> None:
        """One clip's marks changed: its cluster shows its clips again (if made)."""
        cluster = self._parent_key(f"track:{track_id}")
        if cluster is not None:
            self.refilter([uuid.UUID(cluster.partition(":")[2])])

    def relabel_cluster(self, cluster: ClusterSummary) -> None:
        """The cluster's title again (it was renamed), if its node is made."""
        node = self.nodes_by_key.get(f"cluster:{cluster.id}")
        if node is not None and isinstance(node.data, ClusterNode):
            node.set_label(self._cluster_label(node.data.batch, cluster))
        self._retitle_blends(cluster.id)
