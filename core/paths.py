"""Every directory Session Lab uses, from platformdirs, with one override."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

APP_NAME = "sessionlab"
DATA_DIR_ENV = "SESSIONLAB_DATA_DIR"
CONFIG_DIR_ENV = "SESSIONLAB_CONFIG_DIR"
DB_NAME = "sessionlab.db"


def data_dir() -> Path:
    """Where sessions live: ``SESSIONLAB_DATA_DIR`` or the user data dir."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return platformdirs.user_data_path(APP_NAME)


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return platformdirs.user_config_path(APP_NAME)


def config_file() -> Path:
    return config_dir() / "config.toml"


def db_path(root: Path) -> Path:
    return root / DB_NAME


def media_root(root: Path) -> Path:
    return root / "media"


def session_media_dir(root: Path, session_id: uuid.UUID) -> Path:
    return media_root(root) / str(session_id)


# A track's file keeps its format: generated clips are WAV; an imported file keeps its own.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".caf", ".w64")


def track_suffix(path: Path | str) -> str:
    """The extension a track's file is stored under: the path's own when it is an audio one, else .wav."""
    suffix = Path(path).suffix.lower()
    return suffix if suffix in AUDIO_SUFFIXES else ".wav"


def track_path(root: Path, session_id: uuid.UUID, track_id: uuid.UUID, suffix: str = ".wav") -> Path:
    ext = suffix.lower() if suffix.lower() in AUDIO_SUFFIXES else ".wav"
    return session_media_dir(root, session_id) / f"{track_id}{ext}"


def tmp_root(root: Path) -> Path:
    """Scratch space for clips being made; on the media file system so renames are atomic."""
    return media_root(root) / "tmp"
