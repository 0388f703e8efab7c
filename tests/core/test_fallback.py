"""Routing and fallback (seed 003): an engine that cannot run says why in one line and, where the
settings allow it, the next engine makes the batch, which records the engine that made it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ProviderUnavailableError
from core.models import BriefParams
from core.providers.capabilities import STABLE_AUDIO_3
from core.service import SessionService
from core.settings import Settings
from core.store import SessionStore
from tests.core.fakes import FakeMusic, FakeNamer

WHY = "The model stabilityai/stable-audio-3-medium needs a CUDA GPU and this machine runs on cpu."


class CudaOnly(FakeMusic):
    """An engine that fails as it loads, as a CUDA-only model does on a CPU."""

    name = "stable-audio"
    model = "stabilityai/stable-audio-3-medium"
    capabilities = STABLE_AUDIO_3

    def generate_batch(self, *args, **kwargs):
        self.calls.append({"args": args})
        raise ProviderUnavailableError(WHY)


@pytest.fixture
def store(data_dir: Path):
    store = SessionStore(data_dir)
    yield store
    store.close()


def service(store: SessionStore, music, **settings) -> SessionService:
    from core.providers.features import FeatureEmbedder

    return SessionService(
        store, music, FeatureEmbedder(), FakeNamer(), settings=Settings(data_dir=store.root, **settings)
    )


def test_without_fallback_the_batch_says_why_in_one_line_and_stores_nothing(store):
    with pytest.raises(ProviderUnavailableError, match="needs a CUDA GPU") as caught:
        service(store, CudaOnly()).create_initial_batch("dark techno", BriefParams(duration_sec=2.0), 2)
    assert "\n" not in str(caught.value)
    assert store.list_sessions() == []


def test_with_fallback_the_next_engine_makes_the_batch_and_is_recorded(store, data_dir):
    chosen = CudaOnly()
    made = service(store, chosen, fallback_engines="musicgen-missing, sketch")
    session = made.create_initial_batch("dark techno", BriefParams(duration_sec=2.0), 2, seed=3)
    (batch,) = session.batches
    assert batch.engine == "sketch" and batch.model is None and len(batch.tracks) == 2
    assert len(chosen.calls) == 1
    assert f"{WHY[:-1]}. The sketch engine made this batch instead." in made.notices
    assert any("musicgen-missing" in n for n in made.notices)  # an unknown name is skipped, and said
    # More like it: the fallback stands in again, and its clips say which engine made them.
    more = made.more_like_cluster(session.id, batch.clusters[0].id, 2, seed=4)
    assert more.engine == "sketch"
    store.close()
    again = SessionStore(data_dir)
    try:
        assert [b.engine for b in again.require_session(session.id).batches] == ["sketch", "sketch"]
    finally:
        again.close()


def test_a_fallback_that_cannot_run_either_is_said_and_the_first_reason_stands(store):
    made = service(store, CudaOnly(), fallback_engines="hf-endpoint")  # no endpoint URL configured
    with pytest.raises(ProviderUnavailableError, match="needs a CUDA GPU"):
        made.create_initial_batch("dark techno", BriefParams(duration_sec=2.0), 1)
    assert any(n.startswith("The fallback engine hf-endpoint cannot run either") for n in made.notices)
    assert store.list_sessions() == []


def test_an_engine_that_cannot_be_built_falls_back_as_the_service_starts(data_dir):
    settings = Settings(data_dir=data_dir, engine="musicgen", musicgen_model=str(data_dir / "no-such-model"))
    with pytest.raises(ProviderUnavailableError):
        SessionService.from_settings(settings)
    made = SessionService.from_settings(settings.replace(fallback_engines="sketch"))
    try:
        assert made.music.name == "sketch"
        session = made.create_initial_batch("warm lofi", BriefParams(duration_sec=2.0), 1, seed=1)
        assert session.batches[0].engine == "sketch"
        assert any(n.endswith("The sketch engine makes this batch instead.") for n in made.notices)
    finally:
        made.store.close()


def test_the_setting_is_an_ordered_list_off_by_default():
    assert Settings().fallback_order == ()
    assert Settings(fallback_engines=" ace-step, sketch,ace-step ;musicgen").fallback_order == (
        "ace-step",
        "sketch",
        "musicgen",
    )
