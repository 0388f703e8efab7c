"""Cluster labels: 1-3 plain ASCII words, unique within a batch."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

MAX_WORDS = 3
MAX_WORD_CHARS = 20
FALLBACK_LABEL = "Untitled"

_MARKUP = re.compile(r"\[/?[^\]]*\]|<[^>]*>|\*+|`+|#+|_{2,}")
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|.)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_WORD = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")


def clean_label(text: object) -> str | None:
    """Reduce model output to 1-3 ASCII words in title case, or None if nothing is left.

    Markup, quotes, punctuation, control characters and non-ASCII letters are
    dropped (accents are folded to their base letter first).
    """
    if not isinstance(text, str):
        return None
    text = _CONTROL.sub(" ", _ANSI.sub(" ", text))
    first_line = next((line for line in text.strip().splitlines() if line.strip()), "")
    first_line = first_line[:500]
    folded = unicodedata.normalize("NFKD", first_line).encode("ascii", "ignore").decode("ascii")
    folded = _MARKUP.sub(" ", folded)
    folded = re.sub(r"^\s*(label|name|cluster name|title)\s*:\s*", "", folded, flags=re.IGNORECASE)
    words = [w.replace("'", "")[:MAX_WORD_CHARS] for w in _WORD.findall(folded)]
    words = [w for w in words if w]
    if not words:
        return None
    return " ".join(w if w.isupper() and len(w) <= 4 else w.capitalize() for w in words[:MAX_WORDS])


def unique_label(label: str, taken: Collection[str]) -> str:
    """``label``, or ``label 2``, ``label 3``... so that it is not in ``taken``."""
    lowered = {t.lower() for t in taken}
    if label.lower() not in lowered:
        return label
    words = label.split()[: MAX_WORDS - 1]
    base = " ".join(words)
    number = 2
    while f"{base} {number}".lower() in lowered:
        number += 1
    return f"{base} {number}"
