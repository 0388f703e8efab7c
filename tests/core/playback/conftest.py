"""The audition player on a real PortAudio stream: ALSA's null device.

ALSA_CONFIG_PATH points alsa-lib at tests/asound-null.conf (default PCM = null)
plus tests/asound-broken.conf (a PCM whose pipe breaks mid-play) for this
module's process only; nothing on the machine changes. The null plugin is not
clocked, it takes samples thousands of times faster than real time: the tests
wait on what the callback did (frames, events), never on the wall clock.

What the device received is read back through ``Player.monitor``, which gets a
copy of every block the callback wrote.

Fixtures of the player tests (in tests/core/playback/helpers.py: what they share).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.playback import Player
from tests.audio_device import null_audio
from tests.core.playback.helpers import Events, Recorder


@pytest.fixture(scope="module", autouse=True)
def null_audio_device() -> Iterator[None]:
    with null_audio():
        yield


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def player(events: Events, recorder: Recorder) -> Iterator[Player]:
    p = Player(on_finished=events.on_finished, on_error=events.on_error)
    p.monitor = recorder
    yield p
    p.close()
