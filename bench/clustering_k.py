"""How many clusters a batch gets (``core.clustering``'s choice of k); prints one JSON object.

    .venv/bin/python bench/clustering_k.py [--space features-v2]

In one embedding space (``features-v3``, the default, or ``--space``), on the
real-music set (``bench/music_set.py``), per part (the same-sound spread
``SAME_SOUND_SPREAD[space]`` was chosen on the ``tuning`` part only):

- ``spread``: the spread (mean cosine distance to the centroid) of the five
  excerpts of one track, and of three excerpts each of two tracks: min, median, max;
- ``one_track``: share of tracks whose five excerpts come back as one cluster;
- ``two_tracks`` / ``three_tracks``: share of 3+3 / 2+2+2 excerpt batches of
  different tracks that come back as more than one cluster, and as exactly as
  many clusters as tracks.

On the embedded engine (``sketch``, embedded in the same space): for a few
batch seeds, six clips of one brief and two clips each of three briefs: their
spread and how many clusters each gets.
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


def summary(values: list[float]) -> dict[str, float]:
    return {
        "min": round(float(np.min(values)), 3),
        "median": round(float(np.median(values)), 3),
        "max": round(float(np.max(values)), 3),
    }


def music_set() -> dict:
    from bench.music_set import HELD_OUT, TUNING, load_manifest, set_dir
    from core.providers.features import FeatureEmbedder

    # The two parts of the picked tracks only: the second held-out group is not scored here.
    rows = [row for row in load_manifest()["excerpts"] if row["part"] in (TUNING, HELD_OUT)]
    embedder = FeatureEmbedder(version=SPACE.removeprefix("features-"))
    unit = clustering.normalise_rows([embedder.embed_audio(set_dir() / row["path"]) for row in rows])
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
            "batches": {"one": len(one), "two": len(two), "three": len(three)},
        }
    return result


def sketch_batches(seeds: tuple[int, ...] = (1, 2, 3, 4, 5)) -> list[dict]:
    from core.models import BriefParams
    from core.prompt import render_prompt
    from core.providers.base import GenerationRequest
    from core.providers.features import FeatureEmbedder
    from core.providers.sketch import SketchEngine

    params = BriefParams(energy=0.5, density=0.5, duration_sec=10.0)
    engine, embedder = SketchEngine(), FeatureEmbedder(version=SPACE.removeprefix("features-"))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:

            def render(brief: str, clips: int, sub: str, seed: int = seed) -> list[np.ndarray]:
                request = GenerationRequest(params=params, seed=seed, out_dir=Path(tmp) / f"{seed}-{sub}")
                made = engine.generate_batch(
                    render_prompt(brief, params), clips, params.duration_sec, request
                )
                return [embedder.embed_audio(c.audio_path) for c in made]

            one = clustering.normalise_rows(render(BRIEFS[seed % 3], 6, "one"))
            three = clustering.normalise_rows(
                [v for k, brief in enumerate(BRIEFS) for v in render(brief, 2, f"three{k}")]
            )
            out.append(
                {
                    "seed": seed,
                    "one_brief": {
                        "brief": BRIEFS[seed % 3],
                        "spread": round(clustering.spread(one), 3),
                        "clusters": k_of(one),
                    },
                    "three_briefs": {"spread": round(clustering.spread(three), 3), "clusters": k_of(three)},
                }
            )
    return out


def main() -> None:
    global SPACE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default=SPACE, choices=tuple(clustering.SAME_SOUND_SPREAD))
    SPACE = parser.parse_args().space
    print(
        json.dumps(
            {
                "space": SPACE,
                "same_sound_spread": clustering.SAME_SOUND_SPREAD[SPACE],
                "music_set": music_set(),
                "sketch": sketch_batches(),
            }
        )
    )


if __name__ == "__main__":
    main()
