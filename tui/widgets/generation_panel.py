"""Progress of the batch being made: a bar per clip, one for the batch, the stage and an ETA.

The ETA is measured, not guessed: seconds per clip so far (generation) or per
embedding so far, times what is left. Until one clip has been timed it says
"estimating"; after the last measured stage it says "finishing".
"""

from __future__ import annotations

import math
import time

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Label, ProgressBar, Static

from core.providers.base import (
    STAGE_CLUSTERING,
    STAGE_EMBEDDING,
    STAGE_GENERATING,
    STAGE_LOADING,
    STAGE_NAMING,
    STAGE_SAVING,
)
from core.text import shown_line

# The batch bar counts: each clip generated, each clip embedded, then one step
# each for clustering, naming and saving.
_TAIL_STAGES = (STAGE_CLUSTERING, STAGE_NAMING, STAGE_SAVING)


CLIP_BAR_WIDTH = 8
CLIPS_PER_ROW = 4
# At most ten redraws a second while a batch is made: each competes with the engine for
# the interpreter (a frame drawn then takes two to four times as long). The state last
# reported is always drawn, at most this long after it came.
DRAW_INTERVAL_SEC = 0.1
_now = time.monotonic  # looked up at each call (tests move it)


def clip_bars(fractions: list[float], ready: set[int]) -> Content:
    """A bar per clip, drawn as text in one widget: cheap to redraw on every update."""
    parts: list[str | tuple[str, str]] = []
    for index, fraction in enumerate(fractions):
        if index and index % CLIPS_PER_ROW == 0:
            parts.append("\n")
        elif index:
            parts.append("  ")
        filled = round(CLIP_BAR_WIDTH * min(1.0, max(0.0, fraction)))
        done = index in ready or fraction >= 1.0
        parts.append((f"clip {index + 1} ", "bold $text-success" if done else "$text-muted"))
        parts.append(("━" * filled, "$text-success" if done else "$accent"))
        parts.append(("━" * (CLIP_BAR_WIDTH - filled), "$panel-lighten-2"))
    return Content.assemble(*parts)


