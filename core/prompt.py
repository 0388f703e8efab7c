"""The prompt template (seed 000, fixed in v1)."""

from __future__ import annotations

from core.models import BriefParams


def render_prompt(brief: str, params: BriefParams) -> str:
    """Deterministic prompt sent to the music provider."""
    return (
        f"{brief} | energy={params.energy:.2f} | density={params.density:.2f}"
        f" | duration={params.duration_sec:.1f}s"
    )
