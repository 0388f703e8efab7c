"""How quickly the app draws its first screen, and whether the UI ever stalls.

1. First screen: each variant runs in a fresh interpreter on a pseudo-terminal
   (120 x 36), exactly as in a real terminal; the time is from spawning the
   process to the moment its first screen's text arrives on the terminal. The
   bare variant is a minimal Textual app (one Static) run the same way, in the
   same run, alternating with the app, so machine noise hits both alike.
   Target: the app takes at most 1.25 x the bare app. "app" opens it with
   tui.app.run_app; "command" through the `sessionlab` launcher, whose argument
   parsing (core.cli) comes first.
2. Event-loop stall: the real app (headless) makes a batch of 6 x 10 s clips
   on the embedded engine, through the same screens a user drives; a 5 ms
   heartbeat timer in the event loop records the longest gap between beats
   (minus the interval) while the batch is made. Cold (first batch of the
   process: scikit-learn still importing) and warm. Target: under 50 ms.

Prints one JSON object. Usage: .venv/bin/python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLUMNS, ROWS = 120, 36
FIRST_PAINT_TARGET = 1.25
STALL_TARGET_MS = 50.0
HEARTBEAT_SEC = 0.005

BARE_APP = """
from textual.app import App, ComposeResult
from textual.widgets import Static

