"""The Session Lab app: the screens, the one player, and the one store.

Start-up imports only Textual and the light core modules (models, errors,
settings). The store, the service, numpy, sounddevice and scikit-learn are
imported in worker threads, after the first screen is drawn.

Here: the app's bindings, reactives and state, the store, and errors; its parts are
mixins beside it, over the state declared once in ``tui/app_state.py``: start-up and
warm-up (``tui/startup.py``), the player (``tui/player.py``), screenshots
(``tui/screenshots.py``), audition habits (``tui/audition.py``); the garbage
collector's habits are ``tui/memory.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from core.errors import CancelledError, SessionLabError
from core.settings import Settings
from core.text import shown_line
from tui.audition import ABPair, AuditionControls
from tui.commands import SessionLabCommands
from tui.formatting import shown_lines
from tui.jobs import NowPlaying
from tui.memory import QuietCollector
from tui.player import AppPlayer
from tui.screenshots import AppScreenshots
from tui.startup import AppStartup
from tui.waveform import WaveformCache

if TYPE_CHECKING:
    from core.playback import Player, PlayerState
    from core.store import SessionStore


def error_line(error: BaseException) -> str:
    """One readable sentence for any error a worker ends with."""
    if isinstance(error, SessionLabError):
        text = str(error).strip()
        return text.splitlines()[0] if text else type(error).__name__
    if isinstance(error, OSError):
        return f"A file could not be read or written: {error.strerror or error}."
    detail = " ".join(str(error).split())
    return f"Something went wrong ({type(error).__name__}{': ' + detail if detail else ''})."


# AuditionControls is a plain mixin; the others are App subclasses over AppState (so their
# @on handlers are Textual's), each before App in the MRO as the methods were on this class.
class SessionLabApp(AuditionControls, AppStartup, AppPlayer, AppScreenshots):
    """Write a brief, hear the clips grouped by sound, ask for more like a group."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere find it too
    TITLE = "Session Lab"
    COMMANDS = App.COMMANDS | {SessionLabCommands}
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="help", tooltip="Every key binding"),
        # Priority: focus moves when the key is read, so the keys typed after Tab in
        # the same burst go to the next field (a screen's Tab binding runs only when
        # the focused field gets round to it: "Tab 0 . 7 Tab 0 . 6" filled one field).
        Binding("tab", "focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "focus_previous", "Previous field", show=False, priority=True),
        Binding("plus,equals_sign", "volume(3)", "Vol +", show=False, tooltip="Volume up 3 dB"),
        Binding("minus", "volume(-3)", "Vol −", show=False, tooltip="Volume down 3 dB"),
    ]

    # What the player is doing; the player bar of every screen follows these.
    now_playing: reactive[NowPlaying | None] = reactive(None)
    player_state: reactive[PlayerState | None] = reactive(None)
    audio_problem: reactive[str] = reactive("")
    loop_playback: reactive[bool] = reactive(False)
    # Audition habits (tui/audition.py): two clips marked for A/B, the listener's volume
    # on top of the loudness match, and whether the next clip plays when one ends.
    ab_pair: reactive[ABPair] = reactive(ABPair)
    volume_db: reactive[float] = reactive(0.0)
    auto_advance: reactive[bool] = reactive(True)

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        audio_device: int | str | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
        check_audio: bool = True,
        cursor_blink: bool = True,
    ) -> None:
        super().__init__()
        self.cursor_blink = cursor_blink  # snapshots turn it off
        # Called in the worker thread with each (stage, done, total) after the UI
        # was told; benchmarks and tests observe (or hold) a batch through it.
        self.generation_observer: Callable[[str, int, int], None] | None = None
        self.settings = settings if settings is not None else Settings()
        # A device named by the caller must be there; the one in the settings (chosen in
        # the app) falls back to the default device, with one line, when it is missing.
        self.device_fallback = audio_device is None
        self.audio_device = (
            audio_device if audio_device is not None else (self.settings.output_device or None)
        )
        self.told_missing_device: int | str | None = None  # said once that it is missing
        self.started_clip: NowPlaying | None = None  # the clip the player last started
        self.set_reactive(SessionLabApp.volume_db, self.settings.volume_db)
        self.clock = clock  # drives ETAs; tests fix it
        self.now = now if now is not None else (lambda: datetime.now(UTC))  # "today" in dates; tests fix it
        self.check_audio = check_audio
        self.last_more_count: int | None = None  # "more like" asks with the last count used
        self.selection_memory: dict[Any, str] = {}  # session id -> last highlighted tree node
        self.brief_drafts: dict[Any, str] = {}  # session id (None: a new one) -> a brief left unsent
        self.waveforms = WaveformCache()  # so lists redraw at once, and clips are drawn once
        self._store: SessionStore | None = None
        self._store_lock = threading.Lock()
        self._player: Player | None = None
        self._player_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._play_requests = 0
        self._position_timer: Timer | None = None
        self.collector = QuietCollector()

    # ----------------------------------------------------------------- store

    @property
    def store(self) -> SessionStore:
        """The session store, opened on first use. Call it from a worker thread."""
        with self._store_lock:
            if self._store is None:
                from core.store import SessionStore

                self._store = SessionStore(self.settings.data_dir)
            return self._store

    def settle_inputs(self, screen: Any) -> None:
        """Apply the app's cursor-blink choice to a screen's text fields."""
        if not self.cursor_blink:
            from textual.widgets import Input, TextArea

            for widget in screen.query(Input).results():
                widget.cursor_blink = False
            for area in screen.query(TextArea).results():
                area.cursor_blink = False

    # ---------------------------------------------------------------- errors

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        self.report_worker(event)

    def report_worker(self, event: Worker.StateChanged) -> None:
        """Any worker that ends in an error becomes one notification.

        Worker.StateChanged does not bubble, so every screen hands its own here.
        """
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        if isinstance(error, CancelledError):
            self.notify(error_line(error), markup=False)
        else:
            self.notify(error_line(error), severity="error", markup=False, timeout=8)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast is drawn safe: text from a user, a file name or a model (a label, an
        error naming a file) never brings control characters to the terminal."""
        super().notify(
            shown_lines(message), title=shown_line(title), severity=severity, timeout=timeout, markup=markup
        )

    # --------------------------------------------------------------- actions

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def run_app(settings: Settings) -> None:
    """Open the app (what ``sessionlab`` with no arguments does)."""
    from core import logs

    logs.configure(settings.log_level)  # the log file only: no terminal handler may draw over the app
    app = SessionLabApp(settings)
    try:
        app.run()
    finally:
        app.close_player()
