"""Can a small CNN trained here tell real music apart better than ``features-v3``? Prints one JSON object.

    .venv/bin/python bench/music_set.py          # once: the evaluation set
    .venv/bin/python bench/learned_corpus.py     # once: the training corpus (other packages), cached log-mels
    .venv/bin/python bench/learned_embedder.py --train --threads 2 --max-minutes 44
    .venv/bin/python bench/learned_embedder.py   # score the saved model only
    .venv/bin/python bench/learned_embedder.py --train --train-on-fit --steps 560 --threads 2

A bench experiment, not product code. The model (``Net``): four 3x3 convolution blocks
(batch norm, ReLU, 2x2 max pooling between them) over a log-mel patch (``PATCH`` frames,
about 3 s, 64 bands at 16 kHz), mean and max pooled, one linear layer to a
``EMBED_DIM`` vector. Each patch is made gain-blind by taking away its mean level (dB)
before it enters the net. A clip's embedding is the mean of its unit patch embeddings
(patches every ``EVAL_HOP`` frames), L2-normalised.

Objective: track classification with a cosine margin (CosFace / AM-softmax, scale
``SCALE``, margin ``MARGIN``) over the corpus's tracks: a patch at a random time and
gain (-24..0 dB, floor kept) with light time and frequency masking must sit nearer its
own track's proxy than any other track's, by the margin. With a few hundred tracks a
proxy loss sees every track as a negative at every step, which a batch-bound
contrastive loss (NT-Xent) cannot with batches this small on a CPU, and proxy losses
are a strong baseline for metric learning on unseen classes (Zhai & Wu 2019;
Musgrave et al. 2020). Batches hold two patches each of ``BATCH_TRACKS`` tracks.

Data: trained only on ``bench/learned_corpus.py``'s corpus (Debian packages disjoint
from the evaluation set's). The ``gate-fit`` tracks (``bench/clear_split_fit.py``) are
the validation set: the checkpoint kept is the one with the best gate-fit P@1 (then
mAP), and the weight of the learned part in the concatenation [v3 ; learned] is chosen
on gate-fit too (``CONCAT_WEIGHTS``). ``gate-report`` and ``held-out`` are only scored.
With ``--train-on-fit`` the gate-fit tracks are training classes too (their five excerpts
end to end), the last checkpoint is kept, and the gate-fit figures (and so the chosen
concatenation weight) are of tracks trained on: only the report parts are clean.

Scored per part with ``bench/embedders.py``'s ``retrieval`` and ``clustering`` (P@1,
mAP, ARI of plain k-means with k = 3 and of the product's clustering over three-track
subsets) and ``bootstrap`` 95 % intervals: the learned space, ``features-v3`` as
shipped, the standardised MFCC baseline and the concatenations (equal weight, and the
gate-fit choice); gate-fit's P@1 and mAP beside them (``validation_gate_fit``: the
checkpoint and the weight were chosen on it, and v3's constants on its tuning tracks).
Speed: one thread, median ms per 10 s excerpt from its file (read, resample, log-mel,
net). The training log (validation every ``VAL_EVERY`` steps) is kept beside the
weights in ``~/.cache/sessionlab-bench/train``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.clear_split_fit import gate_masks  # noqa: E402
from bench.embedders import (  # noqa: E402
    bootstrap,
    clustering,
    mfcc_raw,
    nearest_hits,
    retrieval,
    standardised,
)
from bench.learned_corpus import (  # noqa: E402
    FLOOR_DB,
    cache_excerpt,
    load_index,
    log_mel,
    mel_matrix,
    train_root,
)
from bench.music_set import load_manifest, set_dir  # noqa: E402

PATCH = 96
EVAL_HOP = 48
EMBED_DIM = 128
WIDTHS = (24, 48, 96, 192)
BATCH_TRACKS = 64
SCALE, MARGIN = 30.0, 0.2
LR, WEIGHT_DECAY, WARMUP = 2e-3, 1e-4, 100
GAIN_DB = 24.0
QUIET_DB = 25.0
VAL_EVERY = 250
PACE_STEPS, PACE_MARGIN = 30, 0.88
SEED = 0
CONCAT_WEIGHTS = (0.5, 0.75, 1.0, 1.5, 2.0)


def model_path(seed: int, on_fit: bool = False) -> Path:
    return train_root() / f"cnn-seed{seed}{'-on-fit' if on_fit else ''}.pt"


def build_net():
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            cin = 1
            for i, width in enumerate(WIDTHS):
                layers += [nn.Conv2d(cin, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
                if i < len(WIDTHS) - 1:
                    layers.append(nn.MaxPool2d(2))
                cin = width
            self.features = nn.Sequential(*layers)
            self.head = nn.Linear(2 * cin, EMBED_DIM)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            """(batch, frames, bands) dB -> (batch, EMBED_DIM)."""
            x = (x - x.mean(dim=(1, 2), keepdim=True)) / 20.0
            h = self.features(x.transpose(1, 2).unsqueeze(1))
            return self.head(torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1))

    return Net()


def clip_patches(mel: np.ndarray) -> np.ndarray:
    """(patches, PATCH, bands): windows every EVAL_HOP frames, the last one flush with the end."""
    if len(mel) < PATCH:
        mel = np.pad(mel, ((0, PATCH - len(mel)), (0, 0)), mode="edge")
    starts = list(range(0, len(mel) - PATCH + 1, EVAL_HOP))
    if starts[-1] != len(mel) - PATCH:
        starts.append(len(mel) - PATCH)
    return np.stack([mel[s : s + PATCH] for s in starts]).astype(np.float32)


def embed_clips(net, mels: list[np.ndarray]) -> np.ndarray:
    """Unit clip embeddings: the mean of each clip's unit patch embeddings."""
    import torch

    net.eval()
    out = []
    with torch.no_grad():
        for mel in mels:
            patches = torch.nn.functional.normalize(net(torch.from_numpy(clip_patches(mel))), dim=1)
            out.append(torch.nn.functional.normalize(patches.mean(dim=0), dim=0).numpy())
    return np.array(out, dtype=np.float64)


