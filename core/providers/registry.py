"""Providers by name. Factories import their module only when called, so that
torch, transformers or openai are never loaded unless the user chose them."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import ProviderUnavailableError, ValidationError
from core.settings import Settings

if TYPE_CHECKING:
    from core.providers.base import ClusterNamingProvider, EmbeddingProvider, MusicProvider

MUSIC = "music"
EMBEDDING = "embedding"
NAMING = "naming"


@dataclass(frozen=True)
class ProviderSpec:
    role: str
    name: str
    module: str  # core.providers.<module>, imported lazily
    factory: str  # callable in that module: factory(settings, model=None) -> provider
    summary: str
    embedded: bool = False  # works offline with no extra packages or weights

    def load(self) -> Callable[..., Any]:
        module = importlib.import_module(self.module)
        return getattr(module, self.factory)


SPECS: tuple[ProviderSpec, ...] = (
    ProviderSpec(MUSIC, "sketch", "core.providers.sketch", "create", "embedded numpy music engine", True),
    ProviderSpec(MUSIC, "musicgen", "core.providers.musicgen", "create", "MusicGen via transformers"),
    ProviderSpec(
        MUSIC, "hf-endpoint", "core.providers.hf_endpoint", "create", "remote MusicGen endpoint over HTTP"
    ),
    ProviderSpec(
        MUSIC, "stable-audio", "core.providers.stable_audio", "create", "Stable Audio 3 / Open via diffusers"
    ),
    ProviderSpec(MUSIC, "ace-step", "core.providers.ace_step", "create", "ACE-Step 1.5 via diffusers"),
    ProviderSpec(
        EMBEDDING, "features", "core.providers.features", "create", "embedded audio descriptors", True
    ),
    ProviderSpec(EMBEDDING, "clap", "core.providers.clap", "create", "CLAP via transformers"),
    ProviderSpec(NAMING, "describe", "core.providers.describe", "create", "embedded descriptive namer", True),
    ProviderSpec(NAMING, "openai", "core.providers.openai_namer", "create", "any OpenAI-compatible LLM"),
)


def specs(role: str) -> list[ProviderSpec]:
    return [s for s in SPECS if s.role == role]


def names(role: str) -> list[str]:
    return [s.name for s in specs(role)]


def spec(role: str, name: str) -> ProviderSpec:
    for candidate in specs(role):
        if candidate.name == name:
            return candidate
    kinds = {MUSIC: "engine", EMBEDDING: "embedder", NAMING: "namer"}
    raise ValidationError(
        f"Unknown {kinds.get(role, role)} {name!r}; choose one of: {', '.join(names(role))}."
    )


def create(role: str, name: str, settings: Settings, model: str | None = None) -> Any:
    """Build the provider ``name`` for ``role``; ProviderUnavailableError if it cannot run here."""
    chosen = spec(role, name)
    try:
        factory = chosen.load()
    except ImportError as exc:
        missing = exc.name or ""
        if missing.split(".")[0] in ("core", "tui", "sessionlab"):
            raise  # our own module is broken: a bug, not a missing extra
        raise ProviderUnavailableError(
            f"The {name} provider needs the package {missing or exc} which is not installed; "
            "install Session Lab with the 'ml' extra: pip install 'sessionlab[ml]'."
        ) from None
    return factory(settings, model=model)


def create_music(settings: Settings, name: str | None = None, model: str | None = None) -> MusicProvider:
    return create(MUSIC, name or settings.engine, settings, model)


def create_embedder(
    settings: Settings, name: str | None = None, model: str | None = None
) -> EmbeddingProvider:
    return create(EMBEDDING, name or settings.embedder, settings, model)


def create_namer(
    settings: Settings, name: str | None = None, model: str | None = None
) -> ClusterNamingProvider:
    return create(NAMING, name or settings.namer, settings, model)
