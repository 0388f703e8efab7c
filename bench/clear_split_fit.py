"""The clear-split gate (``core.clustering.CLEAR_SPLIT``) fitted on a bigger pool of the
real-music set and reported on tracks it was not fitted on; ``bench/clustering_k.py --gate``
prints it.

Pools (``gate_pools``): ``held-out-2`` split by package into halves (seeded,
``half_of_each_package``); ``gate-fit`` = the ``tuning`` part + one half, ``gate-report`` =
the ``held-out`` part + the other half.

Candidate sets, as in ``bench/clustering_k.py``: one track (its five excerpts) and two
tracks (the first three excerpts of each, every pair of the pool). What the gate decides
is only the sets within the same-sound spread whose k-means split (no same-sound rule,
singletons merged) has two clusters or more: the rest come out the same whatever the
gate. Each candidate is clustered once; a gate's outcome is then read off its spread,
silhouette and nearest centroid distance, by the rules of ``core.clustering``.

The rule (``fit_gate``): over every pair of thresholds in the middle of two neighbouring
candidate values (silhouette, and centroid distance, of the fit pool's gated sets; plus
"below all" and "above all"), the pair with the highest ``weight`` x kept-whole rate +
split rate on the fit pool (``KEPT_WHOLE_WEIGHTS``: 1, the two rates alike, so that one
one-track set counts as much as many two-track sets, 2211 / 67 of them on the fit pool;
and 2); among equals, the one whose smaller half-gap is widest; rounded to as few
decimals as change no fit-pool decision. ``frontier`` gives, per number of
one-track sets the gate splits, the best split rate the fit pool allows.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from bench.embedders import half_of_each_package, three_track_subsets
from bench.music_set import HELD_OUT, HELD_OUT_2, TUNING
from core import clustering

GATE_SEED = 0
GATE_FIT, GATE_REPORT = "gate-fit", "gate-report"


def tracks_of(rows: list[dict], part: str) -> list[str]:
    return sorted({row["track"] for row in rows if row["part"] == part})


def gate_pools(rows: list[dict], seed: int = GATE_SEED) -> dict[str, list[str]]:
    """The tracks of ``gate-fit`` and ``gate-report`` (see the module's docstring)."""

    second = tracks_of(rows, HELD_OUT_2)
    fit_half = set(half_of_each_package(second, np.random.default_rng(seed)))
    return {
        GATE_FIT: tracks_of(rows, TUNING) + sorted(fit_half),
        GATE_REPORT: tracks_of(rows, HELD_OUT) + [t for t in second if t not in fit_half],
    }


def gate_masks(rows: list[dict]) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Per excerpt: its track, whether it is in ``gate-fit``, and the parts figures are
    reported on (``gate-report``, and ``held-out`` alone), as boolean masks over ``rows``."""
    labels = np.array([row["track"] for row in rows])
    pools = gate_pools(rows)
    parts = {
        GATE_REPORT: np.isin(labels, pools[GATE_REPORT]),
        HELD_OUT: np.array([row["part"] == HELD_OUT for row in rows]),
    }
    return labels, np.isin(labels, pools[GATE_FIT]), parts


def split_scores(unit: np.ndarray, clusters: list[list[int]]) -> tuple[float, float]:
    """(mean silhouette, nearest centroid distance) of ``clusters`` of the unit rows, as
    ``core.clustering.is_clear_split`` scores them."""
    labels = np.zeros(len(unit), dtype=int)
    for label, members in enumerate(clusters):
        labels[members] = label
    centroids = clustering.normalise_rows([unit[m].mean(axis=0) for m in clusters])
    apart = (1.0 - centroids @ centroids.T)[np.triu_indices(len(clusters), 1)].min()
    return clustering._silhouette(unit, labels), float(apart)


@dataclass(frozen=True)
class Candidate:
    """One batch of the set: its true labels and its k-means split (no same-sound rule)."""

    truth: tuple[int, ...]
    spread: float
    clusters: tuple[tuple[int, ...], ...]
    silhouette: float
    apart: float

    @classmethod
    def of(cls, unit: np.ndarray, truth: list[int]) -> Candidate:
        clusters = clustering.cluster_embeddings(list(unit), 3)
        silhouette, apart = split_scores(unit, clusters) if len(clusters) > 1 else (np.nan, np.nan)
        return cls(tuple(truth), clustering.spread(unit), tuple(map(tuple, clusters)), silhouette, apart)

    def gated(self, limit: float) -> bool:
        """Whether the gate decides this batch (within the spread, split in two or more)."""
        return len(self.clusters) > 1 and self.spread <= limit

    def found(self, limit: float, gate: tuple[float, float] | None) -> int:
        """How many clusters the product gives this batch with ``gate`` (None: spread rule alone)."""
        if not self.gated(limit):
            return len(self.clusters)
        if gate is not None and self.silhouette >= gate[0] and self.apart >= gate[1]:
            return len(self.clusters)
        return 1

    def labels(self, limit: float, gate: tuple[float, float] | None) -> list[int]:
        if self.found(limit, gate) == 1:
            return [0] * len(self.truth)
        labels = [0] * len(self.truth)
        for label, members in enumerate(self.clusters):
            for i in members:
                labels[i] = label
        return labels


def candidates(unit: np.ndarray, tracks: np.ndarray, pool: list[str], three: bool = False) -> dict:
    """One-track, two-track (and, with ``three``, ``three_track_subsets``) candidates of ``pool``."""
    rows = {t: unit[tracks == t] for t in pool}
    out = {
        "one": [Candidate.of(rows[t], [0] * len(rows[t])) for t in pool],
        "two": [
            Candidate.of(np.vstack([rows[a][:3], rows[b][:3]]), [0, 0, 0, 1, 1, 1])
            for a, b in itertools.combinations(pool, 2)
        ],
    }
    if three:
        out["three"] = [
            Candidate.of(np.vstack([rows[t][:2] for t in trio]), [0, 0, 1, 1, 2, 2])
            for trio in three_track_subsets(pool)
        ]
    return out


def rates(sets: dict, limit: float, gate: tuple[float, float] | None) -> dict[str, float]:
    """Kept-whole (one track, one cluster) and split (two tracks, more than one) rates, and
    the three-track figures when there are such sets."""
    from sklearn.metrics import adjusted_rand_score

    def share(values) -> float:
        return round(float(np.mean(list(values))), 3)

    out = {
        "one_track_one_cluster": share(c.found(limit, gate) == 1 for c in sets["one"]),
        "two_tracks_split": share(c.found(limit, gate) > 1 for c in sets["two"]),
        "two_tracks_two_clusters": share(c.found(limit, gate) == 2 for c in sets["two"]),
    }
    if "three" in sets:
        out["three_tracks_split"] = share(c.found(limit, gate) > 1 for c in sets["three"])
        out["three_tracks_three_clusters"] = share(c.found(limit, gate) == 3 for c in sets["three"])
        out["three_tracks_ari"] = share(
            adjusted_rand_score(c.truth, c.labels(limit, gate)) for c in sets["three"]
        )
    return out


def _thresholds(values: np.ndarray, top: float) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds in the middle of neighbouring distinct values, plus 0 and ``top``; each
    with its half-gap (the distance to the nearer value)."""
    distinct = np.unique(values)
    middles = (distinct[:-1] + distinct[1:]) / 2
    cuts = np.concatenate([[0.0], middles, [top]])
    margins = np.concatenate([[distinct[0]], (distinct[1:] - distinct[:-1]) / 2, [top - distinct[-1]]])
    return cuts, margins


# Weights of the kept-whole rate against the split rate that ``gate_report`` fits with:
# the two rates alike, and keeping one sound whole counted twice.
KEPT_WHOLE_WEIGHTS = (1.0, 2.0)
FRONTIER_LEVELS = 6


def fit_gate(sets: dict, limit: float, weight: float = 1.0) -> dict:
    """The thresholds the rule (module docstring) chooses on ``sets``, kept-whole rate
    weighted ``weight``; and the frontier: per number of gated one-track sets split
    (0 .. ``FRONTIER_LEVELS`` - 1), the best split rate and the thresholds that reach it."""
    one = [c for c in sets["one"] if c.gated(limit)]
    two = [c for c in sets["two"] if c.gated(limit)]
    points = np.array([[c.silhouette, c.apart] for c in one + two])
    is_one = np.array([True] * len(one) + [False] * len(two))
    # Sets the gate does not decide count the same for every pair of thresholds.
    whole_fixed = sum(c.found(limit, None) == 1 for c in sets["one"]) - len(one)
    split_fixed = sum(c.found(limit, None) > 1 for c in sets["two"])
    sil_cuts, sil_margins = _thresholds(points[:, 0], 1.01)
    apart_cuts, apart_margins = _thresholds(points[:, 1], 2.01)
    passes = (points[None, None, :, 0] >= sil_cuts[:, None, None]) & (
        points[None, None, :, 1] >= apart_cuts[None, :, None]
    )
    ones_split = passes[:, :, is_one].sum(axis=2)
    kept = (whole_fixed + len(one) - ones_split) / len(sets["one"])
    split = (split_fixed + passes[:, :, ~is_one].sum(axis=2)) / len(sets["two"])

    def widest(mask: np.ndarray) -> tuple[int, int]:
        best = np.argwhere(mask)
        margin = np.minimum(sil_margins[best[:, 0]], apart_margins[best[:, 1]])
        return tuple(best[int(np.argmax(margin))])

    def tidy(i: int, j: int) -> list[float]:
        """The thresholds, rounded to as few decimals (2..4) as keep every fit-pool decision."""
        exact = passes[i, j]
        for digits in (2, 3, 4):
            s, a = round(float(sil_cuts[i]), digits), round(float(apart_cuts[j]), digits)
            if np.array_equal((points[:, 0] >= s) & (points[:, 1] >= a), exact):
                return [s, a]
        return [float(sil_cuts[i]), float(apart_cuts[j])]

    score = weight * kept + split
    i, j = widest(np.isclose(score, score.max()))
    frontier = []
    for level in range(min(FRONTIER_LEVELS, len(one) + 1)):
        at_level = np.where(ones_split == level, split, -1.0)
        if at_level.max() >= 0:
            fi, fj = widest(np.isclose(at_level, at_level.max()))
            frontier.append(
                {
                    "kept_whole": round(float(kept[fi, fj]), 3),
                    "split": round(float(split[fi, fj]), 3),
                    "gate": tidy(fi, fj),
                }
            )
    return {
        "kept_whole_weight": weight,
        "gate": tidy(i, j),
        "half_gaps": [round(float(sil_margins[i]), 4), round(float(apart_margins[j]), 4)],
        "kept_whole": round(float(kept[i, j]), 3),
        "split": round(float(split[i, j]), 3),
        "frontier": frontier,
    }


def distribution(sets: dict, limit: float) -> dict:
    """The fit pool's gated candidates: every one-track set's [silhouette, distance, spread],
    and quantiles of the two-track sets' silhouettes and distances."""

    def quantiles(values: list[float]) -> dict[str, float]:
        q = np.percentile(values, [0, 5, 10, 25, 50, 75, 100])
        return dict(
            zip(("min", "p5", "p10", "p25", "median", "p75", "max"), np.round(q, 3).tolist(), strict=True)
        )

    one = [c for c in sets["one"] if c.gated(limit)]
    two = [c for c in sets["two"] if c.gated(limit)]
    return {
        "one_track": {
            "sets": len(sets["one"]),
            "gated": len(one),
            "silhouette_apart_spread": sorted(
                [round(c.silhouette, 3), round(c.apart, 3), round(c.spread, 3)] for c in one
            ),
        },
        "two_tracks": {
            "sets": len(sets["two"]),
            "gated": len(two),
            "silhouette": quantiles([c.silhouette for c in two]),
            "apart": quantiles([c.apart for c in two]),
        },
    }


def gate_report(unit: np.ndarray, tracks: np.ndarray, rows: list[dict], space: str) -> dict:
    """The refit: pools, fit-pool distributions, the chosen gate, and both pools' rates with
    the spread rule alone, the current gate and the refitted one."""
    limit, current = clustering.SAME_SOUND_SPREAD[space], clustering.CLEAR_SPLIT.get(space)
    pools, second = gate_pools(rows), set(tracks_of(rows, HELD_OUT_2))
    fit_sets = candidates(unit, tracks, pools[GATE_FIT])
    fits = [fit_gate(fit_sets, limit, weight) for weight in KEPT_WHOLE_WEIGHTS]
    report_sets = candidates(unit, tracks, pools[GATE_REPORT], three=True)
    gates = {"spread_only": None, "current": current}
    gates.update({f"refit_weight_{fit['kept_whole_weight']:g}": tuple(fit["gate"]) for fit in fits})
    return {
        "seed": GATE_SEED,
        "pools": {
            name: {"tracks": len(pool), "of_held_out_2": len(second.intersection(pool))}
            for name, pool in pools.items()
        },
        "fit_distribution": distribution(fit_sets, limit),
        "fits": fits,
        "rates": {
            GATE_FIT: {name: rates(fit_sets, limit, gate) for name, gate in gates.items()},
            GATE_REPORT: {name: rates(report_sets, limit, gate) for name, gate in gates.items()},
        },
        # The bench's reading of a gate is the product's: one-track report sets, current gate.
        "agrees_with_product": all(
            c.found(limit, current)
            == len(clustering.cluster_embeddings(list(unit[tracks == t]), 3, space=space))
            for c, t in zip(report_sets["one"], pools[GATE_REPORT], strict=True)
        ),
        "report_gated": {
            "one_track": sum(c.gated(limit) for c in report_sets["one"]),
            "two_tracks": sum(c.gated(limit) for c in report_sets["two"]),
        },
    }