class Sampler:
    """Training batches: two patches at random loud enough times of each of BATCH_TRACKS tracks."""

    def __init__(self, mels: list[np.ndarray], seed: int) -> None:
        self.mels = mels
        self.rng = np.random.default_rng(seed)
        self.starts = []
        for mel in mels:
            level = mel.astype(np.float32).mean(axis=1)
            window = np.convolve(level, np.ones(PATCH) / PATCH, mode="valid")
            loud = np.flatnonzero(window > np.median(window) - QUIET_DB)
            self.starts.append(loud if len(loud) else np.arange(len(window)))

    def batch(self) -> tuple[np.ndarray, np.ndarray]:
        tracks = self.rng.choice(len(self.mels), BATCH_TRACKS, replace=False)
        x, y = [], []
        for t in tracks:
            for s in self.rng.choice(self.starts[t], 2):
                patch = self.mels[t][s : s + PATCH].astype(np.float32)
                patch = np.maximum(patch - self.rng.uniform(0, GAIN_DB), FLOOR_DB)
                f0, fw = self.rng.integers(0, 64), self.rng.integers(0, 9)
                t0, tw = self.rng.integers(0, PATCH), self.rng.integers(0, 17)
                patch[:, f0 : f0 + fw] = patch.mean()
                patch[t0 : t0 + tw] = patch.mean()
                x.append(patch)
                y.append(t)
        return np.stack(x), np.array(y)


def load_eval() -> tuple[list[dict], list[np.ndarray]]:
    rows = load_manifest()["excerpts"]
    bank = mel_matrix()
    return rows, [np.load(cache_excerpt(row["path"], bank)).astype(np.float32) for row in rows]


def validate(net, mels: list[np.ndarray], labels: np.ndarray, fit: np.ndarray) -> dict[str, float]:
    return retrieval(embed_clips(net, [m for m, f in zip(mels, fit, strict=True) if f]), labels[fit])


def learning_rate_factor(k: int, steps: int) -> float:
    """Linear warm-up over WARMUP steps, then a cosine from 1 to 0 over the rest."""
    if k < WARMUP:
        return (k + 1) / WARMUP
    return 0.5 * (1 + np.cos(np.pi * min(k - WARMUP, steps - WARMUP) / max(steps - WARMUP, 1)))


