"""Widget styles read before the screen that needs them is opened.

Textual adds a widget class's DEFAULT_CSS to the app's stylesheet when the first
widget of that class is mounted, and the stylesheet is parsed again (every rule
set rebuilt) at the next style lookup: opening the first session paid for some
nine such parses, 40 ms of the UI thread in the middle of building the screen.
Here the classes a screen will mount have their CSS added and parsed at an idle
moment before (``preload_default_css``), so mounting them adds nothing new.

Uses Textual's own ``_get_default_css`` (the same sources, in the same order, that
``Widget._post_register`` adds), so what is parsed is exactly what mounting adds.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from textual.dom import DOMNode


def preload_default_css(app: Any, classes: Iterable[type[DOMNode]]) -> None:
    """Add each class's default CSS (with its bases') to the stylesheet, then parse it
    once. Call on the UI thread; classes already added cost nothing."""
    stylesheet = app.stylesheet
    for cls in classes:
        # _get_default_css reads only the class's bases (``_node_bases``).
        holder = SimpleNamespace(_node_bases=cls._css_bases(cls))
        for read_from, css, tie_breaker, scope in DOMNode._get_default_css(holder):  # type: ignore[arg-type]
            stylesheet.add_source(
                css, read_from=read_from, is_default_css=True, tie_breaker=tie_breaker, scope=scope
            )
    _ = stylesheet.rules  # parsed now, not when the screen is built


def session_screen_classes() -> tuple[type[DOMNode], ...]:
    """The widget classes a session screen mounts, in the order it first mounts them."""
    from textual.containers import Horizontal, Vertical
    from textual.widgets import Header, Label, ProgressBar, Static
    from textual.widgets._footer import FooterKey
    from textual.widgets._progress_bar import Bar, ETAStatus, PercentageStatus

    from tui.screens.session import SessionScreen
    from tui.widgets.cluster_tree import ClusterTree
    from tui.widgets.footer import QuietFooter
    from tui.widgets.generation_panel import GenerationPanel
    from tui.widgets.player_bar import PlayerBar
    from tui.widgets.track_table import TrackTable

    return (
        SessionScreen,
        Header,
        Static,
        Horizontal,
        ClusterTree,
        Vertical,
        TrackTable,
        GenerationPanel,
        Label,
        ProgressBar,
        Bar,
        PercentageStatus,
        ETAStatus,
        PlayerBar,
        QuietFooter,
        FooterKey,
    )
