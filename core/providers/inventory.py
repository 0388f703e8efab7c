"""What every provider needs and whether this machine has it (``sessionlab models``, the brief form).

Answered in milliseconds and offline: packages are looked up with
``importlib.util.find_spec`` (torch is never imported), models in their
directory or in the Hugging Face cache, keys and URLs in the settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.providers import _torch, diffusers_loading
from core.providers.registry import EMBEDDING, MUSIC, NAMING, SPECS, ProviderSpec
from core.settings import Settings

# Packages each provider imports when it runs (the embedded ones need only the base install).
PACKAGES: dict[str, tuple[str, ...]] = {
    "musicgen": ("torch", "transformers", "huggingface_hub"),
    "clap": ("torch", "transformers", "huggingface_hub"),
    "openai": ("openai",),
    "hf-endpoint": ("soundfile",),
    "stable-audio": diffusers_loading.REQUIRED_PACKAGES,
    "ace-step": diffusers_loading.REQUIRED_PACKAGES,
}


@dataclass(frozen=True)
class ProviderStatus:
    role: str  # "music" | "embedding" | "naming"
    name: str
    summary: str
    installed: bool  # its packages can be imported
    configured: bool  # keys / URLs it needs are set
    present: bool | None  # its model is on disk (None: it has no model files)
    model: str | None  # model id, path or URL it would use
    detail: str  # one sentence: what is there, or what is missing and how to get it

    @property
    def usable(self) -> bool:
        return self.installed and self.configured and self.present is not False


def _model_setting(name: str, settings: Settings) -> str | None:
    return {
        "musicgen": settings.musicgen_model,
        "clap": settings.clap_model,
        "openai": settings.openai_model,
        "hf-endpoint": settings.hf_endpoint_url or None,
        "stable-audio": settings.stable_audio_model or _default_stable_audio(settings),
        "ace-step": settings.ace_step_model,
    }.get(name)


def _default_stable_audio(settings: Settings) -> str:
    from core.providers.stable_audio import default_models

    candidates = default_models(settings.diffusers_device)
    return next((m for m in candidates if diffusers_loading.find_pipeline(m) is not None), candidates[0])


def _status(spec: ProviderSpec, settings: Settings, model: str | None) -> ProviderStatus:
    packages = PACKAGES.get(spec.name, ())
    missing = _torch.missing_packages(*packages) if packages else _torch.missing_packages(spec.module)
    installed = not missing
    configured = True
    present: bool | None = None
    model = model or _model_setting(spec.name, settings)
    if not installed:
        detail = (
            f"Needs {', '.join(missing)}: {_torch.INSTALL_HINT}."
            if packages
            else f"Its module {spec.module} is missing from this install."
        )
    elif spec.embedded:
        detail = "Built in: works offline with no model files."
    else:
        detail = ""
    if spec.name in ("musicgen", "clap"):
        location = _torch.find_model(model or "")
        present = location is not None
        if installed:
            if location is None:
                detail = _absent_sentence(model or "")
            elif location.local:
                detail = f"Model directory {location.ref}."
            else:
                detail = f"In the Hugging Face cache ({_torch.hub_cache_dir()})."
    elif spec.name in ("stable-audio", "ace-step"):
        location = diffusers_loading.find_pipeline(model or "") if installed else None
        present = location is not None
        if installed:
            if location is None:
                detail = _absent_sentence(model or "", "a model_index.json and the weights of each component")
            elif location.local:
                detail = f"Pipeline directory {location.ref} ({location.class_name})."
            else:
                detail = f"In the Hugging Face cache ({_torch.hub_cache_dir()}), {location.class_name}."
    elif spec.name == "openai":
        configured = bool(settings.openai_api_key or settings.openai_base_url)
        if installed:
            where = settings.openai_base_url or "api.openai.com"
            detail = (
                f"Server {where}, model {model}."
                if configured
                else "Set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server such as Ollama."
            )
    elif spec.name == "hf-endpoint":
        configured = bool(model)
        if installed:
            token = "with HF_TOKEN" if settings.hf_token else "without a token"
            detail = (
                f"Endpoint {model}, {token}."
                if configured
                else "Set hf_endpoint_url (SESSIONLAB_HF_ENDPOINT_URL) to a MusicGen endpoint."
            )
    return ProviderStatus(
        role=spec.role,
        name=spec.name,
        summary=spec.summary,
        installed=installed,
        configured=configured,
        present=present,
        model=model if not spec.embedded else None,
        detail=detail,
    )


def _absent_sentence(model: str, needs: str = "config.json and weights") -> str:
    if not model:
        return "No model is set."
    path = Path(model).expanduser()
    if path.is_dir():
        return f"{model} has no {needs}."
    if _torch.looks_like_path(model):
        return f"The directory {model} does not exist."
    return f"Not in the Hugging Face cache; download it once with `hf download {model}`."


def list_providers(settings: Settings, models: Mapping[str, str] | None = None) -> list[ProviderStatus]:
    """One status per provider in ``registry.SPECS`` order; ``models`` overrides a provider's model."""
    models = models or {}
    return [_status(spec, settings, models.get(spec.name)) for spec in SPECS]


def usable_names(settings: Settings, role: str) -> list[str]:
    """Names of the providers of ``role`` that can run here now (for the brief form's choices)."""
    return [s.name for s in list_providers(settings) if s.role == role and s.usable]


__all__ = ["EMBEDDING", "MUSIC", "NAMING", "ProviderStatus", "list_providers", "usable_names"]
