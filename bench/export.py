"""Export throughput: seconds of audio exported per second of wall time (issue 9).

A session of 60 sketch clips of 10 s (32 kHz mono, the engine's own; made once
through SessionService and cached under --cache, default
~/.cache/sessionlab-bench/export) is exported with ``export_tracks``: each
clip read, its tempo and key taken from the engine's recipe, brought to the
loudness target with the true-peak limiter where needed (loudness measured,
true peak on a 4x oversampled signal), measured again, and written as a 24-bit
file with its metadata (bext, iXML, acid, smpl; or FLAC with Vorbis comments),
then session.json.

One clip is exported first (not timed): it imports scipy.signal, soxr and
mutagen, which a running app or CLI pays once; ``cold_first_clip_sec`` reports it.
Then the whole session is exported --repeat times into fresh folders; the
median is reported, with the CPU time of the process (both threads): on a
shared machine the wall time says more about the neighbours than about the
export, the CPU time less. Target: at least 200x real time on this 2-core machine.

Prints one JSON object. Usage: python bench/export.py [--format wav|flac]
[--loudness none|-14|-18] [--repeat 3] [--clips 60] [--cache DIR]
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BUILD_RECIPE = 1  # bump when the way the session is built changes
CLIP_SEC = 10.0
TARGET_REALTIME = 200.0
BRIEFS = (
    "warm lofi piano with soft drums",
    "driving techno, four on the floor",
    "slow dark ambient pad",
    "bright pop chords, big drums",
    "energetic folk guitar",
    "sparse cinematic strings",
)


def build(cache: Path, clips: int) -> tuple[Path, str]:
    """The cached data dir and its session id, made once."""
    from core.models import BriefParams
    from core.service import SessionService
    from core.settings import Settings

    root = cache / f"clips{clips}-r{BUILD_RECIPE}"
    marker = root / "session-id"
    if marker.is_file():
        return root, marker.read_text().strip()
    root.mkdir(parents=True, exist_ok=True)
    service = SessionService.from_settings(Settings(data_dir=root, max_batch_size=6), engine="sketch")
    params = BriefParams(energy=0.6, density=0.6, duration_sec=CLIP_SEC)
    session = service.create_initial_batch(BRIEFS[0], params, min(6, clips), seed=1)
    made = min(6, clips)
    while made < clips:
        brief = BRIEFS[(made // 6) % len(BRIEFS)]
        count = min(6, clips - made)
        service.add_brief_batch(session.id, brief, params, count, seed=made)
        made += count
    service.store.close()
    marker.write_text(str(session.id))
    return root, str(session.id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", default="wav")
    parser.add_argument("--loudness", default="-14")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clips", type=int, default=60)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "sessionlab-bench" / "export")
    args = parser.parse_args()

    import uuid

    from core.export.daw import ExportOptions, export_tracks
    from core.store import SessionStore

    started = time.perf_counter()
    root, session_text = build(args.cache, args.clips)
    build_sec = time.perf_counter() - started
    store = SessionStore(root, read_only=True)
    session_id = uuid.UUID(session_text)
    tracks = store.require_session(session_id).tracks
    ids = [t.id for t in tracks]
    audio_sec = sum(t.duration_sec for t in tracks)

    with tempfile.TemporaryDirectory(prefix="sessionlab-bench-export-") as tmp:
        out = Path(tmp)
        t0 = time.perf_counter()
        export_tracks(store, session_id, ids[:1], ExportOptions(args.format, args.loudness, out / "warm"))
        cold = time.perf_counter() - t0
        runs, cpu, last = [], [], None
        for k in range(args.repeat):
            options = ExportOptions(args.format, args.loudness, out / f"run{k}")
            t0, c0 = time.perf_counter(), time.process_time()
            last = export_tracks(store, session_id, ids, options)
            runs.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        assert last is not None
        wall = statistics.median(runs)
        lufs = [f.lufs for f in last.files]
        peaks = [f.true_peak_dbtp for f in last.files]
        manifest = json.loads(last.manifest.read_text()) if last.manifest else {"files": []}
        limited = sum(1 for f in manifest["files"] if f["loudness"]["limiter_max_reduction_db"] > 0)
        size = sum(f.path.stat().st_size for f in last.files)
    store.close()
    realtime = audio_sec / wall
    print(
        json.dumps(
            {
                "bench": "export",
                "format": args.format,
                "loudness": args.loudness,
                "clips": len(ids),
                "audio_sec": round(audio_sec, 1),
                "wall_sec": round(wall, 3),
                "wall_sec_runs": [round(r, 3) for r in runs],
                "realtime_x": round(realtime, 1),
                "target_realtime_x": TARGET_REALTIME,
                "meets_target": realtime >= TARGET_REALTIME,
                "cpu_sec": round(statistics.median(cpu), 3),
                "realtime_x_per_cpu_sec": round(audio_sec / statistics.median(cpu), 1),
                "cold_first_clip_sec": round(cold, 3),
                "clips_limited": limited,
                "lufs_range": [round(min(lufs), 2), round(max(lufs), 2)] if lufs else None,
                "max_true_peak_dbtp": round(max(peaks), 2) if peaks else None,
                "bytes_written": size,
                "build_sec_if_not_cached": round(build_sec, 1),
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "cpu_count": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
