"""What the session screen's parts share: the one declaration of the state its mixins
(loading, scope, playback, growing, batches) read and write. The screen sets it up
(``SessionScreen.__init__``); each mixin subclasses this instead of declaring it again."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from textual.screen import Screen

from core.models import Session
from tui.jobs import GenerationJob
from tui.widgets.track_table import TrackRow

if TYPE_CHECKING:
    from tui.app import SessionLabApp


class SessionState(Screen[uuid.UUID | None]):
    app: SessionLabApp  # type: ignore[assignment]
    session: Session | None
    session_id: uuid.UUID | None
    loaded: bool  # the session's start is drawn (tree and list)
    clip_problems: dict[str, str]  # track id -> why its file cannot be played
    counts: tuple[int, int] | None  # (batches, clips) while older batches are still being read
    generating: bool  # a reactive on SessionBatches
    job: GenerationJob | None
    last_job: GenerationJob | None
    settling: int  # changes being spread over frames
    opening_held: bool  # the collector held until the session is read whole
    pending_rows: dict[str, TrackRow]
    waveforms_later: list[tuple[str, str]]
    _select_later: tuple[str, str | None] | None
