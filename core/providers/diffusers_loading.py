"""Finding and loading the pipeline of an engine that runs through diffusers
(stable-audio, ace-step); the chunk loop is ``core.providers._diffusers``.

Nothing here imports torch or diffusers at module level: ``create()`` of a
provider answers offline, in milliseconds, from the JSON files of the model.

- ``locate_pipeline``: a directory or a Hugging Face cache entry with a
  ``model_index.json`` whose ``_class_name`` the provider can run, and weights
  for each of its model components. Loaded with ``local_files_only``.
- ``load_pipeline``: once per process per (model, class, device, dtype), under
  its own progress stage (STAGE_LOADING). Device: CUDA, then Apple MPS, then
  CPU; half precision on CUDA only (bfloat16 where the GPU has it, else
  float16); float32 on MPS and CPU.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ProviderUnavailableError
from core.providers import _torch
from core.providers.base import STAGE_LOADING, ProgressFn

REQUIRED_PACKAGES = ("torch", "diffusers", "transformers", "huggingface_hub")
WEIGHT_FILES = (
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.safetensors.index.json",
    "diffusion_pytorch_model.bin",
    *_torch.WEIGHT_FILES,
)


@dataclass(frozen=True)
class PipelineLocation:
    """Where a diffusers pipeline's files are: ``ref`` is what from_pretrained gets."""

    model: str  # as the user named it
    ref: str  # a directory path, or a hub id
    local: bool
    index: dict[str, Any]  # model_index.json
    cache_dir: Path | None = None

    @property
    def class_name(self) -> str:
        return str(self.index.get("_class_name") or "")

    def components(self) -> dict[str, tuple[str, str]]:
        """Component name -> (library, class) for the components that are present."""
        found = {}
        for key, value in self.index.items():
            if key.startswith("_") or not isinstance(value, list) or len(value) != 2:
                continue
            if value[0] is None or value[1] is None:
                continue
            found[key] = (str(value[0]), str(value[1]))
        return found

    def config(self, component: str, filename: str = "config.json") -> dict[str, Any]:
        """A component's JSON config ({} when absent or unreadable); offline."""
        path = _file(self, f"{component}/{filename}")
        if path is None:
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def pretrained_kwargs(self) -> dict[str, Any]:
        if self.local:
            return {}
        return {"cache_dir": str(self.cache_dir), "local_files_only": True}


def _file(location: PipelineLocation, name: str) -> Path | None:
    if location.local:
        path = Path(location.ref) / name
        return path if path.is_file() else None
    return _torch._cached_file(location.ref, name, location.cache_dir or _torch.hub_cache_dir())


def _has_weights(location: PipelineLocation, component: str) -> bool:
    return any(_file(location, f"{component}/{name}") is not None for name in WEIGHT_FILES)


def _read_index(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _carries_weights(library: str, cls: str) -> bool:
    """Schedulers, tokenizers and feature extractors have no weight files; models do."""
    if cls.endswith("Scheduler"):
        return False
    return not (
        library == "transformers" and ("Tokenizer" in cls or cls.endswith(("Processor", "Extractor")))
    )


def find_pipeline(model: str) -> PipelineLocation | None:
    """Locate a diffusers pipeline offline; None when neither a usable directory nor cached."""
    path = Path(model).expanduser()
    if path.is_dir():
        index = _read_index(path / "model_index.json")
        if index is None:
            return None
        location = PipelineLocation(model, str(path.resolve()), True, index)
    else:
        if _torch.looks_like_path(model) or _torch.missing_packages("huggingface_hub"):
            return None
        cache_dir = _torch.hub_cache_dir()
        index = _read_index(_torch._cached_file(model, "model_index.json", cache_dir))
        if index is None:
            return None
        location = PipelineLocation(model, model, False, index, cache_dir)
    weighted = [
        name for name, (library, cls) in location.components().items() if _carries_weights(library, cls)
    ]
    if any(not _has_weights(location, name) for name in weighted):
        return None
    return location


def locate_pipeline(label: str, model: str, class_names: Sequence[str]) -> PipelineLocation:
    """Like ``find_pipeline`` but raises ProviderUnavailableError: what is missing and how to get it."""
    model = _torch.model_named(label, model)
    location = find_pipeline(model)
    if location is None:
        raise _torch.not_found(
            label,
            model,
            "a saved diffusers pipeline: it needs a model_index.json and the weights of each component",
        )
    if location.class_name not in class_names:
        raise ProviderUnavailableError(
            f"{model} is a {location.class_name or 'unknown'} pipeline, not a {label} one "
            f"({' or '.join(class_names)})."
        )
    return location


def nvidia_visible() -> bool:
    """A cheap guess, without importing torch, that a CUDA GPU is here (for choosing a default model)."""
    return Path("/proc/driver/nvidia/version").exists()


def choose_dtype(device: str) -> str:
    """Half precision on CUDA (bfloat16 where supported, else float16); float32 on MPS and CPU."""
    if not device.startswith("cuda"):
        return "float32"
    import torch

    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"


@dataclass
class LoadedPipeline:
    pipe: Any
    location: PipelineLocation
    device: str
    dtype: str
    sample_rate: int
    channels: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    extra: dict[str, Any] = field(default_factory=dict)  # per-engine derived pipelines (a2a, ...)


def quiet_diffusers() -> None:
    """No progress bars or advice on stderr: they would tear through the terminal UI."""
    from diffusers.utils import logging as df_logging

    df_logging.set_verbosity_error()
    df_logging.disable_progress_bar()
    _torch.quiet_transformers()


def load_pipeline(
    label: str,
    location: PipelineLocation,
    device_setting: str,
    progress: ProgressFn | None = None,
    *,
    dtype: str | None = None,
    rate_and_channels: Callable[[Any], tuple[int, int]],
) -> LoadedPipeline:
    """The pipeline of ``location``, loaded once per process, with STAGE_LOADING progress."""
    if progress is not None:
        progress(STAGE_LOADING, 0, 1)
    device = _torch.resolve_device(device_setting)
    dtype = dtype or choose_dtype(device)
    key = ("diffusers", location.ref, location.class_name, device, dtype)

    def load() -> LoadedPipeline:
        import torch
        from diffusers import DiffusionPipeline

        quiet_diffusers()
        try:
            pipe = DiffusionPipeline.from_pretrained(
                location.ref, dtype=getattr(torch, dtype), **location.pretrained_kwargs()
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProviderUnavailableError(
                f"{label} model {location.model} could not be loaded ({first_line(exc)}); "
                "download it again or pass another --model."
            ) from None
        try:
            pipe.to(device)
        except (RuntimeError, MemoryError) as exc:
            raise _torch.load_failure(exc, label, location.model, device, "diffusers_device") from None
        pipe.set_progress_bar_config(disable=True)
        rate, channels = rate_and_channels(pipe)
        return LoadedPipeline(pipe, location, device, dtype, int(rate), int(channels))

    loaded, _ = _torch.load_once(key, load)
    if progress is not None:
        progress(STAGE_LOADING, 1, 1)
    return loaded


first_line = _torch.first_line
