"""The state of one call of a use case: its callbacks, its cancel event, its timings, its notices.

A use case gets a fresh ``Run`` and keeps everything that lives only as long as
the call in it, so the service that starts it holds none: two calls never see
each other's state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.models import Batch
from core.providers.base import MusicProvider, ProgressFn, check_cancel

log = logging.getLogger(__name__)

ClipReadyFn = Callable[[int, int, Path], None]  # (index, total, playable path)


@dataclass
class StageTimer:
    """Wall-clock seconds per stage of the last batch (read by bench/pipeline.py)."""

    started: float = field(default_factory=time.perf_counter)
    stages: dict[str, float] = field(default_factory=dict)
    first_clip_sec: float | None = None

    def add(self, stage: str, seconds: float) -> None:
        self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    def clip_ready(self) -> None:
        if self.first_clip_sec is None:
            self.first_clip_sec = time.perf_counter() - self.started

    def as_dict(self) -> dict[str, Any]:
        return {
            "stages": dict(self.stages),
            "first_clip_sec": self.first_clip_sec,
            "total_sec": time.perf_counter() - self.started,
        }


@dataclass
class Run:
    """One call: what the caller passed in, and what the call gathers on its way."""

    progress: ProgressFn | None = None
    cancel: threading.Event | None = None
    on_clip: ClipReadyFn | None = None
    notices: list[str] = field(default_factory=list)  # one-line remarks for the user (a namer fell back)
    timer: StageTimer = field(default_factory=StageTimer)
    timings: dict[str, Any] | None = None  # the timer's reading once the batch is stored
    # The engine that made this call's clips when a fallback stood in for the chosen one
    # (settings.fallback_engines); None: the chosen engine made them.
    music: MusicProvider | None = None

    def start_clock(self) -> None:
        """The batch's clock starts here: input checked, the parent found, sklearn warming up."""
        self.timer = StageTimer()

    def report(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def check_cancel(self) -> None:
        check_cancel(self.cancel)

    def notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.append(text)

    def finish(self, batch: Batch) -> Batch:
        """Read the clock and log the stored batch's stages; returns the batch."""
        self.timings = self.timer.as_dict()
        _log_stages(batch, self.timings)
        return batch


def _log_stages(batch: Batch, timings: dict[str, Any]) -> None:
    """One structured log record per stage of a stored batch, and one for the whole batch."""
    context = {"session": batch.session_id, "batch": batch.id}
    for stage, seconds in timings.get("stages", {}).items():
        log.info("%s done", stage, extra={**context, "stage": stage, "elapsed_ms": seconds * 1000})
    log.info(
        "%s batch stored: %d of %d clips, namer %s",
        batch.kind,
        batch.num_generated,
        batch.num_requested,
        batch.namer,
        extra={**context, "stage": "done", "elapsed_ms": timings.get("total_sec", 0.0) * 1000},
    )
