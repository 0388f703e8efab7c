"""Shared plumbing for the transformers providers (MusicGen, CLAP).

Nothing here imports torch, transformers or huggingface_hub at module level:
``create()`` of a provider must answer in milliseconds, on a machine without
them, whether the provider can run. The heavy imports happen in the functions
that load or run a model, inside the worker.

- ``require_packages`` checks that packages are installed with
  ``importlib.util.find_spec`` (no import).
- ``locate_model`` decides, offline, whether a model id or path can be loaded:
  a local directory with a ``config.json`` and weights, or a Hugging Face hub id
  whose files are in the local cache. Models are then loaded with
  ``local_files_only=True``: the app never reaches for the network.
- ``load_once`` keeps one loaded model per (kind, model, device, dtype) for the
  life of the process.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import OutOfMemoryError, ProviderUnavailableError, is_out_of_memory

log = logging.getLogger(__name__)

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
INSTALL_HINT = "install Session Lab with the 'ml' extra: pip install 'sessionlab[ml]'"


def missing_packages(*modules: str) -> list[str]:
    """The names among ``modules`` that are not installed (checked without importing them)."""
    missing = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    return missing


def require_packages(provider: str, *modules: str) -> None:
    missing = missing_packages(*modules)
    if missing:
        raise ProviderUnavailableError(
            f"The {provider} provider needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed; {INSTALL_HINT}."
        )


def check_device(setting_name: str, device: str) -> str:
    """Validate a device setting ("auto", "cpu", "cuda", "cuda:1", "mps") without importing torch."""
    value = (device or "auto").strip().lower()
    if not _DEVICE.match(value):
        raise ProviderUnavailableError(
            f"{setting_name} must be auto, cpu, cuda, cuda:N or mps, not {device!r}."
        )
    return value


def resolve_device(device: str) -> str:
    """The torch device to use: CUDA, then Apple MPS, then CPU for "auto"; the one asked otherwise."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ProviderUnavailableError(
                f"Device {device} was asked for but this torch build sees no CUDA GPU; use auto or cpu."
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ProviderUnavailableError(
                f"Device {device} was asked for but only {torch.cuda.device_count()} CUDA GPU(s) are visible."
            )
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ProviderUnavailableError("Device mps was asked for but Apple MPS is not available here.")
    return device


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment now (HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return Path(os.environ["HUGGINGFACE_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


@dataclass(frozen=True)
class ModelLocation:
    """Where a model's files are: ``ref`` is what from_pretrained gets."""

    model: str  # as the user named it
    ref: str  # a directory path, or a hub id
    local: bool  # True: a directory; False: a hub id found in the cache
    config: dict[str, Any]
    cache_dir: Path | None = None  # for hub ids

    def pretrained_kwargs(self) -> dict[str, Any]:
        if self.local:
            return {}
        return {"cache_dir": str(self.cache_dir), "local_files_only": True}


def looks_like_path(model: str) -> bool:
    return (
        model.startswith(("/", "./", "../", "~", "."))
        or "\\" in model
        or model.count("/") > 1
        or not _HUB_ID.match(model)
    )


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _cached_file(repo_id: str, filename: str, cache_dir: Path) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=str(cache_dir))
    except Exception:  # an unusual id or a damaged cache is "not there"
        return None
    return Path(found) if isinstance(found, str) else None


def find_model(model: str) -> ModelLocation | None:
    """Locate ``model`` offline; None when it is neither a usable directory nor in the hub cache."""
    path = Path(model).expanduser()
    if path.is_dir():
        config = path / "config.json"
        if not config.is_file() or not any((path / name).is_file() for name in WEIGHT_FILES):
            return None
        return ModelLocation(model, str(path.resolve()), True, _read_config(config))
    if looks_like_path(model) or missing_packages("huggingface_hub"):
        return None
    cache_dir = hub_cache_dir()
    config = _cached_file(model, "config.json", cache_dir)
    if config is None or not any(_cached_file(model, name, cache_dir) for name in WEIGHT_FILES):
        return None
    return ModelLocation(model, model, False, _read_config(config), cache_dir)


def model_named(label: str, model: str | None) -> str:
    """``model`` stripped, or one sentence when none is set."""
    model = (model or "").strip()
    if not model:
        raise ProviderUnavailableError(f"No {label} model is set; pass --model ID_OR_PATH.")
    return model


def not_found(label: str, model: str, saved: str) -> ProviderUnavailableError:
    """Why ``model`` was not found: a directory that is not ``saved`` (what such a directory holds),
    a path that does not exist, or a hub id that is not in the cache (and how to get it)."""
    if Path(model).expanduser().is_dir():
        return ProviderUnavailableError(f"The directory {model} is not {saved}.")
    if looks_like_path(model):
        return ProviderUnavailableError(f"{label} model directory {model} does not exist.")
    return ProviderUnavailableError(
        f"{label} model {model} is not in the Hugging Face cache ({hub_cache_dir()}); download it "
        f"once with `hf download {model}` or pass --model PATH."
    )


def locate_model(label: str, model: str, expected_types: tuple[str, ...]) -> ModelLocation:
    """Like ``find_model`` but raises ProviderUnavailableError with what is missing and how to get it.

    ``label`` names the model family for the sentence ("MusicGen"); ``expected_types``
    are the config ``model_type`` values the provider can run.
    """
    model = model_named(label, model)
    location = find_model(model)
    if location is None:
        raise not_found(
            label,
            model,
            f"a saved {label} model: it needs a config.json and model weights (model.safetensors or "
            "pytorch_model.bin)",
        )
    model_type = location.config.get("model_type")
    if model_type not in expected_types:
        raise ProviderUnavailableError(
            f"{model} is a {model_type or 'unknown'} model, not a {label} model "
            f"({' or '.join(expected_types)})."
        )
    return location


def quiet_transformers() -> None:
    """No progress bars or advice on stderr: they would tear through the terminal UI."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def dtype_kwargs(dtype: Any) -> dict[str, Any]:
    """``dtype=`` for transformers >= 4.56, ``torch_dtype=`` before."""
    import transformers

    major, minor = (int(part) for part in re.findall(r"\d+", transformers.__version__)[:2])
    return {"dtype": dtype} if (major, minor) >= (4, 56) else {"torch_dtype": dtype}


def load_failure(exc: BaseException, who: str, model: str, device: str, device_setting: str) -> BaseException:
    """A model that cannot be moved onto ``device``: out of memory as advice, else ``exc`` itself."""
    if not is_out_of_memory(exc):
        return exc
    elsewhere = "" if device.startswith("cpu") else f"set {device_setting} to cpu or "
    error = OutOfMemoryError(
        f"{who} model {model} does not fit in the memory of {device}; {elsewhere}choose a smaller model."
    )
    error.__cause__ = exc
    return error


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200].rstrip(".")


_loaded: dict[tuple[Any, ...], Any] = {}
_loading = threading.Lock()


def load_once(key: tuple[Any, ...], loader: Callable[[], Any]) -> tuple[Any, bool]:
    """The object cached under ``key``, built by ``loader`` the first time; (object, was_cached)."""
    with _loading:
        if key in _loaded:
            return _loaded[key], True
        value = loader()
        _loaded[key] = value
        return value, False


def is_loaded(key: tuple[Any, ...]) -> bool:
    with _loading:
        return key in _loaded


def forget(key: tuple[Any, ...]) -> None:
    with _loading:
        _loaded.pop(key, None)


def clear_loaded() -> None:
    """Drop every cached model (tests; freeing a GPU)."""
    with _loading:
        _loaded.clear()
