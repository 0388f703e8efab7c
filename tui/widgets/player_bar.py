"""The player bar: what is playing, from which cluster, where, and how."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from core.text import shown_line
from tui.formatting import clock_time

BAR_WIDTH = 20


class PlayerBar(Static):
    """One line bound to the app's playback reactives, redrawn when they change."""

    def on_mount(self) -> None:
        for name in (
            "now_playing",
            "player_state",
            "audio_problem",
            "loop_playback",
            "volume_db",
            "auto_advance",
            "ab_pair",
        ):
            self.watch(self.app, name, self._redraw, init=False)
        self._redraw()

    def _redraw(self, _value: object = None) -> None:
        # One line, fixed height: a repaint, never a layout pass (it ticks 4 times a second).
        self.update(self.describe(), layout=False)

    def describe(self) -> Content:
        app = self.app
        problem: str = getattr(app, "audio_problem", "")
        now = getattr(app, "now_playing", None)
        state = getattr(app, "player_state", None)
        loop = bool(getattr(app, "loop_playback", False))
        loop_part = ("  ·  loop on", "bold") if loop else ("  ·  loop off", "dim")
        if problem:
            # User-facing text from the core: plain text, never markup.
            return Content.assemble(
                (" ✕ No sound: ", "bold $text-error"),
                (shown_line(problem), "$text-warning"),
                ("  Everything else still works.", "dim"),
            )
        if now is None:
            return Content.assemble(
                (" ■ Nothing playing", "dim"),
                ("  ·  Enter plays the selected clip", "dim"),
                loop_part,
            )
        if state is not None and state.paused:
            icon, status = (" ‖ ", "bold $text-warning"), "paused"
        elif state is not None and state.playing:
            icon, status = (" ▶ ", "bold $text-success"), "playing"
        else:
            icon, status = (" ■ ", "bold"), "stopped"
        seek_hint = ("  ·  ←/→ seek", "dim") if state is not None and (state.playing or state.paused) else ""
        then: str | tuple[str, str] = ""
        if not loop:
            then = (
                ("  ·  then next", "dim")
                if getattr(app, "auto_advance", False)
                else ("  ·  then stop", "dim")
            )
        volume = float(getattr(app, "volume_db", 0.0))
        volume_part = (
            ("  ·  muted", "bold $text-warning")
            if volume == float("-inf")
            else (
                f"  ·  vol {volume:+.0f} dB".replace("+0 ", "0 ").replace("-", "−"),
                "dim" if volume == 0 else "",
            )
        )
        pair = getattr(app, "ab_pair", None)
        ab_part: list[str | tuple[str, str]] = []
        if pair is not None and pair.a is not None:
            side = pair.side(now.key)
            seek_hint = ""  # room for the pair
            ab_part.append("  ·  ")
            for name, clip in (("A", pair.a), ("B", pair.b)):
                text = f"{name} #{clip.number}" if clip is not None else f"{name} ?"
                ab_part.append((text, "reverse bold" if side == name else "bold"))
                if name == "A":
                    ab_part.append(" ⇄ ")
        position = state.position_sec if state is not None else 0.0
        length = state.duration_sec if state is not None else 0.0
        filled = 0 if length <= 0 else round(BAR_WIDTH * min(1.0, max(0.0, position / length)))
        return Content.assemble(
            icon,
            (f"#{now.number}", "bold"),
            "  ",
            (shown_line(now.label), "bold $text-accent"),
            f"   {clock_time(position)} / {clock_time(length)}  ",
            ("━" * filled, "$text-accent"),
            ("─" * (BAR_WIDTH - filled), "dim"),
            f"  {status}",
            loop_part,
            then,
            volume_part,
            *ab_part,
            seek_hint,
        )