class Bare(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("bare textual app ready")

Bare().run()
"""

SESSIONLAB_APP = """
from core.settings import load_settings
from tui.app import run_app

run_app(load_settings())
"""

# The same app through the `sessionlab` command (its argument parsing comes first).
SESSIONLAB_COMMAND = """
import sys
from sessionlab.__main__ import main

sys.exit(main([]))
"""


def _time_to_text(code: str, markers: list[bytes], env: dict[str, str], timeout: float = 30.0) -> list[float]:
    """Seconds from spawn until each marker appears on the child's terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=REPO,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    found: list[float] = []
    try:
        while len(found) < len(markers):
            left = timeout - (time.perf_counter() - started)
            if left <= 0:
                raise TimeoutError(f"never drew {markers[len(found)]!r}; got {seen[-400:]!r}")
            ready, _, _ = select.select([master], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            while len(found) < len(markers) and markers[len(found)] in seen:
                found.append(time.perf_counter() - started)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        os.close(master)
    if len(found) < len(markers):
        raise RuntimeError(f"the child exited before drawing {markers[len(found)]!r}: {seen[-400:]!r}")
    return found


def first_paint(runs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env.update(
            {
                "TERM": "xterm-256color",
                "COLUMNS": str(COLUMNS),
                "LINES": str(ROWS),
                "SESSIONLAB_DATA_DIR": str(Path(tmp) / "data"),
                "SESSIONLAB_CONFIG_DIR": str(Path(tmp) / "config"),
                "PYTHONPATH": str(REPO),
            }
        )
        env.pop("TEXTUAL", None)
        # Warm the OS file cache once for both, so the first measured run is not special.
        _time_to_text(BARE_APP, [b"bare textual app ready"], env)
        _time_to_text(SESSIONLAB_APP, [b"Sessions"], env)
        bare: list[float] = []
        app: list[float] = []
        listed: list[float] = []
        command: list[float] = []
        for _ in range(runs):
            bare.append(_time_to_text(BARE_APP, [b"bare textual app ready"], env)[0])
            drawn, shown = _time_to_text(SESSIONLAB_APP, [b"Sessions", b"No sessions yet"], env)
            app.append(drawn)
            listed.append(shown)
            command.append(_time_to_text(SESSIONLAB_COMMAND, [b"Sessions"], env)[0])
    bare_ms = statistics.median(bare) * 1000
    app_ms = statistics.median(app) * 1000
    command_ms = statistics.median(command) * 1000
    return {
        "bare_ms": round(bare_ms, 1),
        "app_ms": round(app_ms, 1),
        "ratio": round(app_ms / bare_ms, 3),
        "command_ms": round(command_ms, 1),
        "command_ratio": round(command_ms / bare_ms, 3),
        "sessions_listed_ms": round(statistics.median(listed) * 1000, 1),
        "runs": runs,
        "target_ratio": FIRST_PAINT_TARGET,
        "ok": app_ms / bare_ms <= FIRST_PAINT_TARGET,
    }


class Heartbeat:
    """A 5 ms timer in the app's event loop; the longest gap between beats is the stall."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.gaps: list[float] = []
        self.last = time.perf_counter()
        self.timer = app.set_interval(HEARTBEAT_SEC, self.beat)

    def beat(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self.last)
        self.last = now

    def stop(self, started: float) -> dict[str, float]:
        self.timer.stop()
        gaps = sorted(self.gaps)
        return {
            "max_stall_ms": round((gaps[-1] - HEARTBEAT_SEC) * 1000, 1) if gaps else float("nan"),
            "p99_gap_ms": round(gaps[max(0, int(len(gaps) * 0.99) - 1)] * 1000, 1) if gaps else float("nan"),
            "beats": len(gaps),
            "batch_sec": round(time.perf_counter() - started, 3),
        }


async def _until_done(screen) -> None:  # type: ignore[no-untyped-def]
    while screen.generating:
        await asyncio.sleep(0.01)
    # The follow-up work too: tree and list rebuilt, waveforms drawn in workers.
    for _ in range(5):
        await asyncio.sleep(0.05)


async def _stalls() -> dict[str, object]:
    from core.models import BriefParams
    from core.settings import Settings
    from tui.app import SessionLabApp
    from tui.jobs import GenerationJob
    from tui.screens.session import SessionScreen

    params = BriefParams(0.5, 0.5, 10.0)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        app = SessionLabApp(settings, check_audio=False)
        async with app.run_test(size=(COLUMNS, ROWS)) as pilot:
            # The app warms up after its first paint (scikit-learn, then a GC freeze); a
            # musician is still typing the brief then. Measure batches after it.
            await pilot.pause(0.5)
            for worker in [w for w in app.workers if w.group == "warm-up"]:
                await worker.wait()
            # First batch: what ctrl+s on the brief form does (the session screen opens on it).
            # (Measured from when its worker starts: opening a screen is not making a batch.)
            screen = SessionScreen(
                job=GenerationJob(kind="new", num_clips=6, brief="bench: lofi", params=params, seed=1)
            )
            await app.push_screen(screen)
            while not any(w.group == "generate" for w in screen.workers):  # the batch starts
                await asyncio.sleep(0.001)
            beat = Heartbeat(app)
            started = time.perf_counter()
            await _until_done(screen)
            first = beat.stop(started)
            # Next batches in the same session (b, then ctrl+s).
            more = []
            for seed in (2, 3):
                job = GenerationJob(
                    kind="batch",
                    num_clips=6,
                    brief="bench: lofi",
                    params=params,
                    seed=seed,
                    session_id=screen.session_id,
                )
                beat = Heartbeat(app)
                started = time.perf_counter()
                screen.start_job(job)
                await _until_done(screen)
                more.append(beat.stop(started))
    worst = max([first["max_stall_ms"]] + [m["max_stall_ms"] for m in more])
    return {
        "first_batch": first,
        "next_batches": more,
        "max_stall_ms": worst,
        "clips": 6,
        "clip_sec": 10.0,
        "heartbeat_ms": HEARTBEAT_SEC * 1000,
        "target_ms": STALL_TARGET_MS,
        "ok": worst < STALL_TARGET_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="first-paint runs per variant (median reported)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("SESSIONLAB_CONFIG_DIR", tempfile.mkdtemp(prefix="sessionlab-bench-config-"))
    result = {
        "first_screen": first_paint(args.runs),
        "generation_stall": asyncio.run(_stalls()),
        "python": sys.version.split()[0],
    }
    result["ok"] = bool(result["first_screen"]["ok"] and result["generation_stall"]["ok"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
