"""The start screen: saved sessions, newest first."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static
from textual.worker import Worker, WorkerState

from core.models import SessionInfo
from tui.formatting import plural, shorten, when
from tui.jobs import GenerationJob
from tui.widgets.footer import QuietFooter

if TYPE_CHECKING:
    from tui.app import SessionLabApp

EMPTY_TEXT = "No sessions yet.\n\nPress n to write a brief: Session Lab makes a batch of clips and groups them by how they sound."


class SessionsTable(DataTable[str]):
    """Enter opens the session under the cursor, in the order keys were typed.

    (A priority binding on the screen would run ahead of cursor keys still queued
    for the table: "j j Enter" would open the session under the old cursor.)
    """

    BINDINGS = [Binding("enter", "screen.open", "Open", tooltip="Open the highlighted session")]


class SessionsScreen(Screen[None]):
    """Open, start, rename or delete a session."""

    BINDINGS = [
        Binding("enter", "open", "Open", id="open", tooltip="Open the highlighted session"),
        Binding("n", "new", "New", id="new", tooltip="Write a brief for a new session"),
        Binding("r", "rename", "Rename", id="rename", tooltip="Give the session a name"),
        Binding("d", "delete", "Delete", id="delete", tooltip="Delete the session and its clips"),
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
        Binding("g", "ends('top')", "First", show=False),
        Binding("G", "ends('bottom')", "Last", show=False),
        Binding("q", "app.quit", "Quit", id="quit"),
    ]

    COMMAND_ACTIONS = (
        ("New session", "new", "Write a brief and generate a first batch"),
        ("Open session", "open", "Open the highlighted session"),
        ("Rename session", "rename", "Give the highlighted session a name"),
        ("Delete session", "delete", "Delete the highlighted session and its clips"),
        ("Quit", "app.quit", "Leave Session Lab"),
    )

    sessions: reactive[list[SessionInfo] | None] = reactive(None, bindings=True, always_update=True)

    app: SessionLabApp  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        # The session just made or visited: highlighted when the list comes back.
        self._return_to: uuid.UUID | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="sessions-body"):
            yield Static("Sessions", id="sessions-title", classes="screen-title")
            yield SessionsTable(id="sessions-table", cursor_type="row", zebra_stripes=True)
            yield Static("Loading sessions…", id="sessions-empty")
        yield QuietFooter()

    def on_mount(self) -> None:
        table = self.query_one("#sessions-table", DataTable)
        table.add_column("Session", key="title", width=64)
        table.add_column("Updated", key="updated", width=18)
        table.add_column("Batches", key="batches", width=8)
        table.add_column("Clips", key="clips", width=6)
        table.display = False
        # After the first paint: opening the store imports numpy and SQLite in a
        # thread, which would otherwise compete with drawing the first screen.
        self.call_after_refresh(self.reload)

    def on_screen_resume(self) -> None:
        if self.sessions is not None:
            self.reload()

    # ---------------------------------------------------------------- loading

    def reload(self, select: uuid.UUID | None = None) -> None:
        self._load(select or self._return_to)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sessions")
    def _load(self, select: uuid.UUID | None) -> tuple[list[SessionInfo], uuid.UUID | None]:
        return self.app.store.list_sessions(), select

    @on(Worker.StateChanged)
    def _loaded(self, event: Worker.StateChanged) -> None:
        self.app.report_worker(event)
        if event.worker.group != "sessions":
            return
        if event.state == WorkerState.SUCCESS:
            infos, select = event.worker.result
            self._show(infos, select)
        elif event.state == WorkerState.ERROR:
            self.query_one("#sessions-empty", Static).update(
                Content(
                    "The sessions could not be read. Press q to quit, or fix the data directory and restart."
                )
            )

    def _show(self, infos: list[SessionInfo], select: uuid.UUID | None) -> None:
        table = self.query_one("#sessions-table", DataTable)
        previous = self.current
        keep = select or (previous.id if previous is not None else None)
        if select is not None and select == self._return_to:
            self._return_to = None
        table.clear()
        now = self.app.now()
        for info in infos:
            title = Text(shorten(info.title, 62), no_wrap=True, overflow="ellipsis")
            if not info.name:
                title.stylize("italic")
            table.add_row(
                title,
                Text(when(info.updated_at, now)),
                Text(str(info.num_batches), justify="right"),
                Text(str(info.num_tracks), justify="right"),
                key=str(info.id),
            )
        self.sessions = infos
        empty = self.query_one("#sessions-empty", Static)
        table.display = bool(infos)
        empty.display = not infos
        title = self.query_one("#sessions-title", Static)
        if infos:
            title.update(
                Content.assemble(("Sessions", "bold"), (f"   {plural(len(infos), 'session')}", "dim"))
            )
        else:
            title.update(Content("Sessions"))  # as it first appears, without a count
        if not infos:
            empty.update(Content(EMPTY_TEXT))
            return
        if keep is not None:
            try:
                table.move_cursor(row=table.get_row_index(str(keep)))
            except Exception:
                table.move_cursor(row=0)
        table.focus()

    @property
    def current(self) -> SessionInfo | None:
        if not self.sessions:
            return None
        table = self.query_one("#sessions-table", DataTable)
        if table.row_count == 0:
            return None
        row = table.cursor_row
        if 0 <= row < len(self.sessions):
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            return next((s for s in self.sessions if str(s.id) == key), None)
        return None

    # ---------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("open", "rename", "delete", "cursor", "ends"):
            return True if self.sessions else None
        return True

    @on(DataTable.RowSelected, "#sessions-table")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        info = self.current
        if info is None:
            return
        from tui.screens.session import SessionScreen

        self.app.push_screen(SessionScreen(session_id=info.id), self._came_back)

    def action_new(self) -> None:
        from tui.screens.brief import BriefScreen

        self.app.push_screen(BriefScreen(title="New session"), self._brief_written)

    def _brief_written(self, job: GenerationJob | None) -> None:
        if job is None:
            return
        from tui.screens.session import SessionScreen

        self.app.push_screen(SessionScreen(job=job), self._came_back)

    def _came_back(self, session_id: uuid.UUID | None) -> None:
        """Back from a session: the list (reloaded on resume too) highlights it, even when
        it is new and the cursor sat on another one."""
        if session_id is not None:
            self._return_to = session_id
            self.reload(session_id)

    def action_rename(self) -> None:
        info = self.current
        if info is None:
            return
        from tui.screens.modals import TextPromptScreen

        def renamed(name: str | None) -> None:
            if name is not None:
                self._rename(info.id, name.strip())

        self.app.push_screen(
            TextPromptScreen(
                "Rename session",
                info.name,
                placeholder=shorten(info.brief_text, 60),
                hint="Enter saves; an empty name shows the brief again. Esc cancels.",
            ),
            renamed,
        )

    @work(thread=True, exit_on_error=False, group="sessions-edit")
    def _rename(self, session_id: uuid.UUID, name: str) -> None:
        self.app.store.rename_session(session_id, name)
        self.app.call_from_thread(self.reload, session_id)

    def action_delete(self) -> None:
        info = self.current
        if info is None:
            return
        from tui.screens.modals import ConfirmScreen

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._delete(info.id)

        self.app.push_screen(
            ConfirmScreen(
                f"Delete “{shorten(info.title, 50)}”?",
                f"{plural(info.num_batches, 'batch', 'batches')} and {plural(info.num_tracks, 'clip')} will be removed from disk.",
            ),
            confirmed,
        )

    @work(thread=True, exit_on_error=False, group="sessions-edit")
    def _delete(self, session_id: uuid.UUID) -> None:
        self.app.store.delete_session(session_id)
        self.app.call_from_thread(self.reload)
        self.app.call_from_thread(self.app.notify, "Session deleted.")

    def action_cursor(self, offset: int) -> None:
        table = self.query_one("#sessions-table", DataTable)
        if table.row_count:
            table.move_cursor(row=min(table.row_count - 1, max(0, table.cursor_row + offset)))

    def action_ends(self, which: str) -> None:
        table = self.query_one("#sessions-table", DataTable)
        if table.row_count:
            table.move_cursor(row=0 if which == "top" else table.row_count - 1)
