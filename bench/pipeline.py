"""Per-stage times of the embedded pipeline: a 6 x 10 s batch and a more-like round.

Warm: this process has already run one batch (imports done, caches hot).
Cold: a fresh Python process, imports included, timed from its launch.
Targets (2-core machine, warm): the whole batch < 0.5 s, the first clip on disk < 0.2 s.

Prints one JSON object. Usage: python bench/pipeline.py [--clips 6] [--duration 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _run_batch(service, clips: int, duration: float, seed: int, launched: float | None = None) -> dict:
    from core.models import BriefParams

    first_clip_wall: list[float] = []

    def on_clip(index: int, total: int, path: Path) -> None:
        if not first_clip_wall:
            first_clip_wall.append(time.time())

    started = time.perf_counter()
    session = service.create_initial_batch(
        "driving synthwave with a bright lead",
        BriefParams(energy=0.7, density=0.6, duration_sec=duration),
        clips,
        seed=seed,
        on_clip=on_clip,
    )
    batch_sec = time.perf_counter() - started
    timings = service.last_timings
    result = {
        "batch_sec": round(batch_sec, 4),
        "first_clip_sec": round(timings["first_clip_sec"], 4),
        "stages_sec": {k: round(v, 4) for k, v in timings["stages"].items()},
        "clusters": len(session.batches[0].clusters),
    }
    if launched is not None:
        result["first_clip_since_launch_sec"] = round(first_clip_wall[0] - launched, 4)
    cluster = session.batches[0].clusters[0]
    started = time.perf_counter()
    batch = service.more_like_cluster(session.id, cluster.id, clips, seed=seed + 1)
    result["more_like_sec"] = round(time.perf_counter() - started, 4)
    result["more_like_stages_sec"] = {k: round(v, 4) for k, v in service.last_timings["stages"].items()}
    result["more_like_accepted"] = batch.num_generated
    return result


def _service(data_dir: Path):
    from core.service import SessionService
    from core.settings import Settings

    return SessionService.from_settings(Settings(data_dir=data_dir))


def cold_child(clips: int, duration: float) -> None:
    launched = float(os.environ["BENCH_LAUNCHED"])
    started = time.perf_counter()
    service = _service(Path(os.environ["BENCH_DATA_DIR"]))
    setup_sec = time.perf_counter() - started
    result = _run_batch(service, clips, duration, seed=1, launched=launched)
    result["setup_sec"] = round(setup_sec, 4)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_child:
        cold_child(args.clips, args.duration)
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, BENCH_DATA_DIR=str(Path(tmp) / "cold"), BENCH_LAUNCHED=repr(time.time()))
        launched = time.perf_counter()
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--cold-child",
                "--clips",
                str(args.clips),
                "--duration",
                str(args.duration),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        cold = json.loads(child.stdout)
        cold["process_wall_sec"] = round(time.perf_counter() - launched, 4)

        service = _service(Path(tmp) / "warm")
        _run_batch(service, args.clips, args.duration, seed=99)  # warm-up
        runs = [_run_batch(service, args.clips, args.duration, seed=100 + i) for i in range(args.repeat)]
    warm = {
        "batch_sec_median": round(statistics.median(r["batch_sec"] for r in runs), 4),
        "first_clip_sec_median": round(statistics.median(r["first_clip_sec"] for r in runs), 4),
        "more_like_sec_median": round(statistics.median(r["more_like_sec"] for r in runs), 4),
        "stages_sec_median": {
            stage: round(statistics.median(r["stages_sec"].get(stage, 0.0) for r in runs), 4)
            for stage in runs[0]["stages_sec"]
        },
        "runs": runs,
    }
    print(
        json.dumps(
            {
                "benchmark": "pipeline",
                "clips": args.clips,
                "duration_sec": args.duration,
                "cpu_count": os.cpu_count(),
                "targets": {"warm_batch_sec": 0.5, "warm_first_clip_sec": 0.2},
                "warm": warm,
                "cold": cold,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
