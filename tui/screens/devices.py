"""Choose the audio output device: PortAudio's list, read in a worker."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from core.text import shown_line

DEFAULT_ID = "device-default"


class DeviceScreen(ModalScreen[str | None]):
    """Dismissed with the chosen device's name ("" for the system default), or None."""

    BINDINGS = [Binding("escape,q", "cancel", "Cancel", id="devices-cancel")]

    def __init__(self, current: int | str | None) -> None:
        super().__init__()
        self.current = "" if current is None else str(current)
        self.names: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="devices-dialog"):
            yield Static("Audio output device", classes="dialog-title")
            yield OptionList(id="devices")
            yield Static("Looking for devices…", id="devices-detail", classes="dialog-detail", markup=False)

    def on_mount(self) -> None:
        self._list()

    @work(thread=True, exit_on_error=False, group="devices")
    def _list(self) -> list[str]:
        from core.playback import output_devices

        return [device.name for device in output_devices()]

    @on(Worker.StateChanged)
    def _listed(self, event: Worker.StateChanged) -> None:
        detail = self.query_one("#devices-detail", Static)
        if event.state == WorkerState.ERROR:
            detail.update(shown_line(str(event.worker.error)))
            return
        if event.state != WorkerState.SUCCESS:
            return
        self.names = list(event.worker.result)
        options = self.query_one("#devices", OptionList)
        marker = lambda chosen: ("  ● in use", "$text-success") if chosen else ""  # noqa: E731
        options.add_option(
            Option(Content.assemble("The system's default device", marker(not self.current)), id=DEFAULT_ID)
        )
        for index, name in enumerate(self.names):
            options.add_option(
                Option(Content.assemble(shown_line(name), marker(name == self.current)), id=f"device-{index}")
            )
        if self.current and self.current not in self.names:
            detail.update(
                f"The device in use, {shown_line(self.current)!r}, is not connected now. "
                "Enter chooses, Esc keeps it."
            )
        else:
            detail.update("Enter chooses; the choice is saved in your config file. Esc cancels.")
        chosen = self.names.index(self.current) + 1 if self.current in self.names else 0
        options.highlighted = chosen
        options.focus()

    @on(OptionList.OptionSelected, "#devices")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        ident = event.option.id or ""
        if ident == DEFAULT_ID:
            self.dismiss("")
        else:
            self.dismiss(self.names[int(ident.rpartition("-")[2])])

    def action_cancel(self) -> None:
        self.dismiss(None)
