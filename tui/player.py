"""The app's one player (a mixin of SessionLabApp): a clip started in the player's worker
(only the latest asked for), pause, seek, loop, stop, the position polled while it plays,
and the ends and problems PortAudio reports. A/B, volume, auto-advance and the device
are ``tui.audition``'s."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work

from tui.app_state import AppState
from tui.audition import ABPair
from tui.jobs import NowPlaying
from tui.messages import PlaybackFinished, PlaybackProblem

if TYPE_CHECKING:
    from core.playback import Player, PlayerState

POSITION_REFRESH_SEC = 0.25


class AppPlayer(AppState):
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
