"""What the session tree's nodes hold (a batch, a cluster, a clip, the batch being made)
and the titles drawn on their lines; the tree itself is ``tui.widgets.cluster_tree``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from rich.text import Text

from core.models import BATCH_EXTEND, BATCH_IMPORT, BATCH_MORE, Batch, ClusterSummary, Track
from core.text import shown_line
from tui.formatting import duration, plural, similarity


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
