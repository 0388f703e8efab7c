"""The provider inventory behind `sessionlab models` and the brief form's choices."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.providers.inventory import ProviderStatus, list_providers, usable_names
from core.providers.registry import EMBEDDING, MUSIC, NAMING, SPECS
from core.settings import Settings
from tests.ml.conftest import HAVE_OPENAI, HAVE_TORCH
from tests.ml.tiny_models import install_in_hub_cache

ROOT = Path(__file__).resolve().parents[2]


def by_name(statuses: list[ProviderStatus]) -> dict[str, ProviderStatus]:
    return {s.name: s for s in statuses}


def test_every_registered_provider_is_listed_in_order(settings: Settings) -> None:
    statuses = list_providers(settings)
    assert [(s.role, s.name) for s in statuses] == [(s.role, s.name) for s in SPECS]
    for status in statuses:
        assert status.summary
        assert status.detail and "\n" not in status.detail
    sketch = by_name(statuses)["sketch"]
    assert sketch.installed and sketch.configured and sketch.present is None and sketch.usable
    assert "sketch" in usable_names(settings, MUSIC)


def test_models_absent_from_the_cache(settings: Settings) -> None:
    statuses = by_name(list_providers(settings))
    musicgen, clap = statuses["musicgen"], statuses["clap"]
    assert musicgen.model == "facebook/musicgen-small" and clap.model == "laion/larger_clap_music"
    assert musicgen.installed is HAVE_TORCH
    assert musicgen.present is False and clap.present is False
    assert not musicgen.usable
    if HAVE_TORCH:
        assert "hf download facebook/musicgen-small" in musicgen.detail
    assert "musicgen" not in usable_names(settings, MUSIC)
    assert "clap" not in usable_names(settings, EMBEDDING)


def test_keys_and_urls(settings: Settings) -> None:
    statuses = by_name(list_providers(settings))
    assert statuses["openai"].configured is False
    assert statuses["hf-endpoint"].configured is False
    assert statuses["openai"].installed is HAVE_OPENAI
    configured = settings.replace(
        openai_base_url="http://localhost:11434/v1",
        openai_model="llama3.2",
        hf_endpoint_url="https://x.example/mg",
    )
    statuses = by_name(list_providers(configured))
    assert statuses["openai"].configured and statuses["openai"].model == "llama3.2"
    assert "localhost:11434" in statuses["openai"].detail
    assert statuses["hf-endpoint"].configured and statuses["hf-endpoint"].model == "https://x.example/mg"
    assert "hf-endpoint" in usable_names(configured, MUSIC)
    assert ("openai" in usable_names(configured, NAMING)) is HAVE_OPENAI


@pytest.mark.ml
@pytest.mark.skipif(
    not HAVE_TORCH, reason="needs torch, transformers and tokenizers: pip install 'sessionlab[ml]'"
)
def test_models_present_in_a_directory_or_the_cache(
    settings: Settings, tiny_musicgen: Path, tiny_clap: Path, hub_cache: Path
) -> None:
    statuses = by_name(list_providers(settings, {"musicgen": str(tiny_musicgen)}))
    assert statuses["musicgen"].present is True and statuses["musicgen"].usable
    assert str(tiny_musicgen.resolve()) in statuses["musicgen"].detail
    install_in_hub_cache(tiny_clap, hub_cache, "laion/larger_clap_music")
    statuses = by_name(list_providers(settings))
    assert statuses["clap"].present is True
    assert "Hugging Face cache" in statuses["clap"].detail
    assert usable_names(settings, EMBEDDING)[-1] == "clap"


def test_listing_imports_no_heavy_library(tmp_path: Path) -> None:
    code = (
        "import sys, json; from pathlib import Path; from core.settings import Settings; "
        "from core.providers.inventory import list_providers; "
        f"s = list_providers(Settings(data_dir=Path({str(tmp_path)!r}))); "
        "print(json.dumps([len(s), sorted(m for m in ('torch', 'transformers', 'openai', 'textual', 'rich') "
        "if m in sys.modules)]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    count, heavy = json.loads(result.stdout)
    assert count == len(SPECS)
    assert heavy == []
