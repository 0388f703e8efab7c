"""The app's start (a mixin of SessionLabApp): the first screen, then, once it is drawn,
the warm-up in a thread (costly imports, the embedded providers, the audio check, one
BLAS thread, the session screen's styles) and the memory settled."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Any

from textual import work
from textual.screen import Screen
from textual.worker import get_current_worker

from tui.app_state import AppState
from tui.memory import settle_memory
from tui.messages import PlaybackProblem
from tui.player import POSITION_REFRESH_SEC


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


class AppStartup(AppState):
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
