"""Routing and fallback (seed 003): an engine that cannot run says why in one line and, where the
settings allow it, the next engine makes the batch, which records the engine that made it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import OutOfMemoryError, ProviderUnavailableError, is_out_of_memory, out_of_memory
from core.models import BriefParams
from core.providers.capabilities import STABLE_AUDIO_3
from core.providers.sketch import SketchEngine
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


# -- out of memory --------------------------------------------------------------------------------

CPU_ALLOCATOR = (
    "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried"
    " to allocate 400000000000000 bytes. Error code 12 (Cannot allocate memory)"
)


def test_out_of_memory_is_told_apart_from_other_failures():
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(RuntimeError(CPU_ALLOCATOR))  # torch on a CPU: no "out of memory" in it
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB)"))
    try:
        try:
            raise MemoryError
        except MemoryError as exc:
            raise ValueError("the VAE failed") from exc
    except ValueError as wrapped:
        assert is_out_of_memory(wrapped)  # what caused it counts
    assert not is_out_of_memory(RuntimeError("shape mismatch in layer 3"))
    assert not is_out_of_memory(ValueError("out of memory"))  # a ValueError's words are its own
    assert not is_out_of_memory(None)


def test_out_of_memory_advice_is_one_line_fitted_to_the_run():
    error = out_of_memory(
        "Stable Audio",
        "cuda",
        "making 4 clips at once",
        chunk_setting="diffusers_max_batch",
        chunk=4,
    )
    assert isinstance(error, ProviderUnavailableError)  # routing treats it as an engine that cannot run
    assert str(error) == (
        "Stable Audio ran out of memory on cuda making 4 clips at once; try fewer clips at once (lower"
        " diffusers_max_batch, now 4), a shorter clip or a smaller model."
    )
    lean = out_of_memory("MusicGen", "cpu", "making a clip", chunk_setting="musicgen_max_batch", chunk=1)
    assert (
        str(lean) == "MusicGen ran out of memory on cpu making a clip; try a shorter clip or a smaller model."
    )
    extend = out_of_memory(
        "ACE-Step", "mps", "extending a clip to 90 s", shorter="a shorter length to extend to"
    )
    assert str(extend) == (
        "ACE-Step ran out of memory on mps extending a clip to 90 s; try a shorter length to extend to or a"
        " smaller model."
    )


class OutOfMemory(FakeMusic):
    """An engine whose every call runs out of memory, as a CPU allocator says it."""

    name = "stable-audio"
    model = "stabilityai/stable-audio-open-small"

    def generate_batch(self, *args, **kwargs):
        self.calls.append({"args": args})
        raise RuntimeError(CPU_ALLOCATOR)

    def extend_clip(self, request):
        self.calls.append({"extend": request.to_sec})
        raise MemoryError


def test_out_of_memory_without_fallback_is_advice_and_stores_nothing(store):
    with pytest.raises(OutOfMemoryError) as caught:
        service(store, OutOfMemory()).create_initial_batch("dark techno", BriefParams(duration_sec=2.0), 2)
    assert str(caught.value) == (
        "The stable-audio engine ran out of memory on this machine making this batch; try a shorter clip"
        " or a smaller model."
    )
    assert store.list_sessions() == []


def test_out_of_memory_falls_back_and_each_clip_records_the_engine_that_made_it(store, data_dir):
    chosen = OutOfMemory()
    made = service(store, chosen, fallback_engines="sketch")
    session = made.create_initial_batch("dark techno", BriefParams(duration_sec=2.0), 3, seed=3)
    (batch,) = session.batches
    (notice,) = [n for n in made.notices if "ran out of memory" in n]
    assert notice.endswith("or a smaller model. The sketch engine made this batch instead.")
    assert "\n" not in notice
    more = made.more_like_cluster(session.id, batch.clusters[0].id, 2, seed=4)
    assert len(chosen.calls) == 2  # the chosen engine was tried first each time
    store.close()
    again = SessionStore(data_dir)
    try:
        stored = again.require_session(session.id)
        assert [b.engine for b in stored.batches] == ["sketch", "sketch"]
        assert [t.recipe["engine"] for b in stored.batches for t in b.tracks] == ["sketch"] * (
            3 + len(more.tracks)
        )
    finally:
        again.close()


def test_extend_falls_back_when_the_engine_runs_out_of_memory(store, data_dir):
    first = service(store, SketchEngine(Settings()))
    session = first.create_initial_batch("dusty lofi keys", BriefParams(duration_sec=3.0), 1, seed=5)
    (source,) = session.batches[0].tracks
    chosen = OutOfMemory()
    chosen.capabilities = STABLE_AUDIO_3
    with pytest.raises(OutOfMemoryError, match="making this batch; try"):
        service(store, chosen).extend_track(source.id, 8.0)
    assert len(store.require_session(session.id).batches) == 1
    made = service(store, chosen, fallback_engines="hf-endpoint, sketch")
    batch = made.extend_track(source.id, 8.0, seed=2)
    assert batch.engine == "sketch" and batch.tracks[0].duration_sec == 8.0
    assert [c for c in chosen.calls if "extend" in c] == [{"extend": 8.0}] * 2
    assert any(n.startswith("The fallback engine hf-endpoint cannot run either") for n in made.notices)
    assert any(n.endswith("The sketch engine made this batch instead.") for n in made.notices)
    store.close()
    again = SessionStore(data_dir)
    try:
        stored = again.require_session(session.id)
        assert [b.engine for b in stored.batches] == ["sketch", "sketch"]
        assert stored.batches[1].tracks[0].recipe["engine"] == "sketch"
    finally:
        again.close()


def test_extend_fallback_that_cannot_do_it_is_said_and_the_first_reason_stands(store):
    chosen = CudaOnly()
    chosen.extend_clip = lambda request: (_ for _ in ()).throw(ProviderUnavailableError(WHY))
    first = service(store, FakeMusic())
    session = first.create_initial_batch("dark techno", BriefParams(duration_sec=2.0), 1, seed=1)
    (source,) = session.batches[0].tracks
    made = service(store, chosen, fallback_engines="sketch")  # sketch extends only its own clips
    with pytest.raises(ProviderUnavailableError, match="needs a CUDA GPU"):
        made.extend_track(source.id, 6.0)
    assert any(
        n.startswith("The fallback engine sketch cannot run either: The sketch engine can only")
        for n in made.notices
    )
    assert len(store.require_session(session.id).batches) == 1


def test_an_entry_may_name_the_model_of_its_engine():
    settings = Settings(fallback_engines="stable-audio = stabilityai/stable-audio-open-small; sketch,=x")
    assert settings.fallback_order == ("stable-audio=stabilityai/stable-audio-open-small", "sketch")


def test_the_same_engine_with_another_model_can_stand_in(store, data_dir):
    made = service(store, CudaOnly(), fallback_engines=f"stable-audio={data_dir / 'no-such-model'}, sketch")
    session = made.create_initial_batch("dark techno", BriefParams(duration_sec=2.0), 1, seed=3)
    assert session.batches[0].engine == "sketch"
    (passed_over,) = [n for n in made.notices if n.startswith("The fallback engine stable-audio (")]
    assert passed_over.startswith(
        f"The fallback engine stable-audio ({data_dir / 'no-such-model'}) cannot run"
    )


class RunsOutLater(FakeMusic):
    """Makes one clip on its first call, then runs out of memory."""

    def generate_batch(self, prompt, num_clips, duration_sec, request=None):
        if self.calls:
            self.calls.append({"failed": num_clips})
            raise MemoryError
        return super().generate_batch(prompt, num_clips, duration_sec, request)


def test_a_later_round_that_runs_out_of_memory_keeps_the_clips_made_before_it(store):
    first = service(store, FakeMusic())
    session = first.create_initial_batch("dark techno", BriefParams(duration_sec=2.0), 3, seed=1)
    flaky = RunsOutLater(produce=1)
    made = service(store, flaky)
    more = made.more_like_cluster(session.id, session.batches[0].clusters[0].id, 3, seed=2)
    assert len(flaky.calls) == 2 and len(more.tracks) == 1
    assert made.notices == [
        "The fake engine ran out of memory on this machine making this batch; try a shorter clip or a smaller"
        " model; the clips made before it are kept."
    ]
    assert len(store.require_session(session.id).batches) == 2
