"""The app in named states, for snapshot tests and for scripts/screenshots.py.

Each scene prepares a data dir through the real core (fixed seeds), builds the
real app (fixed clock, dates and size, no cursor blink) and drives it with keys
to the state worth a picture. Nothing here is a fake: the sessions are made by
SessionService on the embedded engine and stored in SQLite.

One choice is planned instead of computed: which clips of a stored batch form a
cluster. k-means on these clips is a close call (several groupings lie within a
few percent of each other), and CPU-specific SIMD kernels in numpy and OpenBLAS
move the embeddings by about 1e-5, enough to land it on another grouping on
another machine (3 clusters instead of 2). So the service gets the groups below
(``planned``); everything else (audio, embeddings, centroids, similarities, names)
is computed by the real core from the real clips.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from core.models import BriefParams
from core.settings import Settings
from tui.app import SessionLabApp

SIZE = (120, 36)
FIXED_NOW = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)
BRIEF = "warm lofi loop with dusty drums and a sleepy Rhodes"
OTHER_BRIEF = "driving synthwave at night, gated snare, arpeggiated bass"
SEED = 7
# The clusters of the two stored initial batches, by clip index (what k-means finds for
# them on most machines): BRIEF's six clips in two clusters, OTHER_BRIEF's four in one.
FIRST_BATCH_GROUPS = ((0, 1), (2, 3, 4, 5))
NIGHT_DRIVE_GROUPS = ((0, 1, 2, 3),)


class StepClock:
    """Moves half a second each time it is read: ETAs and rates become exact."""

    def __init__(self, start: float = 1000.0, step: float = 0.5) -> None:
        import threading

        self.value = start
        self.step = step
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self.value += self.step
            return self.value


class Gate:
    """A generation observer that holds the worker at one (stage, done) until released."""

    def __init__(self, stage: str, done: int) -> None:
        import threading

        self.stage = stage
        self.done = done
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == self.stage and done == self.done and not self.reached.is_set():
            from textual.worker import get_current_worker

            worker = get_current_worker()  # called in the generation worker's thread
            self.reached.set()
            # Held until released, or until the app cancels the worker (on exit).
            while not self.release.wait(0.05) and not worker.is_cancelled:
                pass


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], bool], what: str, *, rounds: int = 3000
) -> None:
    """Let the app run until ``condition`` holds: a bounded number of turns, no timing assertion."""
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"never happened: {what}")


class SteppingNow:
    """FIXED_NOW, then 37 s later at each call: times are fixed and still distinct, so
    "newest first" has one answer."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> datetime:
        self.calls += 1
        return FIXED_NOW + timedelta(seconds=37 * self.calls)


class CountingIds:
    """Ids 00000000-0000-4000-8000-000000000001, ...2, ...: file paths in a picture are fixed."""

    def __init__(self) -> None:
        import itertools
        import threading

        self._next = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        import uuid

        with self._lock:
            return uuid.UUID(f"00000000-0000-4000-8000-{next(self._next):012d}")


def _id_holders() -> list[Any]:
    """Every core module that took ``new_id`` from core.models (the pipeline's use cases,
    the store): the ids they make are what a scene fixes."""
    import importlib
    import pkgutil
    import sys

    import core.models
    import core.pipeline
    import core.service  # noqa: F401
    import core.store

    for info in pkgutil.iter_modules(core.pipeline.__path__, "core.pipeline."):
        importlib.import_module(info.name)
    original = core.models.new_id
    return [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("core.") and name != "core.models" and getattr(module, "new_id", None) is original
    ]


@contextlib.contextmanager
def fixed_time() -> Iterator[None]:
    """Rows get fixed times (SteppingNow) and ids (CountingIds); dates are shown in UTC."""
    import core.service
    import core.store

    saved = (core.store.utcnow, core.service.utcnow, os.environ.get("TZ"))
    holders = _id_holders()
    saved_ids = [(module, module.new_id) for module in holders]
    now = SteppingNow()
    core.store.utcnow = now  # type: ignore[assignment]
    core.service.utcnow = now  # type: ignore[assignment]
    ids = CountingIds()
    for module in holders:
        module.new_id = ids
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        core.store.utcnow, core.service.utcnow = saved[0], saved[1]  # type: ignore[assignment]
        for module, original in saved_ids:
            module.new_id = original
        if saved[2] is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved[2]
        time.tzset()


