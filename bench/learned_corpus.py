"""The training corpus of ``bench/learned_embedder.py``: real game music from Debian packages
disjoint from the evaluation set's, as cached log-mel spectrograms; kept out of the repository.

    .venv/bin/python bench/learned_corpus.py     # fetch, unpack, decode, cache; prints a summary

Packages (``TRAIN_PACKAGES``): every Debian game-data or music package found here that
ships long enough ogg/opus/flac/wav/mp3 music, none of the four of ``bench/music_set.py``
(and not Xonotic, Nexuiz's fork, which may share its music). They are fetched with
``music_set.fetch`` into ``~/.cache/sessionlab-bench/train/pkgs/<package>``.

Tracks (``corpus``): the audio files of at least ``MIN_TRACK_SEC`` seconds that
libsndfile reads, not in a folder of sound effects or ambience (``NOT_MUSIC``), one
version each: within a package a name whose base (less one of ``VARIANT_SUFFIXES``)
is there too is left out, and so is a name seen before in the package (the same track
per language); across packages, a file of the same length (to 0.01 s) as one kept
before, or as any long enough track of the evaluation packages, is left out, and so is
one of the same name and nearly the same length (``SAME_PIECE_SEC``): the same piece.

Each kept track is decoded once, mixed to mono, resampled to ``SR`` and cached as a
float16 log-mel spectrogram (``log_mel``: ``N_MELS`` bands, ``N_FFT``-sample frames,
hop ``HOP``, dB) in ``train/mels``; the evaluation excerpts the same way in
``train/eval-mels``.
"""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.music_set import (  # noqa: E402
    MIN_TRACK_SEC,
    PACKAGES,
    Source,
    cache_root,
    fetch,
    load_manifest,
    measured,
    set_dir,
    sources,
)

TRAIN_PACKAGES = (
    "asc-music",
    "btanks-data",
    "cube2-data",
    "drascula-music",
    "extremetuxracer-data",
    "freeciv-data",
    "freedroidrpg-data",
    "frozen-bubble-data",
    "hedgewars-data",
    "hyperrogue-music",
    "lincity-ng-data",
    "megaglest-data",
    "naev-data",
    "planetblupi-music-ogg",
    "redeclipse-data",
    "scorched3d-data",
    "singularity-music",
    "supertux-data",
    "supertuxkart-data",
    "tuxfootball",
    "warmux-data",
    "widelands-data",
    "xmoto-data",
)
AUDIO = (".ogg", ".opus", ".flac", ".wav", ".mp3")
NOT_MUSIC = {"sfx", "ambient", "ambience", "sounds", "maps"}
VARIANT_SUFFIXES = ("_fast", "_f", "_2", "2", "_sd", "_remix")

SR = 16_000
N_FFT = 1024
HOP = 512
N_MELS = 64
FLOOR_DB = -100.0
SAME_PIECE_SEC = 2.0


def train_root() -> Path:
    return cache_root() / "train"


def mel_matrix() -> np.ndarray:
    from core.providers.features import v1

    return v1._Bank._mel_matrix(np.fft.rfftfreq(N_FFT, 1 / SR), N_MELS, 30.0, SR / 2 - 500.0)