def train(steps: int, seed: int, max_minutes: float, eval_mels, labels, fit, on_fit: bool = False) -> dict:
    """Train; ``steps`` 0: as many as fit in ``max_minutes`` at the pace of the first
    ``PACE_STEPS`` (decided before the cosine starts, so a rerun with that number given
    is the same run)."""
    import torch

    torch.manual_seed(seed)
    index = load_index()
    mels = [np.load(t["mel"]) for t in index["tracks"]]
    if on_fit:  # each gate-fit track a class too: its excerpts end to end
        for track in sorted(set(labels[fit].tolist())):
            mels.append(np.concatenate([m for m, t in zip(eval_mels, labels, strict=True) if t == track]))
    sampler = Sampler(mels, seed)
    net = build_net()
    proxies = torch.nn.Parameter(torch.randn(len(mels), EMBED_DIM) * 0.01)
    optimiser = torch.optim.AdamW([*net.parameters(), proxies], lr=LR, weight_decay=WEIGHT_DECAY)
    auto = steps == 0
    planned = {"steps": steps if steps else 10**9}
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda k: learning_rate_factor(k, planned["steps"])
    )
    untrained = {"step": 0, **validate(net, eval_mels, labels, fit)}
    print(json.dumps(untrained), file=sys.stderr, flush=True)
    started, best, log, losses = time.perf_counter(), None, [untrained], []
    stopped_early = False
    step = 0
    while step < planned["steps"]:
        step += 1
        if auto and step == PACE_STEPS + 1:
            pace = (time.perf_counter() - started) / PACE_STEPS
            planned["steps"] = int(PACE_MARGIN * max_minutes * 60 / pace)
            print(json.dumps({"sec_per_step": round(pace, 3), "steps": planned["steps"]}), file=sys.stderr)
        net.train()
        x, y = sampler.batch()
        embedded = torch.nn.functional.normalize(net(torch.from_numpy(x)), dim=1)
        cosines = embedded @ torch.nn.functional.normalize(proxies, dim=1).T
        target = torch.from_numpy(y)
        logits = SCALE * (cosines - MARGIN * torch.nn.functional.one_hot(target, len(mels)))
        loss = torch.nn.functional.cross_entropy(logits, target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        minutes = (time.perf_counter() - started) / 60
        out_of_time = minutes > max_minutes
        if step % VAL_EVERY == 0 or step == planned["steps"] or out_of_time:
            found = validate(net, eval_mels, labels, fit)
            entry = {
                "step": step,
                "minutes": round(minutes, 1),
                "loss": round(float(np.mean(losses)), 3),
                **found,
            }
            losses = []
            log.append(entry)
            print(json.dumps(entry), file=sys.stderr, flush=True)
            if on_fit or best is None or (found["p_at_1"], found["map"]) > (best["p_at_1"], best["map"]):
                best = entry
                torch.save(net.state_dict(), model_path(seed, on_fit))
        if out_of_time:
            stopped_early = step < planned["steps"]
            break
    return {
        "steps_planned": planned["steps"],
        "steps_chosen_by_pace": auto,
        "steps_done": step,
        "stopped_early_by_time": stopped_early,
        "minutes": round((time.perf_counter() - started) / 60, 1),
        "kept_checkpoint": best,
        "validation_log": log,
    }


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def scored(vectors: np.ndarray, labels: np.ndarray, space: str | None, mfcc: bool = False) -> dict:
    """P@1, mAP, ARIs and bootstrap intervals of one part."""
    vectors = standardised(vectors) if mfcc else unit(vectors)
    hits, precisions = nearest_hits(vectors, labels)
    scores: dict = {}
    found = {
        "tracks": len(set(labels.tolist())),
        "p_at_1": round(float(hits.mean()), 4),
        "map": round(float(precisions.mean()), 4),
        **clustering(vectors, labels, space, scores),
    }
    found["bootstrap_95"] = bootstrap(labels, hits, scores, resamples=1000)
    return found


def baselines(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """features-v3 vectors and raw MFCC rows of every excerpt (cached beside the corpus)."""
    import soundfile as sf

    from core.providers.features import v3

    path = train_root() / "eval-baselines.npz"
    if path.is_file():
        cached = np.load(path)
        if len(cached["v3"]) == len(rows):
            return cached["v3"], cached["mfcc"]
    v3_rows, mfcc_rows = [], []
    for row in rows:
        audio, rate = sf.read(str(set_dir() / row["path"]), dtype="float32")
        v3_rows.append(v3.embed_samples(audio, rate))
        mfcc_rows.append(mfcc_raw(audio, rate))
    np.savez(path, v3=np.array(v3_rows, dtype=np.float64), mfcc=np.array(mfcc_rows))
    return np.array(v3_rows, dtype=np.float64), np.array(mfcc_rows)


def speed(net, rows: list[dict], clips: int = 20) -> dict:
    """One thread: ms per 10 s excerpt from its file (read, resample, log-mel, net), median and
    min; features-v3 (read, embed) on the same excerpts beside it."""
    import soundfile as sf
    import torch

    from core.providers.features import v3

    torch.set_num_threads(1)
    bank = mel_matrix()
    times: dict[str, list[float]] = {"learned": [], "features-v3": []}
    for row in rows[:clips]:
        started = time.perf_counter()
        audio, rate = sf.read(str(set_dir() / row["path"]), dtype="float32")
        embed_clips(net, [log_mel(audio, rate, bank)])
        times["learned"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        v3.embed_samples(*sf.read(str(set_dir() / row["path"]), dtype="float32"))
        times["features-v3"].append((time.perf_counter() - started) * 1000)
    return {
        name: {"median": round(statistics.median(t), 1), "min": round(min(t), 1), "clips": clips}
        for name, t in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="train (else score the saved model)")
    parser.add_argument("--steps", type=int, default=0, help="0: as many as --max-minutes allow")
    parser.add_argument("--max-minutes", type=float, default=45.0, help="stop training after this long")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--train-on-fit",
        action="store_true",
        help="gate-fit tracks as training classes too (then the last checkpoint is kept, its figures trained on)",
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    rows, eval_mels = load_eval()
    labels, fit, parts = gate_masks(rows)
    result: dict = {}
    log_path = model_path(args.seed, args.train_on_fit).with_suffix(".json")
    if args.train:
        found = train(args.steps, args.seed, args.max_minutes, eval_mels, labels, fit, args.train_on_fit)
        log_path.write_text(json.dumps({**found, "threads": args.threads, "seed": args.seed}))
    if log_path.is_file():
        result["training"] = json.loads(log_path.read_text())
    net = build_net()
    net.load_state_dict(torch.load(model_path(args.seed, args.train_on_fit)))
    learned = embed_clips(net, eval_mels)
    v3_vectors, mfcc = baselines(rows)
    v3_unit = unit(v3_vectors)

    def concat(weight: float) -> np.ndarray:
        return np.hstack([v3_unit, weight * learned])

    choice = {w: retrieval(unit(concat(w)[fit]), labels[fit]) for w in CONCAT_WEIGHTS}
    chosen = max(CONCAT_WEIGHTS, key=lambda w: (choice[w]["p_at_1"], choice[w]["map"]))
    spaces = {
        "learned": (learned, None),
        "features-v3": (v3_vectors, "features-v3"),
        "mfcc-baseline": (mfcc, None),
        "concat-equal": (concat(1.0), None),
        f"concat-w{chosen:g}": (concat(chosen), None),
    }
    index = load_index()
    result["corpus"] = {
        "packages": len({t["track"].split("/")[0] for t in index["tracks"]}),
        "tracks": len(index["tracks"]),
        "minutes": round(sum(t["sec"] for t in index["tracks"]) / 60, 1),
    }
    result["model"] = {
        "parameters": sum(p.numel() for p in net.parameters()),
        "weights_bytes": model_path(args.seed, args.train_on_fit).stat().st_size,
        "patch_frames": PATCH,
        "embed_dim": EMBED_DIM,
        "ms_per_10s_clip_1_thread": speed(net, rows),
    }
    result["concat_weight_on_gate_fit"] = {"chosen": chosen, **{f"{w:g}": v for w, v in choice.items()}}
    result["validation_gate_fit"] = {
        name: retrieval(
            unit(vectors[fit]) if name != "mfcc-baseline" else standardised(vectors[fit]), labels[fit]
        )
        for name, (vectors, _) in spaces.items()
    }
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    jobs = {
        (name, part): (vectors[mask], labels[mask], space, name == "mfcc-baseline")
        for name, (vectors, space) in spaces.items()
        for part, mask in parts.items()
    }
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.threads, mp_context=context) as pool:
        futures = {key: pool.submit(scored, *job) for key, job in jobs.items()}
        result["scores"] = {name: {} for name in spaces}
        for (name, part), future in futures.items():
            result["scores"][name][part] = future.result()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
