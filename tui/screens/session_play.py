"""The session screen's playback keys: play, pause, seek, loop, next and previous
(on past the end of a cluster, as a player moves on to the next album), and moving the
cursor.

A base class of SessionScreen (see ``session.py``); it relies on the scope's helpers
(``_current_row``, ``_row``, ``_show_scope``).
"""

from __future__ import annotations

from textual.widgets import DataTable, Tree

from tui.jobs import NowPlaying
from tui.screens.session_state import SessionState
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.track_table import TrackRow, TrackTable


class SessionPlayback(SessionState):
    def action_play(self) -> None:
        self._play_current()

    def _play_current(self) -> None:
        row = self._current_row()
        if row is None:
            return
        self._play(row)

    def _play(self, row: TrackRow) -> None:
        if not row.path:
            return  # a slot of the batch being made, not rendered yet
        if row.problem:
            self.app.clip_unplayable(row.number, row.problem)
            return
        # No audio device: the attempt to start says so, once (a note here as well made two).
        self.app.play(NowPlaying(row.key, row.path, row.number, row.label or "new clip"))

    def _now_playing_changed(self, now: NowPlaying | None) -> None:
        self.query_one("#tracks", TrackTable).mark_playing(now.key if now is not None else None)
        self._sync_bindings()

    def action_pause(self) -> None:
        self.app.toggle_pause()

    def action_seek(self, seconds: float) -> None:
        self.app.seek(float(seconds))

    def action_loop(self) -> None:
        self.app.toggle_loop()

    def action_step(self, offset: int) -> None:
        """n / p: the next or previous clip of the list; past either end of a cluster (or
        batch), on to the next or previous one in the tree, as a player moves on to the
        next album. At the very end it says so rather than starting the clip again."""
        table = self.query_one("#tracks", TrackTable)
        if table.row_count == 0:
            return
        offset = int(offset)
        if 0 <= table.cursor_row + offset < table.row_count:
            row = table.step(offset)
            if row is not None:
                self._play(row)
            return
        if not self._step_scope(1 if offset > 0 else -1):
            where = "last" if offset > 0 else "first"
            of = "the batch being made" if table.scope == "pending" else "this session"
            self.notify(f"That was the {where} clip of {of}.", markup=False)

    def _step_scope(self, direction: int) -> bool:
        """Show the next (or previous) cluster or batch of the tree and play its first (or
        last) clip; False if there is none."""
        tree = self.query_one("#tree", ClusterTree)
        table = self.query_one("#tracks", TrackTable)
        scope = table.scope or ""
        kind = scope.partition(":")[0]
        if kind not in ("cluster", "batch"):
            return False  # the batch being made has no neighbour to move on to
        # The session's order, not the nodes made so far: closed batches have none yet.
        keys = tree.keys_in_order(kind)
        if scope not in keys:
            return False
        index = keys.index(scope)
        following = keys[index + 1 :] if direction > 0 else keys[:index][::-1]
        for key in following:
            if not tree.select_key(key):
                continue
            self._show_scope(tree.highlighted)
            if table.row_count == 0:
                continue
            table.move_cursor(row=0 if direction > 0 else table.row_count - 1)
            row = table.current
            if row is not None:
                self._play(row)
            return True
        return False

    def action_cursor(self, offset: int) -> None:
        focused = self.focused
        if isinstance(focused, (Tree, DataTable)):
            (focused.action_cursor_down if offset > 0 else focused.action_cursor_up)()

    def action_toggle_open(self) -> None:
        self.query_one("#tree", ClusterTree).toggle_cursor()

    def action_ends(self, which: str) -> None:
        focused = self.focused
        if isinstance(focused, Tree):
            lines = focused.last_line
            if lines >= 0:
                focused.move_cursor_to_line(0 if which == "top" else lines)
        elif isinstance(focused, DataTable) and focused.row_count:
            focused.move_cursor(row=0 if which == "top" else focused.row_count - 1)