def log_mel(samples: np.ndarray, rate: int, bank: np.ndarray | None = None) -> np.ndarray:
    """(frames, N_MELS) float32 log-mel power in dB of mono ``samples``, at ``SR``."""
    from core.audio.dsp import resample

    x = np.asarray(resample(np.asarray(samples, dtype=np.float32), rate, SR), dtype=np.float32)
    if len(x) < N_FFT:
        x = np.pad(x, (0, N_FFT - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
    spectrum = np.fft.rfft(frames * np.hanning(N_FFT).astype(np.float32), axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    bank = mel_matrix() if bank is None else bank
    return np.maximum(10 * np.log10(power @ bank + 1e-10), FLOOR_DB).astype(np.float32)


def _variant(stem: str, stems: set[str]) -> bool:
    return any(stem.endswith(s) and stem.removesuffix(s) in stems for s in VARIANT_SUFFIXES)


def eval_sources() -> list[tuple[Source, float, int]]:
    """Every long enough track of the evaluation packages (all versions)."""
    unpacked = cache_root() / "pkgs"
    return measured([s for package in PACKAGES for s in sources(unpacked, package)])


def corpus(evaluation: list[tuple[Source, float, int]]) -> tuple[list[tuple[Source, float, int]], dict]:
    """The kept tracks (source, seconds, rate) and how many each rule left out."""
    dropped = {"variant": 0, "same_name": 0, "same_piece": 0, "like_eval": 0}
    evaluated = [(Path(source.name).stem.lower(), seconds) for source, seconds, _ in evaluation]
    seen: list[tuple[str, float]] = []

    def among(stem: str, seconds: float, pieces: list[tuple[str, float]]) -> bool:
        return any(
            abs(seconds - s) < 0.01 or (stem == n and abs(seconds - s) < SAME_PIECE_SEC) for n, s in pieces
        )

    kept: list[tuple[Source, float, int]] = []
    for package in TRAIN_PACKAGES:
        root = train_root() / "pkgs" / package
        files = sorted(
            p
            for p in root.rglob("*")
            if p.is_file() and p.suffix.lower() in AUDIO and p.parent.name.lower() not in NOT_MUSIC
        )
        stems = {p.stem.lower() for p in files}
        in_package: set[str] = set()
        candidates = []
        for path in files:
            stem = path.stem.lower()
            if _variant(stem, stems):
                dropped["variant"] += 1
            elif stem in in_package:
                dropped["same_name"] += 1
            else:
                in_package.add(stem)
                candidates.append(Source(package, str(path.relative_to(root)), path))
        for source, seconds, rate in measured(candidates):
            stem = Path(source.name).stem.lower()
            if among(stem, seconds, evaluated):
                dropped["like_eval"] += 1
            elif among(stem, seconds, seen):
                dropped["same_piece"] += 1
            else:
                seen.append((stem, seconds))
                kept.append((source, seconds, rate))
    return kept, dropped


def track_key(source: Source) -> str:
    return f"{source.package}/{source.name}"


def mel_path(folder: str, key: str) -> Path:
    safe = key.replace("/", "--").replace(" ", "_")
    return train_root() / folder / f"{safe}-{zlib.crc32(key.encode()):08x}.npy"


def cache_track(source: Source, bank: np.ndarray) -> Path:
    path = mel_path("mels", track_key(source))
    if not path.is_file():
        with source.open() as handle:
            audio = handle.read(dtype="float32", always_2d=True).mean(axis=1)
            rate = handle.samplerate
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path.with_suffix(".partial.npy"), log_mel(audio, rate, bank).astype(np.float16))
        path.with_suffix(".partial.npy").replace(path)
    return path


def cache_excerpt(name: str, bank: np.ndarray) -> Path:
    import soundfile as sf

    path = mel_path("eval-mels", name)
    if not path.is_file():
        audio, rate = sf.read(str(set_dir() / name), dtype="float32")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path.with_suffix(".partial.npy"), log_mel(audio, rate, bank).astype(np.float16))
        path.with_suffix(".partial.npy").replace(path)
    return path


def build() -> dict:
    """Fetch, unpack, pick and cache; the corpus's index (also written to ``train/corpus.json``)."""
    for package in TRAIN_PACKAGES:
        fetch(train_root() / "debs", train_root() / "pkgs" / package, (package,))
    rows = load_manifest()["excerpts"]
    evaluation = eval_sources()
    if len(evaluation) < len({row["track"] for row in rows}):
        raise SystemExit("The evaluation packages are not unpacked: run bench/music_set.py first.")
    kept, dropped = corpus(evaluation)
    bank = mel_matrix()
    tracks = []
    for source, seconds, _ in kept:
        path = cache_track(source, bank)
        tracks.append({"track": track_key(source), "sec": round(seconds, 1), "mel": str(path)})
    for row in rows:
        cache_excerpt(row["path"], bank)
    index = {"sr": SR, "hop": HOP, "n_mels": N_MELS, "tracks": tracks, "dropped": dropped}
    (train_root() / "corpus.json").write_text(json.dumps(index, indent=1))
    return index


def load_index() -> dict:
    path = train_root() / "corpus.json"
    if not path.is_file():
        raise SystemExit(f"No training corpus at {path}: run bench/learned_corpus.py first.")
    return json.loads(path.read_text())


def summary(index: dict) -> dict:
    per_package: dict[str, int] = {}
    for t in index["tracks"]:
        per_package[t["track"].split("/")[0]] = per_package.get(t["track"].split("/")[0], 0) + 1
    return {
        "packages": len(per_package),
        "tracks": len(index["tracks"]),
        "minutes": round(sum(t["sec"] for t in index["tracks"]) / 60, 1),
        "per_package": per_package,
        "dropped": index["dropped"],
        "min_track_sec": MIN_TRACK_SEC,
    }


if __name__ == "__main__":
    print(json.dumps(summary(build())))
