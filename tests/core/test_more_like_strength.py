"""A more-like call's own variation strength (close ... loose): through the real sketch
engine and features embedder on a real store; refused in one sentence where it cannot apply."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

import pytest

from core.errors import ValidationError
from core.models import BriefParams
from core.providers.capabilities import VARIATION_STRENGTHS
from core.providers.sketch.recipe import design_recipe, vary_recipe, vary_scale
from core.service import SessionService
from core.settings import Settings
from core.store import SessionStore
from tests.core.fakes import FakeEmbedder, FakeMusic, FakeNamer, FixedNamer

PARAMS = BriefParams(energy=0.6, density=0.5, duration_sec=1.0)


@pytest.fixture
def store(data_dir: Path):
    store = SessionStore(data_dir)
    yield store
    store.close()


def sketch_service(store: SessionStore, **settings: object) -> SessionService:
    return SessionService.from_settings(
        Settings(data_dir=store.root, **settings), store=store, engine="sketch", embedder="features"
    )


def wavs(root: Path) -> list[Path]:
    return sorted(p for p in (root / "media").rglob("*.wav") if "tmp" not in p.parts)


def test_the_calls_strength_reaches_the_sketch_recipe_over_the_setting(store: SessionStore) -> None:
    service = sketch_service(store, variation_strength="close")
    session = service.create_initial_batch("warm lofi piano", PARAMS, 3, seed=4)
    parent = session.batches[0].clusters[0]
    by_setting = service.more_like_cluster(session.id, parent.id, 1, seed=9)
    asked = service.more_like_cluster(session.id, parent.id, 1, seed=9, strength="Loose")
    assert {t.recipe["variation_strength"] for t in by_setting.tracks} == {"close"}
    assert {t.recipe["variation_strength"] for t in asked.tracks} == {"loose"}
    # As stored: the record read back says the same.
    stored = {b.id: b for b in store.get_session(session.id).batches}
    assert stored[asked.id].tracks[0].recipe["variation_strength"] == "loose"


def test_a_strength_it_cannot_take_is_one_sentence_and_writes_nothing(store: SessionStore) -> None:
    service = sketch_service(store)
    session = service.create_initial_batch("warm lofi piano", PARAMS, 2, seed=4)
    parent = session.batches[0].clusters[0]
    before = wavs(store.root)
    with pytest.raises(ValidationError) as raised:
        service.more_like_cluster(session.id, parent.id, 1, seed=9, strength="wild")
    message = str(raised.value)
    assert message.count(".") == 1 and "close, near, balanced, far, loose" in message and "wild" in message
    # An engine that declares no variation strength refuses one (FakeMusic declares none).
    fake = SessionService(
        store,
        FakeMusic(),
        FakeEmbedder({200: [1.0, 0.0]}),
        FakeNamer(),
        settings=Settings(data_dir=store.root),
        fallback_namer=FixedNamer(),
    )
    with pytest.raises(ValidationError, match="The fake engine takes no variation strength") as raised:
        fake.more_like_cluster(session.id, parent.id, 1, seed=9, strength="close")
    assert "sketch" in str(raised.value)
    assert wavs(store.root) == before
    assert len(store.get_session(session.id).batches) == 1


def test_sketch_variation_moves_as_far_as_the_strength_says() -> None:
    parent = design_recipe("warm lofi piano", 0.6, 0.5, 21)
    kept = copy.deepcopy(parent)
    assert [vary_scale(s) for s in VARIATION_STRENGTHS] == pytest.approx([0.5, 2**-0.5, 1.0, 2**0.5, 2.0])
    assert vary_scale("balanced") == 1.0  # exactly: the default path renders as it always did

    def moved(strength: str) -> list[float]:
        children = [vary_recipe(parent, seed, strength) for seed in range(60)]
        return [abs(c["tempo"] / parent["tempo"] - 1.0) for c in children]

    close, loose = moved("close"), moved("loose")
    # Close never drifts the tempo past 1 % (plus rounding); loose does for some of 60 seeds.
    assert max(close) <= 0.01 + 0.005 / parent["tempo"]
    assert max(loose) > 0.02
    # Loose always draws a new pattern (its chance is 0.5 x 2); close keeps it for some seeds.
    assert all(vary_recipe(parent, s, "loose")["pattern_seed"] != parent["pattern_seed"] for s in range(20))
    assert any(vary_recipe(parent, s, "close")["pattern_seed"] == parent["pattern_seed"] for s in range(20))
    assert parent == kept  # the parent is never touched


def test_cli_more_takes_a_strength_and_refuses_one_the_engine_cannot_take(data_dir: Path, generated) -> None:
    from tests.core.cli_helpers import media_wavs, run

    session_id, cluster = generated["id"], generated["batches"][0]["clusters"][0]
    code, out, err = run(
        "more", session_id, cluster["id"][:8], "--clips", "1", "--strength", "loose", "--json"
    )
    assert code == 0, err
    (made,) = json.loads(out)["tracks"]
    store = SessionStore(data_dir)
    try:  # the recipe as stored
        (track,) = [t for t in store.require_session(uuid.UUID(session_id)).tracks if str(t.id) == made["id"]]
        assert track.recipe["variation_strength"] == "loose"
    finally:
        store.close()
    before = media_wavs(data_dir)
    for argv, words in (
        (("--strength", "wild"), "must be one of close, near, balanced, far, loose"),
        (("--strength", "close", "--engine", "musicgen"), "The musicgen engine takes no variation strength"),
    ):
        code, out, err = run("more", session_id, cluster["id"][:8], "--clips", "1", *argv)
        assert code == 2 and out == "" and len(err.splitlines()) == 1 and words in err, err
    assert media_wavs(data_dir) == before
    code, out, _ = run("show", session_id, "--json")
    assert [b["kind"] for b in json.loads(out)["batches"]] == ["initial", "more"]
