"""``describe``: the embedded cluster namer. Words from the cluster's own sound.

The members' descriptors (``core.providers.features``; cached, so clips that
were just embedded are not analysed again) are averaged as standard scores
(0 = a typical clip) and folded into a few perceptual axes (``AXES``):
brightness, pace, pulse, activity, mood, grit, punch and weight. The two axes
that stand out most name the cluster, each with the word for its direction
("Bright Driving", "Dark Sparse"). When that label is taken in the batch, the
namer tries the next most distinctive axis, then another word for the same
direction, then adds a third word, and only then falls back to numbering
(``core.labels.unique_label``).

With no readable audio it uses features-v1 embeddings if it has them (their
components are the same scores, scaled), and with nothing at all it cleans
words from the prompts. Deterministic; never raises for valid input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from core.errors import AudioFileError
from core.labels import FALLBACK_LABEL, MAX_WORDS, clean_label, unique_label
from core.providers.base import NamingContext
from core.settings import Settings


@dataclass(frozen=True)
class Axis:
    name: str
    parts: tuple[tuple[str, float], ...]  # descriptor -> weight (on standard scores)
    high: tuple[str, ...]  # words for a high value, best first
    low: tuple[str, ...]  # words for a low value


AXES: tuple[Axis, ...] = (
    Axis("brightness", (("centroid", 0.5), ("rolloff", 0.3), ("bandwidth", 0.2)),
         ("Bright", "Airy", "Crisp"), ("Dark", "Murky", "Deep")),
    Axis("pace", (("tempo", 1.0),), ("Driving", "Fast", "Racing"), ("Slow", "Laidback", "Unhurried")),
    Axis("pulse", (("pulse_clarity", 0.5), ("low_pulse_clarity", 0.5)),
         ("Pulsing", "Steady", "Pounding"), ("Floating", "Drifting", "Loose")),
    Axis("activity", (("onset_rate", 0.6), ("onset_strength", 0.4)),
         ("Busy", "Restless", "Dense"), ("Sparse", "Still", "Calm")),
    Axis("mood", (("majorness", 1.0),), ("Sunny", "Hopeful", "Happy"), ("Moody", "Melancholy", "Somber")),
    Axis("grit", (("flatness", 0.7), ("crest", -0.3)), ("Gritty", "Raw", "Noisy"), ("Smooth", "Clean", "Pure")),
    Axis("punch", (("level_range", 0.5), ("onset_variation", 0.5)),
         ("Punchy", "Choppy", "Dynamic"), ("Sustained", "Even", "Flowing")),
    Axis("weight", (("mfcc_1", 0.6), ("contrast_0", 0.4)), ("Warm", "Heavy", "Full"), ("Light", "Lean", "Thin")),
)  # fmt: skip
# A third word when two are not enough: what the cluster is, by its strongest axis.
NOUNS: dict[tuple[str, bool], str] = {
    ("brightness", True): "Shine",
    ("brightness", False): "Shade",
    ("pace", True): "Rush",
    ("pace", False): "Crawl",
    ("pulse", True): "Pulse",
    ("pulse", False): "Drift",
    ("activity", True): "Motion",
    ("activity", False): "Space",
    ("mood", True): "Glow",
    ("mood", False): "Haze",
    ("grit", True): "Grit",
    ("grit", False): "Glide",
    ("punch", True): "Groove",
    ("punch", False): "Wash",
    ("weight", True): "Body",
    ("weight", False): "Air",
}
_STOPWORD_TEXT = (
    "a an the and or of for with in on to at by from into like some very more less much this that is are "
    "be it its my our your music track song clip sound sounds style vibe vibes feel feeling"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_PROMPT_PARAMS = re.compile(r"\s*\|\s*energy=.*$", re.DOTALL)


def axis_values(scores: dict[str, float]) -> dict[str, float]:
    """Each axis as a weighted sum of standard scores (0 = typical)."""
    values = {}
    for axis in AXES:
        values[axis.name] = float(sum(weight * scores.get(name, 0.0) for name, weight in axis.parts))
    # Major/minor is read least reliably of all (short clips, relative keys): it
    # names a cluster only when it stands out clearly.
    values["mood"] *= 0.6
    # Tempo estimates mean little without a beat: shrink pace by how clear the pulse is.
    clarity = scores.get("pulse_clarity", 0.0)
    values["pace"] *= float(np.clip(0.5 + 0.5 * clarity, 0.15, 1.0))
    return values


def _cluster_scores(context: NamingContext) -> dict[str, float] | None:
    from core.providers import features

    rows = []
    for path in context.audio_paths:
        try:
            rows.append(features.descriptor_scores(Path(path)))
        except AudioFileError:
            continue
    if rows:
        return {name: float(np.mean([row[name] for row in rows])) for name in features.FEATURE_NAMES}
    vectors = [np.asarray(e, dtype=np.float64).ravel() for e in context.embeddings]
    vectors = [v for v in vectors if v.shape[0] == features.DIMENSION and np.all(np.isfinite(v))]
    if not vectors:
        return None
    # A features-v1 vector is the scores times fixed group weights, normalised:
    # dividing the weights out gives the scores back up to a common scale.
    mean = np.mean([v / features.VECTOR_WEIGHTS for v in vectors], axis=0)
    peak = float(np.max(np.abs(mean)))
    if peak == 0.0:
        return None
    mean = mean / peak * 2.0
    return dict(zip(features.FEATURE_NAMES, mean.tolist(), strict=True))


def _candidates(values: dict[str, float]) -> list[str]:
    """Labels from the most to the least descriptive, all distinct."""
    ranked = sorted(AXES, key=lambda a: (-abs(values[a.name]), [x.name for x in AXES].index(a.name)))

    def word(axis: Axis, choice: int = 0) -> str:
        words = axis.high if values[axis.name] >= 0 else axis.low
        return words[min(choice, len(words) - 1)]

    order = {axis.name: k for k, axis in enumerate(AXES)}
    labels: list[str] = []

    def pair(first: Axis, second: Axis, choice_a: int = 0, choice_b: int = 0) -> str:
        # A stable reading order: brightness before pace before pulse...
        a, b = sorted(((first, choice_a), (second, choice_b)), key=lambda p: order[p[0].name])
        return f"{word(a[0], a[1])} {word(b[0], b[1])}"

    top = ranked[:4]
    for first, second in combinations(top, 2):  # (1,2) (1,3) (1,4) (2,3) ...
        labels.append(pair(first, second))
    for choice_a, choice_b in ((0, 1), (1, 0), (1, 1), (0, 2), (2, 0), (2, 2)):
        for first, second in combinations(top[:3], 2):
            labels.append(pair(first, second, choice_a, choice_b))
    strongest = ranked[0]
    noun = NOUNS[(strongest.name, values[strongest.name] >= 0)]
    for first, second in combinations(ranked[1:5], 2):
        labels.append(f"{pair(first, second)} {noun}")
    seen: set[str] = set()
    unique = []
    for label in labels:
        if label.lower() not in seen and len(label.split()) <= MAX_WORDS:
            seen.add(label.lower())
            unique.append(label)
    return unique


def label_from_prompts(prompts: Sequence[str]) -> str | None:
    """The first three telling words of the first prompt that has any, cleaned."""
    for prompt in prompts:
        if not isinstance(prompt, str):
            continue
        brief = _PROMPT_PARAMS.sub("", prompt)
        words: list[str] = []
        for token in brief.split():  # clean token by token: markup and accents go, words stay
            cleaned = clean_label(token)
            if cleaned:
                words.extend(w for w in cleaned.split() if w.lower() not in _STOPWORDS)
        label = clean_label(" ".join(words[:MAX_WORDS]))
        if label:
            return label
    return None


class DescribeNamer:
    """The embedded naming provider (``ClusterNamingProvider``)."""

    name = "describe"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings

    def name_cluster(self, prompts: list[str], context: NamingContext | None = None) -> str:
        taken = context.taken if context is not None else frozenset()
        lowered = {t.lower() for t in taken}
        scores = _cluster_scores(context) if context is not None else None
        if scores is not None:
            candidates = _candidates(axis_values(scores))
            for label in candidates:
                if label.lower() not in lowered:
                    return label
            return unique_label(candidates[0], taken)
        label = label_from_prompts(prompts) or FALLBACK_LABEL
        return unique_label(label, taken)


def create(settings: Settings, model: str | None = None) -> DescribeNamer:
    """Registry factory. The embedded namer has no model to choose."""
    if model:
        from core.errors import ValidationError

        raise ValidationError(f"The describe namer has no models to choose from (got {model!r}).")
    return DescribeNamer(settings)
