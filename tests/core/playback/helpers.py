"""What the player tests share: waiting on what the callback did, a recorder of what
reached the device, the player's events, and test clips."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.audio import read_audio, write_wav_atomic
from core.playback import CEILING_DBFS

TESTS = Path(__file__).resolve().parents[2]
REPO = TESTS.parent
RATE = 32_000
DEADLINE = 20.0  # seconds; generous, only reached when something is wrong
CEILING = 10 ** (CEILING_DBFS / 20)
MAX_KEPT_BLOCKS = 3000  # the null device is fast: keep the first blocks, count the rest


def wait_for(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline} s waiting for {what}")
        time.sleep(0.002)


class Recorder:
    """Player.monitor: what the callback wrote, block by block."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.blocks: list[tuple[np.ndarray, Path | None, float]] = []
        self._count = 0
        self.threads: set[str] = set()

    def __call__(self, block: np.ndarray, path: Path | None, position: float) -> None:
        with self._lock:
            self._count += 1
            if len(self.blocks) < MAX_KEPT_BLOCKS:
                self.blocks.append((block, path, position))
            self.threads.add(threading.current_thread().name)

    @property
    def count(self) -> int:
        with self._lock:
            return self._count

    def kept(self, start: int = 0) -> list[tuple[np.ndarray, Path | None, float]]:
        with self._lock:
            return list(self.blocks[start:])

    def audio(self, path: Path, start: int = 0) -> np.ndarray:
        parts = [block for block, p, _ in self.kept(start) if p == path]
        return np.concatenate(parts) if parts else np.zeros((0, 2), np.float32)


class Events:
    def __init__(self) -> None:
        self.finished: list[Path] = []
        self.errors: list[str] = []
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def on_finished(self, path: Path) -> None:
        with self._lock:
            self.finished.append(path)
            self.threads.append(threading.current_thread())

    def on_error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)
            self.threads.append(threading.current_thread())


def sine(seconds: float, freq: float, amp: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def clip(tmp_path: Path, name: str, samples: np.ndarray, rate: int = RATE) -> Path:
    return write_wav_atomic(tmp_path / name, samples, rate)


def expected(path: Path, gain_db: float) -> np.ndarray:
    """What the device should get: the file's samples times the gain, on both channels."""
    data, _ = read_audio(path, mono=False)
    scaled = (data * np.float32(10 ** (gain_db / 20))).astype(np.float32)
    return np.repeat(scaled, 2, axis=1) if scaled.shape[1] == 1 else scaled


def first_sounding(recorder: Recorder, start: int) -> np.ndarray:
    """The first block with sound recorded at or after ``start`` (waits for it)."""
    found: list[np.ndarray] = []

    def look() -> bool:
        found.extend(block for block, _, _ in recorder.kept(start) if np.any(block))
        return bool(found)

    wait_for(look, "a sounding block")
    return found[0]


def after_silence(recorder: Recorder) -> int:
    """Once paused, wait for a silent block: every block recorded after it is post-pause too."""
    start = len(recorder.kept())
    wait_for(lambda: any(not np.any(b) for b, _, _ in recorder.kept(start)), "a silent block")
    return len(recorder.kept())


def assert_sentence(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message
    assert message.endswith(".") and not message.endswith(".)."), message
