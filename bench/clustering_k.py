"""How many clusters a batch gets (``core.clustering``'s choice of k); prints one JSON object.

    .venv/bin/python bench/clustering_k.py [--space features-v2] [--sketch-only]
    .venv/bin/python bench/clustering_k.py --gate    # only the clear-split gate, refitted

In one embedding space (``features-v3``, the default, or ``--space``), on the
real-music set (``bench/music_set.py``), per part (the same-sound spread
``SAME_SOUND_SPREAD[space]`` was chosen on the ``tuning`` part only):

- ``spread``: the spread (mean cosine distance to the centroid) of the five
  excerpts of one track, and of three excerpts each of two tracks: min, median, max;
- ``one_track``: share of tracks whose five excerpts come back as one cluster;
- ``two_tracks`` / ``three_tracks``: share of 3+3 / 2+2+2 excerpt batches of
  different tracks that come back as more than one cluster, and as exactly as
  many clusters as tracks; ``three_tracks_ari``: their mean adjusted Rand index;
- ``within_spread``: for the batches within the spread whose k-means split (no
  same-sound rule) has two clusters or more, that split's silhouette and nearest
  centroid distance (``CLEAR_SPLIT[space]`` was chosen from the tuning figures).

``--gate`` (``bench/clear_split_fit.py``): ``CLEAR_SPLIT[space]`` fitted again on a bigger
pool, ``gate-fit`` (the ``tuning`` part and a seeded half, by package, of ``held-out-2``),
and every rate given on ``gate-report`` (``held-out`` and the other half) with the spread
rule alone, the current gate and the refitted ones.

On the embedded engine (``sketch``, embedded in the same space; ``--sketch-only``
skips the real-music set): for several briefs (one with its tempo and key stated)
and five batch seeds, six clips of one brief, which play its three arrangements two
clips each (``core.providers.sketch.variants``): how many clusters, the spread, the
distances between clips of one arrangement (``twins``) and of two (``apart``), and
whether a cluster ever splits an arrangement; and two clips of one arrangement each
of three briefs: spread and clusters.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from core import clustering  # noqa: E402

SPACE = "features-v3"
BRIEFS = ("slow dark ambient pad", "fast aggressive techno", "bright acoustic folk strum")


def k_of(vectors: np.ndarray) -> int:
    return len(clustering.cluster_embeddings(list(vectors), 3, space=SPACE))


def clustering_labels(vectors: np.ndarray) -> list[int]:
    labels = [0] * len(vectors)
    for label, members in enumerate(clustering.cluster_embeddings(list(vectors), 3, space=SPACE)):
        for i in members:
            labels[i] = label
    return labels


def split_figures(batches: list[np.ndarray]) -> list[list[float]]:
    """[silhouette, nearest centroid distance] of the k-means split of each batch within the spread."""
    from bench.clear_split_fit import split_scores

    limit, out = clustering.SAME_SOUND_SPREAD[SPACE], []
    for unit in batches:
        clusters = clustering.cluster_embeddings(list(unit), 3)
        if clustering.spread(unit) <= limit and len(clusters) > 1:
            out.append([round(v, 3) for v in split_scores(unit, clusters)])
    return sorted(out)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "min": round(float(np.min(values)), 3),
        "median": round(float(np.median(values)), 3),
        "max": round(float(np.max(values)), 3),
    }


def embedded(rows: list[dict]) -> np.ndarray:
    """The unit vectors of the set's excerpts ``rows`` in ``SPACE``."""
    from bench.music_set import set_dir
    from core.providers.features import FeatureEmbedder

    embedder = FeatureEmbedder(version=SPACE.removeprefix("features-"))
    return clustering.normalise_rows([embedder.embed_audio(set_dir() / row["path"]) for row in rows])


def gate() -> dict:
    """``CLEAR_SPLIT`` refitted on ``gate-fit`` and reported on ``gate-report`` (``bench/clear_split_fit.py``)."""
    from bench.clear_split_fit import gate_report
    from bench.music_set import load_manifest

    rows = load_manifest()["excerpts"]
    return gate_report(embedded(rows), np.array([row["track"] for row in rows]), rows, SPACE)


def music_set() -> dict:
    from sklearn.metrics import adjusted_rand_score

    from bench.music_set import HELD_OUT, TUNING, load_manifest

    # The two parts of the picked tracks only: the second held-out group is not scored here.
    rows = [row for row in load_manifest()["excerpts"] if row["part"] in (TUNING, HELD_OUT)]
    unit = embedded(rows)
    tracks = np.array([row["track"] for row in rows])
    parts = np.array([row["part"] for row in rows])
    result = {}
    for part in (TUNING, HELD_OUT):
        names = sorted(set(tracks[parts == part].tolist()))
        one = [unit[tracks == t] for t in names]
        two = [np.vstack([unit[tracks == t][:3] for t in pair]) for pair in itertools.combinations(names, 2)]
        three = [
            np.vstack([unit[tracks == t][:2] for t in trio]) for trio in itertools.combinations(names, 3)
        ]
        k_two, k_three = [k_of(v) for v in two], [k_of(v) for v in three]
        result[part] = {
            "tracks": len(names),
            "spread": {
                "one_track": summary([clustering.spread(v) for v in one]),
                "two_tracks": summary([clustering.spread(v) for v in two]),
            },
            "one_track_one_cluster": round(float(np.mean([k_of(v) == 1 for v in one])), 3),
            "two_tracks_split": round(float(np.mean([k > 1 for k in k_two])), 3),
            "two_tracks_two_clusters": round(float(np.mean([k == 2 for k in k_two])), 3),
            "three_tracks_split": round(float(np.mean([k > 1 for k in k_three])), 3),
            "three_tracks_three_clusters": round(float(np.mean([k == 3 for k in k_three])), 3),
            "three_tracks_ari": round(
                float(
                    np.mean([adjusted_rand_score([0, 0, 1, 1, 2, 2], clustering_labels(v)) for v in three])
                ),
                3,
            ),
            "within_spread": {"one_track": split_figures(one), "two_tracks": split_figures(two)},
            "batches": {"one": len(one), "two": len(two), "three": len(three)},
        }
    return result


