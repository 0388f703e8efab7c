"""Kill `sessionlab generate`, `more` and `import` at random points; check that nothing was lost.

    python scripts/kill_check.py [--kills 50] [--seed 0] [--data-dir DIR]

Each round runs one real command (``python -m sessionlab``, the embedded
engines) in a subprocess and SIGKILLs it: in "checkpoint" rounds the child kills
itself the N-th time add_batch reaches a checkpoint (after a clip is moved into
place, just before the commit, just after it; see core.store._test_hook); in
"delay" rounds the parent kills it after a random delay within the command's
usual running time. After every round:

- every clip stored before the round is still stored, and its WAV is readable;
- the number of clips never decreases;
- no session without a batch, no batch without a clip;
- every row's WAV exists and is readable (no row without its file);
- PRAGMA integrity_check is "ok" and foreign_key_check finds nothing;
- batch positions are unique within each session.

At the end a writing open (which sweeps) runs and everything is checked again.
Prints one JSON object with counts; exits 1 if any check failed (a temporary
data dir is then kept, and named, to look into).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKPOINTS = ["after-move:1", "after-move:2", "before-commit:1", "after-commit:1"]
COMMANDS = ["generate", "more", "import"]

# The real CLI, with a store checkpoint that SIGKILLs the process (argv: POINT:N, then the CLI's).
KILL_AT_CHECKPOINT = """
import os, signal, sys
import core.store
from core.cli import main
point, _, nth = sys.argv[1].partition(":")
seen = [0]
def hook(name):
    if name == point:
        seen[0] += 1
        if seen[0] == int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)
