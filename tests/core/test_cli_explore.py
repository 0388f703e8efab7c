"""`sessionlab map`, `search` and `blend` from a shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.test_cli import run


@pytest.fixture
def two_briefs(data_dir: Path) -> dict:
    code, out, err = run(
        "generate", "--brief", "dusty lofi rhodes", "--clips", "3", "--duration", "1", "--seed", "5",
        "--embedder-model", "v1", "--json",
    )  # fmt: skip
    assert code == 0, err
    session = json.loads(out)
    import uuid

    from core.models import BriefParams
    from core.service import SessionService
    from core.settings import Settings

    # features-v1, the space with a text side: search ranks by the session's own space
    service = SessionService.from_settings(Settings(data_dir=data_dir), embedder_model="v1")
    try:
        service.add_brief_batch(
            uuid.UUID(session["id"]), "fast bright techno", BriefParams(0.9, 0.8, 1.0), 3, seed=6
        )
    finally:
        service.store.close()
    code, out, err = run("show", session["id"], "--json")
    assert code == 0, err
    return json.loads(out)


def test_map_writes_an_svg_and_a_png_with_the_cluster_names(two_briefs: dict, tmp_path: Path) -> None:
    sid = two_briefs["id"]
    code, out, err = run("map", sid[:8], "--out", str(tmp_path / "map.svg"), "--json")
    assert code == 0, err
    doc = json.loads(out)
    clips = [t["id"] for t in two_briefs["tracks"]]
    assert sorted(p["track_id"] for p in doc["points"]) == sorted(clips) and doc["missing"] == 0
    svg = (tmp_path / "map.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for batch in two_briefs["batches"]:
        for cluster in batch["clusters"]:
            first_word = cluster["effective_label"].split()[0]
            assert first_word in svg  # matplotlib writes text as <!-- label --> comments and glyphs
    code, out, err = run("map", sid, "--out", str(tmp_path / "map.png"))
    assert code == 0, err
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in out and "6 clips" in out


def test_map_refuses_another_format_and_writes_nothing(two_briefs: dict, tmp_path: Path) -> None:
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    code, out, err = run("map", two_briefs["id"], "--out", str(pictures / "map.gif"))
    assert code == 2 and "svg or .png" in err and out == ""
    assert list(pictures.iterdir()) == []
    code, _, err = run("map", two_briefs["id"], "--out", str(pictures / "nowhere" / "map.svg"))
    assert code == 2 and "no folder" in err


def test_search_by_words_and_by_sound(two_briefs: dict) -> None:
    sid = two_briefs["id"]
    code, out, err = run("search", sid, "techno", "--json")
    assert code == 0, err
    doc = json.loads(out)
    techno = {t for c in two_briefs["batches"][1]["clusters"] for t in c["track_ids"]}
    assert {h["track_id"] for h in doc["hits"]} == techno and doc["ranked_by"] is None
    assert any("measures nothing" in n for n in doc["notes"])  # "techno" is a genre, not a measurement
    code, out, err = run("search", sid, "gloomy", "--json", "--top", "2")
    doc = json.loads(out)
    assert doc["ranked_by"] == "features: gloomy"
    by_sound = [h for h in doc["hits"] if not h["matched"]]
    assert len(by_sound) == 2 and len(doc["hits"]) <= 6
    assert [h["score"] for h in by_sound] == sorted((h["score"] for h in by_sound), reverse=True)
    code, out, err = run("search", sid, "nothing like this")
    assert code == 0 and "No clip matches" in out
    code, out, err = run("search", sid, "  ")
    assert code == 2 and "empty" in err


def test_blend_two_clusters(two_briefs: dict) -> None:
    sid = two_briefs["id"]
    first = two_briefs["batches"][0]["clusters"][0]["id"]
    second = two_briefs["batches"][1]["clusters"][0]["id"]
    code, out, err = run("blend", sid, first[:8], second[:8], "--clips", "2", "--seed", "7", "--json")
    assert code == 0, err
    doc = json.loads(out)
    (batch,) = doc["batches"]
    (cluster,) = batch["clusters"]
    assert cluster["parent_cluster_id"] == first and cluster["second_parent_cluster_id"] == second
    assert len(cluster["track_ids"]) == 2 and len(doc["tracks"]) == 2
    code, _, err = run("blend", sid, first, first)
    assert code == 2 and "two different clusters" in err


def test_blend_is_told_as_a_blend_of_both_clusters_by_their_names(two_briefs: dict) -> None:
    """Not as "more like" its first parent; a cluster the musician renamed goes by its name."""
    sid = two_briefs["id"]
    first = two_briefs["batches"][0]["clusters"][0]
    second = two_briefs["batches"][1]["clusters"][0]
    code, _, err = run("rename-cluster", sid, first["id"], "Lazy Sunday")
    assert code == 0, err
    code, out, err = run("blend", sid, first["id"][:8], second["id"][:8], "--clips", "1", "--seed", "7")
    assert code == 0, err
    assert f'blend of "Lazy Sunday" and "{second["label"]}"' in out
    assert "more like" not in out
    code, out, err = run("show", sid)
    assert code == 0, err
    assert f'blend of "Lazy Sunday" and "{second["label"]}"' in out
