"""Screenshots (a mixin of SessionLabApp): Textual's palette command and action, saving
where a folder can be written (``screenshot_folder``) and saying where."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from textual import work
from textual.app import SystemCommand
from textual.screen import Screen

from tui.app_state import AppState


class AppScreenshots(AppState):
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's palette commands, with Screenshot saving where it can (see action_screenshot)."""
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":
                yield SystemCommand(
                    "Screenshot",
                    "Save an SVG picture of the screen (in ~/Pictures, or the current folder)",
                    lambda: self.set_timer(0.1, self.action_screenshot),
                )
            else:
                yield command

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG of the screen and say where.

        Textual's default folder is ~/Downloads, which a server or a fresh account may not
        have ("Failed to save screenshot"): see ``screenshot_folder`` for where it goes.
        """
        svg = self.export_screenshot()
        stamp = datetime.now()
        name = filename or f"session-lab-{stamp:%Y-%m-%d_%H-%M-%S}-{stamp.microsecond // 1000:03d}.svg"
        self._save_screenshot(svg, name, path)

    @work(thread=True, exit_on_error=False, group="screenshot")
    def _save_screenshot(self, svg: str, name: str, folder: str | None) -> None:
        target = Path(folder).expanduser() if folder else screenshot_folder(self.settings.data_dir)
        try:
            target.mkdir(parents=True, exist_ok=True)
            path = target / name
            path.write_text(svg, encoding="utf-8")
        except OSError as exc:
            line = f"The screenshot could not be saved in {target} ({exc.strerror or exc})."
            self.call_from_thread(self.notify, line, title="Screenshot", severity="error", markup=False)
            return
        self.call_from_thread(self.notify, f"Saved to {path}", title="Screenshot", markup=False)


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def screenshot_folder(data_dir: Path) -> Path:
    """Where a screenshot goes: ~/Pictures if there is one, else the folder the app was
    started in if it can be written, else ``screenshots`` in the data dir, else the
    temporary folder. (Textual's ~/Downloads is often missing on a server.)"""
    import platformdirs

    candidates: list[Path] = []
    with contextlib.suppress(Exception):
        candidates.append(platformdirs.user_pictures_path())
    with contextlib.suppress(OSError):  # the current folder may have been deleted
        candidates.append(Path.cwd())
    for candidate in candidates:
        if _writable_dir(candidate):
            return candidate
    fallback = Path(data_dir) / "screenshots"
    with contextlib.suppress(OSError):
        fallback.mkdir(parents=True, exist_ok=True)
    if _writable_dir(fallback):
        return fallback
    return Path(tempfile.gettempdir())
