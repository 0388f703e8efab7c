"""Messages the workers post to the UI (post_message is thread-safe)."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

from tui.waveform import Waveform


class GenerationProgress(Message):
    """The core's progress callback, ``(stage, done, total)``, as a message."""

    def __init__(
        self, token: int, stage: str, done: int, total: int, *, at: float = 0.0, stage_started: float = 0.0
    ) -> None:
        super().__init__()
        self.token = token  # which generation it belongs to; stale ones are ignored
        self.stage = stage
        self.done = done
        self.total = total
        # Read from the app's clock in the worker, when the core reported it, so a
        # burst collapsed by can_replace loses no timing.
        self.at = at
        self.stage_started = stage_started

    def can_replace(self, message: Message) -> bool:
        # A burst of updates for one stage collapses to the latest.
        return (
            isinstance(message, GenerationProgress)
            and message.token == self.token
            and message.stage == self.stage
        )


class ClipRendered(Message):
    """A clip is on disk and can be auditioned, before the batch is clustered."""

    def __init__(
        self, token: int, index: int, total: int, path: Path, *, at: float = 0.0, stage_started: float = 0.0
    ) -> None:
        super().__init__()
        self.token = token
        self.index = index
        self.total = total
        self.path = path
        self.at = at
        self.stage_started = stage_started  # when generating began


class WaveformReady(Message):
    def __init__(self, key: str, path: Path, waveform: Waveform) -> None:
        super().__init__()
        self.key = key
        self.path = path
        self.waveform = waveform


class PlaybackFinished(Message):
    """The player reached the end of a clip (sent from PortAudio's thread)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path


class PlaybackProblem(Message):
    """No audio library, no device, or the device went away: one sentence."""

    def __init__(self, text: str, *, announce: bool = True) -> None:
        super().__init__()
        self.text = text
        self.announce = announce  # False: only the player bar shows it (found at start-up)
