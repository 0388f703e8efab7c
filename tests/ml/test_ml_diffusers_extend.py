"""Extending a clip with the diffusers engines on tiny random pipelines: Stable Audio 3 inpaints past
the end, ACE-Step repaints from it; Stable Audio Open cannot."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from core.errors import CancelledError, ValidationError
from core.providers import registry
from core.providers.base import STAGE_GENERATING, ExtendRequest, GenerationRequest, ReferenceClip
from core.settings import Settings
from tests.ml.conftest import needs_diffusers
from tests.ml.tiny_diffusers import ACE_RATE, SA_RATE

pytestmark = [pytest.mark.ml, needs_diffusers]

PROMPT = "lofi warm beat with soft drums"
RATES = {"stable_audio_3": SA_RATE, "ace_step": ACE_RATE}
NAMES = {"stable_audio_3": "stable-audio", "ace_step": "ace-step"}
MODES = {"stable_audio_3": "inpaint", "ace_step": "repaint"}


@pytest.fixture(scope="module")
def tiny_stable_audio_3_inpaint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.ml.tiny_diffusers import build_tiny_stable_audio_3

    return build_tiny_stable_audio_3(tmp_path_factory.mktemp("tiny-sa3-inpaint"), inpaint=True)


@pytest.fixture(params=sorted(RATES))
def engine(request: pytest.FixtureRequest) -> tuple[str, Path]:
    name = "tiny_stable_audio_3_inpaint" if request.param == "stable_audio_3" else f"tiny_{request.param}"
    return request.param, request.getfixturevalue(name)


def make(settings: Settings, kind: str, model: Path) -> Any:
    return registry.create_music(settings, NAMES[kind], str(model))


def extend_request(source: Path, to_sec: float, out: Path, **changes: Any) -> ExtendRequest:
    values: dict[str, Any] = {
        "source": ReferenceClip(source),
        "to_sec": to_sec,
        "prompt": PROMPT,
        "seed": 5,
        "out_dir": out,
        "stride_sec": 0.5,
        "overlap_sec": 0.1,
    }
    values.update(changes)
    return ExtendRequest(**values)


def test_extend_keeps_rate_channels_source_and_exact_length(
    settings: Settings, engine: tuple[str, Path], tmp_path: Path
) -> None:
    kind, model = engine
    provider = make(settings, kind, model)
    rate = RATES[kind]
    (source,) = provider.generate_batch(PROMPT, 1, 0.5, GenerationRequest(seed=1, out_dir=tmp_path / "src"))
    calls: list[tuple[str, int, int]] = []
    clip = provider.extend_clip(
        extend_request(source.audio_path, 1.7, tmp_path / "out", progress=lambda *a: calls.append(a))
    )
    data, found = sf.read(str(clip.audio_path), dtype="float32", always_2d=True)
    assert found == rate and data.shape == (round(1.7 * rate), 2)
    assert np.isfinite(data).all() and np.abs(data[round(0.5 * rate) :]).max() > 0
    original, _ = sf.read(str(source.audio_path), dtype="float32", always_2d=True)
    kept = round(0.4 * rate)  # up to the overlap before the old end
    np.testing.assert_allclose(data[:kept], original[:kept], atol=1e-4)
    windows = [c for c in calls if c[0] == STAGE_GENERATING]
    assert windows[0][1] == 0 and windows[-1][1] == windows[-1][2] >= 1
    assert clip.recipe["mode"] == MODES[kind] and clip.recipe["sampling_rate"] == rate
    again = provider.extend_clip(extend_request(source.audio_path, 1.7, tmp_path / "again"))
    np.testing.assert_array_equal(sf.read(str(again.audio_path), dtype="float32", always_2d=True)[0], data)


def test_cancel_writes_nothing(settings: Settings, engine: tuple[str, Path], tmp_path: Path) -> None:
    kind, model = engine
    provider = make(settings, kind, model)
    (source,) = provider.generate_batch(PROMPT, 1, 0.5, GenerationRequest(seed=1, out_dir=tmp_path / "src"))
    cancel = threading.Event()
    cancel.set()
    out = tmp_path / "out"
    with pytest.raises(CancelledError):
        provider.extend_clip(extend_request(source.audio_path, 1.5, out, cancel=cancel))
    assert not out.exists() or list(out.iterdir()) == []


def test_stable_audio_open_cannot_extend(
    settings: Settings, tiny_stable_audio_open: Path, tmp_path: Path
) -> None:
    provider = registry.create_music(settings, "stable-audio", str(tiny_stable_audio_open))
    assert provider.capabilities.extend_sec == 0
    with pytest.raises(ValidationError, match="cannot extend"):
        provider.extend_clip(extend_request(tmp_path / "none.wav", 3.0, tmp_path))
