"""Fixtures for the app's pilot and snapshot tests.

Everything runs on the real core (embedded engine, real SQLite, real WAVs) in a
temporary data dir. Playback opens a real PortAudio stream on ALSA's null
device (tests/asound-null.conf through ALSA_CONFIG_PATH, for this process only).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from tests.tui import scenes
from tui.app import SessionLabApp

TESTS = Path(__file__).resolve().parents[1]
NULL_CONF = TESTS / "asound-null.conf"
BROKEN_CONF = TESTS / "asound-broken.conf"  # "sessionlab_broken": a device that fails mid-play


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio; anyio's pytest plugin drives the async tests


def _rescan_portaudio() -> None:
    """PortAudio reads the ALSA configuration when it initialises."""
    sd = sys.modules.get("sounddevice")
    if sd is not None:
        with contextlib.suppress(Exception):
            sd._terminate()
        sd._initialize()


@pytest.fixture(scope="module", autouse=True)
def null_audio_device() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALSA_CONFIG_PATH", f"{NULL_CONF}:{BROKEN_CONF}")
        _rescan_portaudio()
        yield
    _rescan_portaudio()


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir)


@pytest.fixture
def fixed_time() -> Iterator[None]:
    with scenes.fixed_time():
        yield


@pytest.fixture
def make_app(settings: Settings) -> Callable[..., SessionLabApp]:
    def make(**options: object) -> SessionLabApp:
        return scenes.make_app(settings, **options)

    return make