def planned(groups: Sequence[Sequence[int]]) -> Callable[..., list[list[int]]]:
    """A clustering step for SessionService that returns ``groups``, held to the rules
    k-means output obeys (core.clustering): every clip once, k <= max_k, no cluster of one."""

    def cluster(embeddings: list[Any], max_k: int, space: str | None = None) -> list[list[int]]:
        flat = sorted(i for group in groups for i in group)
        if flat != list(range(len(embeddings))):
            raise ValueError(f"planned groups {groups} do not cover a batch of {len(embeddings)} clips")
        if len(groups) > max_k or (len(embeddings) > 1 and any(len(g) < 2 for g in groups)):
            raise ValueError(f"planned groups {groups} break the clustering rules (max_k {max_k})")
        return [sorted(group) for group in groups]

    return cluster


def make_sessions(settings: Settings, *, more_like: bool = True, second: bool = True) -> None:
    """Two sessions through the real service: one with a more-like batch, one named."""
    from core.service import SessionService

    service = SessionService.from_settings(settings)
    try:
        service.clusterer = planned(FIRST_BATCH_GROUPS)
        first = service.create_initial_batch(BRIEF, BriefParams(0.4, 0.6, 8.0), 6, seed=SEED)
        if more_like:
            cluster = first.batches[0].clusters[0]
            service.more_like_cluster(first.id, cluster.id, 3, seed=SEED + 1)
        if second:
            service.clusterer = planned(NIGHT_DRIVE_GROUPS)
            other = service.create_initial_batch(OTHER_BRIEF, BriefParams(0.9, 0.8, 6.0), 4, seed=SEED + 2)
            service.store.rename_session(other.id, "Night drive")
    finally:
        service.store.close()


def make_app(settings: Settings, **options: Any) -> SessionLabApp:
    options.setdefault("clock", StepClock())
    options.setdefault("now", lambda: FIXED_NOW)
    options.setdefault("cursor_blink", False)
    return SessionLabApp(settings, **options)


# ------------------------------------------------------------------ drivers


async def _sessions_loaded(pilot: Pilot[Any]) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: getattr(app.screen, "sessions", None) is not None, "the session list")


async def _settle(pilot: Pilot[Any]) -> None:
    """Wait for every worker but a held generation, then clear transient toasts."""
    app = pilot.app
    for _ in range(3):
        await pilot.pause()
        busy = [w for w in app.workers if not w.is_finished and w.group != "generate"]
        for worker in busy:
            await worker.wait()
    await pilot.pause()
    app.clear_notifications()
    await pilot.pause()


async def _open_first_session(pilot: Pilot[Any]) -> None:
    from tui.screens.session import SessionScreen

    app = pilot.app
    await _sessions_loaded(pilot)
    await pilot.press("G", "enter")  # the oldest: the session with a more-like batch
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, SessionScreen) and app.screen.session is not None,
        "the session opens",
    )
    await wait_for(
        pilot,
        lambda: all(r.path in app.waveforms for r in app.screen.query_one("#tracks").rows_by_key.values()),
        "waveforms",
    )


async def sessions_empty(pilot: Pilot[Any]) -> None:
    await _sessions_loaded(pilot)
    await _settle(pilot)


async def sessions_list(pilot: Pilot[Any]) -> None:
    await _sessions_loaded(pilot)
    await _settle(pilot)


async def delete_confirm(pilot: Pilot[Any]) -> None:
    await _sessions_loaded(pilot)
    await pilot.press("d")
    await _settle(pilot)


async def rename_dialog(pilot: Pilot[Any]) -> None:
    await _sessions_loaded(pilot)
    await pilot.press("G", "r")
    await _settle(pilot)


async def brief_form(pilot: Pilot[Any]) -> None:
    from tui.screens.brief import BriefScreen

    app = pilot.app
    await _sessions_loaded(pilot)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the brief form")
    await pilot.press(*["space" if c == " " else c for c in BRIEF])
    await _settle(pilot)


async def brief_invalid(pilot: Pilot[Any]) -> None:
    await brief_form(pilot)
    form = pilot.app.screen
    form.query_one("#energy", Input).value = "1.5"
    form.query_one("#clips", Input).value = "9"
    form.query_one("#seed", Input).value = "soon"
    await pilot.press("ctrl+s")
    await _settle(pilot)


