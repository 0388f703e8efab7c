"""Stable Audio 3 and ACE-Step at their published sizes, random weights, through our providers (CPU).

Compute does not depend on the weights, so a pipeline built from the
architecture's configs with random weights costs what the real one costs. The
sizes are diffusers 0.42.1's class defaults, which are the released
checkpoints' (Stable Audio 3 medium: a 1.45 B-parameter DiT, the SAME VAE
(107 M), a T5Gemma-b encoder; ACE-Step 1.5: a 1.58 B DiT, a 0.61 B condition
encoder, the Qwen3-Embedding-0.6B text encoder, a 48 kHz Oobleck VAE with 1920
samples per latent frame). The text encoders' sizes are written out below
(their classes have no such defaults). Nothing is downloaded: the tokenizers are
the tests' tiny word tokenizers (token ids, not their meaning, reach the model).

The pipeline is built in memory and handed to the provider through the
process's model cache (``_torch.load_once``), so the measured path is the
user's from ``generate_batch`` on: per-clip generators, the step callback,
trimming and WAV writing.

For each engine, on the same loaded pipeline:
- ``batched_sec``: one ``generate_batch`` of N clips (one batched call);
- ``sequential_sec``: N calls of one clip each;
- ``sec_per_audio_sec``: batched seconds per second of audio made;
- ``encode_and_steps_sec`` / ``decode_sec``: the batched call's pipeline time
  before the VAE decode (text and condition encoding, all steps) and the decode;
- ``outside_model_share``: the share of the batched call's wall time outside
  the pipeline call (seeds, reference handling, trimming, WAV writing, fetching
  the loaded model), from the provider's ``last_timings``;
- ``peak_rss_gb``: the process's peak resident memory (the model included);
  ``model_gb``: its parameters' size.

Each engine needs about 8 GB (Stable Audio 3) or 12 GB (ACE-Step) of memory in
float32; ``fits`` says whether ``MemAvailable`` allowed the run, and the bench
is skipped (with the reason) when it does not. Run one engine at a time.

Prints one JSON object. Usage:
  python bench/engines_diffusers.py [--engine stable-audio|ace-step] [--clips 2] [--duration 5] [--steps 8]
Branch i11m's bench/engines.py imports ``BENCHES``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NEEDS_GB = {"stable-audio": 9.0, "ace-step": 13.0}


def available_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def _stable_audio_3() -> Any:
    import torch
    from diffusers import (
        AutoencoderSAME,
        FlowMatchEulerDiscreteScheduler,
        StableAudio3DiTModel,
        StableAudio3Pipeline,
    )
    from diffusers.pipelines.stable_audio_3.modeling_stable_audio_3 import StableAudio3DurationEmbedder
    from transformers import GemmaTokenizer, T5GemmaConfig, T5GemmaEncoderModel
    from transformers.models.t5gemma.configuration_t5gemma import T5GemmaModuleConfig

    from tests.ml.tiny_diffusers import _word_tokenizer

    tok, _ = _word_tokenizer(["<pad>", "<eos>", "<bos>", "<unk>"])
    tokenizer = GemmaTokenizer(
        tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>", unk_token="<unk>"
    )
    torch.manual_seed(0)
    module = T5GemmaModuleConfig(  # google/t5gemma-b-b-ul2's encoder
        vocab_size=256_000,
        hidden_size=768,
        intermediate_size=2048,
        num_hidden_layers=12,
        num_attention_heads=12,
        num_key_value_heads=12,
        head_dim=64,
        max_position_embeddings=8192,
        sliding_window=4096,
        layer_types=["sliding_attention", "full_attention"] * 6,
    )
    text_encoder = T5GemmaEncoderModel(
        T5GemmaConfig(encoder=module.to_dict(), decoder=module.to_dict(), is_encoder_decoder=False)
    )
    return StableAudio3Pipeline(
        vae=AutoencoderSAME(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        duration_embedder=StableAudio3DurationEmbedder(output_dim=768),
        transformer=StableAudio3DiTModel(),
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0, stochastic_sampling=True),
    )


def _ace_step() -> Any:
    import torch
    from diffusers import AceStepPipeline, AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step import AceStepConditionEncoder
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3Model

    from tests.ml.tiny_diffusers import _word_tokenizer

    tok, _ = _word_tokenizer(["<|endoftext|>", "<unk>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|endoftext|>", unk_token="<unk>")
    torch.manual_seed(0)
    text_encoder = Qwen3Model(  # Qwen/Qwen3-Embedding-0.6B
        Qwen3Config(
            vocab_size=151_669,
            hidden_size=1024,
            intermediate_size=3072,
            num_hidden_layers=28,
            num_attention_heads=16,
            num_key_value_heads=8,
            head_dim=128,
            max_position_embeddings=32_768,
        )
    )
    vae = AutoencoderOobleck(
        encoder_hidden_size=128,
        downsampling_ratios=[2, 4, 4, 6, 10],
        channel_multiples=[1, 2, 4, 8, 16],
        decoder_channels=128,
        decoder_input_channels=64,
        audio_channels=2,
        sampling_rate=48_000,
    )
    return AceStepPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=AceStepTransformer1DModel(is_turbo=True),
        condition_encoder=AceStepConditionEncoder(),
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0),
    )


def _provider(engine: str, pipe: Any, settings: Any) -> Any:
    """Our provider over ``pipe``, placed in the process's model cache as if loaded from disk."""
    from core.providers import _torch, ace_step, diffusers_loading, stable_audio

    if engine == "stable-audio":
        index = {"_class_name": "StableAudio3Pipeline"}
        module: Any = stable_audio
        provider_class: Any = stable_audio.StableAudioProvider
        rate, channels = int(pipe.vae.config.sampling_rate), int(pipe.vae.config.audio_channels)
    else:
        index = {"_class_name": "AceStepPipeline"}
        module = ace_step
        provider_class = ace_step.AceStepProvider
        rate, channels = int(pipe.sample_rate), int(pipe.vae.config.audio_channels)
    location = diffusers_loading.PipelineLocation(f"random:{engine}", f"random:{engine}", True, index)
    pipe.set_progress_bar_config(disable=True)
    loaded = diffusers_loading.LoadedPipeline(pipe, location, "cpu", "float32", rate, channels)
    _torch.load_once(("diffusers", location.ref, location.class_name, "cpu", "float32"), lambda: loaded)
    provider = provider_class(settings, location, "cpu")
    provider.capabilities = provider.capabilities.with_changes(needs_cuda=False)  # measuring the CPU here
    assert engine == module.NAME
    return provider


