"""ALSA's null device for the tests that open a real PortAudio stream.

ALSA_CONFIG_PATH points at tests/asound-null.conf (default PCM: null) and
tests/asound-broken.conf (a device that fails mid-play), for this process only:
nothing on the machine changes and no test sounds on a developer's speakers.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
NULL_CONF = TESTS / "asound-null.conf"
BROKEN_CONF = TESTS / "asound-broken.conf"  # "sessionlab_broken": a device that fails mid-play


def rescan_portaudio() -> None:
    """PortAudio reads the ALSA configuration when it initialises (at `import sounddevice`)."""
    sd = sys.modules.get("sounddevice")
    if sd is not None:
        with contextlib.suppress(Exception):
            sd._terminate()
        sd._initialize()


@contextlib.contextmanager
def null_audio() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALSA_CONFIG_PATH", f"{NULL_CONF}:{BROKEN_CONF}")
        rescan_portaudio()
        yield
    rescan_portaudio()
