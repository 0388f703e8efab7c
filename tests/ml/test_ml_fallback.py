"""Routing and fallback on real engines (seed 003): a Stable Audio or ACE-Step pipeline that cannot
run (out of memory, a CUDA-only model on a CPU, weights gone) says why in one line and, where the
settings allow it, the next engine makes the batch (generate, more like, extend); the store records
which engine made each clip.

The pipelines are tiny random ones loaded through ``from_pretrained``; out of memory is raised by
the denoiser's forward (the slow edge), everything around it is the real code.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from core.errors import OutOfMemoryError
from core.models import BriefParams
from core.providers import registry
from core.service import SessionService
from core.settings import Settings
from core.store import SessionStore
from tests.ml.conftest import needs_diffusers
from tests.ml.tiny_models import MUSICGEN_RATE

pytestmark = [pytest.mark.ml, needs_diffusers]

PARAMS = BriefParams(energy=0.6, density=0.4, duration_sec=1.0)
SA3_MEDIUM = "stabilityai/stable-audio-3-medium"


@pytest.fixture(scope="module")
def tiny_sa3_inpaint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.ml.conftest import _tiny_pipeline  # noqa: F401  (one torch thread, quiet loggers)
    from tests.ml.tiny_diffusers import build_tiny_stable_audio_3

    return build_tiny_stable_audio_3(tmp_path_factory.mktemp("tiny-sa3-inpaint"), inpaint=True)


def open_service(settings: Settings, music: Any) -> SessionService:
    return SessionService(
        SessionStore(settings.data_dir),
        music,
        registry.create_embedder(settings, "features"),
        registry.create_namer(settings, "describe"),
        settings=settings,
    )


def out_of_memory_in(provider: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The provider's denoiser runs out of memory at its first step, as CUDA says it; returns its calls."""
    import torch

    calls: list[int] = []

    def no_memory(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(provider.load().pipe.transformer, "forward", no_memory)
    return calls


def stored_engines(settings: Settings, session_id: Any) -> list[tuple[str, list[str]]]:
    """Each stored batch's engine and the engine each of its clips' recipes names, read back from disk."""
    store = SessionStore(settings.data_dir)
    try:
        return [
            (b.engine, [t.recipe["engine"] for t in b.tracks])
            for b in store.require_session(session_id).batches
        ]
    finally:
        store.close()


def test_out_of_memory_falls_back_for_the_batch_and_for_more_like(
    settings: Settings, tiny_stable_audio_3: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings.replace(diffusers_max_batch=2, fallback_engines="sketch")
    chosen = registry.create_music(settings, "stable-audio", str(tiny_stable_audio_3))
    calls = out_of_memory_in(chosen, monkeypatch)
    service = open_service(settings, chosen)
    session = service.create_initial_batch("dusty lofi keys", PARAMS, 3, seed=4)
    why = (
        "Stable Audio ran out of memory on cpu making 2 clips at once; try fewer clips at once"
        " (lower diffusers_max_batch, now 2), a shorter clip or a smaller model."
    )
    assert service.notices == [f"{why[:-1]}. The sketch engine made this batch instead."]
    assert len(calls) == 1  # one chunk ran out of memory; the next, as large, was not tried
    more = service.more_like_cluster(session.id, session.batches[0].clusters[0].id, 2, seed=5)
    assert f"{why[:-1]}. The sketch engine made this batch instead." in service.notices
    assert len(calls) == 2
    service.store.close()
    assert stored_engines(settings, session.id) == [
        ("sketch", ["sketch"] * 3),
        ("sketch", ["sketch"] * len(more.tracks)),
    ]


def test_out_of_memory_without_fallback_says_why_and_stores_nothing(
    settings: Settings, tiny_stable_audio_3: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = registry.create_music(
        settings.replace(diffusers_max_batch=2), "stable-audio", str(tiny_stable_audio_3)
    )
    out_of_memory_in(chosen, monkeypatch)
    service = open_service(settings.replace(diffusers_max_batch=2), chosen)
    with pytest.raises(
        OutOfMemoryError, match=r"^Stable Audio ran out of memory on cpu making 2 clips at once; try"
    ):
        service.create_initial_batch("dusty lofi keys", PARAMS, 3, seed=4)
    assert service.store.list_sessions() == []
    service.store.close()


def test_extend_out_of_memory_falls_back_to_the_next_engine_that_can_extend(
    settings: Settings,
    tiny_sa3_inpaint: Path,
    tiny_musicgen: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings.replace(musicgen_model=str(tiny_musicgen))
    chosen = registry.create_music(settings, "stable-audio", str(tiny_sa3_inpaint))
    made = open_service(settings, chosen)
    session = made.create_initial_batch("dusty lofi keys", PARAMS, 1, seed=4)
    made.store.close()
    (source,) = session.batches[0].tracks
    calls = out_of_memory_in(chosen, monkeypatch)
    with pytest.raises(OutOfMemoryError) as caught:
        open_service(settings, chosen).extend_track(source.id, 2.0)
    assert str(caught.value) == (
        "Stable Audio ran out of memory on cpu extending a clip to 2 s; try a shorter length to extend to"
        " or a smaller model."
    )
    service = open_service(settings.replace(fallback_engines="sketch, musicgen"), chosen)
    batch = service.extend_track(source.id, 2.0, seed=3)
    assert len(calls) == 2
    assert batch.engine == "musicgen" and batch.model == str(tiny_musicgen)
    assert service.notices[-1] == f"{str(caught.value)[:-1]}. The musicgen engine made this batch instead."
    assert service.notices[0].startswith(
        "The fallback engine sketch cannot run either: The sketch engine can only"
    )
    info = sf.info(str(batch.tracks[0].path))
    assert info.samplerate == MUSICGEN_RATE and info.frames == 2 * MUSICGEN_RATE
    service.store.close()
    assert stored_engines(settings, session.id) == [
        ("stable-audio", ["stable-audio"]),
        ("musicgen", ["musicgen"]),
    ]


def test_a_cuda_only_model_on_a_cpu_falls_back_for_generate_and_extend(
    settings: Settings, tiny_sa3_inpaint: Path, hub_cache: Path, tiny_musicgen: Path
) -> None:
    from tests.ml.tiny_models import install_in_hub_cache

    snapshot = install_in_hub_cache(tiny_sa3_inpaint, hub_cache, SA3_MEDIUM)
    for sub in tiny_sa3_inpaint.iterdir():
        if sub.is_dir():
            shutil.copytree(sub, snapshot / sub.name, dirs_exist_ok=True)
    settings = settings.replace(musicgen_model=str(tiny_musicgen), fallback_engines="musicgen")
    chosen = registry.create_music(settings, "stable-audio", SA3_MEDIUM)
    assert chosen.capabilities.needs_cuda
    service = open_service(settings, chosen)
    session = service.create_initial_batch("dusty lofi keys", PARAMS, 2, seed=4)
    why = (
        f"{SA3_MEDIUM} needs a CUDA GPU and this machine runs on cpu; set stable_audio_model to"
        " stabilityai/stable-audio-open-small here"
    )
    assert service.notices == [f"{why}. The musicgen engine made this batch instead."]
    batch = service.extend_track(session.batches[0].tracks[0].id, 2.0, seed=1)
    assert batch.engine == "musicgen" and service.notices == [
        f"{why}. The musicgen engine made this batch instead."
    ]
    service.store.close()
    assert stored_engines(settings, session.id) == [
        ("musicgen", ["musicgen"] * 2),
        ("musicgen", ["musicgen"]),
    ]


def test_a_cuda_only_model_on_a_cpu_falls_back_to_the_cpu_model_of_the_same_engine(
    settings: Settings, tiny_stable_audio_3: Path, tiny_stable_audio_open: Path, hub_cache: Path
) -> None:
    from tests.ml.tiny_models import install_in_hub_cache

    snapshot = install_in_hub_cache(tiny_stable_audio_3, hub_cache, SA3_MEDIUM)
    for sub in tiny_stable_audio_3.iterdir():
        if sub.is_dir():
            shutil.copytree(sub, snapshot / sub.name, dirs_exist_ok=True)
    settings = settings.replace(diffusers_steps=3, fallback_engines=f"stable-audio={tiny_stable_audio_open}")
    service = open_service(settings, registry.create_music(settings, "stable-audio", SA3_MEDIUM))
    session = service.create_initial_batch("dusty lofi keys", PARAMS, 2, seed=4)
    (notice,) = service.notices
    assert notice.endswith(
        f"here. The stable-audio ({tiny_stable_audio_open}) engine made this batch instead."
    )
    (batch,) = session.batches
    assert (batch.engine, batch.model) == ("stable-audio", str(tiny_stable_audio_open))
    assert [t.recipe["pipeline"] for t in batch.tracks] == ["StableAudioPipeline"] * 2
    service.store.close()


def test_weights_gone_after_start_fall_back(settings: Settings, tiny_ace_step: Path, tmp_path: Path) -> None:
    model = shutil.copytree(tiny_ace_step, tmp_path / "ace-step-copy")
    settings = settings.replace(fallback_engines="sketch")
    chosen = registry.create_music(settings, "ace-step", str(model))
    for weights in (model / "transformer").glob("diffusion_pytorch_model*"):
        weights.unlink()  # the checkpoint lost its denoiser after the app started
    service = open_service(settings, chosen)
    session = service.create_initial_batch("dusty lofi keys", PARAMS, 2, seed=4)
    (notice,) = service.notices
    assert notice.startswith(f"ACE-Step model {model} could not be loaded (")
    assert notice.endswith(
        "; download it again or pass another --model. The sketch engine made this batch instead."
    )
    assert "\n" not in notice
    service.store.close()
    assert stored_engines(settings, session.id) == [("sketch", ["sketch", "sketch"])]


def test_the_cli_says_which_fallbacks_were_passed_over_when_none_could_stand_in(
    tiny_ace_step: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from core.cli import main

    model = shutil.copytree(tiny_ace_step, tmp_path / "ace-step-copy")
    for weights in (model / "transformer").glob("diffusion_pytorch_model*"):
        weights.write_bytes(b"not weights")  # present, so the engine is built; unreadable as it loads
    monkeypatch.setenv("SESSIONLAB_FALLBACK_ENGINES", "hf-endpoint")  # no endpoint URL is set
    monkeypatch.setenv("SESSIONLAB_HF_ENDPOINT_URL", "")
    out, err = io.StringIO(), io.StringIO()
    argv = ["--data-dir", str(tmp_path / "data"), "generate", "--brief", "dusty lofi keys"]
    code = main(
        [*argv, "--engine", "ace-step", "--model", str(model), "--clips", "1", "--duration", "1"],
        out=out,
        err=err,
    )
    assert code != 0
    lines = [line for line in err.getvalue().splitlines() if line.strip() and "\r" not in line]
    assert any(
        line.startswith("note: The fallback engine hf-endpoint cannot run either:") for line in lines
    ), lines
    assert any(f"ACE-Step model {model} could not be loaded" in line for line in lines), lines


def test_musicgen_out_of_memory_is_advice_for_a_batch_and_for_extend(
    settings: Settings, tiny_musicgen: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.providers.base import ExtendRequest, GenerationRequest, ReferenceClip
    from core.providers.sketch import SketchEngine

    provider = registry.create_music(settings.replace(musicgen_max_batch=2), "musicgen", str(tiny_musicgen))
    decoder = provider.load().model.decoder

    def no_memory(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            "DefaultCPUAllocator: can't allocate memory: you tried to allocate 8589934592 bytes."
        )

    monkeypatch.setattr(decoder, "forward", no_memory)
    with pytest.raises(OutOfMemoryError) as caught:
        provider.generate_batch("dusty lofi keys", 3, 1.0, GenerationRequest(out_dir=tmp_path / "o"))
    assert str(caught.value) == (
        "MusicGen ran out of memory on cpu making 2 clips at once; try fewer clips at once (lower"
        " musicgen_max_batch, now 2), a shorter clip or a smaller model."
    )
    assert list((tmp_path / "o").iterdir()) == []
    (source,) = SketchEngine(settings).generate_batch(
        "dusty lofi keys", 1, 1.0, GenerationRequest(out_dir=tmp_path)
    )
    request = ExtendRequest(ReferenceClip(source.audio_path), 2.0, "dusty lofi keys", out_dir=tmp_path / "x")
    with pytest.raises(OutOfMemoryError) as caught:
        provider.extend_clip(request)
    assert str(caught.value) == (
        "MusicGen ran out of memory on cpu extending a clip to 2 s; try a shorter length to extend to or a"
        " smaller model."
    )
    assert not (tmp_path / "x").exists() or list((tmp_path / "x").iterdir()) == []
