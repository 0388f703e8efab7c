"""What the CLI tests share: running ``sessionlab`` in-process, the clips in a data dir,
a musician's take, and text with terminal escapes in it."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf

from core.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def media_wavs(root: Path) -> list[Path]:
    media = root / "media"
    return sorted(p for p in media.rglob("*.wav") if "tmp" not in p.relative_to(media).parts)


ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202e"  # clear screen, OSC title, C1 CSI, bidi override
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")


def no_controls(text: str) -> bool:
    return not any(ch in text for ch in RAW_CONTROLS)


def take(
    path: Path, *, rate: int = 48_000, channels: int = 2, subtype: str = "PCM_24", sec: float = 1.0
) -> Path:
    """A musician's file: a stereo 24-bit 48 kHz take unless told otherwise."""
    t = np.arange(int(rate * sec)) / rate
    tones = [0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)]
    sf.write(os.fsencode(path), np.stack(tones, axis=1), rate, subtype=subtype)
    return path
