"""Batches -> clusters -> tracks, with more-like batches under their parent cluster."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from core.models import BATCH_IMPORT, BATCH_MORE, Batch, ClusterSummary, Session, Track
from core.text import shown_line
from tui.formatting import duration, plural, shorten, similarity
from tui.widgets.audition_keys import AUDITION_BINDINGS


@dataclass(frozen=True)
class BatchNode:
    batch: Batch
    number: int  # 1-based, in the order batches were made

    @property
    def key(self) -> str:
        return f"batch:{self.batch.id}"


@dataclass(frozen=True)
class ClusterNode:
    batch: Batch
    cluster: ClusterSummary

    @property
    def key(self) -> str:
        return f"cluster:{self.cluster.id}"


@dataclass(frozen=True)
class TrackNode:
    batch: Batch
    cluster: ClusterSummary
    track: Track

    @property
    def key(self) -> str:
        return f"track:{self.track.id}"


@dataclass(frozen=True)
class PendingNode:
    """The batch being made: its clips are playable as soon as they are rendered."""

    title: str

    @property
    def key(self) -> str:
        return "pending"


NodeData = BatchNode | ClusterNode | TrackNode | PendingNode


def cluster_tracks(batch: Batch, cluster: ClusterSummary) -> list[Track]:
    members = set(cluster.track_ids)
    return sorted((t for t in batch.tracks if t.id in members), key=lambda t: t.position)


def batch_title(batch: Batch, number: int) -> Text:
    label = Text(no_wrap=True)
    count = plural(len(batch.tracks), "clip")
    if batch.kind == BATCH_MORE:
        # It hangs under its parent cluster, whose label it repeats below.
        label.append("More like this", style="bold")
        label.append(f"  {count}", style="dim")
    elif batch.kind == BATCH_IMPORT:
        label.append(f"Batch {number}", style="bold")
        label.append(f"  imported · {count}", style="dim")
    else:
        label.append(f"Batch {number}", style="bold")
        label.append(f"  {count}", style="dim")
    return label


def cluster_title(cluster: ClusterSummary, count: int) -> Text:
    label = Text(no_wrap=True)
    label.append(shown_line(cluster.label), style="bold")
    label.append(f" ({count})")
    return label


def track_title(track: Track, problem: str | None = None) -> Text:
    label = Text(no_wrap=True)
    label.append(f"#{track.position + 1}")
    label.append(f"  {duration(track.duration_sec)}", style="dim")
    if track.similarity is not None:
        label.append(f"  {similarity(track.similarity)}", style="dim")
    if problem:
        label.append(f"  {problem}", style="dim italic")
    return label


class ClusterTree(Tree[NodeData]):
    """The lineage of a session's ideas.

    Batches come in the order they were made; a more-like batch hangs under the
    cluster it came from (its ``parent_cluster_id``), so following the tree down
    follows an idea as it was refined.
    """

    BINDINGS = AUDITION_BINDINGS

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("Session"), id=id)
        self.show_root = False
        self.guide_depth = 3
        self.nodes_by_key: dict[str, TreeNode[NodeData]] = {}
        self._problems: dict[str, str] = {}

    def show_session(
        self,
        session: Session | None,
        pending: str | None = None,
        pending_under: str | None = None,
        problems: dict[str, str] | None = None,
    ) -> None:
        """Rebuild from a session, and the batch being made (under ``pending_under``'s node, if given).

        ``problems``: track id -> why its file cannot be played, noted on its line.
        """
        self.clear()
        self.nodes_by_key = {}
        self._problems = problems or {}
        if session is not None:
            self.root.set_label(Text(shorten(session.title, 60)))
            children: dict[object, list[Batch]] = defaultdict(list)
            known_clusters = {c.id for c in session.clusters}
            roots: list[Batch] = []
            for batch in session.batches:
                if batch.parent_cluster_id is not None and batch.parent_cluster_id in known_clusters:
                    children[batch.parent_cluster_id].append(batch)
                else:
                    roots.append(batch)
            numbers = {b.id: i + 1 for i, b in enumerate(session.batches)}
            for batch in roots:
                self._add_batch(self.root, batch, numbers, children)
        if pending is not None:
            data = PendingNode(pending)
            parent = self.nodes_by_key.get(pending_under or "", self.root)
            node = parent.add_leaf(Text(f"◌ {shown_line(pending)}…", style="italic"), data=data)
            self.nodes_by_key[data.key] = node
        self.root.expand()

    def _add_batch(
        self,
        parent: TreeNode[NodeData],
        batch: Batch,
        numbers: dict[object, int],
        children: dict[object, list[Batch]],
    ) -> None:
        data = BatchNode(batch, numbers[batch.id])
        batch_node = parent.add(batch_title(batch, data.number), data=data, expand=True)
        self.nodes_by_key[data.key] = batch_node
        for cluster in sorted(batch.clusters, key=lambda c: c.position):
            tracks = cluster_tracks(batch, cluster)
            cluster_data = ClusterNode(batch, cluster)
            cluster_node = batch_node.add(cluster_title(cluster, len(tracks)), data=cluster_data, expand=True)
            self.nodes_by_key[cluster_data.key] = cluster_node
            for track in tracks:
                track_data = TrackNode(batch, cluster, track)
                label = track_title(track, self._problems.get(str(track.id)))
                self.nodes_by_key[track_data.key] = cluster_node.add_leaf(label, data=track_data)
            for child in children.get(cluster.id, []):
                self._add_batch(cluster_node, child, numbers, children)

    def select_key(self, key: str) -> bool:
        """Move the cursor to a node by its key ("cluster:<id>", ...); False if absent."""
        node = self.nodes_by_key.get(key)
        if node is None:
            return False
        parent = node.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        _ = self._tree_lines  # lay the lines out now, so the node knows its line
        self.move_cursor(node)
        return True

    @property
    def highlighted(self) -> NodeData | None:
        node = self.cursor_node
        return node.data if node is not None else None
