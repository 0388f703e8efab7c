"""Micro-benchmark of the embedded providers (sketch, features, describe); prints one JSON object.

    .venv/bin/python bench/embedded.py              # timings, warm, on this machine
    .venv/bin/python bench/embedded.py --calibrate  # re-measure the features-v1 constants

Timings are reported as min and median over repeats (a shared machine is noisy).
``batch`` is a 6 x 10 s batch through the embedded providers alone: generate
(clips written to disk), embed, cluster (scikit-learn KMeans, already imported),
name; ``first_clip_ms`` is when the first clip was on disk.

``--calibrate`` renders a corpus with the sketch engine (every style, energy and
density 0.1/0.5/0.9, several seeds), analyses it and prints each descriptor's
median and robust scale (IQR / 1.349): the numbers ``core.providers.features.FEATURES`` holds, rounded.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from core.audio import write_wav_atomic  # noqa: E402
from core.models import BriefParams  # noqa: E402
from core.prompt import render_prompt  # noqa: E402
from core.providers.base import GenerationRequest, NamingContext  # noqa: E402

BRIEFS = ("slow dark ambient pad", "fast aggressive techno", "bright acoustic folk strum", "lofi jazz hiphop")


def _stats(samples: list[float]) -> dict[str, float]:
    return {"min_ms": round(min(samples) * 1e3, 2), "median_ms": round(statistics.median(samples) * 1e3, 2)}


def timings(repeats: int) -> dict[str, object]:
    from core.clustering import _import_kmeans, cluster_embeddings
    from core.providers import describe, features, sketch
    from core.settings import Settings

    settings = Settings(data_dir=Path(tempfile.mkdtemp()))
    engine = sketch.create(settings)
    embedder = features.create(settings)
    namer = describe.create(settings)
    _import_kmeans()
    result: dict[str, object] = {"machine_cpus": __import__("os").cpu_count()}

    render: dict[str, dict[str, float]] = {}
    embed: list[float] = []
    seed = 1000
    with tempfile.TemporaryDirectory() as tmp:
        for brief in BRIEFS:
            times = []
            for _ in range(repeats):
                seed += 1
                recipe = sketch.design_recipe(brief, 0.5, 0.5, seed)
                start = time.perf_counter()
                samples = sketch.render_recipe(recipe, 10.0)
                times.append(time.perf_counter() - start)
                path = write_wav_atomic(Path(tmp) / f"{seed}.wav", samples)
                start = time.perf_counter()
                embedder.embed_audio(path)
                embed.append(time.perf_counter() - start)
            render[brief] = _stats(times)
    result["render_10s_clip"] = render
    result["embed_10s_clip"] = _stats(embed)

    batches = []
    firsts = []
    labels: list[list[str]] = []
    for round_ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            params = BriefParams(energy=0.5, density=0.5, duration_sec=10.0)
            prompt = render_prompt(BRIEFS[round_ % len(BRIEFS)], params)
            begin = time.perf_counter()
            first: list[float] = []

            def on_clip(index: int, clip: object, first: list[float] = first, begin: float = begin) -> None:
                if not first:
                    first.append(time.perf_counter() - begin)

            request = GenerationRequest(params=params, seed=round_ + 7, out_dir=Path(tmp), on_clip=on_clip)
            clips = engine.generate_batch(prompt, 6, 10.0, request)
            t_generate = time.perf_counter()
            vectors = [embedder.embed_audio(clip.audio_path) for clip in clips]
            t_embed = time.perf_counter()
            groups = cluster_embeddings(vectors, max_k=3)
            t_cluster = time.perf_counter()
            taken: set[str] = set()
            names = []
            for group in groups:
                context = NamingContext(
                    audio_paths=[clips[i].audio_path for i in group],
                    embeddings=[vectors[i] for i in group],
                    taken=frozenset(taken),
                )
                label = namer.name_cluster([prompt], context)
                taken.add(label)
                names.append(label)
            t_name = time.perf_counter()
            batches.append(
                {
                    "generate": t_generate - begin,
                    "embed": t_embed - t_generate,
                    "cluster": t_cluster - t_embed,
                    "name": t_name - t_cluster,
                    "total": t_name - begin,
                }
            )
            firsts.append(first[0])
            labels.append(names)
    result["batch_6x10s"] = {
        stage: _stats([b[stage] for b in batches])
        for stage in ("generate", "embed", "cluster", "name", "total")
    }
    result["first_clip_on_disk"] = _stats(firsts)
    result["example_labels"] = labels[: len(BRIEFS)]
    return result


def calibrate(seeds: int) -> dict[str, list[float]]:
    from core.providers import features, sketch

    rows = []
    for style in sketch.STYLES:
        for energy, density in itertools.product((0.1, 0.5, 0.9), (0.1, 0.5, 0.9)):
            for seed in range(seeds):
                recipe = sketch.design_recipe(style, energy, density, 1 + seed * 7919)
                raw, _ = features.analyse(sketch.render_recipe(recipe, 10.0))
                rows.append(raw)
    matrix = np.array(rows)
    out = {}
    for i, name in enumerate(features.FEATURE_NAMES):
        q10, q25, q50, q75, q90 = np.percentile(matrix[:, i], [10, 25, 50, 75, 90])
        scale = max((q75 - q25) / 1.349, (q90 - q10) / 2.563 * 0.5, 1e-3)
        out[name] = [float(f"{q50:.3g}"), float(f"{scale:.2g}")]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.calibrate:
        print(json.dumps(calibrate(max(2, args.repeats)), indent=None))
    else:
        print(json.dumps(timings(max(1, args.repeats))))


if __name__ == "__main__":
    main()
