"""The session screen's scope: what the tree highlights, the list of its clips (rows,
their waveforms), the selection kept when the session is left, and the clip or cluster
under the cursor that the keys act on.

A base class of SessionScreen (see ``session.py``). It relies on the other bases'
hooks (``visible_rows``, ``scope_note``, ``row_curation``, ``_sync_bindings``).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from textual import on, work
from textual.content import Content
from textual.widgets import DataTable, Static, Tree
from textual.worker import get_current_worker

from core.models import Batch, Track
from core.text import shown_line
from tui.formatting import plural, shorten
from tui.jobs import GenerationJob
from tui.messages import WaveformReady
from tui.screens.session_state import SessionState
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.cluster_tree_nodes import (
    BatchNode,
    ClusterNode,
    NodeData,
    PendingNode,
    TrackNode,
    blend_partner,
    cluster_tracks,
)
from tui.widgets.track_table import TrackRow, TrackTable


class SessionScope(SessionState):
    def _show_pending(self, job: GenerationJob) -> None:
        """The batch being made: one node (under its parent cluster for more-like)."""
        under = f"cluster:{job.cluster_id}" if job.kind in ("more", "extend") else None
        self.query_one("#tree", ClusterTree).set_pending(job.title, under)

    def _reselect(self, select: str | None = None, *, list_it: bool = True) -> None:
        """Highlight ``select`` (made if not yet), else the first cluster; list its clips
        (``list_it`` False: ``select``'s are listed, or will be, by the caller)."""
        tree = self.query_one("#tree", ClusterTree)
        if select is None or not tree.select_key(select):
            list_it = list_it or select is not None  # not found: what is highlighted instead
            chosen = tree.first_key()
            if chosen is not None:
                tree.select_key(chosen)
        if list_it:
            self._show_scope(tree.highlighted, force=True)
        empty = self.query_one("#session-empty", Static)
        nothing = self.session is None and self.job is None  # no batch being made (or ending)
        empty.display = nothing
        if nothing:
            empty.update(
                Content("Nothing was stored for this brief. Press b to write it again, or q to go back.")
            )
        self._sync_bindings()

    def _remember_selection(self) -> None:
        if self.session is None:
            return
        data = self.query_one("#tree", ClusterTree).highlighted
        if data is not None and not isinstance(data, PendingNode):
            self.app.selection_memory[self.session.id] = data.key

    @on(Tree.NodeHighlighted, "#tree")
    def _node_highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        if self.settling:
            return  # listed by a step of its own (and checked again when settled)
        self._show_scope(event.node.data)
        self._sync_bindings()

    @on(Tree.NodeSelected, "#tree")
    def _node_selected(self, event: Tree.NodeSelected[NodeData]) -> None:
        # The tree's own Enter (a mouse click); keyboard Enter is the screen's play.
        if isinstance(event.node.data, TrackNode):
            self._play_current()

    @on(DataTable.RowHighlighted, "#tracks")
    def _row_highlighted(self) -> None:
        self._sync_bindings()

    @on(DataTable.RowSelected, "#tracks")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self._play_current()

    def _show_scope(self, data: NodeData | None, *, force: bool = False) -> None:
        """Fill the track list for the highlighted node (rows kept if the scope is unchanged)."""
        table = self.query_one("#tracks", TrackTable)
        scope_title = self.query_one("#scope-title", Static)
        if data is None:
            table.show([], "none", self.app.waveforms)
            scope_title.update("", layout=False)
            return
        if isinstance(data, PendingNode):
            scope, rows = "pending", list(self.pending_rows.values())
            title = Content.assemble(
                (shown_line(data.title), "bold"), ("   clips appear here as soon as they are rendered", "dim")
            )
        elif isinstance(data, BatchNode):
            batch = data.batch
            scope, rows = data.key, self._batch_rows(batch)
            partner = blend_partner(batch)
            if partner is not None:
                named = self._cluster_label_of(partner)
                label = f"Blend with “{shown_line(named)}”" if named else "Blend"
            elif batch.kind == "more" and batch.clusters:
                label = "More like " + shown_line(batch.clusters[0].label)
            else:
                label = f"Batch {data.number}"
            title = Content.assemble(
                (label, "bold"),
                (f"   {plural(len(batch.clusters), 'cluster')} · {plural(len(rows), 'clip')}", "dim"),
                ("   " + shorten(batch.prompt_text, 70), "dim italic"),
            )
        else:
            cluster = data.cluster
            scope = f"cluster:{cluster.id}"
            rows = [self._row(t, cluster.label) for t in cluster_tracks(data.batch, cluster)]
            title = Content.assemble(
                (shown_line(cluster.label), "bold"),
                (f"   {plural(len(rows), 'clip')}", "dim"),
                (
                    "   similarity is to the cluster's centre"
                    if data.batch.kind != "more"
                    else "   similarity is to the midpoint of its two parents' centres"
                    if cluster.second_parent_cluster_id is not None
                    else "   similarity is to the parent cluster's centre",
                    "dim",
                ),
            )
        if force or table.scope != scope:
            shown = self.visible_rows(rows)
            table.show(shown, scope, self.app.waveforms)
            scope_title.update(Content.assemble(title, (self.scope_note(rows, shown), "dim")), layout=False)
            rows = shown
            now = self.app.now_playing
            table.mark_playing(now.key if now is not None else None)
            self._request_waveforms(rows)
        if isinstance(data, TrackNode):
            table.move_to(str(data.track.id))

    def _cluster_label_of(self, cluster_id: uuid.UUID) -> str:
        """What a cluster of the session is called now ("" if it is not in it)."""
        found = self.session.find_cluster(cluster_id) if self.session is not None else None
        return found[1].label if found is not None else ""

    def _batch_rows(self, batch: Batch) -> list[TrackRow]:
        labels = {tid: c.label for c in batch.clusters for tid in c.track_ids}
        return [self._row(t, labels.get(t.id, "")) for t in sorted(batch.tracks, key=lambda t: t.position)]

    def _row(self, track: Any, label: str) -> TrackRow:
        return TrackRow(
            key=str(track.id),
            number=track.position + 1,
            label=label,
            path=str(track.path),
            duration_sec=track.duration_sec,
            similarity=track.similarity,
            problem=self.clip_problems.get(str(track.id)),
            curation=self.row_curation(track.id),
        )

    # ------------------------------------------------------------- waveforms

    def _request_waveforms(self, rows: list[TrackRow]) -> None:
        missing = [
            (r.key, r.path) for r in rows if r.path and not r.problem and r.path not in self.app.waveforms
        ]
        if missing and self.settling:
            # Each one drawn redraws the list: not in the frames of a change being settled.
            self.waveforms_later = missing
        elif missing:
            self._waveforms(missing)

    @work(thread=True, exit_on_error=False, group="waveforms", description="draw waveforms")
    def _waveforms(self, items: list[tuple[str, str]]) -> None:
        from tui.waveform import compute_waveform

        worker = get_current_worker()
        for key, path in items:
            if worker.is_cancelled:
                return
            try:
                waveform = compute_waveform(Path(path))
            except Exception:  # a clip that cannot be drawn keeps its dotted placeholder
                continue
            self.post_message(WaveformReady(key, Path(path), waveform))

    @on(WaveformReady)
    def _waveform_ready(self, event: WaveformReady) -> None:
        self.app.waveforms.put(str(event.path), event.waveform)
        self.query_one("#tracks", TrackTable).set_waveform(event.key, event.waveform)

    # ------------------------------------------------------------- selection

    def _current_row(self) -> TrackRow | None:
        tree = self.query_one("#tree", ClusterTree)
        table = self.query_one("#tracks", TrackTable)
        if tree.has_focus:
            data = tree.highlighted
            if isinstance(data, TrackNode):
                return table.rows_by_key.get(str(data.track.id)) or self._row(data.track, data.cluster.label)
        return table.current

    def _current_cluster(self) -> tuple[Batch, Any] | None:
        """The cluster "more like" applies to: the highlighted one, or the highlighted track's."""
        if self.session is None:
            return None
        tree = self.query_one("#tree", ClusterTree)
        table = self.query_one("#tracks", TrackTable)
        if table.has_focus:
            row = table.current
            if row is None or row.pending:
                return None
            found = self._find_track(uuid.UUID(row.key))
            if found is None:
                return None
            batch, track = found
            cluster = batch.cluster(track.cluster_id)
            return (batch, cluster) if cluster is not None else None
        data = tree.highlighted
        if isinstance(data, (ClusterNode, TrackNode)):
            return data.batch, data.cluster
        if isinstance(data, BatchNode) and len(data.batch.clusters) == 1:
            return data.batch, data.batch.clusters[0]
        return None

    def _find_track(self, track_id: uuid.UUID) -> tuple[Batch, Track] | None:
        """A listed clip and its batch: looked for in the highlighted node's batch (the
        list's rows are its), not through every batch of a session of thousands."""
        data = self.query_one("#tree", ClusterTree).highlighted
        if isinstance(data, (BatchNode, ClusterNode, TrackNode)):
            for track in data.batch.tracks:
                if track.id == track_id:
                    return data.batch, track
        return self.session.find_track(track_id) if self.session is not None else None
