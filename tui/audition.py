"""The app's audition habits: A/B between two takes, volume, auto-advance, the output device.

Mixed into SessionLabApp (its reactives ``ab_pair``, ``volume_db``, ``auto_advance``
live there). Every call that touches PortAudio runs in the player's worker group,
never on the UI thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from textual import work

from tui.jobs import NowPlaying
from tui.messages import PlaybackProblem

if TYPE_CHECKING:
    from core.playback import Player
    from tui.app import SessionLabApp

VOLUME_STEP_DB = 3.0


@dataclass(frozen=True)
class ABPair:
    """Two clips marked for comparison: A first, then B."""

    a: NowPlaying | None = None
    b: NowPlaying | None = None

    @property
    def complete(self) -> bool:
        return self.a is not None and self.b is not None

    def side(self, key: str | None) -> str | None:
        """ "A" or "B" for a marked clip's key, else None."""
        if key is not None and self.a is not None and self.a.key == key:
            return "A"
        if key is not None and self.b is not None and self.b.key == key:
            return "B"
        return None

    def marked(self, clip: NowPlaying) -> ABPair:
        """The pair with ``clip`` marked: A if there is none yet, else B (a third clip
        replaces B)."""
        if self.side(clip.key) is not None:
            return self
        if self.a is None:
            return replace(self, a=clip)
        return replace(self, b=clip)

    def other(self, key: str | None) -> NowPlaying | None:
        """The clip to flip to from ``key`` (from neither: A)."""
        side = self.side(key)
        return self.b if side == "A" else self.a

    def __iter__(self) -> Iterator[NowPlaying]:
        return iter([clip for clip in (self.a, self.b) if clip is not None])


class AuditionControls:
    """A/B flip, volume, auto-advance and device choice for the app (a mixin)."""

    def flip_to(self: SessionLabApp, clip: NowPlaying) -> None:  # type: ignore[misc]
        """Put ``clip`` in at the position the playing clip has reached (A/B), keeping
        pause; with nothing loaded, play it from the start."""
        if self._player is None or self.now_playing is None:
            self.play(clip)
            return
        self._play_requests += 1
        self._switch_clip(clip, self._play_requests)

    @work(thread=True, group="player", exit_on_error=False)
    def _switch_clip(self: SessionLabApp, clip: NowPlaying, request: int) -> None:  # type: ignore[misc]
        from pathlib import Path

        from core.audio import clip_file_problem
        from core.errors import PlaybackError

        with self._start_lock:
            if request != self._play_requests:
                return
            problem = clip_file_problem(clip.path)
            if problem is not None:
                self.call_from_thread(self.clip_unplayable, clip.number, problem)
                return
            try:
                player = self._ensure_player()
                self.started_clip = clip  # before it starts (see SessionLabApp._start_clip)
                player.switch(Path(clip.path))
                state = player.state
            except PlaybackError as exc:
                self.post_message(PlaybackProblem(str(exc)))
                return
            self._tell_notice(player)
        self.call_from_thread(self._clip_started, clip, state)

    def _tell_notice(self: SessionLabApp, player: Player) -> None:  # type: ignore[misc]
        notice = player.take_notice()
        if notice and self.told_missing_device != self.audio_device:  # said at start-up already
            self.told_missing_device = self.audio_device
            self.call_from_thread(self.notify, notice, severity="warning", markup=False, timeout=8)

    # ------------------------------------------------------------------ volume

    def action_volume(self: SessionLabApp, step_db: float) -> None:  # type: ignore[misc]
        """Up or down by ``step_db``; saved in the config file (in a worker)."""
        from core.playback import MAX_VOLUME_DB, MIN_VOLUME_DB, clamp_volume_db

        current = self.volume_db
        if current == float("-inf"):
            current = MIN_VOLUME_DB - VOLUME_STEP_DB
        wanted = min(MAX_VOLUME_DB, current + float(step_db))
        level = clamp_volume_db(wanted)
        if level == self.volume_db:
            return
        self.volume_db = level
        player = self._player
        if player is not None:
            player.volume_db = level  # a lock and two numbers: safe on the UI thread
            self._poll_player()
        self._save_setting("volume_db", max(MIN_VOLUME_DB, level))

    @work(thread=True, group="settings", exit_on_error=False)
    def _save_setting(self: SessionLabApp, name: str, value: Any) -> None:  # type: ignore[misc]
        """Remember a choice in the config file (a setting in core.settings)."""
        from core.settings import save_settings

        save_settings({name: value})
        self.settings = self.settings.replace(**{name: value})

    # ------------------------------------------------------------ auto-advance

    def action_toggle_auto_advance(self: SessionLabApp) -> None:  # type: ignore[misc]
        self.auto_advance = not self.auto_advance
        self.notify(
            "Auto-advance on: the next clip of the list plays when one ends."
            if self.auto_advance
            else "Auto-advance off: playback stops at the end of each clip.",
            markup=False,
        )

    def _advance_after(self: SessionLabApp, path: Any) -> None:  # type: ignore[misc]
        """A clip ended: the screen that lists it may play the next one."""
        # The clip the player started, which the UI may not have been told of yet: on a fast
        # device a short clip can end before its start reaches the player bar.
        now = self.started_clip
        if not self.auto_advance or self.loop_playback or now is None or str(path) != now.path:
            return
        if self.ab_pair.side(now.key) is not None:
            return  # comparing two takes: the end of one is not a cue to move on
        for screen in reversed(self.screen_stack):
            advance = getattr(screen, "play_next_after", None)
            if advance is not None:
                advance(now)
                return

    # ------------------------------------------------------------------ device

    def action_choose_output_device(self: SessionLabApp) -> None:  # type: ignore[misc]
        from tui.screens.devices import DeviceScreen

        def chosen(name: str | None) -> None:
            if name is not None:
                self.use_output_device(name)

        self.push_screen(DeviceScreen(self.audio_device), chosen)

    def use_output_device(self: SessionLabApp, name: str) -> None:  # type: ignore[misc]
        """Play on ``name`` ("" = the default device) from now on, and remember it."""
        self.audio_device = name or None
        self.told_missing_device = None
        self.audio_problem = ""
        self.stop_playback()
        self._set_device(name)
        self._save_setting("output_device", name)
        where = f"the audio output device {name!r}" if name else "the default audio output device"
        self.notify(f"Clips play on {where} from now on.", markup=False)

    @work(thread=True, group="player", exit_on_error=False)
    def _set_device(self: SessionLabApp, name: str) -> None:  # type: ignore[misc]
        with self._start_lock:
            player = self._player
            if player is not None:
                with contextlib.suppress(Exception):  # stopping a lost device must not raise
                    player.device = name or None
                player.fallback_to_default = True
