"""Batches -> clusters -> tracks, with more-like batches under their parent cluster."""

from __future__ import annotations

import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from core.models import BATCH_EXTEND, BATCH_IMPORT, BATCH_MORE, Batch, ClusterSummary, Session, Track
from core.text import shown_line
from tui.formatting import duration, plural, shorten, similarity
from tui.widgets.audition_keys import AUDITION_BINDINGS
from tui.widgets.kept_lines import KeptLines
from tui.widgets.paint import StylePerPaint


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


def blend_partner(batch: Batch) -> uuid.UUID | None:
    """A blend's second parent cluster (the first is the one it hangs under); None for
    any other batch."""
    return next((c.second_parent_cluster_id for c in batch.clusters if c.second_parent_cluster_id), None)


def batch_title(batch: Batch, number: int, partner: str | None = None) -> Text:
    """``partner``: for a blend, what its second parent is called ("" when unknown)."""
    label = Text(no_wrap=True)
    count = plural(len(batch.tracks), "clip")
    if batch.kind == BATCH_MORE and partner is not None:
        # It hangs under its first parent; the title names the other one.
        label.append(f"Blend with “{shown_line(partner)}”" if partner else "Blend", style="bold")
        label.append(f"  {count}", style="dim")
    elif batch.kind == BATCH_MORE:
        # It hangs under its parent cluster, whose label it repeats below.
        label.append("More like this", style="bold")
        label.append(f"  {count}", style="dim")
    elif batch.kind == BATCH_EXTEND:
        # It hangs under the cluster of the clip it continues.
        label.append("Extended", style="bold")
        label.append(f"  {duration(batch.params.duration_sec)}", style="dim")
    elif batch.kind == BATCH_IMPORT:
        label.append(f"Batch {number}", style="bold")
        label.append(f"  imported · {count}", style="dim")
    else:
        label.append(f"Batch {number}", style="bold")
        label.append(f"  {count}", style="dim")
    return label


def cluster_title(cluster: ClusterSummary, count: int, shown: int | None = None) -> Text:
    """``shown``: how many of its ``count`` clips the filter lets through (None: all);
    a cluster with none shown is dimmed (it stays, for its more-like batches and m)."""
    label = Text(no_wrap=True)
    if shown is not None and shown == 0:
        label.append(shown_line(cluster.label), style="dim")
        label.append(f" (0 of {count} shown)", style="dim")
        return label
    label.append(shown_line(cluster.label), style="bold")
    label.append(f" ({count})" if shown is None or shown == count else f" ({shown} of {count} shown)")
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


RECENT_BATCHES = 5  # a session opens with its latest batches open; older ones open on demand


class ClusterTree(StylePerPaint, KeptLines, Tree[NodeData]):
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

    # ------------------------------------------------------- laying it out

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

    # ------------------------------------------------------------ building

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

    # ------------------------------------------------------------- filtering

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

    def _open_with_parents(self, node: TreeNode[NodeData]) -> None:
        opened: TreeNode[NodeData] | None = node
        while opened is not None:
            self._fill(opened)
            if not opened.is_expanded and (opened.children or opened is self.root):
                opened.expand()
            opened = opened.parent

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        # Opened by a key or a click: its children are made now, the first time.
        if event.node.tree is self:
            self._fill(event.node)

    # ------------------------------------------------------------- finding

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
