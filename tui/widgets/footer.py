"""The footer, redrawn only when what it shows changes.

Textual's Footer rebuilds its keys on every bindings refresh (focus moves, a
reactive with bindings=True, a worker finishing): a dozen widgets mounted and
styled each time. Here a refresh that would show the same keys is skipped.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class QuietFooter(Footer):
    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[tuple[str, str, str, bool], ...] | None = None

    def _signature(self, screen: Screen[object]) -> tuple[tuple[str, str, str, bool], ...]:
        return tuple(
            (binding.key, binding.action, binding.description, enabled)
            for (_, binding, enabled, _tooltip) in screen.active_bindings.values()
            if binding.show
        )

    def bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen and self._bindings_ready:
            signature = self._signature(screen)
            if signature == self._shown:
                return
            self._shown = signature
        super().bindings_changed(screen)
