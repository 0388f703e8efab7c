"""Big sessions: what adding a batch, more-like, show and opening cost at 1k and 10k clips.

Sessions of about 1,000 and 10,000 clips (0.5 s sketch clips, 6 per batch, every
fourth batch a more-like of a cluster of the batch before) are built through
SessionService, the real pipeline, once, and cached under --cache (default
~/.cache/sessionlab-bench/scale), keyed by size, clip length, this file's build
recipe and the store's schema version. Each run works on a copy of the cached
data dir (the media hard-linked, the database copied), so the cache never grows.

Measured for each size, each in the copy:
- add_batch_sec: SessionService.add_brief_batch, 6 clips (median of --repeat;
  the process has made a batch before, so imports are warm); work_sec is the
  same batch's own stage times (render, embed, cluster, name, save).
- more_sec: SessionService.more_like_cluster, 6 clips, on a cluster of the first batch.
- import_sec: SessionService.import_clips of 6 WAV files into the session;
  extend_sec: SessionService.extend_track of a clip of the first batch to
  EXTEND_TO_SEC; curate_sec: one round of curation on two clips of the first
  batch (keep, rate, note, tag, which is better, delete the other).
- get_session_sec: SessionStore.get_session of the whole session.
- show_json: `sessionlab show SID --json` in a fresh process, stdout to a file
  (wall seconds and bytes); more_cli_sec: `sessionlab more SID CLUSTER --clips 6 --json` likewise.
- app (fresh process, Textual's run_test, 120 x 36): seconds from pushing the
  session screen until its tree and list are drawn (open_sec, and the CPU time
  the process spent on it, open_cpu_sec), until every batch is read
  (open_all_read_sec), and the longest event-loop stall (a 5 ms heartbeat, as
  bench/startup.py) while opening (until every batch is read, and 0.2 s after)
  and while a 6-clip batch is made in it. Each stall is given twice: in wall time
  (*_max_stall_ms) and as the CPU time the process used in that gap
  (*_max_stall_cpu_ms, never more than the wall gap): on a machine other work
  loads, the wall gap includes waiting for a core, and the CPU figure is what an
  idle machine would show), and as the CPU time of the UI thread alone in that gap
  (*_max_stall_ui_cpu_ms: the event loop's own work, without the workers beside it).
  --no-app leaves these out.

Targets (issue 8, this 2-core machine): at 10k, adding a batch and more-like
(and import, extend and curation, which cost the same by the same design) within
20% of the same at 1k; the app opens in under 0.3 s with no stall over 50 ms.

--app-only measures only the app, --repeat times each (one working copy per size).

Prints one JSON object. Usage: python bench/scale.py [--sizes 1000,10000] [--repeat 3] [--cache DIR] [--no-app | --app-only]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store import SessionStore

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BUILD_RECIPE = 1  # bump when the way sessions are built changes
CLIP_SEC = 0.5
CLIPS_PER_BATCH = 6
EXTEND_TO_SEC = 2 * CLIP_SEC
MORE_EVERY = 4  # every fourth batch is a more-like of a cluster of the batch before
BRIEFS = (
    "warm lofi piano with soft drums",
    "driving synthwave with a bright lead",
    "slow dark ambient pad",
    "busy funk bass and tight hats",
    "sparse minimal techno",
    "bright pop chords, big drums",
)
TARGET_RATIO = 1.2
OPEN_TARGET_SEC = 0.3
STALL_TARGET_MS = 50.0


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "SESSIONLAB_CONFIG_DIR": str(tmp / "config"),
            "SESSIONLAB_LOG_DIR": str(tmp / "log"),
        }
    )
    return env


def _service(data_dir: Path):  # type: ignore[no-untyped-def]
    from core.service import SessionService
    from core.settings import Settings

    return SessionService.from_settings(Settings(data_dir=data_dir))


# ------------------------------------------------------------------ building and caching


def _cache_key(size: int) -> str:
    from core.store import SCHEMA_VERSION

    return f"clips{size}-sec{CLIP_SEC:g}-recipe{BUILD_RECIPE}-schema{SCHEMA_VERSION}"


def build(cache: Path, size: int) -> tuple[Path, str, float | None]:
    """The cached data dir of a session of at least ``size`` clips (built now if missing)."""
    from core.models import BriefParams

    folder = cache / _cache_key(size)
    ready = folder / "session.json"
    if ready.is_file():
        return folder / "data", json.loads(ready.read_text())["session_id"], None
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    service = _service(folder / "data")
    params = BriefParams(energy=0.5, density=0.5, duration_sec=CLIP_SEC)
    session = service.create_initial_batch(BRIEFS[0], params, CLIPS_PER_BATCH, seed=0)
    last = session.batches[0]
    clips = last.num_generated
    n = 1
    while clips < size:
        if n % MORE_EVERY == 0 and last.clusters:
            cluster = last.clusters[n % len(last.clusters)]
            last = service.more_like_cluster(session.id, cluster.id, CLIPS_PER_BATCH, seed=n)
        else:
            brief = BRIEFS[n % len(BRIEFS)]
            energy = (n * 37 % 100) / 100
            batch_params = BriefParams(energy=energy, density=1 - energy, duration_sec=CLIP_SEC)
            last = service.add_brief_batch(session.id, brief, batch_params, CLIPS_PER_BATCH, seed=n)
        clips += last.num_generated
        n += 1
    service.store.close()
    with sqlite3.connect(folder / "data" / "sessionlab.db") as db:  # everything in the main file
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    built = time.perf_counter() - started
    ready.write_text(
        json.dumps({"session_id": str(session.id), "clips": clips, "batches": n, "build_sec": built})
    )
    return folder / "data", str(session.id), built


def working_copy(data: Path, into: Path) -> Path:
    """The cached data dir, its media hard-linked (files are never changed in place) and its database copied."""
    target = into / "data"
    target.mkdir(parents=True)
    for item in data.iterdir():
        if item.name == "media":
            shutil.copytree(item, target / "media", copy_function=os.link)
        elif item.name.startswith("sessionlab.db"):
            shutil.copy2(item, target / item.name)
    return target


# ------------------------------------------------------------------ measuring


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _curate(store: SessionStore, track_id: uuid.UUID, other_id: uuid.UUID) -> None:
    """One round of a musician's curation on two clips: keep, rate, note, tag, which is better, delete."""
    from core import curation

    curation.keep(store, track_id)
    curation.rate(store, track_id, 4)
    curation.set_note(store, track_id, "bench: the one")
    curation.add_tag(store, track_id, "bench")
    curation.prefer(store, track_id, other_id, "a")
    curation.delete_track(store, other_id)