async def session_view(pilot: Pilot[Any]) -> None:
    await _open_first_session(pilot)
    await _settle(pilot)


async def session_batch(pilot: Pilot[Any]) -> None:
    await _open_first_session(pilot)
    await pilot.press("home")  # the batch node: every clip, with its cluster
    await wait_for(
        pilot, lambda: pilot.app.screen.query_one("#tracks").scope.startswith("batch:"), "batch rows"
    )
    await wait_for(
        pilot,
        lambda: all(
            r.path in pilot.app.waveforms for r in pilot.app.screen.query_one("#tracks").rows_by_key.values()
        ),
        "waveforms",
    )
    await _settle(pilot)


async def more_like_dialog(pilot: Pilot[Any]) -> None:
    from tui.screens.modals import CountScreen

    await _open_first_session(pilot)
    await pilot.press("m")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CountScreen), "the count dialog")
    await _settle(pilot)


async def map_view(pilot: Pilot[Any]) -> None:
    """M: every clip of the session on the map, one step right of the first clip selected
    (nothing plays: a position in the player bar would not be the same twice)."""
    from tui.screens.map import MapScreen

    app = pilot.app
    await _open_first_session(pilot)
    await pilot.press("M")
    await wait_for(pilot, lambda: isinstance(app.screen, MapScreen) and app.screen.placed is not None, "map")
    await pilot.press("right")
    await _settle(pilot)


async def search_view(pilot: Pilot[Any]) -> None:
    """/ moody: the clips whose words (here, their cluster's name) say moody."""
    app = pilot.app
    await _open_first_session(pilot)
    await pilot.press("slash", *"moody", "enter")
    table = app.screen.query_one("#tracks")
    await wait_for(pilot, lambda: table.scope == "search", "the hits")
    await wait_for(
        pilot, lambda: all(r.path in app.waveforms for r in table.rows_by_key.values()), "waveforms"
    )
    await _settle(pilot)


async def help_screen(pilot: Pilot[Any]) -> None:
    await _open_first_session(pilot)
    await pilot.press("question_mark")
    await _settle(pilot)


async def playing(pilot: Pilot[Any]) -> None:
    """Loop on, play the first clip, pause it: the player bar with a position."""
    app = pilot.app
    await _open_first_session(pilot)
    await pilot.press("l", "enter")
    await wait_for(pilot, lambda: app.player_state is not None and app.player_state.playing, "playing")
    await pilot.pause(0.3)
    await pilot.press("space")
    await wait_for(pilot, lambda: app.player_state is not None and app.player_state.paused, "paused")
    await _settle(pilot)


async def no_audio_device(pilot: Pilot[Any]) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: bool(app.audio_problem), "the audio check")
    await _open_first_session(pilot)
    await _settle(pilot)


async def _list_focused(pilot: Pilot[Any]) -> None:
    await _open_first_session(pilot)
    await pilot.press("tab")
    await _settle(pilot)


async def clip_detail(pilot: Pilot[Any]) -> None:
    """i: the selected clip's details, its tempo, key and loudness computed and stored."""
    from tui.widgets.detail import ClipDetail

    await _list_focused(pilot)
    await pilot.press("i")
    detail = pilot.app.screen.query_one(ClipDetail)
    await wait_for(pilot, lambda: detail.facts is not None, "the clip's facts")
    await _settle(pilot)


async def ab_compare(pilot: Pilot[Any]) -> None:
    """Two clips marked A and B; B is in at 2 s, paused, where A was."""
    app = pilot.app
    await _list_focused(pilot)
    await pilot.press("l", "s", "4", "a", "j", "a")  # loop on; keep and rate A; mark A, then B: A plays
    await wait_for(pilot, lambda: app.player_state is not None and app.player_state.playing, "A plays")
    await pilot.press("space")
    await wait_for(pilot, lambda: app.player_state.paused, "paused")
    app._player.seek(2.0, relative=False)
    await pilot.press("a")
    await wait_for(
        pilot, lambda: app.now_playing.key == app.ab_pair.b.key and app.player_state.paused, "B is in"
    )
    await _settle(pilot)
    app._poll_player()
    await _settle(pilot)


