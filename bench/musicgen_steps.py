"""One MusicGen decoder step at a given cache length, default (dynamic) against static cache. One JSON object.

The step-cost question of issue 11 without generating whole clips: musicgen-small's
decoder (published sizes, random weights; ``--layers`` of its 24, since a layer's
work and its cache copies both scale with the count), a batch of ``--clips``
clips doubled by classifier-free guidance, its self-attention cache filled with
random keys and values to each length in ``--lengths`` (the static one sized for
the longest), then single-token steps timed. Reported per length: the median
step in CPU milliseconds of this process (``process_time``, one torch thread, so
other people's load on a shared machine counts little) and in wall milliseconds.

Usage: python bench/musicgen_steps.py [--clips 6] [--layers 4] [--lengths 8,250,500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--lengths", default="8,250,500")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]

    import torch
    from transformers import MusicgenDecoderConfig
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache, StaticCache
    from transformers.models.musicgen.modeling_musicgen import MusicgenDecoder

    torch.set_num_threads(1)
    config = MusicgenDecoderConfig(
        vocab_size=2048,
        max_position_embeddings=2048,
        num_hidden_layers=args.layers,
        ffn_dim=4096,
        num_attention_heads=16,
        hidden_size=1024,
        num_codebooks=4,
        pad_token_id=2048,
        bos_token_id=2048,
    )
    torch.manual_seed(0)
    decoder = MusicgenDecoder(config).eval()
    rows = 2 * args.clips  # classifier-free guidance doubles the batch
    heads, head_dim = config.num_attention_heads, config.hidden_size // config.num_attention_heads
    text = torch.randn(rows, 12, config.hidden_size)  # the text encoder's states, projected

    def step_ms(kind: str, length: int) -> tuple[float, float]:
        self_cache = (
            DynamicCache(config=config)
            if kind == "dynamic"
            else StaticCache(config=config, max_cache_len=max(lengths) + args.repeat + 1)
        )
        cache = EncoderDecoderCache(self_cache, DynamicCache(config=config))
        for layer in range(args.layers):
            keys = torch.randn(rows, heads, length, head_dim)
            self_cache.update(keys, torch.randn_like(keys), layer)
        cpu, wall = [], []
        with torch.inference_mode():
            for _ in range(args.repeat + 1):  # the first one fills the cross-attention cache
                ids = torch.randint(0, 2048, (rows * 4, 1))
                c, w = time.process_time(), time.perf_counter()
                decoder(input_ids=ids, encoder_hidden_states=text, cache=cache, use_cache=True)
                cpu.append(time.process_time() - c)
                wall.append(time.perf_counter() - w)
        return round(1000 * statistics.median(cpu[1:]), 1), round(1000 * statistics.median(wall[1:]), 1)

    result: dict[str, object] = {
        "bench": "musicgen_steps",
        "decoder": f"musicgen-small sizes, {args.layers} of 24 layers, random weights",
        "rows": rows,
        "torch_threads": 1,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    for kind in ("dynamic", "static"):
        per_length = {}
        for length in lengths:
            cpu, wall = step_ms(kind, length)
            per_length[str(length)] = {"cpu_ms": cpu, "wall_ms": wall}
        first, last = per_length[str(lengths[0])], per_length[str(lengths[-1])]
        per_length["last_over_first_cpu"] = round(last["cpu_ms"] / first["cpu_ms"], 3)
        result[kind] = per_length
    print(json.dumps(result))


if __name__ == "__main__":
    main()
