"""The embedded ``describe`` namer on real clips."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from core.audio import write_wav_atomic
from core.errors import ValidationError
from core.labels import clean_label
from core.providers import describe, features, registry, sketch
from core.providers.base import ClusterNamingProvider, NamingContext
from core.settings import Settings

WORD = re.compile(r"^[A-Z0-9][A-Za-z0-9]*$")
BRIEFS = {
    "ambient": "slow dark ambient pad",
    "techno": "fast aggressive techno",
    "folk": "bright acoustic folk strum",
}


@pytest.fixture(scope="module")
def namer() -> describe.DescribeNamer:
    return describe.DescribeNamer()


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("clusters")
    out: dict[str, list[Path]] = {}
    for name, brief in BRIEFS.items():
        out[name] = [
            write_wav_atomic(root / f"{name}{seed}.wav", sketch.render_recipe(sketch.design_recipe(brief, 0.5, 0.5, seed), 6.0))
            for seed in (1, 4)  # two clips of one arrangement (the seed picks one of three)
        ]  # fmt: skip
    return out


def assert_label(label: str) -> None:
    words = label.split()
    assert 1 <= len(words) <= 3, label
    assert label.isascii() and all(WORD.match(w) for w in words), label
    assert clean_label(label) == label  # the service's cleaning leaves it as it is


def test_registry_and_protocol(tmp_path: Path) -> None:
    provider = registry.create_namer(Settings(data_dir=tmp_path))
    assert isinstance(provider, describe.DescribeNamer) and isinstance(provider, ClusterNamingProvider)
    assert provider.name == "describe"
    with pytest.raises(ValidationError):
        describe.create(Settings(data_dir=tmp_path), model="gpt-4o-mini")


def test_labels_come_from_the_sound_and_are_deterministic(namer, clusters) -> None:
    labels = {}
    for name, paths in clusters.items():
        context = NamingContext(audio_paths=paths)
        labels[name] = namer.name_cluster(["anything at all"], context)
        assert_label(labels[name])
        assert len(labels[name].split()) == 2
        assert namer.name_cluster(["anything at all"], context) == labels[name]
    assert len(set(labels.values())) == 3
    # words that describe what was rendered, and none that say the opposite
    calm = {
        "Dark",
        "Murky",
        "Deep",
        "Slow",
        "Floating",
        "Drifting",
        "Sparse",
        "Still",
        "Calm",
        "Smooth",
        "Sustained",
    }
    lively = {
        "Pulsing",
        "Steady",
        "Pounding",
        "Busy",
        "Restless",
        "Dense",
        "Driving",
        "Fast",
        "Racing",
        "Punchy",
    }
    assert set(labels["ambient"].split()) & calm and not set(labels["ambient"].split()) & lively
    assert set(labels["techno"].split()) & lively and not set(labels["techno"].split()) & calm


def test_a_taken_label_is_replaced_by_another_description(namer, clusters) -> None:
    context = NamingContext(audio_paths=clusters["techno"])
    first = namer.name_cluster([], context)
    seen = {first}
    for _ in range(6):
        label = namer.name_cluster([], NamingContext(audio_paths=clusters["techno"], taken=frozenset(seen)))
        assert_label(label)
        assert label.lower() not in {s.lower() for s in seen}
        assert not any(ch.isdigit() for ch in label)  # described, not numbered
        seen.add(label)
    # case does not fool it
    upper = namer.name_cluster(
        [], NamingContext(audio_paths=clusters["techno"], taken=frozenset({first.upper()}))
    )
    assert upper.lower() != first.lower()


def test_when_every_description_is_taken_it_numbers(namer, clusters) -> None:
    paths = clusters["folk"]
    values = describe.axis_values(
        {n: float(np.mean([features.descriptor_scores(p)[n] for p in paths])) for n in features.FEATURE_NAMES}
    )
    candidates = describe._candidates(values)
    label = namer.name_cluster([], NamingContext(audio_paths=paths, taken=frozenset(candidates)))
    assert_label(label)
    assert label not in candidates and label.startswith(candidates[0].split()[0])


def test_without_context_the_prompt_words_name_it(namer) -> None:
    prompt = "Dreamy tape loops for a rainy night | energy=0.50 | density=0.50 | duration=10.0s"
    assert namer.name_cluster([prompt]) == "Dreamy Tape Loops"
    assert (
        namer.name_cluster([prompt], NamingContext(taken=frozenset({"dreamy tape loops"}))) == "Dreamy Tape 2"
    )
    assert namer.name_cluster(["\x1b[31m[bold]Café[/bold] | energy=0.50"]) == "Cafe"
    assert namer.name_cluster(["!!! ???"]) == "Untitled"
    assert namer.name_cluster([]) == "Untitled"


def test_unreadable_audio_falls_back_without_raising(namer, tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"nope")
    context = NamingContext(audio_paths=[junk, tmp_path / "missing.wav"])
    assert namer.name_cluster(["warm tape hiss"], context) == "Warm Tape Hiss"


def test_features_embeddings_alone_are_enough(namer, clusters) -> None:
    # features-v1 vectors: the namer divides v1's weights out (other spaces' vectors it leaves alone)
    vectors = [features.FeatureEmbedder(version="v1").embed_audio(p) for p in clusters["ambient"]]
    from_vectors = namer.name_cluster([], NamingContext(embeddings=vectors))
    from_audio = namer.name_cluster([], NamingContext(audio_paths=clusters["ambient"]))
    assert_label(from_vectors)
    assert from_vectors == from_audio
    # vectors of another space (another length) are not read as descriptors
    other = namer.name_cluster(["bells"], NamingContext(embeddings=[np.ones(512, dtype=np.float32)]))
    assert other == "Bells"
