"""What the app's parts share: the one declaration of the state its mixins (start-up,
the player, screenshots) read and write. ``SessionLabApp.__init__`` sets it up, and its
reactives are declared on SessionLabApp; each mixin subclasses this instead of declaring
it again (as ``tui/screens/session_state.py`` for the session screen)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from textual.app import App
from textual.timer import Timer

from core.settings import Settings
from tui.audition import ABPair
from tui.jobs import NowPlaying
from tui.memory import QuietCollector

if TYPE_CHECKING:
    from core.playback import Player, PlayerState


class AppState(App[None]):
    settings: Settings
    audio_device: int | str | None
    device_fallback: bool  # the device is the settings' one: the default plays when it is missing
    told_missing_device: int | str | None
    started_clip: NowPlaying | None  # the clip the player last started
    check_audio: bool
    collector: QuietCollector
    _player: Player | None
    _player_lock: threading.Lock
    _start_lock: threading.Lock
    _play_requests: int
    _position_timer: Timer | None
    # reactives on SessionLabApp
    now_playing: NowPlaying | None
    player_state: PlayerState | None
    audio_problem: str
    loop_playback: bool
    ab_pair: ABPair
    volume_db: float
