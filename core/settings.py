"""Settings: defaults < config.toml < environment < CLI flags.

The config file is ``config.toml`` in the user config dir (``SESSIONLAB_CONFIG_DIR``
overrides it); every key is optional and named like the field below. Environment
variables are ``SESSIONLAB_<FIELD>`` in upper case, plus the conventional
``OPENAI_API_KEY``, ``OPENAI_BASE_URL`` and ``HF_TOKEN``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from core import paths
from core.errors import ValidationError
from core.text import shown

DEFAULT_MAX_K = 3
MIN_SIMILARITY = 0.3
MAX_BATCH_SIZE = 6
TARGET_LUFS = -18.0

# Extra environment names that other tools already use.
_ALIASES = {
    "openai_api_key": ("OPENAI_API_KEY",),
    "openai_base_url": ("OPENAI_BASE_URL",),
    "hf_token": ("HF_TOKEN",),
}


@dataclass(frozen=True)
class Settings:
    data_dir: Path = dataclasses.field(default_factory=paths.data_dir)
    max_batch_size: int = MAX_BATCH_SIZE
    default_max_k: int = DEFAULT_MAX_K
    min_similarity: float = MIN_SIMILARITY
    # More-like generates at most this many candidates per clip asked for.
    more_like_candidate_factor: int = 3
    target_lufs: float = TARGET_LUFS
    # Provider choice.
    engine: str = "sketch"
    embedder: str = "features"
    namer: str = "describe"
    # MusicGen (transformers).
    musicgen_model: str = "facebook/musicgen-small"
    musicgen_device: str = "auto"
    musicgen_max_batch: int = 6
    musicgen_guidance_scale: float = 3.0
    # Engines through diffusers (stable-audio, ace-step).
    # "": Stable Audio 3 medium where a CUDA GPU is visible, Stable Audio Open Small elsewhere.
    stable_audio_model: str = ""
    ace_step_model: str = "ACE-Step/acestep-v15-xl-turbo-diffusers"
    diffusers_device: str = "auto"
    diffusers_max_batch: int = 4  # clips per batched pipeline call
    diffusers_steps: int = 0  # denoising steps; 0: the model's own default
    # How far "more like this" may stray from each reference: close, near, balanced, far, loose.
    variation_strength: str = "balanced"
    # Engines to try, in order, when the chosen one cannot run here (no CUDA for a CUDA-only
    # model, missing weights or packages, out of memory): for a batch, more like and extend;
    # entries separated by commas, each an engine or engine=model, e.g.
    # "stable-audio=stabilityai/stable-audio-open-small, sketch".
    # Empty (the default): no fallback; the batch says why the engine cannot run.
    fallback_engines: str = ""
    # Extending a clip window by window (core.windowed, seed 004): the new seconds each
    # window adds, and the seconds crossfaded (equal power) where two windows meet.
    extend_stride_sec: float = 18.0
    extend_overlap_sec: float = 2.0
    # CLAP (transformers).
    clap_model: str = "laion/larger_clap_music"  # or laion/clap-htsat-unfused (general audio)
    clap_device: str = "auto"
    # OpenAI-compatible namer.
    openai_api_key: str = ""
    openai_base_url: str = ""
    openai_model: str = "gpt-4o-mini"
    openai_timeout_sec: float = 10.0
    # Remote MusicGen endpoint (seed 000's HfMusicGenProvider).
    hf_endpoint_url: str = ""
    hf_token: str = ""
    hf_concurrency: int = 3
    hf_timeout_sec: float = 120.0
    # Audition: the output device by name ("" = the system's default) and the listener's
    # volume in dB on top of the loudness match (0 at most; the app saves both).
    output_device: str = ""
    volume_db: float = 0.0
    # What goes to the log file (see core.logs): DEBUG, INFO, WARNING, ERROR or CRITICAL.
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch_size <= 64:
            raise ValidationError(f"max_batch_size must be between 1 and 64, not {self.max_batch_size}.")
        if not 1 <= self.default_max_k <= 16:
            raise ValidationError(f"default_max_k must be between 1 and 16, not {self.default_max_k}.")
        if not -1.0 <= self.min_similarity <= 1.0:
            raise ValidationError(f"min_similarity must be between -1 and 1, not {self.min_similarity}.")
        if self.more_like_candidate_factor < 1:
            raise ValidationError("more_like_candidate_factor must be at least 1.")
        if self.musicgen_max_batch < 1:
            raise ValidationError("musicgen_max_batch must be at least 1.")
        if self.diffusers_max_batch < 1:
            raise ValidationError("diffusers_max_batch must be at least 1.")
        if not 0 <= self.diffusers_steps <= 1000:
            raise ValidationError(f"diffusers_steps must be between 0 and 1000, not {self.diffusers_steps}.")
        from core.providers.capabilities import strength_fraction

        try:
            strength_fraction(self.variation_strength)
        except ValueError:
            from core.providers.capabilities import VARIATION_STRENGTHS

            raise ValidationError(
                f"variation_strength must be one of {', '.join(VARIATION_STRENGTHS)}, "
                f"not {shown(self.variation_strength)!r}."
            ) from None
        if not 0.0 <= self.extend_overlap_sec <= 10.0:
            raise ValidationError(
                f"extend_overlap_sec must be between 0 and 10 seconds, not {self.extend_overlap_sec}."
            )
        if not self.extend_overlap_sec < self.extend_stride_sec <= 600.0:
            raise ValidationError(
                "extend_stride_sec must be longer than extend_overlap_sec and at most 600 seconds,"
                f" not {self.extend_stride_sec}."
            )
        if self.hf_concurrency < 1:
            raise ValidationError("hf_concurrency must be at least 1.")
        if not -60.0 <= self.volume_db <= 0.0:
            raise ValidationError(f"volume_db must be between -60 and 0, not {self.volume_db:g}.")
        from core.logs import LEVELS

        level = str(self.log_level).strip().upper()
        if level not in LEVELS:
            raise ValidationError(
                f"log_level must be one of {', '.join(LEVELS)}, not {shown(self.log_level)!r}."
            )
        object.__setattr__(self, "log_level", level)

    @property
    def fallback_order(self) -> tuple[str, ...]:
        """``fallback_engines`` as entries (``engine`` or ``engine=model``), in order, without repeats."""
        entries = [
            "=".join(p.strip() for p in n.split("=", 1))
            for n in re.split(r"[,;]", str(self.fallback_engines))
        ]
        return tuple(dict.fromkeys(e for e in entries if e and not e.startswith("=")))

    @property
    def db_path(self) -> Path:
        return paths.db_path(self.data_dir)

    @property
    def media_root(self) -> Path:
        return paths.media_root(self.data_dir)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def _coerce(name: str, kind: Any, raw: Any) -> Any:
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if kind_name in ("int",):
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return int(raw)
        if kind_name in ("float",):
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)
        if kind_name in ("Path",) and isinstance(raw, (str, os.PathLike)):
            return Path(raw).expanduser()
        if not isinstance(raw, str):  # a TOML list, table, number or boolean where text belongs
            raise ValueError
        return raw
    except (TypeError, ValueError):
        raise ValidationError(f"Setting {name} has an invalid value: {shown(repr(raw))}.") from None


def load_settings(
    config_path: Path | None = None, env: dict[str, str] | None = None, **overrides: Any
) -> Settings:
    """Build settings from defaults, the config file, the environment and overrides."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(Settings)}
    path = config_path if config_path is not None else paths.config_file()
    if path.is_file():
        import tomllib  # only when there is a file to read

        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"Cannot read the config file {shown(path)}: it is not UTF-8 text"
                f" (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})."
            ) from None
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValidationError(f"Cannot read the config file {shown(path)}: {shown(exc)}.") from None
        for key, raw in data.items():
            if key not in types:
                raise ValidationError(f"Unknown setting {shown(repr(key))} in {shown(path)}.")
            try:
                values[key] = _coerce(key, types[key], raw)
            except ValidationError as exc:
                raise ValidationError(f"{shown(path)}: {exc}") from None
    for name, kind in types.items():
        for env_name in (f"SESSIONLAB_{name.upper()}", *_ALIASES.get(name, ())):
            if env.get(env_name):
                values[name] = _coerce(name, kind, env[env_name])
                break
    for key, raw in overrides.items():
        if raw is None:
            continue
        if key not in types:
            raise ValidationError(f"Unknown setting {key!r}.")
        values[key] = _coerce(key, types[key], raw)
    return Settings(**values)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    import json

    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def save_settings(changes: dict[str, Any], config_path: Path | None = None) -> Path:
    """Write ``changes`` into the config file (the app remembers a device or a volume).

    Each value is checked as ``load_settings`` would check it; the other lines of the
    file, comments included, stay as they are; the file is replaced atomically.
    Raises ValidationError with one sentence (unknown name, bad value, unreadable file).
    """
    import re

    from core.safekeeping import write_atomic

    types = {f.name: f.type for f in fields(Settings)}
    for key, raw in changes.items():
        if key not in types:
            raise ValidationError(f"Unknown setting {key!r}.")
        Settings(**{key: _coerce(key, types[key], raw)})  # the same checks as at load time
    path = config_path if config_path is not None else paths.config_file()
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"Cannot update the config file {shown(path)}: {shown(exc)}.") from None
    # Settings are top-level keys: only lines before the first [table] are theirs.
    top = next((i for i, line in enumerate(lines) if line.lstrip().startswith("[")), len(lines))
    remaining = dict(changes)
    for i in range(top):
        match = re.match(r"\s*([A-Za-z0-9_]+)\s*=", lines[i])
        if match and match.group(1) in remaining:
            key = match.group(1)
            lines[i] = f"{key} = {_toml_value(remaining.pop(key))}"
    lines[top:top] = [f"{key} = {_toml_value(value)}" for key, value in remaining.items()]
    try:
        write_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"))
    except OSError as exc:
        raise ValidationError(f"Cannot write the config file {shown(path)}: {exc.strerror or exc}.") from None
    return path
