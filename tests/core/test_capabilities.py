"""What each music engine declares it can do (core.providers.capabilities)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ValidationError
from core.providers import capabilities, registry
from core.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def test_capabilities_of_every_music_engine(settings: Settings) -> None:
    assert set(capabilities.ENGINES) == set(registry.names(registry.MUSIC))
    sa3 = capabilities.of_engine("stable-audio")
    assert (sa3.sample_rate, sa3.channels, sa3.stereo, sa3.needs_cuda) == (44_100, 2, True, True)
    assert capabilities.of_engine("ace-step").sample_rate == 48_000
    assert capabilities.of_engine("musicgen").continuation
    assert capabilities.of_engine("sketch").more_like == "recipe"
    assert registry.create_music(settings, "sketch").capabilities == capabilities.SKETCH
    assert [capabilities.strength_fraction(s) for s in capabilities.VARIATION_STRENGTHS] == [
        0,
        0.25,
        0.5,
        0.75,
        1,
    ]
    with pytest.raises(ValidationError, match="variation_strength must be one of"):
        settings.replace(variation_strength="wild")
    with pytest.raises(ValueError, match="more_like must be one of"):
        capabilities.Capabilities(longest_sec=1, sample_rate=8000, channels=1, more_like="guess")
