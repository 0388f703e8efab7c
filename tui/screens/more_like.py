"""The more-like dialog: how many clips and, for an engine that takes one, how far from the
cluster (the variation strength, close ... loose)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Select, Static

from tui.screens.modals import CountScreen


@dataclass(frozen=True)
class MoreLikeChoice:
    count: int
    strength: str | None = None  # None: the engine takes none (the setting is not involved)


def takes_strength(engine: str) -> bool:
    """Whether ``engine`` declares a variation strength (core.providers.capabilities)."""
    from core.providers.capabilities import ENGINES

    capabilities = ENGINES.get(engine)
    return bool(capabilities is not None and capabilities.variation_strength)


class MoreLikeScreen(CountScreen):
    """The count, checked by the core's rule, and the strength where ``strength`` is given
    (its default, usually the ``variation_strength`` setting); dismissed with a ``MoreLikeChoice``."""

    DEFAULT_CSS = """
    MoreLikeScreen #more-strength { width: 20; }
    """

    def __init__(self, title: str, default: int, max_batch_size: int, strength: str | None = None) -> None:
        super().__init__(title, default, max_batch_size)
        self.strength = strength

    def more_fields(self) -> ComposeResult:
        from core.providers.capabilities import VARIATION_STRENGTHS

        if self.strength is not None:
            with Horizontal(classes="field-row"):
                yield Label("Strength", classes="field-label")
                yield Select(
                    [(name, name) for name in VARIATION_STRENGTHS],
                    value=self.strength,
                    allow_blank=False,
                    compact=True,
                    id="more-strength",
                )
                yield Static("how far from the cluster", classes="field-hint")

    def result_for(self, count: int) -> MoreLikeChoice:
        strength = None
        if self.strength is not None:
            strength = str(self.query_one("#more-strength", Select).value)
        return MoreLikeChoice(count, strength)
