"""Small presentation helpers: how numbers, dates and waveforms look on screen.

Nothing here decides anything about music or sessions; it only formats values
that the core computed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from core.text import shown, shown_line

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
SPARK_CHARS = "▁▂▃▄▅▆▇█"
WAVEFORM_WIDTH = 20


def clock_time(seconds: float | None) -> str:
    """0:07, 1:23 — how players show a position."""
    if seconds is None or seconds < 0:
        return "-:--"
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    return f"{seconds:.1f} s"


def similarity(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}"


def when(moment: datetime | None, now: datetime | None = None) -> str:
    """A local date and time, shortened to the time of day when it is today."""
    if moment is None:
        return ""
    local = moment.astimezone() if moment.tzinfo is not None else moment
    if now is not None:
        today = now.astimezone() if now.tzinfo is not None else now
        if local.date() == today.date():
            return f"today {local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {many or word + 's'}"


def sparkline(levels: Sequence[float]) -> str:
    """Map levels in [0, 1] to block characters."""
    top = len(SPARK_CHARS) - 1
    chars = []
    for level in levels:
        clamped = min(1.0, max(0.0, float(level)))
        chars.append(SPARK_CHARS[round(clamped * top)])
    return "".join(chars)


def shorten(text: str, width: int) -> str:
    """One line of at most ``width`` characters, with an ellipsis when cut; safe to draw
    (control characters from a user, a file name or a model become visible stand-ins)."""
    line = " ".join(shown_line(text).split())
    if len(line) <= width:
        return line
    return line[: max(0, width - 1)].rstrip() + "…"


def shown_lines(text: str) -> str:
    """Text for a multi-line place (a toast, a text area): lines kept, each made safe to draw."""
    return "\n".join(shown(line) for line in _LINE_BREAK.split(str(text)))
