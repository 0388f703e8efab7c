"""Analysis by synthesis: a recipe for a clip the engine did not make, from the style
whose prototype embedding is nearest and the clip's measured tempo, key, mode and brightness.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from core.providers.sketch.cues import STYLES
from core.providers.sketch.recipe import design_recipe
from core.providers.sketch.render import render_recipe
from core.providers.sketch.theory import KEY_NAMES, PROGRESSIONS, _choose, _rng
from core.providers.sketch.variants import VARIANTS


@functools.lru_cache(maxsize=1)
def style_prototypes() -> dict[str, np.ndarray]:
    """Each style's place in the features-v1 space: the mean embedding of short renders
    of it, one per arrangement (seeds 1, 2, 3: variants 1, 2, 0). Made once per process,
    when a foreign clip is first imitated."""
    from core.providers.features import embed_samples

    prototypes = {}
    for name in STYLES:
        seeds = range(1, VARIANTS + 1)
        vectors = [embed_samples(render_recipe(design_recipe(name, 0.5, 0.5, seed), 6.0)) for seed in seeds]
        mean = np.mean(vectors, axis=0)
        prototypes[name] = mean / (float(np.linalg.norm(mean)) or 1.0)
    return prototypes


def recipe_from_descriptors(
    descriptors: dict[str, float], embedding: np.ndarray | None, seed: int
) -> dict[str, Any]:
    """A recipe that imitates a clip the engine did not make.

    The style is the one whose prototype (``style_prototypes``) is nearest to the
    clip's features-v1 ``embedding``; tempo (when the beat is clear), key, mode,
    brightness, energy and busyness come from its measured ``descriptors``
    (``core.providers.features.describe_audio``).
    """
    if embedding is not None and np.any(embedding):
        prototypes = style_prototypes()
        style = max(sorted(prototypes), key=lambda name: float(np.dot(prototypes[name], embedding)))
    else:
        style = "ambient" if float(descriptors.get("onset_rate", 0.0)) < 1.5 else "pop"
    profile = STYLES[style]
    energy = min(1.0, max(0.0, float(descriptors.get("energy", 0.5))))
    onset_rate = float(descriptors.get("onset_rate", 3.0))
    recipe = design_recipe(style, energy, min(1.0, onset_rate / 8.0 + 0.2), seed)
    if float(descriptors.get("pulse_clarity", 0.0)) >= 0.3:
        tempo = float(descriptors.get("tempo_bpm", recipe["tempo"]))
        centre = sum(profile.tempo) / 2
        while tempo < centre / 1.5:  # the octave of the measured tempo that suits the style
            tempo *= 2
        while tempo > centre * 1.5:
            tempo /= 2
        recipe["tempo"] = round(min(170.0, max(50.0, tempo)), 2)
    recipe["key"] = int(descriptors.get("key", recipe["key"])) % 12
    recipe["key_name"] = KEY_NAMES[recipe["key"]]
    minor = float(descriptors.get("minorness", 0.0)) > 0
    mode = profile.modes_minor[0] if minor else profile.modes_major[0]
    if mode != recipe["mode"]:
        recipe["mode"] = mode
        recipe["progression"] = [int(d) for d in _choose(_rng(seed, "prog"), PROGRESSIONS[mode])]
    brightness_hz = float(descriptors.get("brightness", 1000.0))
    recipe["brightness"] = round(min(1.0, max(0.0, math.log2(max(brightness_hz, 200.0) / 200.0) / 4.0)), 3)
    recipe["derived_from_audio"] = True
    return recipe
