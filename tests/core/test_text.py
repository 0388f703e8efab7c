"""core.text: what reaches a terminal from user, file and model text."""

from __future__ import annotations

import pytest

from core.text import shown, shown_line


@pytest.mark.parametrize(
    "raw",
    [
        "\x1b[2J\x1b[H",  # clear screen, home
        "\x1b]0;pwned\x07",  # OSC: set the terminal title
        "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",  # OSC 8 hyperlink
        "\x9b31m",  # C1 CSI
        "a\rb\x08c\x7f",
        "\u202eevil",  # right-to-left override
        "bad\udce9byte",  # a lone surrogate from an undecodable byte
    ],
)
def test_no_control_character_survives(raw: str) -> None:
    out = shown(raw)
    assert all(ch.isprintable() or ch == " " for ch in out), repr(out)
    assert "\x1b" not in out and "\x9b" not in out


def test_printable_text_is_untouched() -> None:
    for text in ["warm lofi loop", "café jazz", "Ünïcödé 🎹 ok", "[bold]not markup[/bold]", "a b"]:
        assert shown(text) == text


def test_stand_ins_keep_the_text_readable() -> None:
    assert shown("take\x1b[2J1") == "take\u241b[2J1"  # ESC shown as its control picture
    assert shown("a\nb") == "a\u240ab"


def test_shown_line_keeps_one_line() -> None:
    assert shown_line("one\ntwo\r\nthree\tfour\u2028five") == "one two three four five"
    assert shown_line(42) == "42"
