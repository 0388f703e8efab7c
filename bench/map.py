"""The session map of a big session: how long it takes to draw once the session is open.

The 10,000-clip session of bench/scale.py (cached under ~/.cache/sessionlab-bench/scale;
a cache made at an older schema is copied and migrated, none is built if one exists)
is opened (SessionStore.get_session, not timed), then:

- place_sec: core.maps.session_map (read the 10k vectors, project them); median of --repeat.
- thin_sec: the plot's layers at 118 x 30 cells (one point per cell); median of --repeat.
- in the app (Textual's run_test, 120 x 36), the session screen opened on it:
  draw_at_open_sec: M pressed the moment the session is open, until the plot has drawn
  its points (placing it in a worker included); prepared_after_open_sec: until the
  screen has placed the map in the background; idle_after_open_sec: until every worker
  started at open is done (the clip files' check); draw_sec: M pressed after that, until
  drawn (draw_cpu_sec: the process's CPU seconds over the same span, which a busy
  machine inflates less). Wall seconds on a shared machine: the load average is printed with them.
- moved: how far the old clips moved when the last batch was added (mean distance over
  the spread of the map), and on the last refit (the batch that doubled the session).

Target (issue 10): the map of a 10,000-clip session draws in under 0.1 s after the
session is open (draw_sec). Prints one JSON object.
Usage: python bench/map.py [--size 10000] [--repeat 5] [--cache DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_SEC = 0.1


def cached_session(cache: Path, size: int, into: Path) -> tuple[Path, str]:
    """A working copy of a cached big session (any schema; the store migrates the copy)."""
    from bench import scale

    found = sorted(cache.glob(f"clips{size}-sec{scale.CLIP_SEC:g}-recipe{scale.BUILD_RECIPE}-schema*"))
    ready = [f for f in found if (f / "session.json").is_file()]
    if ready:
        folder = ready[-1]
        data, session_id = folder / "data", json.loads((folder / "session.json").read_text())["session_id"]
    else:
        data, session_id, _ = scale.build(cache, size)
    return scale.working_copy(data, into), session_id


def movement(points_before: dict, points_after: dict) -> float:  # type: ignore[type-arg]
    """Mean distance the shared points moved, over the RMS spread of the earlier map."""
    import numpy as np

    shared = [k for k in points_before if k in points_after]
    if not shared:
        return 0.0
    a = np.array([points_before[k] for k in shared])
    b = np.array([points_after[k] for k in shared])
    spread = float(np.sqrt(((a - a.mean(axis=0)) ** 2).sum(axis=1).mean())) or 1.0
    return round(float(np.linalg.norm(a - b, axis=1).mean()) / spread, 6)


def measure_moves(store, session) -> dict[str, float]:  # type: ignore[no-untyped-def]
    import numpy as np

    from core.maps import fit_prefixes, project, session_space

    space = session_space(session)
    vectors = store.get_embeddings([t.id for t in session.tracks], space)
    sizes, rows, keys = [], [], []
    for batch in session.batches:
        members = [t for t in batch.tracks if t.id in vectors]
        if members:
            sizes.append(len(members))
            rows.extend(vectors[t.id] for t in members)
            keys.extend(t.id for t in members)
    matrix = np.stack(rows).astype(np.float64)

    def placed(n_batches: int) -> dict:  # type: ignore[type-arg]
        count = sum(sizes[:n_batches])
        xy = project(matrix[:count], sizes[:n_batches])
        return {k: tuple(p) for k, p in zip(keys[:count], xy, strict=True)}

    last_refit = fit_prefixes(sizes)[-1]
    refit_batch = next(i for i in range(1, len(sizes) + 1) if sum(sizes[:i]) == last_refit)
    return {
        "last_batch": movement(placed(len(sizes) - 1), placed(len(sizes))),
        "last_refit": movement(placed(refit_batch - 1), placed(refit_batch)),
    }


async def app_draw(settings, session_id: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Open the session in the app; press M as soon as it is open (the map is placed then),
    go back, and press M again once the screen has placed it in the background."""
    import uuid

    from tests.tui import scenes
    from tui.screens.session import SessionScreen
    from tui.widgets.session_map import SessionMapPlot

    drawn: list[float] = []
    original = SessionMapPlot.render

    def render(self):  # type: ignore[no-untyped-def]
        result = original(self)
        if self.session_map is not None and self.session_map.points:
            drawn.append(time.perf_counter())
        return result

    async def until(check, limit: float = 60.0) -> float:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        while not check() and time.perf_counter() - started < limit:
            await asyncio.sleep(0.002)
        return time.perf_counter()

    SessionMapPlot.render = render  # type: ignore[method-assign]
    try:
        app = scenes.make_app(settings, check_audio=False)
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            screen = SessionScreen(session_id=uuid.UUID(session_id))
            app.push_screen(screen)
            opened = await until(lambda: screen.session is not None)
            await pilot.press("M")
            first = await until(lambda: bool(drawn))
            at_open = first - opened
            await pilot.press("q")
            await until(lambda: app.screen is screen and screen.prepared_map is not None)
            prepared = time.perf_counter() - opened
            await app.workers.wait_for_complete()  # the clip files' check, started at open, too
            idle = time.perf_counter() - opened
            await pilot.pause()
            drawn.clear()
            pressed, cpu = time.perf_counter(), time.process_time()
            await pilot.press("M")
            second = await until(lambda: bool(drawn))
            draw_cpu = time.process_time() - cpu
            return {
                "draw_at_open_sec": round(at_open, 4),
                "prepared_after_open_sec": round(prepared, 4),
                "idle_after_open_sec": round(idle, 4),
                "draw_sec": round(second - pressed, 4),
                "draw_cpu_sec": round(draw_cpu, 4),
            }
    finally:
        SessionMapPlot.render = original  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "sessionlab-bench" / "scale")
    args = parser.parse_args()

    from core.maps import cluster_styles, session_map
    from core.settings import Settings
    from core.store import SessionStore
    from tui.widgets.session_map import SessionMapPlot

    with tempfile.TemporaryDirectory() as tmp:
        data, session_id = cached_session(args.cache, args.size, Path(tmp))
        import uuid

        store = SessionStore(data)
        session = store.require_session(uuid.UUID(session_id))
        place, place_cpu, thin = [], [], []
        for _ in range(args.repeat):
            started, cpu = time.perf_counter(), time.process_time()
            placed = session_map(store, session)
            place.append(time.perf_counter() - started)
            place_cpu.append(time.process_time() - cpu)
            plot = SessionMapPlot()
            plot.session_map, plot.style_of_cluster = placed, cluster_styles(session)
            started = time.perf_counter()
            plot.layers(118, 30)
            thin.append(time.perf_counter() - started)
        moved = measure_moves(store, session)
        store.close()
        cpu_started = time.process_time()
        app = asyncio.run(app_draw(Settings(data_dir=data), session_id))
        app_cpu = time.process_time() - cpu_started
    print(
        json.dumps(
            {
                "clips": len(session.tracks),
                "batches": len(session.batches),
                "place_sec": round(statistics.median(place), 4),
                "place_cpu_sec": round(statistics.median(place_cpu), 4),
                "thin_sec": round(statistics.median(thin), 4),
                **app,
                "app_cpu_sec": round(app_cpu, 3),
                "target_sec": TARGET_SEC,
                "met": app["draw_sec"] < TARGET_SEC,
                "load_average": round(os.getloadavg()[0], 2),
                "moved": moved,
            }
        )
    )


if __name__ == "__main__":
    main()
