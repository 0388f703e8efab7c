"""The Session Lab app: the screens, the one player, and the one store.

Start-up imports only Textual and the light core modules (models, errors,
settings). The store, the service, numpy, sounddevice and scikit-learn are
imported in worker threads, after the first screen is drawn.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from core.errors import CancelledError, SessionLabError
from core.settings import Settings
from core.text import shown_line
from tui.audition import ABPair, AuditionControls
from tui.commands import SessionLabCommands
from tui.formatting import shown_lines
from tui.jobs import NowPlaying
from tui.messages import PlaybackFinished, PlaybackProblem
from tui.waveform import WaveformCache

if TYPE_CHECKING:
    from core.playback import Player, PlayerState
    from core.store import SessionStore

POSITION_REFRESH_SEC = 0.25


def settle_memory() -> None:
    """Move what is alive now out of the garbage collector's sight.

    The libraries loaded by then (numpy, scikit-learn, Textual's widgets) make a
    full collection cost 100-250 ms, paid by whichever thread triggers it: a
    stall of the UI. Frozen objects are never scanned again. Called once, when
    the app is warm; young garbage is collected first (cheap) so little of it is
    frozen.
    """
    gc.collect(1)
    gc.freeze()


def one_blas_thread() -> None:
    """numpy's and scipy's BLAS on one thread for the rest of the app's life (those loaded by now).

    Their products here are small (a clip's spectrum times a filter bank, the map's d x d
    fit), and an OpenBLAS thread spins for a while after each: while a batch's clips were
    embedded it kept the second core busy beside the engine's thread, and the UI thread
    waited for a core (measured at 10k clips: 20-60 ms of each frame runnable but not
    running; frames of 13-23 ms of work took 60-110 ms, on a machine others loaded too).
    Called in the warm-up's thread: threadpoolctl lets one live thread at a time set
    OpenBLAS's process-wide count (``core.clustering._single_threaded`` then finds it at one)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


NO_FULL_COLLECTION = 1 << 30  # a third threshold the count of young collections never reaches


class QuietCollector:
    """No automatic full collection while a batch is made or a session is opened (until
    it is read whole); the young generations are collected as usual, a millisecond at a
    time, in whichever thread is allocating. ``hold`` and ``release`` nest.

    A full collection scans every object the batch and the screens created: tens of
    milliseconds during which the UI cannot draw. Turning the collector off for the
    whole batch avoided it, but left the batch's young garbage (10-20 thousand
    objects) to one collection when it ended: 25-50 ms of the UI thread in one go.
    Raising the full collection's threshold instead keeps each young collection
    small, and the one when the batch ends finds little left.
    """

    def __init__(self) -> None:
        self._holds = 0
        self._thresholds = gc.get_threshold()

    def hold(self) -> None:
        if self._holds == 0:
            self._thresholds = gc.get_threshold()
            young, middle, _full = self._thresholds
            gc.set_threshold(young, middle, NO_FULL_COLLECTION)
        self._holds += 1

    def settle(self) -> None:
        """Something big and lasting was just built (a chunk of a session read after it
        was drawn): out of the collector's sight (``settle_memory``), so no full
        collection scans it again. Not while held: then the young generations hold what
        the batch or the opening made, and are collected when it is released."""
        if self._holds == 0:
            settle_memory()

    def release(self) -> None:
        if self._holds == 0:
            return
        self._holds -= 1
        if self._holds == 0:
            gc.set_threshold(*self._thresholds)
            gc.collect(1)


def error_line(error: BaseException) -> str:
    """One readable sentence for any error a worker ends with."""
    if isinstance(error, SessionLabError):
        text = str(error).strip()
        return text.splitlines()[0] if text else type(error).__name__
    if isinstance(error, OSError):
        return f"A file could not be read or written: {error.strerror or error}."
    detail = " ".join(str(error).split())
    return f"Something went wrong ({type(error).__name__}{': ' + detail if detail else ''})."


class SessionLabApp(AuditionControls, App[None]):
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

    # ----------------------------------------------------------------- start

    def get_default_screen(self) -> Screen[Any]:
        """The sessions list is the first screen (built once, not over a blank default)."""
        from tui.screens.sessions import SessionsScreen

        return SessionsScreen()

    def on_mount(self) -> None:
        self._position_timer = self.set_interval(POSITION_REFRESH_SEC, self._poll_player, pause=True)
        self.call_after_refresh(self._after_first_paint)

    def _after_first_paint(self) -> None:
        # A moment later still: the sessions list loads first, then the warm-up.
        self.set_timer(0.3, self._warm_up)

    @work(thread=True, exit_on_error=False, group="warm-up")
    def _warm_up(self) -> None:
        """Costly imports and checks, once the first screen is on the terminal."""
        from core import clustering

        clustering.warm_up()  # scikit-learn, in its own background thread
        # What a batch needs, loaded now rather than in the first batch: the service
        # and the configured providers' modules when they are the light embedded ones
        # (torch and friends wait until a batch asks for them).
        import core.service  # noqa: F401
        import tui.screens.map  # noqa: F401  (plotext: ~80 ms, else on the UI thread when a session's map is first placed)
        import tui.waveform  # noqa: F401
        from core.providers import registry

        settings = self.settings
        for role, name in (
            (registry.MUSIC, settings.engine),
            (registry.EMBEDDING, settings.embedder),
            (registry.NAMING, settings.namer),
        ):
            with contextlib.suppress(Exception):  # an unknown name is reported when it is used
                spec = registry.spec(role, name)
                if spec.embedded:
                    spec.load()

        if self.check_audio:
            from core.playback import check_audio_output

            problem = check_audio_output(self.audio_device)
            fallback = problem and self.device_fallback and self.audio_device is not None
            if fallback and check_audio_output(None) is None:
                # The chosen device is missing: the default one plays instead; say so once.
                self.told_missing_device = self.audio_device
                self.call_from_thread(
                    self.notify,
                    f"{problem.rstrip('.')}; clips play on the default audio output device instead.",
                    severity="warning",
                    markup=False,
                    timeout=8,
                )
                problem = None
            if problem:
                self.post_message(PlaybackProblem(problem, announce=False))
        worker = get_current_worker()
        for _ in range(300):  # wait (at most 30 s) for scikit-learn to be in
            if "sklearn.cluster" in sys.modules:
                break
            if worker.is_cancelled:  # the app is closing
                return
            time.sleep(0.1)
        one_blas_thread()  # numpy's and (with scikit-learn) scipy's are loaded now
        # The session screen's styles, parsed now rather than while its first one is built.
        from tui.styles import preload_default_css, session_screen_classes

        classes = session_screen_classes()
        with contextlib.suppress(Exception):  # the app is closing
            self.call_from_thread(preload_default_css, self, classes)
        settle_memory()

    def on_unmount(self) -> None:
        self.close_player()

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

    # -------------------------------------------------------------- playback

    def play(self, now: NowPlaying) -> None:
        """Start a clip (stopping the last one); the player is made on first use."""
        self._play_requests += 1
        self._start_clip(now, self._play_requests)

    @work(thread=True, group="player", exit_on_error=False)
    def _start_clip(self, now: NowPlaying, request: int) -> None:
        from core.audio import clip_file_problem
        from core.errors import PlaybackError

        # One start at a time, and only the latest request: n n n plays the third clip.
        with self._start_lock:
            if request != self._play_requests:
                return
            problem = clip_file_problem(now.path)
            if problem is not None:
                # The clip's file, not the sound: one line, and the player bar keeps its state.
                self.call_from_thread(self.clip_unplayable, now.number, problem)
                return
            try:
                player = self._ensure_player()
                # Named before it starts: a short clip may end (and its end be handled)
                # before this thread runs again.
                self.started_clip = now
                player.play(Path(now.path), loop=self.loop_playback)
                state = player.state
            except PlaybackError as exc:
                self.post_message(PlaybackProblem(str(exc)))
                return
            self._tell_notice(player)
        self.call_from_thread(self._clip_started, now, state)

    def clip_unplayable(self, number: int, problem: str) -> None:
        """One line for a clip whose file is missing or unreadable (core.audio.clip_file_problem)."""
        self.notify(
            f"Clip #{number} cannot be played: its file is {problem}.", severity="warning", markup=False
        )

    def _ensure_player(self) -> Player:
        with self._player_lock:
            if self._player is None:
                from core.playback import Player

                self._player = Player(
                    target_lufs=self.settings.target_lufs,
                    device=self.audio_device,
                    on_finished=self._on_player_finished,
                    on_error=self._on_player_error,
                    volume_db=self.volume_db,
                    fallback_to_default=self.device_fallback,
                )
            return self._player

    def _on_player_finished(self, path: Path) -> None:
        # PortAudio's thread: hop to the app through its message queue.
        self.post_message(PlaybackFinished(Path(path)))

    def _on_player_error(self, text: str) -> None:
        self.post_message(PlaybackProblem(text))

    def _clip_started(self, now: NowPlaying, state: PlayerState) -> None:
        self.audio_problem = ""
        self.now_playing = now
        self.player_state = state
        if self._position_timer is not None:
            self._position_timer.resume()

    def _poll_player(self) -> None:
        player = self._player
        if player is None:
            return
        state = player.state
        self.player_state = state
        if not state.playing and self._position_timer is not None:
            self._position_timer.pause()

    @property
    def has_clip(self) -> bool:
        return self._player is not None and self.now_playing is not None

    def toggle_pause(self) -> None:
        player = self._player
        if player is None or self.now_playing is None:
            return
        self._player_call(player.toggle_pause)

    def seek(self, seconds: float) -> None:
        player = self._player
        if player is None or self.now_playing is None:
            return
        self._player_call(lambda: player.seek(seconds, relative=True))

    def toggle_loop(self) -> None:
        self.loop_playback = not self.loop_playback
        player = self._player
        if player is not None:
            self._player_call(lambda: player.set_loop(self.loop_playback))

    def stop_playback(self) -> None:
        player = self._player
        self.now_playing = None
        self.ab_pair = ABPair()
        self.player_state = None
        if self._position_timer is not None:
            self._position_timer.pause()
        if player is not None:
            self._player_call(player.stop)

    def _player_call(self, call: Callable[[], object]) -> None:
        from core.errors import PlaybackError

        try:
            call()
        except PlaybackError as exc:
            self.post_message(PlaybackProblem(str(exc)))
            return
        self._poll_player()
        player = self._player
        if player is not None and player.state.playing and self._position_timer is not None:
            self._position_timer.resume()

    def close_player(self) -> None:
        with self._player_lock:
            player, self._player = self._player, None
        if player is not None:
            with contextlib.suppress(Exception):  # closing on the way out must never raise
                player.close()

    @on(PlaybackFinished)
    def _playback_finished(self, event: PlaybackFinished) -> None:
        self._poll_player()
        self._advance_after(event.path)

    @on(PlaybackProblem)
    def _playback_problem(self, event: PlaybackProblem) -> None:
        self.audio_problem = event.text
        self._poll_player()
        if event.announce:
            self.notify(event.text, severity="warning", markup=False, timeout=8)

    # ----------------------------------------------------------- screenshots

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's palette commands, with Screenshot saving where it can (see action_screenshot)."""
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":
                yield SystemCommand(
                    "Screenshot",
                    "Save an SVG picture of the screen (in ~/Pictures, or the current folder)",
                    lambda: self.set_timer(0.1, self.action_screenshot),
                )
            else:
                yield command

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG of the screen and say where.

        Textual's default folder is ~/Downloads, which a server or a fresh account may not
        have ("Failed to save screenshot"): see ``screenshot_folder`` for where it goes.
        """
        svg = self.export_screenshot()
        stamp = datetime.now()
        name = filename or f"session-lab-{stamp:%Y-%m-%d_%H-%M-%S}-{stamp.microsecond // 1000:03d}.svg"
        self._save_screenshot(svg, name, path)

    @work(thread=True, exit_on_error=False, group="screenshot")
    def _save_screenshot(self, svg: str, name: str, folder: str | None) -> None:
        target = Path(folder).expanduser() if folder else screenshot_folder(self.settings.data_dir)
        try:
            target.mkdir(parents=True, exist_ok=True)
            path = target / name
            path.write_text(svg, encoding="utf-8")
        except OSError as exc:
            line = f"The screenshot could not be saved in {target} ({exc.strerror or exc})."
            self.call_from_thread(self.notify, line, title="Screenshot", severity="error", markup=False)
            return
        self.call_from_thread(self.notify, f"Saved to {path}", title="Screenshot", markup=False)

    # --------------------------------------------------------------- actions

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def screenshot_folder(data_dir: Path) -> Path:
    """Where a screenshot goes: ~/Pictures if there is one, else the folder the app was
    started in if it can be written, else ``screenshots`` in the data dir, else the
    temporary folder. (Textual's ~/Downloads is often missing on a server.)"""
    import platformdirs

    candidates: list[Path] = []
    with contextlib.suppress(Exception):
        candidates.append(platformdirs.user_pictures_path())
    with contextlib.suppress(OSError):  # the current folder may have been deleted
        candidates.append(Path.cwd())
    for candidate in candidates:
        if _writable_dir(candidate):
            return candidate
    fallback = Path(data_dir) / "screenshots"
    with contextlib.suppress(OSError):
        fallback.mkdir(parents=True, exist_ok=True)
    if _writable_dir(fallback):
        return fallback
    return Path(tempfile.gettempdir())


def run_app(settings: Settings) -> None:
    """Open the app (what ``sessionlab`` with no arguments does)."""
    from core import logs

    logs.configure(settings.log_level)  # the log file only: no terminal handler may draw over the app
    app = SessionLabApp(settings)
    try:
        app.run()
    finally:
        app.close_player()