async def export_dialog(pilot: Pilot[Any]) -> None:
    from tui.screens.export import ExportScreen

    app = pilot.app
    await _list_focused(pilot)
    await pilot.press("s", "j", "s", "e")
    await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen), "the export dialog")
    app.screen.query_one("#export-folder", Input).value = "~/Music/Session Lab/warm-lofi-loop"
    await _settle(pilot)


async def tags_dialog(pilot: Pilot[Any]) -> None:
    """t: the clip's tags and note, typed, not saved yet."""
    from tui.screens.curation_dialogs import TagsNoteScreen

    app = pilot.app
    await _list_focused(pilot)
    await pilot.press("t")
    await wait_for(pilot, lambda: isinstance(app.screen, TagsNoteScreen), "the tags dialog")
    app.screen.query_one("#tags-input", Input).value = "dusty, warm, intro"
    app.screen.query_one("#note-input", Input).value = "before the drop; try it under the vocal"
    await _settle(pilot)


def generating(gate: Gate) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """A new session mid-generation: three of six clips rendered and listed, held there.

    The app runs this batch itself, on its own service; the picture is taken before
    the batch reaches clustering, so k-means has no say in it."""

    async def drive(pilot: Pilot[Any]) -> None:
        from tui.screens.session import SessionScreen

        app = pilot.app
        await brief_form(pilot)
        app.screen.query_one("#seed", Input).value = str(SEED)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen), "the session screen")
        await wait_for(pilot, gate.reached.is_set, "three clips rendered")
        table = app.screen.query_one("#tracks")
        ready = lambda: [r for r in table.rows_by_key.values() if r.path]  # noqa: E731
        await wait_for(pilot, lambda: len(ready()) == 3, "three clips listed")
        await wait_for(pilot, lambda: all(r.path in app.waveforms for r in ready()), "waveforms")
        await _settle(pilot)

    return drive


@dataclass
class Scene:
    name: str
    caption: str
    drive: Callable[[Pilot[Any]], Awaitable[None]]
    sessions: bool = True
    app_options: dict[str, Any] = field(default_factory=dict)
    gate: Gate | None = None
    snapshot: bool = True  # False: for the README only (its picture is not deterministic)


def scenes() -> list[Scene]:
    gate = Gate("generating", 3)
    return [
        Scene(
            "sessions-empty",
            "First start: an empty data dir tells you to press n",
            sessions_empty,
            sessions=False,
        ),
        Scene("sessions", "Saved sessions, newest first, with dates and clip counts", sessions_list),
        Scene(
            "brief", "The brief form: brief, energy, density, duration, clips, seed, providers", brief_form
        ),
        Scene("brief-invalid", "Invalid input is explained next to each field", brief_invalid),
        Scene(
            "generating",
            "A batch being made: a bar per clip, one for the batch, stage and ETA; clips play as they land",
            generating(gate),
            sessions=False,
            gate=gate,
        ),
        Scene("session", "Cluster tree and track list with similarity and waveforms", session_view),
        Scene("session-batch", "A whole batch: every clip with its cluster", session_batch),
        Scene(
            "playing",
            "Auditioning: the player bar shows the clip, its cluster and the position",
            playing,
            snapshot=False,
        ),
        Scene("more-like", "m asks how many clips to make near a cluster", more_like_dialog),
        Scene(
            "map",
            "M: the session map, each cluster its own colour and shape; arrows move, Enter plays",
            map_view,
        ),
        Scene("search", "/ filters the clips by words, and by sound where the embedder can", search_view),
        Scene("delete", "Deleting asks first", delete_confirm),
        Scene("rename", "r renames a session", rename_dialog),
        Scene("help", "? lists every key binding", help_screen),
        Scene(
            "detail",
            "i shows a clip's brief, prompt, seed, engine, tempo, key, loudness and file",
            clip_detail,
        ),
        Scene("ab", "A/B: two takes marked, a flips between them at the same position", ab_compare),
        Scene("tags", "t edits a clip's tags and note", tags_dialog),
        Scene("export", "e exports kept clips, a cluster or one clip for a DAW", export_dialog),
        Scene(
            "no-audio",
            "No audio device: one line in the player bar, everything else works",
            no_audio_device,
            app_options={"audio_device": "no-such-device"},
        ),
    ]


def scene(name: str) -> Scene:
    return next(s for s in scenes() if s.name == name)
