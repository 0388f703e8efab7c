"""Text from users, file names and models, made safe to show on a terminal.

What is stored stays verbatim; only what is printed or drawn goes through
``shown``. Control characters (C0, DEL, C1, and the escape that starts every
terminal control sequence) are replaced by visible stand-ins, so an imported
file named ``\\x1b[2J`` cannot clear the screen or retitle the terminal, and a
name with a newline cannot break a table row. Unicode format characters that
reorder text (bidi overrides) are replaced too. Printable text is untouched.
"""

from __future__ import annotations

import unicodedata

_REPLACEMENT = "\N{REPLACEMENT CHARACTER}"

# Control pictures for the C0 range (U+2400..U+241F) show what the character was.
_C0_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)}
_C0_PICTURES[0x7F] = "\N{SYMBOL FOR DELETE}"


_REORDERING = frozenset({"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})


def _stand_in(ch: str) -> str:
    code = ord(ch)
    if code in _C0_PICTURES:
        return _C0_PICTURES[code]
    if 0x80 <= code <= 0x9F:
        return _REPLACEMENT
    category = unicodedata.category(ch)
    if category in ("Cc", "Cs"):  # other controls, lone surrogates (from undecodable bytes)
        return _REPLACEMENT
    if category in ("Zl", "Zp"):  # line and paragraph separators would break a line
        return " "
    if category == "Cf" and unicodedata.bidirectional(ch) in _REORDERING:
        return _REPLACEMENT
    return ch


def shown(text: object) -> str:
    """``text`` as a string that is safe to print: control characters become visible stand-ins."""
    value = text if isinstance(text, str) else str(text)
    if value.isprintable():
        return value
    return "".join(ch if ch.isprintable() or ch == " " else _stand_in(ch) for ch in value)


def shown_line(text: object) -> str:
    """Like ``shown``, for a one-line place (a table cell, a title): newlines and tabs become spaces."""
    value = text if isinstance(text, str) else str(text)
    value = value.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return shown(value)
