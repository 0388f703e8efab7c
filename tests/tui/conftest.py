"""Fixtures for the app's pilot and snapshot tests.

Everything runs on the real core (embedded engine, real SQLite, real WAVs) in a
temporary data dir. Playback opens a real PortAudio stream on ALSA's null
device (tests/asound-null.conf through ALSA_CONFIG_PATH, for this process only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from tests.audio_device import null_audio
from tests.tui import scenes
from tui.app import SessionLabApp


@pytest.fixture(scope="module", autouse=True)
def null_audio_device() -> Iterator[None]:
    with null_audio():
        yield


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
