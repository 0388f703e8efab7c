"""Each real engine at its published architecture, random weights: cost per second of audio. One JSON object.

Compute does not depend on the weights, so a model built from the published
configs with random weights costs what the released one costs. Each engine runs
in its own subprocess (one per engine and device), so ``peak_rss_mb`` (from
``resource.getrusage(...).ru_maxrss``; tracemalloc does not see torch's
allocations) is that engine's alone; on CUDA ``cuda_peak_mb`` is
``torch.cuda.max_memory_allocated``.

MusicGen: ``facebook/musicgen-small``'s sizes (T5-base text encoder, 32 kHz
EnCodec with 4 codebooks at 50 frames/s, a 24-layer 1024-wide decoder with 16
heads and 4096-wide feed-forward), classifier-free guidance 3.0, top-k 250 as
its generation config says. The tokenizer is the tests' tiny word tokenizer
(token ids, not their meaning, reach the model). The model is built in memory
and put into the provider's model cache, so the measured path is the user's
from ``generate_batch`` on. For it:
- ``sec_per_audio_sec``: the batched call's wall seconds per second of audio;
- ``batched_sec`` / ``sequential_sec``: N clips in one call against N calls of
  one clip; ``sequential_over_batched`` above 1 means batching pays;
- ``step_ms``: mean decoder step time in the first, middle and last tenth of
  the batched call's steps (the first step, which includes the prompt's pass,
  left out); ``last_over_first`` near 1 means the step cost is flat;
- ``outside_model_share``: the share of the batched call's wall time outside
  the model (neither the decoder loop nor the codec decoding: fetching the
  loaded model, tokenising, trimming, writing WAVs); ``codec_share`` the
  codec's;
- ``dynamic_cache`` (with ``--compare-dynamic``): the same batched call with
  transformers' default key/value cache (a ``torch.cat`` per step and layer),
  in the same process, for the before/after comparison.

Stable Audio and ACE-Step come from ``bench/engines_diffusers.py`` (its
``BENCHES``) where this branch has it, else their entry says why not.

The machine this was written on has 2 cores shared with other work: absolute
timings are noisy; compare the relative numbers of one run (step tenths,
sequential/batched, static/dynamic cache), which share the same conditions.

Usage: python bench/engines.py [--engines musicgen,stable-audio,ace-step] [--clips 4]
       [--duration 4] [--steps 8] [--threads 0] [--compare-dynamic] [--decoder-layers 24]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ENGINES = ("musicgen", "stable-audio", "ace-step")
PROMPT = "lofi warm beat with soft drums | energy=0.50 | density=0.50"


def musicgen_small(decoder_layers: int = 24) -> Any:
    """MusicgenForConditionalGeneration with musicgen-small's published sizes and random weights."""
    import torch
    from transformers import (
        EncodecConfig,
        GenerationConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    text = T5Config(  # t5-base
        vocab_size=32128,
        d_model=768,
        d_kv=64,
        d_ff=3072,
        num_layers=12,
        num_heads=12,
        relative_attention_num_buckets=32,
        feed_forward_proj="relu",
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    audio = EncodecConfig(  # facebook/encodec_32khz
        sampling_rate=32000,
        upsampling_ratios=[8, 5, 4, 4],
        hidden_size=128,
        num_filters=64,
        codebook_size=2048,
        codebook_dim=128,
        num_lstm_layers=2,
        num_residual_layers=1,
        target_bandwidths=[2.2],
        normalize=False,
        audio_channels=1,
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=2048,
        max_position_embeddings=2048,
        num_hidden_layers=decoder_layers,
        ffn_dim=4096,
        num_attention_heads=16,
        hidden_size=1024,
        num_codebooks=4,
        pad_token_id=2048,
        bos_token_id=2048,
        activation_function="gelu",
    )
    torch.manual_seed(0)
    model = MusicgenForConditionalGeneration(
        MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=decoder)
    )
    model.generation_config = GenerationConfig(
        do_sample=True,
        guidance_scale=3.0,
        max_length=1500,
        top_k=250,
        decoder_start_token_id=2048,
        pad_token_id=2048,
        bos_token_id=2048,
    )
    return model


def _tenths(steps: list[float]) -> dict[str, float]:
    steps = steps[1:]  # the first step includes the prompt's pass
    n = len(steps)
    tenth = max(1, n // 10)
    middle = max(0, n // 2 - tenth // 2)

    def mean_ms(part: list[float]) -> float:
        return round(1000 * sum(part) / len(part), 1) if part else float("nan")

    first, mid, last = steps[:tenth], steps[middle : middle + tenth], steps[-tenth:]
    return {
        "first_tenth": mean_ms(first),
        "middle_tenth": mean_ms(mid),
        "last_tenth": mean_ms(last),
        "last_over_first": round(mean_ms(last) / mean_ms(first), 3) if first else float("nan"),
    }


def _shares(timings: dict[str, float]) -> dict[str, float]:
    total = timings["total"]
    return {
        "outside_model_share": round((total - timings["generate"] - timings["decode"]) / total, 4),
        "codec_share": round(timings["decode"] / total, 4),
    }


def bench_musicgen(
    device: str, clips: int, duration: float, compare_dynamic: bool, decoder_layers: int = 24
) -> dict[str, Any]:
    import torch
    from transformers import EncodecFeatureExtractor, MusicgenProcessor

    from core.providers import _torch, musicgen
    from core.providers.base import GenerationRequest
    from core.settings import Settings
    from tests.ml.tiny_models import _t5_tokenizer

    _torch.quiet_transformers()
    dtype = "float16" if device.startswith("cuda") else "float32"
    model = musicgen_small(decoder_layers).to(device, dtype=getattr(torch, dtype))
    tokenizer, _ = _t5_tokenizer()
    processor = MusicgenProcessor(
        feature_extractor=EncodecFeatureExtractor(feature_size=1, sampling_rate=32000), tokenizer=tokenizer
    )
    result: dict[str, Any] = {
        "model": "facebook/musicgen-small architecture, random weights"
        + ("" if decoder_layers == 24 else f", {decoder_layers} of its 24 decoder layers"),
        "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "dtype": dtype,
        "rss_after_build_mb": _maxrss_mb(),
    }
    with tempfile.TemporaryDirectory(prefix="sessionlab-bench-engines-") as tmp:
        root = Path(tmp)
        settings = Settings(data_dir=root / "data", musicgen_max_batch=clips, musicgen_device=device)
        location = _torch.ModelLocation(
            model="musicgen-small (random weights)",
            ref=f"bench:musicgen-small:{os.getpid()}",
            local=True,
            config={"model_type": "musicgen"},
        )
        provider = musicgen.MusicGenProvider(settings, location, device)
        _torch.load_once(
            provider._load_key(device, dtype), lambda: musicgen.loaded_from(model, processor, device, dtype)
        )

        def run(count: int, seconds: float, seed: int) -> float:
            started = time.perf_counter()
            provider.generate_batch(
                PROMPT, count, seconds, GenerationRequest(seed=seed, out_dir=root / f"out-{seed}")
            )
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            return time.perf_counter() - started

        run(1, 0.5, 0)  # warm-up: first-call costs (allocator, kernels) out of the figures
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        batched = run(clips, duration, 1)
        timings, steps = dict(provider.last_timings), list(provider.last_step_sec)
        sequential = sum(run(1, duration, 100 + i) for i in range(clips))
        result.update(
            {
                "sec_per_audio_sec": round(batched / (clips * duration), 4),
                "batched_sec": round(batched, 3),
                "sequential_sec": round(sequential, 3),
                "sequential_over_batched": round(sequential / batched, 3),
                "steps": len(steps),
                "step_ms": _tenths(steps),
                **_shares(timings),
                "batched_timings_sec": {k: round(v, 3) for k, v in timings.items()},
            }
        )
        if device.startswith("cuda"):
            result["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        if compare_dynamic:
            provider.kv_cache = "dynamic"
            seconds = run(clips, duration, 1)
            result["dynamic_cache"] = {
                "batched_sec": round(seconds, 3),
                "step_ms": _tenths(list(provider.last_step_sec)),
                "static_speedup": round(seconds / batched, 3),
            }
    return result


def _maxrss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def child(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    if args.child == "musicgen":
        result = bench_musicgen(
            args.device, args.clips, args.duration, args.compare_dynamic, args.decoder_layers
        )
    else:
        try:
            from bench.engines_diffusers import BENCHES
        except ImportError as exc:
            return {
                "available": False,
                "why": f"not available on this branch (bench/engines_diffusers.py: {exc})",
            }
        result = BENCHES[args.child](clips=args.clips, duration=args.duration, steps=args.steps)
    result.update(
        {
            "device": args.device,
            "torch_threads": torch.get_num_threads(),
            "peak_rss_mb": _maxrss_mb(),
            "wall_sec": round(time.perf_counter() - started, 1),
        }
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--steps", type=int, default=8, help="diffusion steps (stable-audio, ace-step)")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument(
        "--compare-dynamic", action="store_true", help="MusicGen again with the default cache"
    )
    parser.add_argument(
        "--decoder-layers",
        type=int,
        default=24,
        help="MusicGen decoder layers (24 is musicgen-small; fewer only to see the per-step trend quickly on a "
        "slow machine: a layer's work and its cache copies both scale with the layer count)",
    )
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return

    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    report: dict[str, Any] = {
        "bench": "engines",
        "clips": args.clips,
        "duration_sec": args.duration,
        "cpu_count": os.cpu_count(),
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
        "note": "shared machine: compare relative numbers within this run",
        "engines": {},
    }
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        if engine not in ENGINES:
            parser.error(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
        report["engines"][engine] = {}
        for device in devices:
            command = [sys.executable, str(Path(__file__).resolve()), "--child", engine, "--device", device]
            command += [
                "--clips",
                str(args.clips),
                "--duration",
                str(args.duration),
                "--steps",
                str(args.steps),
            ]
            command += ["--threads", str(args.threads), "--decoder-layers", str(args.decoder_layers)] + (
                ["--compare-dynamic"] if args.compare_dynamic else []
            )
            done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            if done.returncode == 0 and done.stdout.strip():
                report["engines"][engine][device] = json.loads(done.stdout.strip().splitlines()[-1])
            else:
                tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
                report["engines"][engine][device] = {"failed": f"exit {done.returncode}: {tail[:300]}"}
    report["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
