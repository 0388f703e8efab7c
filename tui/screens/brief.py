"""The brief form: what to make, and with which engine, embedder and namer.

Every field is checked by the core's own rules (core.models) and its message is
shown under the field; nothing starts until all of them are valid.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static, TextArea
from textual.worker import Worker, WorkerState

from core.errors import ValidationError
from core.models import BriefParams
from core.text import shown_line
from core.validation import validate_brief, validate_key, validate_num_clips
from tui.formatting import shown_lines
from tui.jobs import GenerationJob

if TYPE_CHECKING:
    from tui.app import SessionLabApp

ROLES = (("engine", "music", "Engine"), ("embedder", "embedding", "Embedder"), ("namer", "naming", "Namer"))
HINTS = {
    "energy": "0 calm … 1 intense",
    "density": "0 sparse … 1 busy",
    "duration": "seconds per clip",
    "bpm": "tempo in BPM; blank: the engine's choice",
    "key": "e.g. A minor, F#; blank: the engine's choice",
    "lyrics": "words to sing; blank for none",
    "seed": "blank for a random batch; a number makes the batch again exactly",
}


def _check_seed(raw: str) -> int | None:
    text = raw.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValidationError(
            f"The seed must be a whole number, or blank for a random one, not {text!r}."
        ) from None


def _option(text: str) -> Text:
    """A provider choice as drawn: names come from settings and plugins, so never markup."""
    return Text(shown_line(text), no_wrap=True, overflow="ellipsis")


class BriefScreen(Screen[GenerationJob | None]):
    """Returns a GenerationJob (dismiss) when the brief is valid and the user asks to generate."""

    BINDINGS = [
        Binding(
            "ctrl+s",
            "generate",
            "Generate",
            id="generate",
            # Not a priority binding: it must run after the keys typed before it
            # have reached the brief (a priority binding jumps the queue).
            tooltip="Check the brief and start",
        ),
        Binding("escape", "cancel", "Back", id="brief-back", tooltip="Leave without generating"),
    ]

    COMMAND_ACTIONS = (("Generate", "generate", "Check the brief and start generating"),)

    app: SessionLabApp  # type: ignore[assignment]

    def __init__(
        self,
        *,
        title: str = "New session",
        session_id: uuid.UUID | None = None,
        brief: str = "",
        params: BriefParams | None = None,
        num_clips: int | None = None,
        providers: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.form_title = title
        self.session_id = session_id
        self.initial_brief = brief
        self.initial_params = params or BriefParams()
        self.initial_clips = num_clips
        self.initial_providers = providers or {}
        self.errors: dict[str, str] = {}
        self.attempted = False

    def compose(self) -> ComposeResult:
        settings = self.app.settings
        params = self.initial_params
        clips = self.initial_clips or settings.max_batch_size
        yield Header()
        with VerticalScroll(id="brief-form"):
            yield Static(Content.assemble((self.form_title, "bold")), classes="screen-title")
            with Horizontal(classes="field-row brief-row"):
                yield Label("Brief", classes="field-label")
                yield TextArea(
                    # A stored brief may hold control characters: shown (and sent again) as stand-ins.
                    # A brief left with esc comes back as it was written.
                    self.app.brief_drafts.get(self.session_id, shown_lines(self.initial_brief)),
                    id="brief",
                    soft_wrap=True,
                    compact=True,
                    placeholder="What should it sound like? e.g. warm lo-fi loop with dusty drums and a sleepy Rhodes",
                )
            yield Static(id="brief-error", classes="field-error")
            yield from self._number_field("energy", "Energy", f"{params.energy:g}")
            yield from self._number_field("density", "Density", f"{params.density:g}")
            yield from self._number_field("duration", "Duration", f"{params.duration_sec:g}")
            yield from self._number_field(
                "clips", "Clips", str(clips), hint=f"1 to {settings.max_batch_size} clips in the batch"
            )
            yield from self._number_field("seed", "Seed", "")
            yield from self._number_field("bpm", "Tempo", "" if params.bpm is None else f"{params.bpm:g}")
            yield from self._number_field("key", "Key", params.key or "")
            with Horizontal(classes="field-row", id="lyrics-row"):
                yield Label("Lyrics", classes="field-label")
                yield Input(value=params.lyrics, id="lyrics", select_on_focus=True, compact=True)
                yield Static(HINTS["lyrics"], classes="field-hint")
            yield Static(id="lyrics-error", classes="field-error")
            for key, _role, title in ROLES:
                current = self.initial_providers.get(key) or getattr(settings, key)
                with Horizontal(classes="field-row"):
                    yield Label(title, classes="field-label")
                    yield Select(
                        [(_option(current), current)],
                        value=current,
                        allow_blank=False,
                        compact=True,
                        id=key,
                        classes="provider-select",
                    )
                    yield Static("checking what is installed…", id=f"{key}-hint", classes="field-hint")
            with Horizontal(id="brief-buttons"):
                yield Button("Generate  ctrl+s", variant="primary", id="generate")
                yield Button("Back  esc", id="back")
        yield Footer()

    def _number_field(self, key: str, title: str, value: str, hint: str | None = None) -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield Label(title, classes="field-label")
            yield Input(value=value, id=key, classes="number-input", select_on_focus=True, compact=True)
            yield Static(hint or HINTS.get(key, ""), classes="field-hint")
        yield Static(id=f"{key}-error", classes="field-error")

    def on_mount(self) -> None:
        self.app.settle_inputs(self)
        self.query_one("#brief", TextArea).focus()
        self._offer_inputs()
        self._inventory()

    def _capabilities(self) -> Any:
        """What the chosen engine declares (core.providers.capabilities), or None if unknown."""
        from core.providers.capabilities import ENGINES

        value = self.query_one("#engine", Select).value
        return ENGINES.get(value) if isinstance(value, str) else None

    @on(Select.Changed, "#engine")
    def _offer_inputs(self) -> None:
        """Only what the chosen engine supports: lyrics for engines that sing; its longest clip."""
        capabilities = self._capabilities()
        sings = capabilities is None or capabilities.lyrics_input
        self.query_one("#lyrics-row").display = sings
        self.query_one("#lyrics-error").display = sings
        hint = HINTS["duration"]
        if capabilities is not None:
            hint += f", at most {capabilities.longest_sec:g}"
        duration_row = self.query_one("#duration").parent
        if duration_row is not None:
            duration_row.query_one(".field-hint", Static).update(Content(hint))
        if self.attempted:
            self._validate()

    # ------------------------------------------------------------- providers

    @work(thread=True, exclusive=True, exit_on_error=False, group="inventory")
    def _inventory(self) -> dict[str, list[tuple[str, str]]]:
        """Only what is installed and usable; the embedded defaults always are."""
        from core.providers.inventory import list_providers

        offered: dict[str, list[tuple[str, str]]] = {key: [] for key, _, _ in ROLES}
        roles = {role: key for key, role, _ in ROLES}
        for status in list_providers(self.app.settings):
            key = roles.get(status.role)
            if key is None:
                continue
            usable = getattr(status, "usable", None)
            if usable is None:
                usable = status.installed and status.configured and status.present
            if usable:
                offered[key].append((status.name, status.summary))
        return offered

    @on(Worker.StateChanged)
    def _inventory_done(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "inventory":
            return
        if event.state == WorkerState.SUCCESS:
            self._offer(event.worker.result)
        elif event.state == WorkerState.ERROR:
            for key, _, _ in ROLES:
                self.query_one(f"#{key}-hint", Static).update(Content("only the embedded default is offered"))

    def _offer(self, offered: dict[str, list[tuple[str, str]]]) -> None:
        for key, _, _ in ROLES:
            select: Select[str] = self.query_one(f"#{key}", Select)
            current = select.value
            choices = offered.get(key) or []
            names = [name for name, _ in choices]
            if isinstance(current, str) and current not in names:
                choices.insert(0, (current, "from your settings"))
            select.set_options([(_option(f"{name} · {summary}"), name) for name, summary in choices])
            if isinstance(current, str):
                select.value = current
            count = len(choices)
            hint = "the only one usable here" if count == 1 else f"{count} usable here"
            self.query_one(f"#{key}-hint", Static).update(Content(hint))

    # ------------------------------------------------------------ validation

    def _field(self, key: str) -> str:
        if key == "brief":
            return self.query_one("#brief", TextArea).text
        return self.query_one(f"#{key}", Input).value

    def _validate(self) -> GenerationJob | None:
        """Check every field with the core's rules; show each message by its field."""
        max_batch = self.app.settings.max_batch_size
        checks: dict[str, Callable[[], Any]] = {
            "brief": lambda: validate_brief(self._field("brief")),
            "energy": lambda: BriefParams(energy=self._field("energy")).energy,
            "density": lambda: BriefParams(density=self._field("density")).density,
            "duration": lambda: self._check_duration(self._field("duration")),
            "bpm": lambda: BriefParams(bpm=self._field("bpm").strip() or None).bpm,
            "key": lambda: validate_key(self._field("key")),
            "lyrics": lambda: self._check_lyrics(self._field("lyrics")),
            "clips": lambda: validate_num_clips(self._field("clips").strip(), max_batch),
            "seed": lambda: _check_seed(self._field("seed")),
        }
        values: dict[str, Any] = {}
        self.errors = {}
        for key, check in checks.items():
            try:
                values[key] = check()
            except ValidationError as exc:
                self.errors[key] = str(exc)
        for key in checks:
            error = self.query_one(f"#{key}-error", Static)
            message = self.errors.get(key, "")
            error.update(Content(shown_lines(message)))
            error.set_class(bool(message), "shown")
            target = self.query_one(f"#{key}")
            target.set_class(bool(message), "invalid")
        if self.errors:
            return None
        providers = {key: self.query_one(f"#{key}", Select).value for key, _, _ in ROLES}
        return GenerationJob(
            kind="new" if self.session_id is None else "batch",
            num_clips=values["clips"],
            brief=values["brief"],
            params=BriefParams(
                values["energy"],
                values["density"],
                values["duration"],
                bpm=values["bpm"],
                key=values["key"],
                lyrics=values["lyrics"],
            ),
            seed=values["seed"],
            engine=str(providers["engine"]),
            embedder=str(providers["embedder"]),
            namer=str(providers["namer"]),
            session_id=self.session_id,
        )

    def _check_duration(self, text: str) -> float:
        seconds = BriefParams(duration_sec=text).duration_sec
        capabilities = self._capabilities()
        if capabilities is not None and seconds > capabilities.longest_sec:
            raise ValidationError(
                f"This engine makes clips of at most {capabilities.longest_sec:g} seconds, not {seconds:g}."
            )
        return seconds

    def _check_lyrics(self, text: str) -> str:
        capabilities = self._capabilities()
        if capabilities is not None and not capabilities.lyrics_input:
            return ""  # not offered for this engine: nothing to send
        return BriefParams(lyrics=text).lyrics

    @on(Input.Changed)
    @on(TextArea.Changed)
    def _changed(self) -> None:
        if self.attempted:
            self._validate()

    # --------------------------------------------------------------- actions

    @on(Input.Submitted)
    @on(Button.Pressed, "#generate")
    def action_generate(self) -> None:
        self.attempted = True
        job = self._validate()
        if job is None:
            first = next(iter(self.errors))
            self.query_one(f"#{first}").focus()
            return
        self.app.brief_drafts.pop(self.session_id, None)
        self.dismiss(job)

    @on(Button.Pressed, "#back")
    def action_cancel(self) -> None:
        text = self.query_one("#brief", TextArea).text
        if text.strip() and text != shown_lines(self.initial_brief):
            # Kept for the next form of this session (or the next new one), not thrown away.
            self.app.brief_drafts[self.session_id] = text
            self.notify("The brief is kept: it is back in the form next time.", markup=False)
        else:
            self.app.brief_drafts.pop(self.session_id, None)
        self.dismiss(None)
