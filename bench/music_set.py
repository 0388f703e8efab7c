"""A real-music evaluation set for the embedders, kept out of the repository.

    .venv/bin/python bench/music_set.py            # fetch (apt-get download), unpack, cut; prints a summary
    .venv/bin/python bench/music_set.py --check    # only say whether the set is there

Source: Debian's game-music packages (Battle for Wesnoth, Warzone 2100, UFO: Alien
Invasion, Nexuiz): real recordings by several composers, none made here. They are
downloaded with ``apt-get download`` and unpacked with ``dpkg -x`` into
``~/.cache/sessionlab-bench/music`` (``SESSIONLAB_BENCH_CACHE`` overrides the
parent); the two games that pack their music in a .pk3 (a zip) are read from it.

The cut is deterministic:

- per package, one version of each composition (``distinct``), the tracks of at least ``MIN_TRACK_SEC`` seconds, sorted by name,
  ``TRACKS_PER_PACKAGE`` of them picked evenly through the list;
- the picked tracks alternate between the ``tuning`` part (even positions) and the
  ``held-out`` part (odd positions): the embedder's constants are learned on the
  first only, its figures are reported on the second;
- every other composition of the four packages that is long enough goes to a second
  held-out group, part ``held-out-2`` (``more_held_out``: one version of each
  composition across all the packages, by the stricter rule of ``compositions``),
  so that held-out figures can be given over many more tracks; the picks above, and
  so the ``tuning`` part, are exactly what they were before this group existed;
- ``EXCERPTS_PER_TRACK`` excerpts of ``EXCERPT_SEC`` seconds per track, at start
  offsets drawn evenly across the track with a seeded jitter, each at its own
  gain (-24..0 dB below the track's level, seeded), mono, at the track's own rate,
  16-bit WAV.

``manifest.json`` beside the excerpts lists them (path, package, track, part,
start, gain), the picked tracks first in the order above, then the second held-out
group. ``load_manifest()`` is what ``bench/embedders.py`` reads. Each excerpt is written
to a temporary name and renamed, so a bench reading the set while it is rebuilt never
sees half a file (the rebuilt picked excerpts are the same bytes as before).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np

PACKAGES = ("wesnoth-1.16-music", "warzone2100-music", "ufoai-music", "nexuiz-music")
TRACKS_PER_PACKAGE = 8
EXCERPTS_PER_TRACK = 5
EXCERPT_SEC = 10.0
MIN_TRACK_SEC = 60.0
SET_VERSION = 2
# Parts of the set: the picks alternate between the first two; the rest is the third.
TUNING, HELD_OUT, HELD_OUT_2 = "tuning", "held-out", "held-out-2"


def cache_root() -> Path:
    base = os.environ.get("SESSIONLAB_BENCH_CACHE")
    return Path(base) if base else Path.home() / ".cache" / "sessionlab-bench"


def set_dir() -> Path:
    return cache_root() / "music"


def manifest_path() -> Path:
    return set_dir() / "manifest.json"


def load_manifest() -> dict:
    path = manifest_path()
    if not path.is_file():
        raise SystemExit(f"No music set at {path}: run bench/music_set.py first.")
    data = json.loads(path.read_text())
    if data.get("version") != SET_VERSION:
        raise SystemExit(f"The music set at {path} is of another version: run bench/music_set.py again.")
    return data


def fetch(debs: Path, unpacked: Path, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """Download and unpack whichever of ``packages`` apt can get; the names it got."""
    debs.mkdir(parents=True, exist_ok=True)
    unpacked.mkdir(parents=True, exist_ok=True)
    got = []
    for package in packages:
        existing = sorted(debs.glob(f"{package}_*.deb"))
        if not existing:
            subprocess.run(["apt-get", "download", package], cwd=debs, check=False)
            existing = sorted(debs.glob(f"{package}_*.deb"))
        if not existing:
            print(f"could not download {package}; going on without it", file=sys.stderr)
            continue
        marker = unpacked / f".{existing[-1].name}.done"
        if not marker.exists():
            subprocess.run(["dpkg", "-x", str(existing[-1]), str(unpacked)], check=True)
            marker.touch()
        got.append(package)
    return got


class Source:
    """One track: a file on disk or a member of a .pk3."""

    def __init__(self, package: str, name: str, path: Path, member: str | None = None) -> None:
        self.package, self.name, self.path, self.member = package, name, path, member

    def open(self):
        import soundfile as sf

        if self.member is None:
            return sf.SoundFile(self.path)
        with zipfile.ZipFile(self.path) as archive:
            return sf.SoundFile(io.BytesIO(archive.read(self.member)))


def sources(unpacked: Path, package: str) -> list[Source]:
    games = unpacked / "usr" / "share" / "games"
    found: list[Source] = []
    if package.startswith("wesnoth"):
        for path in sorted(games.glob("wesnoth/*/data/core/music/*.ogg")):
            found.append(Source(package, path.stem, path))
    elif package.startswith("warzone2100"):
        for path in sorted(games.glob("warzone2100/music/albums/*/*.opus")):
            found.append(Source(package, f"{path.parent.name}/{path.stem}", path))
    else:
        pk3 = {
            "ufoai-music": games / "ufoai" / "base" / "0music.pk3",
            "nexuiz-music": games / "nexuiz" / "data" / "music.pk3",
        }[package]
        if pk3.is_file():
            with zipfile.ZipFile(pk3) as archive:
                for member in sorted(archive.namelist()):
                    if member.lower().endswith(".ogg"):
                        found.append(Source(package, Path(member).stem, pk3, member))
    return found


VARIANT_SUFFIXES = ("_enhanced", "-epic", "-old", "2")


def distinct(candidates: list[Source]) -> list[Source]:
    """Leave out another version of a track that is there too (``battle-epic`` of ``battle``,
    ``track3_enhanced`` of ``track3``, ``victory2`` of ``victory``): one composition, one label.

    The rule ``pick`` has always used, kept as it is so the picks stay the same. It
    looks for the base name in every folder of the package, so it also leaves out
    Warzone's ``legacy_soundtrack/track12`` ("New Dawn") and
    ``aftermath_soundtrack/track22`` ("Aftershocks") for the original soundtrack's
    ``track1``/``track2``; ``compositions`` does not."""
    bases = {source.name.split("/")[-1] for source in candidates}
    kept = []
    for source in candidates:
        stem = source.name.split("/")[-1]
        if any(stem.endswith(s) and stem.removesuffix(s) in bases for s in VARIANT_SUFFIXES):
            continue
        kept.append(source)
    return kept


VERSION_WORDS = ("_enhanced", "-epic", "-old", "revisited")


def compositions(candidates: list[Source]) -> list[Source]:
    """One version of each composition over all the packages given: the stricter rule of the
    second held-out group.

    A name that ends in one of ``VERSION_WORDS`` is another version when its base is
    anywhere among the candidates (``aftermath_soundtrack/track3_enhanced`` of
    ``original_soundtrack/track3``, ``sixtyfour_revisited`` of ``sixtyfour_``); a name
    that ends in ``2`` only when its base is in the same folder of the same package
    (``van_mission2`` of ``van_mission`` is left out, as ``distinct`` does, while
    ``aftermath_soundtrack/track22`` and ``legacy_soundtrack/track12`` are compositions of
    their own, not ``original_soundtrack/track2``/``track1``). The same file name in two
    packages or folders (the same piece in two formats) is kept once, the first in order.
    """

    def folder(source: Source) -> tuple[str, str]:
        return source.package, source.name.rpartition("/")[0]

    stems = {source.name.split("/")[-1] for source in candidates}
    in_folder = {(folder(source), source.name.split("/")[-1]) for source in candidates}
    kept, seen = [], set()
    for source in candidates:
        stem = source.name.split("/")[-1]
        if any(stem.endswith(w) and stem.removesuffix(w) in stems for w in VERSION_WORDS):
            continue
        if stem.endswith("2") and (folder(source), stem.removesuffix("2")) in in_folder:
            continue
        if stem.lower() in seen:
            continue
        seen.add(stem.lower())
        kept.append(source)
    return kept


def measured(candidates: list[Source]) -> list[tuple[Source, float, int]]:
    """The long enough tracks among ``candidates`` that libsndfile can read: (source, seconds, rate)."""
    long_enough = []
    for source in candidates:
        try:
            with source.open() as handle:
                seconds = handle.frames / handle.samplerate
                rate = handle.samplerate
        except Exception:  # noqa: BLE001 - a track libsndfile cannot read is skipped
            continue
        if seconds >= MIN_TRACK_SEC:
            long_enough.append((source, seconds, rate))
    return long_enough


def pick(candidates: list[Source]) -> list[tuple[Source, float, int]]:
    """``TRACKS_PER_PACKAGE`` long enough tracks, evenly through the sorted list: (source, seconds, rate)."""
    long_enough = measured(distinct(candidates))
    if len(long_enough) <= TRACKS_PER_PACKAGE:
        return long_enough
    positions = np.linspace(0, len(long_enough) - 1, TRACKS_PER_PACKAGE).round().astype(int)
    return [long_enough[i] for i in positions]


def more_held_out(candidates: list[Source], picked: list[Source]) -> list[tuple[Source, float, int]]:
    """The second held-out group: every long enough composition of ``candidates`` (all the
    packages, in order) that ``pick`` did not take, one version each (``compositions``)."""
    kept = compositions(candidates)
    key = {(source.package, source.name) for source in kept}
    missing = [source.name for source in picked if (source.package, source.name) not in key]
    if missing:
        raise SystemExit(f"compositions() leaves out picked tracks {missing}: the two rules disagree.")
    taken = {(source.package, source.name) for source in picked}
    return measured([source for source in kept if (source.package, source.name) not in taken])


def cut(source: Source, seconds: float, rate: int, out_dir: Path) -> list[dict]:
    import soundfile as sf

    seed = zlib.crc32(f"{source.package}/{source.name}".encode())
    rng = np.random.default_rng(seed)
    span = seconds - EXCERPT_SEC - 2.0
    slots = np.linspace(1.0, span, EXCERPTS_PER_TRACK + 1)
    width = slots[1] - slots[0]
    rows = []
    with source.open() as handle:
        for k in range(EXCERPTS_PER_TRACK):
            start = float(slots[k] + rng.uniform(0.0, 0.8 * width))
            gain_db = float(rng.uniform(-24.0, 0.0))
            handle.seek(int(start * rate))
            audio = handle.read(int(EXCERPT_SEC * rate), dtype="float32", always_2d=True).mean(axis=1)
            audio = audio * np.float32(10 ** (gain_db / 20))
            name = f"{source.package}--{source.name.replace('/', '--')}--{k}.wav"
            partial = out_dir / f".{name}.partial"
            sf.write(partial, np.clip(audio, -1, 1), rate, subtype="PCM_16", format="WAV")
            os.replace(partial, out_dir / name)
            rows.append({"path": name, "start_sec": round(start, 3), "gain_db": round(gain_db, 2)})
    return rows


def build() -> dict:
    root = cache_root()
    unpacked = root / "pkgs"
    packages = fetch(root / "debs", unpacked)
    out_dir = set_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    excerpts = []
    everything: list[Source] = []
    picked: list[Source] = []

    def add(source: Source, seconds: float, rate: int, part: str) -> None:
        track = f"{source.package}/{source.name}"
        for row in cut(source, seconds, rate, out_dir):
            row.update(package=source.package, track=track, part=part, track_sec=round(seconds, 1), rate=rate)
            excerpts.append(row)

    for package in packages:
        found = sources(unpacked, package)
        everything += found
        for position, (source, seconds, rate) in enumerate(pick(found)):
            add(source, seconds, rate, TUNING if position % 2 == 0 else HELD_OUT)
            picked.append(source)
    for source, seconds, rate in more_held_out(everything, picked):
        add(source, seconds, rate, HELD_OUT_2)
    manifest = {
        "version": SET_VERSION,
        "excerpt_sec": EXCERPT_SEC,
        "packages": packages,
        "excerpts": excerpts,
    }
    manifest_path().write_text(json.dumps(manifest, indent=1))
    return manifest


QUIET_DBFS = -45.0


def summary(manifest: dict) -> dict:
    """Tracks and excerpts per part and package, and the excerpts that are nearly silent
    (RMS below ``QUIET_DBFS`` before their gain: a pause or a fade in the track)."""
    import soundfile as sf

    parts: dict[str, dict[str, set[str]]] = {}
    excerpts: dict[str, int] = {}
    quiet = []
    for row in manifest["excerpts"]:
        parts.setdefault(row["part"], {}).setdefault(row["package"], set()).add(row["track"])
        excerpts[row["part"]] = excerpts.get(row["part"], 0) + 1
        audio, _ = sf.read(str(set_dir() / row["path"]), dtype="float64")
        level = 10 * np.log10(float(np.mean(audio**2)) + 1e-20) - row["gain_db"]
        if level < QUIET_DBFS:
            quiet.append({"path": row["path"], "part": row["part"], "dbfs_before_gain": round(level, 1)})
    return {
        "dir": str(set_dir()),
        "packages": manifest["packages"],
        "excerpts": len(manifest["excerpts"]),
        "tracks": {part: sum(len(t) for t in by.values()) for part, by in sorted(parts.items())},
        "excerpts_per_part": dict(sorted(excerpts.items())),
        "tracks_per_package": {
            part: {package: len(t) for package, t in sorted(by.items())} for part, by in sorted(parts.items())
        },
        "quiet_excerpts": quiet,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the set is there")
    args = parser.parse_args()
    manifest = load_manifest() if args.check else build()
    print(json.dumps(summary(manifest)))


if __name__ == "__main__":
    main()
