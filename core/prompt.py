"""The prompt template (seed 000, fixed in v1)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from core.models import BriefParams

if TYPE_CHECKING:
    from core.providers.capabilities import Capabilities


def render_prompt(brief: str, params: BriefParams, capabilities: Capabilities | None = None) -> str:
    """Deterministic prompt sent to the music provider.

    A tempo or key the engine takes as its own input (``capabilities``) stays out of
    the text; one it cannot take goes in it. Lyrics never do (only engines that sing get them).
    """
    text = (
        f"{brief} | energy={params.energy:.2f} | density={params.density:.2f}"
        f" | duration={params.duration_sec:.1f}s"
    )
    if params.bpm is not None and not (capabilities is not None and capabilities.tempo_input):
        text += f" | tempo={params.bpm:g} bpm"
    if params.key is not None and not (capabilities is not None and capabilities.key_input):
        text += f" | key={params.key}"
    return text


def brief_of(prompt: str) -> str:
    """The musician's brief inside a prompt ``render_prompt`` made (the prompt itself otherwise)."""
    return re.sub(r"\s*\|\s*energy=.*$", "", prompt, flags=re.DOTALL).strip()
