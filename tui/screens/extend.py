"""Extend a clip past its end: the key, the length dialog and the job (the session screen mixes it in).

Kept out of ``tui/screens/session.py`` so the screen's own edits do not collide:
Textual merges ``BINDINGS`` along the MRO.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from core.text import shown_line
from tui.formatting import duration, shown_lines
from tui.jobs import GenerationJob

if TYPE_CHECKING:
    from core.models import Batch, Track


def extend_limit(engine: str) -> float:
    """The longest clip ``engine`` extends to (0: it cannot), from its declared capabilities."""
    from core.providers.capabilities import ENGINES

    capabilities = ENGINES.get(engine)
    return float(capabilities.extend_sec) if capabilities is not None else 0.0


def check_length(text: str, source_sec: float, limit: float) -> float:
    """The typed length in seconds (``90`` or ``1:30``), or ValueError with one sentence."""
    from core.errors import ValidationError
    from core.validation import parse_length

    try:
        length = parse_length(text)
    except ValidationError as error:
        raise ValueError(str(error)) from None
    if not length > source_sec + 0.05:
        raise ValueError(f"The clip is already {duration(source_sec)} long: give a longer length.")
    if length > limit:
        raise ValueError(f"This engine extends clips to at most {duration(limit)}.")
    return length


class LengthScreen(ModalScreen[float | None]):
    """How long the extended clip should be."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="length-cancel")]

    def __init__(self, title: str, source_sec: float, limit: float) -> None:
        super().__init__()
        self.prompt_title = title
        self.source_sec = source_sec
        self.limit = limit

    def compose(self) -> ComposeResult:
        default = min(self.limit, max(60.0, self.source_sec * 2))
        with Vertical(classes="dialog"):
            yield Static(shown_line(self.prompt_title), classes="dialog-title", markup=False)
            with Horizontal(classes="field-row"):
                yield Label("Length", classes="field-label")
                yield Input(value=f"{default:g}", id="length-input", compact=True)
            yield Static("", id="length-error", classes="field-error")
            yield Static(
                f"Seconds (or m:ss), longer than {duration(self.source_sec)} and at most "
                f"{duration(self.limit)}. Enter extends, Esc cancels.",
                classes="dialog-detail",
            )

    def on_mount(self) -> None:
        self.app.settle_inputs(self)  # type: ignore[attr-defined]

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            length = check_length(event.value, self.source_sec, self.limit)
        except ValueError as exc:
            error = self.query_one("#length-error", Static)
            error.update(Content(shown_lines(str(exc))))
            error.add_class("shown")
            return
        self.dismiss(length)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ExtendActions(DOMNode):
    """The session screen's extend key: continue the selected clip into a new, longer one.

    A DOMNode, so Textual merges its BINDINGS into the screen's (it merges only DOMNode bases).
    """

    BINDINGS = [
        # Off the footer (it is full); the help screen lists it.
        Binding(
            "E",
            "extend",
            "Extend",
            id="extend",
            show=False,
            tooltip="Continue this clip past its end (a new clip)",
        )
    ]

    def _extend_target(self) -> tuple[Batch, Track] | None:
        session = getattr(self, "session", None)
        row = self._current_row()  # type: ignore[attr-defined]
        if session is None or row is None or getattr(row, "pending", False):
            return None
        try:
            return session.find_track(uuid.UUID(row.key))
        except ValueError:
            return None

    def _extend_engine(self, batch: Batch) -> str:
        from core.providers.registry import names

        return batch.engine if batch.engine in names("music") else self.app.settings.engine  # type: ignore[attr-defined]

    def can_extend(self) -> bool | None:
        if getattr(self, "generating", False):
            return None
        return True if self._extend_target() is not None else None

    def action_extend(self) -> None:
        if getattr(self, "generating", False):
            return
        found = self._extend_target()
        if found is None:
            self.notify("Highlight a clip, then press E to extend it.", markup=False)  # type: ignore[attr-defined]
            return
        batch, track = found
        engine = self._extend_engine(batch)
        limit = extend_limit(engine)
        if limit <= track.duration_sec:
            self.notify(f"The {engine} engine cannot extend this clip.", markup=False)  # type: ignore[attr-defined]
            return
        cluster = batch.cluster(track.cluster_id)
        label = cluster.label if cluster is not None else ""

        def chosen(length: float | None) -> None:
            if length is None:
                return
            self.start_job(  # type: ignore[attr-defined]
                GenerationJob(
                    kind="extend",
                    num_clips=1,
                    session_id=batch.session_id,
                    cluster_id=track.cluster_id,
                    label=label,
                    engine=engine,
                    model=batch.model if engine == batch.engine else None,
                    track_id=track.id,
                    to_sec=length,
                )
            )

        self.app.push_screen(  # type: ignore[attr-defined]
            LengthScreen(f"Extend #{track.position + 1} of “{shown_line(label)}”", track.duration_sec, limit),
            chosen,
        )


def run_extend(service: Any, job: GenerationJob, options: dict[str, Any]) -> Batch:
    """The worker's call for an extend job."""
    assert job.track_id is not None and job.to_sec is not None
    return service.extend_track(job.track_id, job.to_sec, **options)
