import math

import pytest

from core.errors import ValidationError
from core.models import BriefParams, validate_brief, validate_num_clips
from core.prompt import render_prompt


def test_brief_params_defaults_and_coercion():
    params = BriefParams(energy="0.25", density=1, duration_sec=30)
    assert params == BriefParams(0.25, 1.0, 30.0)
    assert BriefParams.from_dict(params.to_dict()) == params


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"energy": -0.1}, "Energy must be between 0 and 1"),
        ({"energy": 1.01}, "Energy must be between 0 and 1"),
        ({"density": 2}, "Density must be between 0 and 1"),
        ({"duration_sec": 0}, "Duration must be at least 0.1"),
        ({"duration_sec": 0.00001}, "Duration must be at least 0.1"),
        ({"duration_sec": 600.5}, "at most 600"),  # every engine's own limit is checked as it generates
        ({"energy": "loud"}, "Energy must be a number"),
        ({"energy": math.nan}, "finite"),
        ({"density": True}, "Density must be a number"),
    ],
)
def test_brief_params_validation(kwargs, fragment):
    with pytest.raises(ValidationError, match=fragment):
        BriefParams(**kwargs)


def test_brief_validation():
    assert validate_brief("  warm lofi piano \n") == "warm lofi piano"
    with pytest.raises(ValidationError, match="empty"):
        validate_brief("   ")
    with pytest.raises(ValidationError, match="2000"):
        validate_brief("x" * 2001)
    assert len(validate_brief("x" * 2000)) == 2000
    with pytest.raises(ValidationError):
        validate_brief(None)


def test_num_clips_validation():
    assert validate_num_clips(6, 6) == 6
    assert validate_num_clips("3", 6) == 3
    for bad in (0, 7, -1, 2.5, "two", None, True):
        with pytest.raises(ValidationError):
            validate_num_clips(bad, 6)


def test_render_prompt_is_the_seed_template():
    params = BriefParams(energy=0.5, density=0.333, duration_sec=12)
    assert (
        render_prompt("dark ambient", params) == "dark ambient | energy=0.50 | density=0.33 | duration=12.0s"
    )