def measure_core(data: Path, session_id: str, repeat: int) -> dict[str, object]:
    from core.models import BriefParams

    service = _service(data)
    params = BriefParams(energy=0.6, density=0.4, duration_sec=CLIP_SEC)
    # Warm: imports, caches and the first-batch costs, in a session of its own.
    warm = service.create_initial_batch("warm-up", params, CLIPS_PER_BATCH, seed=999)
    files = [track.path for track in warm.tracks]  # what the import below brings in
    sid = uuid.UUID(session_id)
    started = time.perf_counter()
    session = service.store.get_session(sid)
    first_read = time.perf_counter() - started
    assert session is not None
    clips = len(session.tracks)
    batches = len(session.batches)
    clusters = len(session.clusters)
    cluster_id = session.batches[0].clusters[0].id
    first_batches = [b.id for b in session.batches[:2]]
    del session
    reads = [first_read]
    for _ in range(repeat - 1):
        started = time.perf_counter()
        service.store.get_session(sid)
        reads.append(time.perf_counter() - started)
    adds: list[float] = []
    works: list[float] = []
    for i in range(repeat):
        started = time.perf_counter()
        service.add_brief_batch(sid, BRIEFS[i % len(BRIEFS)], params, CLIPS_PER_BATCH, seed=1000 + i)
        adds.append(time.perf_counter() - started)
        works.append(sum(service.last_timings["stages"].values()))
    mores: list[float] = []
    for i in range(repeat):
        started = time.perf_counter()
        service.more_like_cluster(sid, cluster_id, CLIPS_PER_BATCH, seed=2000 + i)
        mores.append(time.perf_counter() - started)
    # Clips of the first two batches: extended and curated (kept, ...) from the first,
    # deleted from the second (a different one each time).
    first, second = (b.tracks for b in service.store.get_batches(sid, first_batches))
    imports = [_timed(lambda: service.import_clips(sid, files)) for _ in range(repeat)]
    extends = [
        _timed(lambda i=i: service.extend_track(first[i % len(first)].id, EXTEND_TO_SEC, seed=3000 + i))
        for i in range(repeat)
    ]
    curations = [
        _timed(lambda i=i: _curate(service.store, first[i % len(first)].id, second[i].id))
        for i in range(len(second))  # six rounds, whatever --repeat: each is a few ms
    ]
    service.store.close()
    return {
        "clips": clips,
        "batches": batches,
        "clusters": clusters,
        "cluster_id": str(cluster_id),
        "add_batch_sec": _median(adds),
        "add_batch_work_sec": _median(works),
        "more_sec": _median(mores),
        "import_sec": _median(imports),
        "extend_sec": _median(extends),
        "curate_sec": _median(curations),
        "get_session_sec": _median(reads),
    }