core.store._test_hook = hook
sys.exit(main(sys.argv[2:]))
"""


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def write_take(path: Path, frequency: float, seconds: float = 1.0, rate: int = 32_000) -> Path:
    import numpy as np
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32), rate, subtype="PCM_16")
    return path


def connect(root: Path) -> sqlite3.Connection:
    return sqlite3.connect(root / "sessionlab.db", timeout=30)


def command_line(command: str, root: Path, rng: random.Random, takes: list[Path], index: int) -> list[str]:
    if command == "generate":
        return [
            "generate",
            "--brief",
            f"kill check {index}",
            "--clips",
            "2",
            "--duration",
            "1",
            "--seed",
            str(index),
        ]
    conn = connect(root)
    try:
        sessions = [row[0] for row in conn.execute("SELECT id FROM sessions ORDER BY id")]
        session_id = rng.choice(sessions)
        clusters = [
            row[0] for row in conn.execute("SELECT id FROM clusters WHERE session_id = ?", (session_id,))
        ]
    finally:
        conn.close()
    if command == "more" and clusters:
        return ["more", session_id, rng.choice(clusters), "--clips", "2", "--seed", str(index)]
    if command == "more":
        problems = f"session {session_id} has no cluster to ask for more of"
        raise SystemExit(json.dumps({"ok": False, "problems": [problems]}))
    target = ["--new"] if rng.random() < 0.5 else [session_id]
    return ["import", *target, *map(str, rng.sample(takes, 2))]


def run_round(
    root: Path, argv: list[str], mode: str, rng: random.Random, usual_sec: float
) -> tuple[str, str]:
    """Run one command and kill it; return (what happened, stderr)."""
    base = ["--data-dir", str(root), *argv]
    if mode == "checkpoint":
        point = rng.choice(CHECKPOINTS)
        done = subprocess.run(
            [sys.executable, "-c", KILL_AT_CHECKPOINT, point, *base],
            cwd=REPO,
            env=env(),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode == -signal.SIGKILL:
            return f"killed at {point}", done.stderr
        return ("finished" if done.returncode == 0 else f"exit {done.returncode}"), done.stderr
    delay = rng.uniform(0.0, usual_sec)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sessionlab", *base],
        cwd=REPO,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    if proc.returncode == -signal.SIGKILL:
        return "killed after a delay", err
    return ("finished" if proc.returncode == 0 else f"exit {proc.returncode}"), err


def check(root: Path, known: dict[str, str], last_count: int) -> tuple[list[str], int, dict[str, int]]:
    """Every invariant; return (problems, clip count, totals). ``known`` grows with the clips seen."""
    import soundfile as sf

    problems: list[str] = []
    conn = connect(root)
    try:
        tracks = dict(conn.execute("SELECT path, id FROM tracks").fetchall())
        integrity = conn.execute("PRAGMA integrity_check").fetchall()
        foreign = conn.execute("PRAGMA foreign_key_check").fetchall()
        empty_sessions = conn.execute(
            "SELECT id FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM batches b WHERE b.session_id = s.id)"
        ).fetchall()
        empty_batches = conn.execute(
            "SELECT id FROM batches b WHERE NOT EXISTS (SELECT 1 FROM tracks t WHERE t.batch_id = b.id)"
        ).fetchall()
        duplicate_positions = conn.execute(
            "SELECT session_id, position FROM batches GROUP BY session_id, position HAVING count(*) > 1"
        ).fetchall()
        totals = {
            "sessions": conn.execute("SELECT count(*) FROM sessions").fetchone()[0],
            "batches": conn.execute("SELECT count(*) FROM batches").fetchone()[0],
            "clips": len(tracks),
        }
    finally:
        conn.close()
    if integrity != [("ok",)]:
        problems.append(f"integrity_check: {integrity[:3]}")
    if foreign:
        problems.append(f"foreign_key_check: {foreign[:3]}")
    problems += [f"session {sid} has no batch" for (sid,) in empty_sessions]
    problems += [f"batch {bid} has no clip" for (bid,) in empty_batches]
    problems += [f"two batches of session {sid} at position {pos}" for sid, pos in duplicate_positions]
    if len(tracks) < last_count:
        problems.append(f"the clip count fell from {last_count} to {len(tracks)}")
    for path, track_id in known.items():
        if tracks.get(path) != track_id:
            problems.append(f"clip {track_id} ({path}) was stored before and is gone")
    for path in tracks:
        try:
            info = sf.info(str(root / path))
            if info.frames <= 0:
                problems.append(f"{path} holds no audio")
        except Exception as exc:  # missing or unreadable: either is a row without its file
            problems.append(f"{path} cannot be read ({type(exc).__name__})")
    known.update(tracks)
    return problems, len(tracks), totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, help="default: a new temporary dir")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    root = args.data_dir or Path(tempfile.mkdtemp(prefix="sessionlab-kill-check-")) / "data"
    takes_dir = Path(tempfile.mkdtemp(prefix="sessionlab-kill-takes-"))
    takes = [write_take(takes_dir / f"take-{i}.wav", 220.0 * (i + 1)) for i in range(4)]
    started = time.monotonic()

    # Calibration rounds (not killed): a first session to go on from, and each command's usual time.
    usual: dict[str, float] = {}
    known: dict[str, str] = {}
    count = 0
    problems: list[str] = []
    for index, command in enumerate(COMMANDS):
        line = command_line(command, root, rng, takes, index)
        began = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "sessionlab", "--data-dir", str(root), *line],
            cwd=REPO,
            env=env(),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        usual[command] = time.monotonic() - began
        if done.returncode != 0:
            problems.append(f"calibration {command} failed: {done.stderr.strip()[-300:]}")
        found, count, _ = check(root, known, count)
        problems += found

    outcomes: Counter[str] = Counter()
    by_command: Counter[str] = Counter()
    by_mode: Counter[str] = Counter()
    killed = 0
    index = 0
    while killed < args.kills and index < 3 * args.kills:  # a round whose command ends first is no kill
        command = COMMANDS[index % len(COMMANDS)]
        mode = "checkpoint" if rng.random() < 0.5 else "delay"
        line = command_line(command, root, rng, takes, 100 + index)
        what, err = run_round(root, line, mode, rng, usual[command])
        outcomes[what] += 1
        by_command[command] += 1
        by_mode[mode] += 1
        killed += what.startswith("killed")
        if what.startswith("exit"):
            problems.append(f"round {index} ({command}) ended with {what}: {err.strip()[-300:]}")
        found, count, _ = check(root, known, count)
        problems += [f"round {index} ({command}, {what}): {p}" for p in found]
        index += 1

    # A writing open sweeps leftovers of the dead processes: it must take nothing that is stored.
    swept = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from core.store import SessionStore; SessionStore(sys.argv[1]).close()",
            root,
        ],
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
    )
    if swept.returncode != 0:
        problems.append(f"opening after the kills failed: {swept.stderr.strip()[-300:]}")
    found, count, totals = check(root, known, count)
    problems += [f"after the final open: {p}" for p in found]

    report = {
        "kills_planned": args.kills,
        "killed": killed,
        "rounds": index,
        "finished_before_the_kill": outcomes["finished"],
        "outcomes": dict(sorted(outcomes.items())),
        "by_command": dict(by_command),
        "by_mode": dict(by_mode),
        "usual_sec": {k: round(v, 2) for k, v in usual.items()},
        **totals,
        "clips_ever_seen": len(known),
        "problems": problems[:20],
        "problem_count": len(problems),
        "ok": not problems,
        "seed": args.seed,
        "data_dir": str(root) if args.data_dir or problems else None,  # a temporary one is kept to look into
        "elapsed_sec": round(time.monotonic() - started, 1),
    }
    shutil.rmtree(takes_dir, ignore_errors=True)
    if args.data_dir is None and not problems:
        shutil.rmtree(root.parent, ignore_errors=True)
    print(json.dumps(report))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
