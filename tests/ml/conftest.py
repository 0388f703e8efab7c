"""Fixtures for the real-provider tests: tiny random models and loopback HTTP servers.

The torch tests are marked ``ml`` and skipped, with the reason, only when torch,
transformers or tokenizers cannot be imported (CI installs the 'ml' extra, so
there they run). The models are built once per test session.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


HAVE_TORCH = _installed("torch", "transformers", "tokenizers", "huggingface_hub")
HAVE_OPENAI = _installed("openai")

needs_torch = pytest.mark.skipif(
    not HAVE_TORCH, reason="needs torch, transformers and tokenizers: pip install 'sessionlab[ml]'"
)
needs_openai = pytest.mark.skipif(
    not HAVE_OPENAI, reason="needs the openai client: pip install 'sessionlab[ml]'"
)


@pytest.fixture(autouse=True)
def _offline_hub(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache and offline mode, so no test depends on this machine's cache."""
    cache = tmp_path_factory.mktemp("hf-cache")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


@pytest.fixture
def hub_cache(_offline_hub: Path) -> Path:
    return _offline_hub


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def _one_thread() -> None:
    """One torch thread: the tiny models' ops are too small to share, and on a busy
    2-core runner OpenMP threads waiting for each other make every step ~10x slower."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_musicgen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HAVE_TORCH:
        pytest.skip("needs torch, transformers and tokenizers: pip install 'sessionlab[ml]'")
    from tests.ml.tiny_models import build_tiny_musicgen

    _one_thread()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    return build_tiny_musicgen(tmp_path_factory.mktemp("tiny-musicgen"))


@pytest.fixture(scope="session")
def tiny_musicgen_stereo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HAVE_TORCH:
        pytest.skip("needs torch, transformers and tokenizers: pip install 'sessionlab[ml]'")
    from tests.ml.tiny_models import build_tiny_musicgen

    _one_thread()
    return build_tiny_musicgen(tmp_path_factory.mktemp("tiny-musicgen-stereo"), channels=2)


@pytest.fixture(scope="session")
def tiny_clap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HAVE_TORCH:
        pytest.skip("needs torch, transformers and tokenizers: pip install 'sessionlab[ml]'")
    from tests.ml.tiny_models import build_tiny_clap

    _one_thread()
    return build_tiny_clap(tmp_path_factory.mktemp("tiny-clap"))


@pytest.fixture
def loopback() -> Iterator[object]:
    """Start loopback HTTP servers: ``loopback(handler_fn)`` -> server; all stopped after the test."""
    from tests.ml.loopback import LoopbackServer

    servers: list[LoopbackServer] = []

    def start(handle) -> LoopbackServer:  # type: ignore[no-untyped-def]
        server = LoopbackServer(handle)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


HAVE_DIFFUSERS = HAVE_TORCH and _installed("diffusers")
needs_diffusers = pytest.mark.skipif(
    not HAVE_DIFFUSERS, reason="needs torch, transformers and diffusers: pip install 'sessionlab[ml]'"
)


def _tiny_pipeline(tmp_path_factory: pytest.TempPathFactory, kind: str) -> Path:
    if not HAVE_DIFFUSERS:
        pytest.skip("needs torch, transformers and diffusers: pip install 'sessionlab[ml]'")
    from tests.ml import tiny_diffusers

    _one_thread()
    logging.getLogger("diffusers").setLevel(logging.ERROR)
    logging.getLogger("transformers").setLevel(logging.ERROR)
    build = getattr(tiny_diffusers, f"build_tiny_{kind}")
    return build(tmp_path_factory.mktemp(f"tiny-{kind}"))


@pytest.fixture(scope="session")
def tiny_stable_audio_3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_pipeline(tmp_path_factory, "stable_audio_3")


@pytest.fixture(scope="session")
def tiny_stable_audio_open(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_pipeline(tmp_path_factory, "stable_audio_open")


@pytest.fixture(scope="session")
def tiny_ace_step(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_pipeline(tmp_path_factory, "ace_step")