def bench(engine: str, clips: int = 2, duration: float = 5.0, steps: int = 8) -> dict[str, Any]:
    """Measure ``engine`` ("stable-audio" or "ace-step"); a dict for one JSON object."""
    result: dict[str, Any] = {
        "engine": engine,
        "clips": clips,
        "duration_sec": duration,
        "steps": steps,
        "device": "cpu",
        "available_gb": round(available_gb(), 1),
        "needs_gb": NEEDS_GB[engine],
    }
    result["fits"] = result["available_gb"] >= NEEDS_GB[engine]
    if not result["fits"]:
        result["skipped"] = (
            f"needs about {NEEDS_GB[engine]:g} GB of free memory, {result['available_gb']} available"
        )
        return result
    import torch

    from core.providers.base import GenerationRequest
    from core.settings import Settings

    result["threads"] = torch.get_num_threads()
    started = time.perf_counter()
    with torch.inference_mode():
        pipe = (_stable_audio_3 if engine == "stable-audio" else _ace_step)()
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.eval()  # built, not loaded: dropout would be on
    result["build_sec"] = round(time.perf_counter() - started, 1)
    modules = [c for c in pipe.components.values() if isinstance(c, torch.nn.Module)]
    result["model_gb"] = round(
        sum(p.numel() * p.element_size() for m in modules for p in m.parameters()) / 2**30, 2
    )
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", diffusers_max_batch=clips, diffusers_steps=steps)
        provider = _provider(engine, pipe, settings)
        prompt = "lofi warm beat with soft drums and a bright synth lead"

        def run(count: int, name: str, seed: int) -> tuple[float, dict[str, float]]:
            began = time.perf_counter()
            provider.generate_batch(
                prompt, count, duration, GenerationRequest(seed=seed, out_dir=Path(tmp) / name)
            )
            return time.perf_counter() - began, dict(provider.last_timings)

        try:
            batched, timings = run(clips, "batched", 1)
            sequential = sum(run(1, f"single-{i}", 2 + i)[0] for i in range(clips))
        finally:
            from core.providers import _torch

            _torch.forget(
                ("diffusers", provider.location.ref, provider.location.class_name, "cpu", "float32")
            )
            del pipe, modules
            import gc

            gc.collect()
    model_sec = timings["generate"] + timings["decode"]
    result.update(
        batched_sec=round(batched, 2),
        sequential_sec=round(sequential, 2),
        sequential_over_batched=round(sequential / batched, 2),
        sec_per_audio_sec=round(batched / (clips * duration), 2),
        # Text and condition encoding plus every denoising step (the pipeline's time before decoding).
        encode_and_steps_sec=round(timings["generate"], 2),
        decode_sec=round(timings["decode"], 2),
        outside_model_share=round((timings["total"] - model_sec) / timings["total"], 4),
        peak_rss_gb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    )
    return result


def _bench_stable_audio(**kwargs: Any) -> dict[str, Any]:
    return bench("stable-audio", **kwargs)


def _bench_ace_step(**kwargs: Any) -> dict[str, Any]:
    return bench("ace-step", **kwargs)


BENCHES: dict[str, Callable[..., dict[str, Any]]] = {
    "stable-audio": _bench_stable_audio,
    "ace-step": _bench_ace_step,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=sorted(BENCHES), action="append")
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    results = {
        name: BENCHES[name](clips=args.clips, duration=args.duration, steps=args.steps)
        for name in (args.engine or sorted(BENCHES))
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
