"""The footer, changed in place rather than rebuilt.

Textual's Footer recomposes on every bindings refresh (focus moves, a reactive
with bindings=True, a worker finishing): a dozen widgets removed and mounted,
each styled three times (on mount, again when its ``compact`` watcher adds
``-compact``, again when the footer's binding takes it away), 20-30 ms of the
UI thread each time; a burst of refreshes before the first rebuild has run
queued a rebuild each. Here:

- a refresh while a rebuild is queued does nothing more (the rebuild reads the
  bindings of its own moment);
- one that would show the same keys, each as enabled as before, does nothing;
- one that only enables or disables keys changes those keys in place (their
  ``-disabled`` class: one restyle of each key that changed);
- one that only adds or removes keys (Esc "Cancel" while a batch is made) mounts
  or removes those keys alone;
- keys are made with ``compact`` already the footer's, so mounting one styles it once.

Only another change (words of a key, key groups) rebuilds the footer. What it
shows is what Footer.compose would show.
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import SequenceMatcher
from typing import NamedTuple

from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class _Shown(NamedTuple):
    """A key of the footer: ``look`` is what its widget shows (layouts compare it; the
    action's namespace is not part of it, so Enter bound to ``screen.play`` on the
    focused widget is the same key as ``play`` on the screen)."""

    look: tuple[object, ...]
    binding: Binding
    enabled: bool
    tooltip: str
    palette: bool


class QuietFooter(Footer):
    def __init__(self) -> None:
        super().__init__()
        self._keys: list[_Shown] | None = None  # the keys shown, in order (None: not composed yet)
        self._widgets: list[FooterKey] = []  # their widgets, in the same order
        self._recompose_queued = False

    def _state(self, screen: Screen[object]) -> list[_Shown]:
        """The keys Footer.compose would show now: one per action (the first bound, in
        the order of the active bindings), then the command palette's key."""
        shown: list[_Shown] = []
        actions: set[str] = set()
        active = screen.active_bindings
        for key, (_, binding, enabled, tooltip) in active.items():
            if binding.show and binding.action not in actions:
                actions.add(binding.action)
                look = (key, binding.key_display, binding.description, tooltip, binding.group)
                shown.append(_Shown(look, binding, enabled, tooltip, False))
        palette = self.app.COMMAND_PALETTE_BINDING
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE and palette in active:
            _, binding, enabled, _tooltip = active[palette]
            look = ("palette", palette, binding.key_display, binding.description, binding.tooltip)
            shown.append(_Shown(look, binding, enabled, binding.tooltip or binding.description, True))
        return shown

    def compose(self) -> Iterable[Widget]:  # type: ignore[override]
        self._recompose_queued = False
        self._keys = self._state(self.screen) if self._bindings_ready else None
        self._widgets = []
        compact = self.compact
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                # The palette's key is not bound to the footer's compact: it keeps its default.
                self._quiet(widget, True if widget.has_class("-command-palette") else compact)
                self._widgets.append(widget)
            yield widget

    @staticmethod
    def _quiet(widget: FooterKey, compact: bool) -> None:
        # Set before it is mounted, as its watcher would: no watcher runs, so no restyle
        # on the way in.
        widget.set_reactive(FooterKey.compact, compact)
        widget.set_class(compact, "-compact", update=False)

    def bindings_changed(self, screen: Screen[object]) -> None:
        mine = self.is_attached and screen is self.screen
        if mine and self._bindings_ready and self._recompose_queued:
            return
        if mine and self._bindings_ready and self._keys is not None and self._update(self._state(screen)):
            return
        super().bindings_changed(screen)
        if mine and screen.app.app_focus:
            self._recompose_queued = True

    # ------------------------------------------------------------ in place

    def _update(self, new: list[_Shown]) -> bool:
        """Show ``new`` by changing the keys shown; False if only a rebuild can."""
        old = self._keys
        assert old is not None
        if len(self._widgets) != len(old) or any(k.binding.group is not None for k in (*old, *new)):
            return False  # key groups (none here) are containers of their own: rebuild
        matcher = SequenceMatcher(a=[k.look for k in old], b=[k.look for k in new], autojunk=False)
        widgets: list[FooterKey] = []
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag in ("replace", "delete"):
                for widget in self._widgets[i1:i2]:
                    widget.remove()
            if tag in ("replace", "insert"):
                made = [self._make(key) for key in new[j1:j2]]
                following = self._widgets[i2] if i2 < len(self._widgets) else None
                if following is not None:
                    self.mount(*made, before=following)
                else:
                    self.mount(*made)
                widgets += made
            if tag == "equal":
                for widget, key in zip(self._widgets[i1:i2], new[j1:j2], strict=True):
                    self._set_enabled(widget, key)
                    widgets.append(widget)
        self._keys = new
        self._widgets = widgets
        return True

    def _make(self, key: _Shown) -> FooterKey:
        """A key as Footer.compose makes it."""
        binding = key.binding
        widget = FooterKey(
            binding.key,
            self.app.get_key_display(binding),
            binding.description,
            binding.action,
            disabled=not key.enabled,
            tooltip=key.tooltip,
            classes="-command-palette" if key.palette else "",
        )
        if key.palette:
            self._quiet(widget, True)
        else:
            self._quiet(widget, self.compact)
            widget.data_bind(compact=Footer.compact)
        return widget

    @staticmethod
    def _set_enabled(widget: FooterKey, key: _Shown) -> None:
        widget.action = key.binding.action
        if widget._disabled != (not key.enabled):
            widget._disabled = not key.enabled
            widget.set_class(not key.enabled, "-disabled")
