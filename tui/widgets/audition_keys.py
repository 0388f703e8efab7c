"""The audition keys, bound on the widgets that hold the focus in a session.

Bound here rather than as priority bindings on the screen: a priority binding
runs as soon as the app reads the key, ahead of the keys typed before it that
are still queued for the focused widget ("j j Enter" would play the clip under
the old cursor). Bound on the focused widget, they run in the order typed.
"""

from __future__ import annotations

from textual.binding import Binding

AUDITION_BINDINGS = [
    Binding("enter", "screen.play", "Play", tooltip="Play the selected clip"),
    Binding("space", "screen.pause", "Pause", tooltip="Pause or resume"),
    Binding("left", "screen.seek(-5)", "−5 s", show=False),
    Binding("right", "screen.seek(5)", "+5 s", show=False),
]
