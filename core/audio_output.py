"""The PortAudio side of audition: importing sounddevice, finding output devices.

PortAudio is process-wide: opening, closing and re-scanning streams go through
one lock (``PA_LOCK``), and a re-scan (Pa_Terminate + Pa_Initialize) only happens
while no stream of ours is open (``streams``). Every failure is one sentence in a
``PlaybackError``. ``sounddevice`` is imported inside functions only: importing it
loads PortAudio (OSError when the library is missing) and enumerates devices.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from core.errors import PlaybackError

log = logging.getLogger(__name__)

LATENCY = "high"  # audition, not performance: favour no dropouts
MAX_CHANNELS = 2

NO_PORTAUDIO = (
    "Audio playback is unavailable: the PortAudio library is not installed "
    "(on Debian or Ubuntu: apt-get install libportaudio2)."
)

# PortAudio is process-wide: opening, closing and re-scanning go through one lock, and
# a re-scan (Pa_Terminate + Pa_Initialize) only happens while no stream of ours is open.
PA_LOCK = threading.RLock()


class _StreamCount:
    """How many streams of ours are open (a re-scan waits for none)."""

    def __init__(self) -> None:
        self.open = 0


streams = _StreamCount()


def detail(exc: BaseException) -> str:
    """The first line of an exception's message, without a trailing period."""
    arg = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    text = (arg.strip().splitlines() or [""])[0].strip().rstrip(".")
    return text[:200] or type(exc).__name__


def _alsa_config_problem() -> str | None:
    """alsa-lib aborts the whole process (SIGABRT) when ALSA_CONFIG_PATH names no file."""
    if not sys.platform.startswith("linux"):
        return None
    value = os.environ.get("ALSA_CONFIG_PATH", "")
    entries = [entry for entry in re.split(r"[:\s]+", value) if entry]
    if not entries or any(os.path.isfile(e) and os.access(e, os.R_OK) for e in entries):
        return None
    return "Audio playback is disabled: ALSA_CONFIG_PATH names no readable ALSA configuration file."


def import_sounddevice() -> ModuleType:
    problem = _alsa_config_problem()
    if problem:
        raise PlaybackError(problem)
    try:
        import sounddevice
    except OSError:
        raise PlaybackError(NO_PORTAUDIO) from None
    except ImportError:
        raise PlaybackError(
            "Audio playback is unavailable: the sounddevice package is not installed."
        ) from None
    except Exception as exc:  # PortAudioError from Pa_Initialize, e.g. a broken ~/.asoundrc
        raise PlaybackError(
            f"Audio playback is unavailable: the audio system could not be started ({detail(exc)})."
        ) from None
    return sounddevice


def describe(device: int | str | None) -> str:
    return "the default audio output device" if device is None else f"the audio output device {device!r}"


def query_output(sd: ModuleType, device: int | str | None) -> dict[str, Any]:
    try:
        with PA_LOCK:  # never while another player re-scans the device list
            info = dict(sd.query_devices(device, kind="output"))
    except (ValueError, sd.PortAudioError):
        if device is None:
            raise PlaybackError("No audio output device was found.") from None
        raise PlaybackError(f"The audio output device {device!r} was not found.") from None
    if int(info.get("max_output_channels", 0)) < 1:
        raise PlaybackError(f"{describe(device).capitalize()} has no output channels.")
    return info


def refresh_portaudio(sd: ModuleType) -> bool:
    """Re-scan the device list (a device plugged in or back); only with no stream of ours open."""
    with PA_LOCK:
        if streams.open:
            return False
        with contextlib.suppress(Exception):  # already terminated by an earlier failed re-scan
            sd._terminate()
        try:
            sd._initialize()
        except Exception as exc:
            log.warning("PortAudio could not be re-initialised: %s", exc)
            return False
        return True


def check_audio_output(device: int | str | None = None) -> str | None:
    """None when an output stream can be opened on ``device``, else one readable sentence.

    Opens and closes a stream without starting it. Call it when nothing is playing:
    a device without a mixer cannot be opened twice.
    """
    try:
        sd = import_sounddevice()
        info = query_output(sd, device)
    except PlaybackError as exc:
        return str(exc)
    channels = min(MAX_CHANNELS, int(info["max_output_channels"]))
    with PA_LOCK:
        try:
            stream = sd.OutputStream(
                device=info["index"],
                channels=channels,
                dtype="float32",
                samplerate=float(info["default_samplerate"]),
                latency=LATENCY,
            )
            stream.close()
        except Exception as exc:
            return f"{describe(device).capitalize()} could not be opened ({detail(exc)})."
    return None


@dataclass(frozen=True)
class OutputDevice:
    """An output device as PortAudio lists it; ``name`` is what the setting holds."""

    name: str
    host_api: str
    channels: int
    is_default: bool


def output_devices() -> list[OutputDevice]:
    """Every device that can play sound, the default one first.

    Re-scans PortAudio's list first when no stream of ours is open (headphones
    plugged in since start-up). Raises PlaybackError (no PortAudio).
    """
    sd = import_sounddevice()
    refresh_portaudio(sd)
    with PA_LOCK:
        try:
            devices = [dict(d) for d in sd.query_devices()]
            apis = [dict(a) for a in sd.query_hostapis()]
            default = sd.default.device[1]
            if default is None or int(default) < 0:
                default = next(
                    (int(a["default_output_device"]) for a in apis if a["default_output_device"] >= 0), -1
                )
        except sd.PortAudioError as exc:
            raise PlaybackError(f"The audio output devices could not be listed ({detail(exc)}).") from None
    found = [
        OutputDevice(
            name=str(info["name"]),
            host_api=str(apis[int(info["hostapi"])]["name"]) if int(info["hostapi"]) < len(apis) else "",
            channels=int(info["max_output_channels"]),
            is_default=index == int(default),
        )
        for index, info in enumerate(devices)
        if int(info.get("max_output_channels", 0)) > 0
    ]
    return sorted(found, key=lambda d: not d.is_default)
