"""The command palette (ctrl+p): the main actions of the screen it was opened on."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

GLOBAL_ACTIONS = (
    ("Help: every key binding", "app.help", "Show every key binding of every screen"),
    ("Audio output device", "app.choose_output_device", "Choose where clips play (headphones, interface)"),
    ("Volume up", "app.volume(3)", "3 dB louder, on top of the loudness match (+)"),
    ("Volume down", "app.volume(-3)", "3 dB quieter (-)"),
)


def command_actions(screen: object) -> list[tuple[str, str, str]]:
    """A screen's COMMAND_ACTIONS with those of the classes it is made of (mixins too)."""
    found: list[tuple[str, str, str]] = []
    for cls in type(screen).__mro__:
        for entry in cls.__dict__.get("COMMAND_ACTIONS", ()):
            if entry not in found:
                found.append(entry)
    return found


class SessionLabCommands(Provider):
    """Offers what the current screen can do now (the same check that greys the footer)."""

    def _commands(self) -> list[tuple[str, str, str]]:
        screen = self.screen
        offered: list[tuple[str, str, str]] = []
        for title, action, help_text in command_actions(screen):
            name = action.split(".", 1)[1] if action.startswith("app.") else action
            target = self.app if action.startswith("app.") else screen
            if target.check_action(name, ()) is True:
                offered.append((title, action, help_text))
        offered.extend(GLOBAL_ACTIONS)
        return offered

    async def discover(self) -> Hits:
        for title, action, help_text in self._commands():
            yield DiscoveryHit(title, partial(self.screen.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), partial(self.screen.run_action, action), help=help_text
                )
