"""A blend on the engines with audio-to-audio (Stable Audio 3, ACE-Step), on tiny random
pipelines: each clip varies a loudness-matched mix of one clip of each parent cluster, and
the blend batch stores both parents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from core.audio import integrated_lufs, peak_dbfs
from core.models import BriefParams
from core.providers import registry
from core.providers.base import GenerationRequest, ReferenceClip
from core.settings import Settings
from tests.ml.conftest import needs_diffusers
from tests.ml.test_ml_diffusers_engines import PROMPT, RATES, make

pytestmark = [pytest.mark.ml, needs_diffusers]
PIPELINE_AUDIO = {"stable_audio_3": "audio", "ace_step": "src_audio"}


def tone(path: Path, hz: float, amplitude: float, rate: int, seconds: float, channels: int) -> ReferenceClip:
    t = np.arange(int(rate * seconds)) / rate
    wave = amplitude * np.sin(2 * np.pi * hz * t)
    samples = wave if channels == 1 else np.stack([wave, 0.5 * wave], axis=1)
    sf.write(str(path), samples.astype(np.float32), rate)
    return ReferenceClip(path)


def recording_calls(kind: str, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments of every call of the engine's audio-to-audio pipeline (which still runs)."""
    from diffusers import AceStepPipeline, StableAudio3AudioToAudioPipeline

    cls = StableAudio3AudioToAudioPipeline if kind == "stable_audio_3" else AceStepPipeline
    seen: list[dict[str, Any]] = []
    real_call = cls.__call__

    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real_call(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__call__", recording)
    return seen


def assert_is_matched_mix(given: np.ndarray, a: np.ndarray, b: np.ndarray, rate: int) -> None:
    """``given`` is g_a * a + g_b * b (to float32 rounding), g_a and g_b > 0, with the two
    parts equally loud and the sum's peak at or under -1 dBFS."""
    basis = np.stack([a.ravel(), b.ravel()], axis=1).astype(np.float64)
    target = given.ravel().astype(np.float64)
    gains, *_ = np.linalg.lstsq(basis, target, rcond=None)
    np.testing.assert_allclose(basis @ gains, target, atol=2e-6)
    assert (gains > 0).all()
    assert integrated_lufs((gains[0] * a).T, rate) == pytest.approx(
        integrated_lufs((gains[1] * b).T, rate), abs=0.05
    )
    assert peak_dbfs(given) <= -1.0 + 1e-3


@pytest.mark.parametrize("kind", ["stable_audio_3", "ace_step"])
def test_a_blend_varies_a_loudness_matched_mix_of_one_clip_of_each_parent(
    settings: Settings,
    kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.providers.diffusers_references import reference_audio

    provider = make(settings, kind, request.getfixturevalue(f"tiny_{kind}"), diffusers_max_batch=4)
    rate = RATES[kind]
    # The first parent: a loud stereo clip at another rate; the second: a quiet mono one, a
    # longer one at a third rate, and a file that cannot be read (skipped).
    loud = tone(tmp_path / "loud.wav", 330.0, 0.8, 32_000, 0.7, 2)
    quiet = tone(tmp_path / "quiet.wav", 110.0, 0.02, 22_050, 0.4, 1)
    long = tone(tmp_path / "long.wav", 523.0, 0.3, rate, 2.0, 2)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    seen = recording_calls(kind, monkeypatch)
    clips = provider.generate_batch(
        PROMPT,
        3,
        0.5,
        GenerationRequest(
            seed=5, out_dir=tmp_path / "b", references=[loud], blend_with=[quiet, ReferenceClip(broken), long]
        ),
    )
    (call,) = seen
    given = call[PIPELINE_AUDIO[kind]].numpy()
    length = round(0.5 * rate)
    assert given.shape == (3, 2, length)  # at the engine's rate and channels, the clip's length
    a = reference_audio(loud, rate, 2, length)
    pairs = [quiet, long, quiet]  # clip i: the first parent's clip i mod 1 with the second's i mod 2
    for row, second in enumerate(pairs):
        assert_is_matched_mix(given[row], a, reference_audio(second, rate, 2, length), rate)
    # Each clip's recipe names both clips of its mix.
    assert [c.recipe["reference"] for c in clips] == [str(loud.audio_path)] * 3
    assert [c.recipe["blend_with"] for c in clips] == [str(p.audio_path) for p in pairs]
    # A plain more-like request still varies each reference alone.
    seen.clear()
    (plain,) = provider.generate_batch(
        PROMPT, 1, 0.5, GenerationRequest(seed=5, out_dir=tmp_path / "p", references=[loud])
    )
    np.testing.assert_array_equal(seen[0][PIPELINE_AUDIO[kind]].numpy()[0], a)
    assert "blend_with" not in plain.recipe


def test_a_blend_on_stable_audio_3_starts_from_both_parents_and_stores_both(
    settings: Settings, tiny_stable_audio_3: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the service: two clusters made by the sketch engine, blended by Stable Audio 3."""
    from core.service import SessionService
    from core.store import SessionStore

    params = BriefParams(duration_sec=0.5)
    settings = settings.replace(min_similarity=-1.0)
    store = SessionStore(settings.data_dir)
    service = SessionService(
        store,
        registry.create_music(settings, "sketch"),
        registry.create_embedder(settings, "features"),
        registry.create_namer(settings, "describe"),
        settings=settings,
    )
    try:
        session = service.create_initial_batch("dark slow drone", params, 2, seed=1)
        service.add_brief_batch(session.id, "bright fast bells", params, 2, seed=2)
        stored = store.require_session(session.id)
        first, second = stored.batches[0].clusters[0], stored.batches[1].clusters[0]
        service.music = make(settings, "stable_audio_3", tiny_stable_audio_3, diffusers_max_batch=4)
        seen = recording_calls("stable_audio_3", monkeypatch)
        batch = service.blend_clusters(session.id, first.id, second.id, 2, seed=3)
    finally:
        store.close()
    (cluster,) = batch.clusters
    assert (cluster.parent_cluster_id, cluster.second_parent_cluster_id) == (first.id, second.id)
    assert batch.parent_cluster_id == first.id
    paths = {c.id: {str(t.path) for t in stored.tracks if t.cluster_id == c.id} for c in (first, second)}
    assert seen and all(call["audio"].shape[1:] == (2, round(0.5 * RATES["stable_audio_3"])) for call in seen)
    for track in batch.tracks:
        assert track.recipe["engine"] == "stable-audio"
        assert track.recipe["reference"] in paths[first.id]
        assert track.recipe["blend_with"] in paths[second.id]
