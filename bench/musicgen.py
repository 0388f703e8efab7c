"""MusicGen provider overhead on a tiny random model (CPU): batching and time outside ``generate``.

What it measures, in one run, on the same loaded model:
- ``batched_sec``: one ``generate_batch`` call for N clips (one batched generate call);
- ``single_calls_sec``: N calls of one clip each;
- ``single_over_batched``: their ratio (above 1: batching pays);
- ``outside_generate_share``: for the batched call, the share of its wall time
  not spent in the decoder's token loop (model fetch, tokenising, codec
  decoding of the tokens, trimming, WAV writing), from the provider's
  ``last_timings``; ``cold_outside_generate_share`` is the same for the very
  first call of the process, which includes loading the model.

The tiny model's decoder is almost free, so the shares are upper bounds of the
provider's own overhead: with musicgen-small the token loop dominates.

Prints one JSON object. Usage: python bench/musicgen.py [--clips 6] [--duration 5] [--repeat 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _outside_share(timings: dict[str, float]) -> float:
    return (timings["total"] - timings["generate"]) / timings["total"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: the tiny model's ops are too small to share, and "
        "on a busy 2-core machine OpenMP threads waiting for each other slow every step several times)",
    )
    args = parser.parse_args()

    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)

    from core.providers import _torch, musicgen
    from core.providers.base import GenerationRequest
    from core.settings import Settings
    from tests.ml.tiny_models import build_tiny_musicgen

    _torch.quiet_transformers()  # stdout is the JSON; keep stderr free of progress bars
    prompt = "lofi warm beat with soft drums | energy=0.50 | density=0.50 | duration=5.0s"
    with tempfile.TemporaryDirectory(prefix="sessionlab-bench-mg-") as tmp:
        root = Path(tmp)
        model_dir = build_tiny_musicgen(root / "model")
        settings = Settings(data_dir=root / "data", musicgen_max_batch=args.clips, musicgen_device="cpu")
        provider = musicgen.create(settings, model=str(model_dir))

        def run(count: int, seed: int, name: str) -> tuple[float, dict[str, float]]:
            started = time.perf_counter()
            provider.generate_batch(
                prompt, count, args.duration, GenerationRequest(seed=seed, out_dir=root / name)
            )
            return time.perf_counter() - started, dict(provider.last_timings)

        cold_sec, cold = run(1, 0, "cold")  # loads the model
        batched: list[float] = []
        singles: list[float] = []
        shares: list[float] = []
        last: dict[str, float] = {}
        for rep in range(args.repeat):
            seconds, last = run(args.clips, 100 + rep, f"batched-{rep}")
            batched.append(seconds)
            shares.append(_outside_share(last))
            total = 0.0
            for i in range(args.clips):
                seconds, _ = run(1, 1000 + rep * args.clips + i, f"single-{rep}-{i}")
                total += seconds
            singles.append(total)

    batched_sec = statistics.median(batched)
    single_sec = statistics.median(singles)
    print(
        json.dumps(
            {
                "bench": "musicgen",
                "model": "tiny random MusicGen (8 kHz, 50 frames/s, 4 codebooks, 1-layer decoder)",
                "device": "cpu",
                "torch_threads": torch.get_num_threads(),
                "load_average_1min": round(os.getloadavg()[0], 2),
                "clips": args.clips,
                "duration_sec": args.duration,
                "repeat": args.repeat,
                "batched_sec": round(batched_sec, 4),
                "single_calls_sec": round(single_sec, 4),
                "single_over_batched": round(single_sec / batched_sec, 3),
                "outside_generate_share": round(statistics.median(shares), 4),
                "batched_timings_sec": {k: round(v, 4) for k, v in last.items()},
                "cold_first_call_sec": round(cold_sec, 4),
                "cold_load_sec": round(cold["load"], 4),
                "cold_outside_generate_share": round(_outside_share(cold), 4),
            }
        )
    )


if __name__ == "__main__":
    main()
