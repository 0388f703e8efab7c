"""Export clips for a DAW: what, format, loudness, folder; a progress bar; the folder at the end.

The files are written by ``core.export.daw.export_tracks`` in a worker; Esc while
it runs cancels it (the files already finished stay, each whole).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, RadioButton, RadioSet, Static
from textual.worker import Worker, WorkerState, get_current_worker

from core.curation_models import Curation
from core.models import ClusterSummary, Session
from core.text import shown_line
from tui.formatting import plural, shorten, shown_lines

if TYPE_CHECKING:
    from tui.app import SessionLabApp

FORMATS = (("wav", "WAV 24-bit"), ("flac", "FLAC 24-bit"))
LOUDNESS = (("-14", "−14 LUFS"), ("-18", "−18 LUFS"), ("none", "as rendered"))


def default_folder(session: Session) -> Path:
    """~/Music/Session Lab/<session title> (the user's music folder where there is one)."""
    import platformdirs

    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", session.title).strip("-")[:48] or "session"
    try:
        music = platformdirs.user_music_path()
    except Exception:
        music = Path.home() / "Music"
    return music / "Session Lab" / slug


class ExportProgress(Message):
    def __init__(self, stage: str, done: int, total: int) -> None:
        super().__init__()
        self.stage = stage
        self.done = done
        self.total = total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ExportProgress)


class ExportScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close or cancel", id="export-close"),
        Binding("ctrl+s", "export", "Export", id="export-start"),
    ]

    app: SessionLabApp  # type: ignore[assignment]

    def __init__(
        self,
        session: Session,
        curations: dict[uuid.UUID, Curation],
        *,
        cluster: ClusterSummary | None = None,
        selected: uuid.UUID | None = None,
        folder: Path | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.folder = folder if folder is not None else default_folder(session)
        # From the marks, not the clips held here: a big session's older batches may not be read yet.
        kept = [tid for tid, marks in curations.items() if marks.kept and not marks.discarded]
        # (id, title, clips): what can be exported, in the order offered.
        self.choices: list[tuple[str, str, list[uuid.UUID]]] = []
        if kept:
            self.choices.append(("kept", f"Kept clips ({len(kept)})", kept))
        if cluster is not None:
            ids = [t for t in cluster.track_ids if not curations.get(t, Curation()).discarded]
            self.choices.append(
                ("cluster", f"This cluster: {shorten(cluster.label, 30)} ({plural(len(ids), 'clip')})", ids)
            )
        if selected is not None:
            found = session.find_track(selected)
            number = found[1].position + 1 if found is not None else 0
            self.choices.append(("selected", f"The selected clip (#{number})", [selected]))
        self.result_folder: Path | None = None
        self.running = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="export-dialog"):
            yield Static(
                Content.assemble(
                    ("Export for a DAW", "bold"), ("   " + shorten(self.session.title, 40), "dim")
                ),
                classes="dialog-title",
            )
            with Horizontal(classes="export-row"):
                yield Label("What", classes="field-label")
                with RadioSet(id="export-what"):
                    for index, (ident, title, _) in enumerate(self.choices):
                        yield RadioButton(title, value=index == 0, id=f"what-{ident}")
            with Horizontal(classes="export-row"):
                yield Label("Format", classes="field-label")
                with RadioSet(id="export-format"):
                    for index, (ident, title) in enumerate(FORMATS):
                        yield RadioButton(title, value=index == 0, id=f"format-{ident}")
                yield Label("Loudness", classes="field-label export-second")
                with RadioSet(id="export-loudness"):
                    for index, (ident, title) in enumerate(LOUDNESS):
                        yield RadioButton(title, value=index == 0, id=f"loudness-{ident}")
            with Horizontal(classes="export-row"):
                yield Label("Folder", classes="field-label")
                yield Input(str(self.folder), id="export-folder", compact=True)
            yield ProgressBar(id="export-progress", show_eta=False)
            yield Static("", id="export-status", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export (ctrl+s)", id="export-go", variant="primary")
                yield Button("Close (esc)", id="export-cancel")
            yield Static(
                "Loudness: integrated, true peak at most −1 dBTP; metadata (tempo, key, prompt, seed) "
                "goes inside each file, session.json beside them. Nothing is overwritten.",
                classes="dialog-detail",
            )

    def on_mount(self) -> None:
        self.app.settle_inputs(self)
        self.query_one("#export-progress", ProgressBar).display = False
        if not self.choices:
            self._say("Nothing to export yet: keep clips (s) or select a cluster first.")
            self.query_one("#export-go", Button).disabled = True
        self.query_one("#export-what", RadioSet).focus()

    # ------------------------------------------------------------ choosing

    def _chosen(self, radio_id: str, prefix: str) -> str:
        pressed = self.query_one(radio_id, RadioSet).pressed_button
        return (pressed.id or "").removeprefix(prefix) if pressed is not None else ""

    def _say(self, text: str, style: str = "") -> None:
        status = self.query_one("#export-status", Static)
        status.update(Content.styled(shown_lines(text), style) if style else Content(shown_lines(text)))

    @on(Button.Pressed, "#export-go")
    def _go(self) -> None:
        self.action_export()

    @on(Button.Pressed, "#export-cancel")
    def _cancel_pressed(self) -> None:
        self.action_close()

    @on(Input.Submitted, "#export-folder")
    def _folder_submitted(self) -> None:
        self.action_export()

    def action_export(self) -> None:
        if self.running or not self.choices:
            return
        what = self._chosen("#export-what", "what-")
        ids = next((clips for ident, _, clips in self.choices if ident == what), [])
        if not ids:
            self._say("Nothing to export in that choice.", "$text-warning")
            return
        folder_text = self.query_one("#export-folder", Input).value.strip()
        if not folder_text:
            self._say("Choose a folder to export to.", "$text-warning")
            return
        fmt = self._chosen("#export-format", "format-") or "wav"
        loudness = self._chosen("#export-loudness", "loudness-") or "-14"
        self.running = True
        self.query_one("#export-go", Button).disabled = True
        bar = self.query_one("#export-progress", ProgressBar)
        bar.display = True
        bar.update(total=len(ids), progress=0)
        self._say(f"Exporting {plural(len(ids), 'clip')}…")
        self._export(ids, fmt, loudness, Path(folder_text).expanduser())

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def _export(self, ids: list[uuid.UUID], fmt: str, loudness: str, folder: Path) -> Any:
        from core.export.daw import ExportOptions, export_tracks

        worker = get_current_worker()
        options = ExportOptions(format=fmt, loudness=loudness, to=folder)

        def progress(stage: str, done: int, total: int) -> None:
            self.post_message(ExportProgress(stage, done, total))

        return export_tracks(
            self.app.store, self.session.id, ids, options, progress=progress, cancel=worker.cancelled_event
        )

    @on(ExportProgress)
    def _progress(self, event: ExportProgress) -> None:
        bar = self.query_one("#export-progress", ProgressBar)
        bar.update(total=max(event.total, 1), progress=event.done)

    @on(Worker.StateChanged)
    def _finished(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "export":
            return
        if event.state == WorkerState.SUCCESS:
            self._done(event.worker.result)
        elif event.state == WorkerState.ERROR:
            self.running = False
            self.query_one("#export-go", Button).disabled = False
            from tui.app import error_line

            self._say(error_line(event.worker.error), "$text-error")  # type: ignore[arg-type]
        elif event.state == WorkerState.CANCELLED:
            self.running = False
            self.query_one("#export-go", Button).disabled = False
            self._say("Cancelled: the files already written stay in the folder, each whole.", "$text-warning")

    def _done(self, result: Any) -> None:
        self.running = False
        self.result_folder = Path(result.folder)
        bar = self.query_one("#export-progress", ProgressBar)
        bar.update(total=max(result.total, 1), progress=len(result.files))
        count = plural(len(result.files), "file")
        if result.cancelled:
            head = f"Cancelled: {count} of {result.total} exported, each whole"
        else:
            head = f"Exported {count}"
        loud = ""
        if result.files:
            worst = max(f.true_peak_dbtp for f in result.files)
            lufs = [f.lufs for f in result.files]
            loud = f" ({min(lufs):.1f} to {max(lufs):.1f} LUFS, true peak ≤ {worst:.1f} dBTP)"
        self.query_one("#export-status", Static).update(
            Content.assemble(
                (head + loud + ".", "bold"),
                "\nFolder: ",
                (shown_line(str(result.folder)), "bold $text-accent"),
            )
        )
        go = self.query_one("#export-go", Button)
        go.disabled = False
        go.label = "Export again (ctrl+s)"
        self.query_one("#export-cancel", Button).focus()

    def action_close(self) -> None:
        if self.running:
            self.workers.cancel_group(self, "export")
            self._say("Cancelling… the files already written stay, each whole.")
            return
        self.dismiss(None)