class GenerationPanel(Vertical):
    """Shown while a batch is being made; fed by the core's progress callback.

    Times come with the messages (read in the worker when the core reported), so
    the ETA does not depend on when the UI got round to a message.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = ""
        self.num_clips = 0
        self.stage = ""
        self.stage_done = 0
        self.stage_total = 0
        self.clips_ready: set[int] = set()
        self.generated = 0
        self.embedded = 0
        self.tail_done: dict[str, float] = {}
        self.cancelling = False
        # stage -> (when the stage began, when its last step ended, steps done)
        self._timing: dict[str, tuple[float, float, int]] = {}
        self._clip_fraction = 0.0  # sub-clip progress reported by step-wise engines
        self._redraw_pending = False
        self._drawn_at = -math.inf

    def compose(self) -> ComposeResult:
        yield Static(id="generation-title")
        yield Static(id="generation-stage")
        with Horizontal(id="batch-row"):
            yield Label("Batch ", classes="bar-label")
            yield ProgressBar(total=1.0, id="batch-bar", show_eta=False)
        yield Static(id="clip-bars")

    # ---------------------------------------------------------------- inputs

    def start(self, title: str, num_clips: int) -> None:
        self.title = title
        self.num_clips = num_clips
        self.stage = STAGE_LOADING
        self.stage_done = 0
        self.stage_total = 0
        self.clips_ready = set()
        self.generated = 0
        self.embedded = 0
        self.tail_done = {}
        self.cancelling = False
        self._timing = {}
        self._clip_fraction = 0.0
        # A new batch is drawn now, whatever was drawn of the one before.
        self._drawn_at = -math.inf
        self._redraw_pending = False
        self._redraw()

    def progress(
        self, stage: str, done: int, total: int, *, at: float = 0.0, stage_started: float = 0.0
    ) -> None:
        self.stage, self.stage_done, self.stage_total = stage, done, total
        if stage == STAGE_GENERATING:
            if total >= self.num_clips and total < 64:
                # Clip counts (more-like may add a second round: more clips than asked).
                self._grow(total)
                self.generated = max(self.generated, min(done, total))
                self._clip_fraction = 0.0
                self._mark(stage, stage_started, at, self.generated)
            elif total > 0:
                # Steps of a batched engine: every clip advances together.
                self._clip_fraction = done / total
        elif stage == STAGE_EMBEDDING:
            self.embedded = min(done, self.num_clips)
            self._mark(stage, stage_started, at, self.embedded)
        elif stage in _TAIL_STAGES:
            self.tail_done[stage] = done / total if total > 0 else 1.0
        self._redraw()

    def clip_ready(self, index: int, total: int, *, at: float = 0.0, stage_started: float = 0.0) -> None:
        self._grow(total)
        self.clips_ready.add(index)
        self.generated = max(self.generated, len(self.clips_ready))
        self._mark(STAGE_GENERATING, stage_started, at, self.generated)
        self._redraw()

    def set_cancelling(self) -> None:
        self.cancelling = True
        self._redraw()

    # --------------------------------------------------------------- derived

    def _grow(self, total: int) -> None:
        self.num_clips = max(self.num_clips, total)

    def _mark(self, stage: str, began: float, at: float, steps: int) -> None:
        if steps > 0:
            previous = self._timing.get(stage)
            if previous is None or steps >= previous[2]:
                self._timing[stage] = (began, at, steps)

    @property
    def fraction(self) -> float:
        """How much of the batch is done, in [0, 1]."""
        units = 2 * self.num_clips + len(_TAIL_STAGES)
        if units <= 0:
            return 0.0
        done = min(self.generated, self.num_clips) + min(self.embedded, self.num_clips)
        done += sum(self.tail_done.values())
        return min(1.0, done / units)

    def eta_seconds(self) -> float | None:
        """Seconds left from the measured rate of the current stage, None if not measurable yet.

        While generating it counts only generation (the rate of embedding is not
        known yet); while embedding, only embedding. Clustering, naming and saving
        are short and shown as "finishing".
        """
        stage = self.stage
        if stage not in (STAGE_GENERATING, STAGE_EMBEDDING):
            return None
        timing = self._timing.get(stage)
        if timing is None:
            return None
        began, at, steps = timing
        per_step = max(0.0, at - began) / steps
        done = self.generated if stage == STAGE_GENERATING else self.embedded
        return max(0, self.num_clips - done) * per_step

    def stage_text(self) -> str:
        if self.cancelling:
            return "Cancelling: nothing of this batch will be stored…"
        stage = self.stage
        if stage == STAGE_GENERATING:
            shown = min(self.generated + 1, self.num_clips)
            text = f"Generating clip {shown} of {self.num_clips}"
            if self._clip_fraction:
                text += f" ({self._clip_fraction:.0%})"
        elif stage == STAGE_EMBEDDING:
            text = f"Embedding {min(self.embedded + 1, self.num_clips)} of {self.num_clips}"
        elif stage == STAGE_LOADING:
            text = "Loading model"
        elif stage:
            text = stage[:1].upper() + stage[1:]
        else:
            text = "Starting"
        eta = self.eta_seconds()
        if eta is not None:
            text += f" · about {max(1, round(eta))} s left"
        elif stage in (STAGE_GENERATING, STAGE_EMBEDDING, STAGE_LOADING):
            text += " · estimating time left"
        else:
            text += " · finishing"
        return text

    def _redraw(self) -> None:
        """Coalesce a burst of updates into one redraw, after the messages already queued,
        and no sooner than DRAW_INTERVAL_SEC after the one before."""
        if not self._redraw_pending:
            self._redraw_pending = True
            self.call_later(self._draw_when_due)

    def _draw_when_due(self) -> None:
        if not self._redraw_pending:
            return  # drawn meanwhile (a new batch's start)
        wait = self._drawn_at + DRAW_INTERVAL_SEC - _now()
        if wait > 0 and self.is_mounted:
            self.set_timer(wait, self._draw_when_due)
            return
        self._draw()

    def _draw(self) -> None:
        self._redraw_pending = False
        if not self.is_mounted:
            return
        self._drawn_at = _now()
        # Fixed heights: repaint the lines without a layout pass.
        self.query_one("#generation-title", Static).update(
            Content.assemble((shown_line(self.title), "bold"), ("   Esc cancels", "dim")), layout=False
        )
        self.query_one("#generation-stage", Static).update(Content(self.stage_text()), layout=False)
        self.query_one("#batch-bar", ProgressBar).update(progress=self.fraction)
        partial = self._clip_fraction if self.stage == STAGE_GENERATING else 0.0
        fractions = [
            1.0 if i in self.clips_ready or i < self.generated else partial for i in range(self.num_clips)
        ]
        rows = (len(fractions) + CLIPS_PER_ROW - 1) // CLIPS_PER_ROW
        bars = self.query_one("#clip-bars", Static)
        resized = bars.styles.height is None or bars.styles.height.value != rows
        if resized:
            bars.styles.height = rows
        bars.update(clip_bars(fractions, self.clips_ready), layout=resized)
