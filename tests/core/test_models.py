import math
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import ValidationError
from core.models import Batch, BriefParams, Session, Track
from core.prompt import render_prompt
from core.validation import validate_brief, validate_num_clips


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


def _batch(session_id, n):
    batch_id = uuid.uuid4()
    now = datetime.now(UTC)
    tracks = [
        Track(uuid.uuid4(), batch_id, uuid.uuid4(), Path(f"{i}.wav"), 1.0, "p", now, position=i)
        for i in range(n)
    ]
    return Batch(batch_id, session_id, now, "p", n, n, [], tracks)


def test_find_track_follows_the_batch_list():
    # find_track answers through an index; it must agree with the list as it changes:
    # batches appended, older ones put in place, a batch's clips deleted, a new list.

    sid = uuid.uuid4()
    first, second = _batch(sid, 3), _batch(sid, 2)
    session = Session(sid, datetime.now(UTC), "brief", BriefParams(), [first])
    session.index_tracks(session.batches)
    assert session.find_track(first.tracks[1].id) == (first, first.tracks[1])
    assert session.find_track(second.tracks[0].id) is None
    session.batches.append(second)  # not told: found all the same
    assert session.find_track(second.tracks[0].id) == (second, second.tracks[0])
    older = _batch(sid, 2)
    session.batches[:] = [older, *session.batches]
    session.index_tracks([older])
    assert session.find_track(older.tracks[1].id) == (older, older.tracks[1])
    gone = first.tracks[0]
    first.tracks = first.tracks[1:]  # deleted
    assert session.find_track(gone.id) is None
    assert session.find_track(first.tracks[0].id) == (first, first.tracks[0])
    session.batches = [second]
    assert session.find_track(older.tracks[0].id) is None
    assert session.find_track(second.tracks[1].id) == (second, second.tracks[1])
    assert session == Session(
        sid, session.created_at, "brief", BriefParams(), [second]
    )  # the index is not compared


def test_find_track_forgets_a_batch_taken_out_of_the_session():
    sid = uuid.uuid4()
    first, second = _batch(sid, 2), _batch(sid, 2)
    session = Session(sid, datetime.now(UTC), "brief", BriefParams(), [first, second])
    session.index_tracks(session.batches)
    assert session.find_track(first.tracks[0].id) == (first, first.tracks[0])
    session.batches.remove(first)  # the batch deleted, its clips left as they were
    assert session.find_track(first.tracks[0].id) is None
    assert session.find_track(second.tracks[1].id) == (second, second.tracks[1])
