"""Micro-benchmark of the embedded providers (sketch, features, describe); prints one JSON object.

    .venv/bin/python bench/embedded.py              # timings, warm, on this machine
    .venv/bin/python bench/embedded.py --calibrate  # re-measure the features-v1 constants

Every timing is reported as min and median over repeats, in wall-clock ms and in
CPU ms of the measuring thread (``cpu_``): on a shared 2-core machine the wall
clock includes other people's work, the CPU time does not.

- ``render_10s_clip``: one 10 s clip per brief (recipe designed, rendered; not written);
- ``embed_10s_clip``: one 10 s WAV read and analysed (a new file each time: no cache);
- ``batch_6x10s``: a 6 x 10 s batch through the embedded providers alone: generate
  (clips written to disk), embed, cluster (scikit-learn KMeans, imported before),
  name; ``first_clip_on_disk`` is when the first clip was on disk;
- ``more_like_3x10s``: three clips near a two-clip cluster, from its recipes and
  from its audio alone (an imported cluster: analysis by synthesis).

``--calibrate`` renders a corpus with the sketch engine (every style, energy and
density 0.1/0.5/0.9, several seeds), analyses it and prints each descriptor's
median and robust scale (IQR / 1.349): the numbers ``core.providers.features.FEATURES``
holds, rounded.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from core.audio import write_wav_atomic  # noqa: E402
from core.models import BriefParams  # noqa: E402
from core.prompt import render_prompt  # noqa: E402
from core.providers.base import GenerationRequest, NamingContext, ReferenceClip  # noqa: E402

BRIEFS = ("slow dark ambient pad", "fast aggressive techno", "bright acoustic folk strum", "lofi jazz hiphop")


class Clock:
    """Wall and thread-CPU time of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.thread_time() - self.cpu


def _stats(clocks: list[Clock]) -> dict[str, float]:
    wall = [c.wall * 1e3 for c in clocks]
    cpu = [c.cpu * 1e3 for c in clocks]
    return {
        "min_ms": round(min(wall), 1),
        "median_ms": round(statistics.median(wall), 1),
        "cpu_min_ms": round(min(cpu), 1),
        "cpu_median_ms": round(statistics.median(cpu), 1),
    }


def timings(repeats: int) -> dict[str, object]:
    from core.clustering import _import_kmeans, cluster_embeddings
    from core.providers import describe, features, sketch
    from core.settings import Settings

    settings = Settings(data_dir=Path(tempfile.mkdtemp()))
    engine = sketch.create(settings)
    embedder = features.create(settings)
    namer = describe.create(settings)
    _import_kmeans()
    # Warm: one of everything first (tables, kits, pad loops, analysis matrices).
    for brief in BRIEFS:
        embedder.embed_text(brief)
        features.analyse(sketch.render_recipe(sketch.design_recipe(brief, 0.5, 0.5, 1), 10.0))
    result: dict[str, object] = {"benchmark": "embedded", "cpu_count": os.cpu_count(), "repeats": repeats}

    render: dict[str, dict[str, float]] = {}
    embed: list[Clock] = []
    seed = 1000
    with tempfile.TemporaryDirectory() as tmp:
        for brief in BRIEFS:
            clocks = []
            for _ in range(repeats):
                seed += 1
                recipe = sketch.design_recipe(brief, 0.5, 0.5, seed)
                with Clock() as clock:
                    samples = sketch.render_recipe(recipe, 10.0)
                clocks.append(clock)
                path = write_wav_atomic(Path(tmp) / f"{seed}.wav", samples)
                with Clock() as clock:
                    embedder.embed_audio(path)
                embed.append(clock)
            render[brief] = _stats(clocks)
    result["render_10s_clip"] = render
    result["embed_10s_clip"] = _stats(embed)

    stages: dict[str, list[Clock]] = {k: [] for k in ("generate", "embed", "cluster", "name", "total")}
    firsts: list[float] = []
    labels: list[list[str]] = []
    more: dict[str, list[Clock]] = {"recipes": [], "audio_only": []}
    for round_ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            params = BriefParams(energy=0.5, density=0.5, duration_sec=10.0)
            prompt = render_prompt(BRIEFS[round_ % len(BRIEFS)], params)
            first: list[float] = []
            begin = time.perf_counter()

            def on_clip(index: int, clip: object, first: list[float] = first, begin: float = begin) -> None:
                if not first:
                    first.append(time.perf_counter() - begin)

            request = GenerationRequest(params=params, seed=round_ + 7, out_dir=Path(tmp), on_clip=on_clip)
            with Clock() as total:
                with Clock() as clock:
                    clips = engine.generate_batch(prompt, 6, 10.0, request)
                stages["generate"].append(clock)
                with Clock() as clock:
                    vectors = [embedder.embed_audio(clip.audio_path) for clip in clips]
                stages["embed"].append(clock)
                with Clock() as clock:
                    groups = cluster_embeddings(vectors, max_k=3)
                stages["cluster"].append(clock)
                taken: set[str] = set()
                names = []
                with Clock() as clock:
                    for group in groups:
                        context = NamingContext(
                            audio_paths=[clips[i].audio_path for i in group],
                            embeddings=[vectors[i] for i in group],
                            taken=frozenset(taken),
                        )
                        label = namer.name_cluster([prompt], context)
                        taken.add(label)
                        names.append(label)
                stages["name"].append(clock)
            stages["total"].append(total)
            firsts.append(first[0])
            labels.append(names)
            for kind in more:
                references = [
                    ReferenceClip(c.audio_path, c.seed, c.recipe)
                    if kind == "recipes"
                    else ReferenceClip(c.audio_path, None, None)
                    for c in clips[:2]
                ]
                request = GenerationRequest(
                    params=params, seed=round_ + 99, out_dir=Path(tmp) / kind, references=references
                )
                with Clock() as clock:
                    engine.generate_batch(prompt, 3, 10.0, request)
                more[kind].append(clock)
    result["batch_6x10s"] = {stage: _stats(clocks) for stage, clocks in stages.items()}
    result["first_clip_on_disk_ms"] = {
        "min": round(min(firsts) * 1e3, 1),
        "median": round(statistics.median(firsts) * 1e3, 1),
    }
    result["more_like_3x10s"] = {kind: _stats(clocks) for kind, clocks in more.items()}
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    run: Callable[[], object] = (
        (lambda: calibrate(max(2, args.repeats)))
        if args.calibrate
        else (lambda: timings(max(1, args.repeats)))
    )
    print(json.dumps(run()))


if __name__ == "__main__":
    main()