VARIETY_BRIEFS: tuple[tuple[str, dict], ...] = (
    ("dusty boom bap with jazzy rhodes", {"bpm": 88.0, "key": "D minor"}),
    ("dusty boom bap with jazzy rhodes", {}),
    ("slow dark ambient pad", {}),
    ("fast aggressive techno", {}),
    ("bright acoustic folk strum", {}),
    ("upbeat synthpop anthem", {}),
    ("epic orchestral trailer", {}),
    ("chill lofi study beat", {}),
)


def sketch_batches(seeds: tuple[int, ...] = (1, 2, 3, 4, 5)) -> dict:
    """Six clips of one brief (its three arrangements, clips i and i + 3 alike), for each
    of ``VARIETY_BRIEFS`` and batch seed: clusters, spread, distances between clips of one
    arrangement (``twins``) and of two (``apart``), whether any cluster splits an
    arrangement; and two clips of one arrangement each of three briefs."""
    from core.models import BriefParams
    from core.prompt import render_prompt
    from core.providers.base import GenerationRequest
    from core.providers.features import FeatureEmbedder
    from core.providers.sketch import SketchEngine

    engine, embedder = SketchEngine(), FeatureEmbedder(version=SPACE.removeprefix("features-"))
    variety, three_briefs = [], []
    with tempfile.TemporaryDirectory() as tmp:

        def render(brief: str, clips: int, seed: int, sub: str, stated: dict | None = None) -> np.ndarray:
            params = BriefParams(energy=0.5, density=0.5, duration_sec=10.0, **(stated or {}))
            request = GenerationRequest(params=params, seed=seed, out_dir=Path(tmp) / sub)
            made = engine.generate_batch(render_prompt(brief, params), clips, params.duration_sec, request)
            return clustering.normalise_rows([embedder.embed_audio(c.audio_path) for c in made])

        for (brief, stated), seed in itertools.product(VARIETY_BRIEFS, seeds):
            unit = render(brief, 6, seed, f"{brief[:12]}-{len(stated)}-{seed}", stated)
            d = 1.0 - unit @ unit.T
            twins = [float(d[i, i + 3]) for i in range(3)]
            apart = [float(d[i, j]) for i in range(6) for j in range(i + 1, 6) if (j - i) % 3]
            clusters = clustering.cluster_embeddings(list(unit), 3, space=SPACE)
            variety.append(
                {
                    "brief": brief + "".join(f", {k} {v}" for k, v in stated.items()),
                    "seed": seed,
                    "clusters": len(clusters),
                    "spread": round(clustering.spread(unit), 3),
                    "twins": {"mean": round(float(np.mean(twins)), 3), "max": round(max(twins), 3)},
                    "apart": {"mean": round(float(np.mean(apart)), 3), "min": round(min(apart), 3)},
                    "arrangement_split": any(not all(i + 3 in c or i - 3 in c for i in c) for c in clusters),
                    "clusters_without_same_sound_limit": len(clustering.cluster_embeddings(list(unit), 3)),
                }
            )
        for seed in seeds:
            pairs = np.vstack(
                [render(b, 4, seed * 10 + k, f"three{seed}-{k}")[::3] for k, b in enumerate(BRIEFS)]
            )
            three_briefs.append(
                {"seed": seed, "spread": round(clustering.spread(pairs), 3), "clusters": k_of(pairs)}
            )
    counts = [row["clusters"] for row in variety]
    return {
        "one_brief": variety,
        "one_brief_summary": {
            "batches": len(counts),
            "clusters": {str(k): counts.count(k) for k in (1, 2, 3)},
            "spread": summary([row["spread"] for row in variety]),
            "twins_mean": summary([row["twins"]["mean"] for row in variety]),
            "apart_mean": summary([row["apart"]["mean"] for row in variety]),
            "arrangement_split": sum(row["arrangement_split"] for row in variety),
        },
        "three_briefs": three_briefs,
    }


def main() -> None:
    global SPACE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default=SPACE, choices=tuple(clustering.SAME_SOUND_SPREAD))
    parser.add_argument("--sketch-only", action="store_true", help="skip the real-music set")
    parser.add_argument(
        "--gate", action="store_true", help="only the clear-split gate refitted on a bigger pool (see --help)"
    )
    args = parser.parse_args()
    SPACE = args.space
    out = {
        "space": SPACE,
        "same_sound_spread": clustering.SAME_SOUND_SPREAD[SPACE],
        "clear_split": clustering.CLEAR_SPLIT.get(SPACE),
    }
    if args.gate:
        out["gate"] = gate()
        print(json.dumps(out))
        return
    if not args.sketch_only:
        out["music_set"] = music_set()
    out["sketch"] = sketch_batches()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