def _timed_command(argv: list[str], env: dict[str, str], out_file: Path) -> tuple[float, int]:
    started = time.perf_counter()
    with out_file.open("wb") as out:
        result = subprocess.run(
            [sys.executable, "-m", "sessionlab", *argv],
            stdout=out,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=REPO,
            timeout=600,
        )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"sessionlab {' '.join(argv)} failed: {result.stderr.decode()[-400:]}")
    return wall, out_file.stat().st_size


def measure_commands(
    data: Path, session_id: str, cluster_id: str, repeat: int, tmp: Path
) -> dict[str, object]:
    env = {**_env(tmp), "SESSIONLAB_DATA_DIR": str(data)}
    shows: list[float] = []
    size = 0
    for _ in range(repeat):
        wall, size = _timed_command(["show", session_id, "--json"], env, tmp / "show.json")
        shows.append(wall)
    json.loads((tmp / "show.json").read_text())  # valid JSON, whatever its layout
    mores: list[float] = []
    for i in range(repeat):
        wall, _ = _timed_command(
            [
                "more",
                session_id,
                cluster_id,
                "--clips",
                str(CLIPS_PER_BATCH),
                "--seed",
                str(3000 + i),
                "--json",
            ],
            env,
            tmp / "more.json",
        )
        mores.append(wall)
    return {"show_json_sec": _median(shows), "show_json_bytes": size, "more_cli_sec": _median(mores)}


# ------------------------------------------------------------------ the app, in a child process

