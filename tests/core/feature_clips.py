"""Sketch renders the embedded embedder's spaces are tested on (test_features_v2/v3.py)."""

from __future__ import annotations

import numpy as np

from core.providers import sketch

SR = 32_000
BRIEFS = ("slow dark ambient pad", "fast aggressive techno", "bright acoustic folk strum")


def render_briefs() -> dict[str, list[np.ndarray]]:
    """16 s of each brief, two seeds each."""
    return {
        brief: [sketch.render_recipe(sketch.design_recipe(brief, 0.5, 0.5, seed), 16.0) for seed in (3, 4)]
        for brief in BRIEFS
    }