APP_CHILD = r"""
import asyncio, json, sys, time, uuid
from pathlib import Path

HEARTBEAT_SEC = 0.005

class Heartbeat:
    # Gaps between 5 ms beats of the event loop: wall time, the CPU time this process
    # used in each gap, and the CPU time of the UI thread alone. On a machine others
    # load too, a wall gap includes time the process waited for a core; min(wall, cpu)
    # is the stall an idle machine would see (the UI thread and the workers share one
    # interpreter lock); the UI thread's own CPU time is the work the event loop did
    # in the gap, without what workers did beside it.

    def __init__(self, app):
        self.gaps = []
        self.cpu_gaps = []
        self.ui_gaps = []
        self.last = time.perf_counter()
        self.last_cpu = time.process_time()
        self.last_ui = time.thread_time()
        self.timer = app.set_interval(HEARTBEAT_SEC, self.beat)

    def beat(self):
        now, cpu, ui = time.perf_counter(), time.process_time(), time.thread_time()
        self.gaps.append(now - self.last)
        self.cpu_gaps.append(min(now - self.last, cpu - self.last_cpu))
        self.ui_gaps.append(min(now - self.last, ui - self.last_ui))
        self.last, self.last_cpu, self.last_ui = now, cpu, ui

    def stop(self):
        self.timer.stop()
        self.beat()  # a stall still going on counts too
        return (
            round((max(self.gaps) - HEARTBEAT_SEC) * 1000, 1),
            round(max(0.0, max(self.cpu_gaps) - HEARTBEAT_SEC) * 1000, 1),
            round(max(0.0, max(self.ui_gaps) - HEARTBEAT_SEC) * 1000, 1),
        )

async def main(data_dir, session_id):
    from core.models import BriefParams
    from core.settings import Settings
    from tui.app import SessionLabApp
    from tui.jobs import GenerationJob
    from tui.screens.session import SessionScreen

    app = SessionLabApp(Settings(data_dir=Path(data_dir)), check_audio=False)
    sid = uuid.UUID(session_id)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(0.5)
        for worker in [w for w in app.workers if w.group == "warm-up"]:
            await worker.wait()
        await pilot.pause(0.2)
        beat = Heartbeat(app)
        started, started_cpu = time.perf_counter(), time.process_time()
        screen = SessionScreen(session_id=sid)
        await app.push_screen(screen)
        while not screen.loaded:
            await asyncio.sleep(0.001)
        # Drawn: the screen refreshed after the tree and list were filled. (Not
        # pilot.pause(): it waits for the CPU to be idle, work after the draw included.)
        await screen.wait_for_refresh()
        open_sec = time.perf_counter() - started
        open_cpu = time.process_time() - started_cpu
        # What follows the first draw (older batches read in chunks, files checked,
        # waveforms) is part of opening too.
        while getattr(screen, "counts", None) is not None:
            await asyncio.sleep(0.01)
        all_read_sec = time.perf_counter() - started
        await asyncio.sleep(0.2)
        open_stall, open_stall_cpu, open_stall_ui = beat.stop()
        params = BriefParams(energy=0.5, density=0.5, duration_sec=0.5)
        job = GenerationJob(kind="batch", num_clips=6, brief="bench: scale", params=params, seed=7, session_id=sid)
        beat = Heartbeat(app)
        started = time.perf_counter()
        screen.start_job(job)
        while not screen.generating:
            await asyncio.sleep(0.001)
        while screen.generating:
            await asyncio.sleep(0.01)
        for _ in range(5):
            await asyncio.sleep(0.05)
        batch_sec = time.perf_counter() - started
        batch_stall, batch_stall_cpu, batch_stall_ui = beat.stop()
    print(json.dumps({
        "open_sec": round(open_sec, 4),
        "open_cpu_sec": round(open_cpu, 4),
        "open_all_read_sec": round(all_read_sec, 4),
        "open_max_stall_ms": open_stall,
        "open_max_stall_cpu_ms": open_stall_cpu,
        "open_max_stall_ui_cpu_ms": open_stall_ui,
        "batch_sec": round(batch_sec, 4),
        "batch_max_stall_ms": batch_stall,
        "batch_max_stall_cpu_ms": batch_stall_cpu,
        "batch_max_stall_ui_cpu_ms": batch_stall_ui,
    }))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def measure_app(data: Path, session_id: str, tmp: Path) -> dict[str, object]:
    env = {**_env(tmp), "SESSIONLAB_DATA_DIR": str(data)}
    env.pop("TEXTUAL", None)
    result = subprocess.run(
        [sys.executable, "-c", APP_CHILD, str(data), session_id],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the app child failed: {result.stderr[-800:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="clips per session, comma separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median reported)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sessionlab-bench" / "scale",
        help="where the built sessions are kept between runs",
    )
    parser.add_argument("--no-app", action="store_true", help="leave out the app's open and stall times")
    parser.add_argument(
        "--app-only", action="store_true", help="only the app's open and stall times (--repeat runs of each)"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    os.environ.setdefault("SESSIONLAB_CONFIG_DIR", tempfile.mkdtemp(prefix="sessionlab-bench-config-"))
    os.environ.setdefault("SESSIONLAB_LOG_DIR", tempfile.mkdtemp(prefix="sessionlab-bench-log-"))
    results: dict[str, object] = {}
    for size in sizes:
        data, session_id, built = build(args.cache, size)
        with tempfile.TemporaryDirectory(prefix="sessionlab-scale-") as tmp_name:
            tmp = Path(tmp_name)
            work = working_copy(data, tmp)
            entry: dict[str, object] = {"build_sec": None if built is None else round(built, 1)}
            if args.app_only:
                entry["app_runs"] = [measure_app(work, session_id, tmp) for _ in range(args.repeat)]
                results[str(size)] = entry
                continue
            entry.update(measure_core(work, session_id, args.repeat))
            entry.update(measure_commands(work, session_id, str(entry["cluster_id"]), args.repeat, tmp))
            if not args.no_app:
                entry["app"] = measure_app(work, session_id, tmp)
            results[str(size)] = entry
    summary: dict[str, object] = {"sizes": results, "repeat": args.repeat, "clip_sec": CLIP_SEC}
    if len(sizes) >= 2 and not args.app_only:
        small, big = results[str(min(sizes))], results[str(max(sizes))]
        assert isinstance(small, dict) and isinstance(big, dict)
        ratios = {
            name: round(big[f"{name}_sec"] / small[f"{name}_sec"], 3)
            for name in ("add_batch", "more", "import", "extend", "curate")
        }
        summary["ratio_big_to_small"] = ratios
        summary["target_ratio"] = TARGET_RATIO
        summary["ok_core"] = all(r <= TARGET_RATIO for r in ratios.values())
        if "app" in big:
            app = big["app"]
            summary["ok_app"] = bool(
                app["open_sec"] < OPEN_TARGET_SEC
                and max(app["open_max_stall_ms"], app["batch_max_stall_ms"]) < STALL_TARGET_MS
            )
    summary["python"] = sys.version.split()[0]
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
