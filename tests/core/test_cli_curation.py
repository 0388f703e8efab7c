"""The sessionlab curation commands (keep, rate, discard, prefer, rename, delete) and extend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from core.cli.printing import short_ids
from core.store import SessionStore
from tests.core.cli_helpers import media_wavs, run

# ---------------------------------------------------------------- curation commands


def clip_ids(doc: dict) -> list[str]:
    return [t["id"] for t in doc["tracks"]]


def shown(session_id: str) -> dict:
    code, out, err = run("show", session_id, "--json")
    assert code == 0, err
    return json.loads(out)


def test_marks_by_prefix_reach_show(data_dir, generated):
    first, second = clip_ids(generated)[:2]
    for argv in (
        ("keep", first[:8]),
        ("rate", first[:6], "4"),
        ("tag", first[:8], "Drums", "warm pad"),
        ("note", first[:8], "the groove"),
        ("discard", second[:8]),
    ):
        code, out, err = run(*argv, "--json")
        assert code == 0, err
    assert json.loads(out) == {
        "track_id": second,
        "session_id": generated["id"],
        "curation": {"kept": False, "rating": None, "discarded": True, "tags": [], "note": ""},
    }
    tracks = {t["id"]: t for t in shown(generated["id"])["tracks"]}
    assert tracks[first]["curation"] == {
        "kept": True,
        "rating": 4,
        "discarded": False,
        "tags": ["drums", "warm pad"],
        "note": "the groove",
    }
    assert tracks[second]["curation"]["discarded"] is True  # JSON lists discarded clips, marked
    code, out, _ = run("show", generated["id"])
    assert second not in out and "1 discarded clip hidden" in out
    assert '★ 4/5 #drums #warm pad "the groove"' in out
    code, out, _ = run("show", generated["id"], "--all")
    assert second in out and "[discarded]" in out


def test_show_prints_each_clips_short_id_and_the_curation_commands_take_it(data_dir, generated):
    code, out, err = run("show", generated["id"])
    assert code == 0, err
    clip_lines = [line.split() for line in out.splitlines() if line.startswith("      ")]
    printed = [words[0] for words in clip_lines]
    ids = clip_ids(generated)
    assert len(printed) == len(ids) == 4
    # Each line starts with the first 8 hex digits of its own clip's id (the path names the clip too).
    for words, short in zip(clip_lines, printed, strict=True):
        (track_id,) = [i for i in ids if i.replace("-", "").startswith(short)]
        assert len(short) == 8 and any(track_id in word for word in words[1:])
    assert sorted(printed) == sorted(i.replace("-", "")[:8] for i in ids)
    code, _, err = run("keep", printed[0])
    assert code == 0, err
    code, _, err = run("rate", printed[1], "5")
    assert code == 0, err
    marks = {t["id"].replace("-", "")[:8]: t["curation"] for t in shown(generated["id"])["tracks"]}
    assert marks[printed[0]]["kept"] is True and marks[printed[1]]["rating"] == 5


def test_short_ids_grow_until_the_clips_are_told_apart():
    twins = [uuid.UUID("abcdef01" + "23" + "0" * 22), uuid.UUID("abcdef01" + "24" + "0" * 22)]
    other = uuid.UUID("12345678" + "9" * 24)
    assert short_ids([*twins, other]) == {twins[0]: "abcdef0123", twins[1]: "abcdef0124", other: "1234567899"}
    assert short_ids([other]) == {other: "12345678"}
    assert short_ids([]) == {}


def test_marks_are_undone(data_dir, generated):
    clip = clip_ids(generated)[0]
    for argv in (
        ("keep", clip),
        ("rate", clip, "5"),
        ("discard", clip),
        ("tag", clip, "a", "b"),
        ("note", clip, "x"),
    ):
        assert run(*argv)[0] == 0
    for argv in (
        ("keep", clip, "--undo"),
        ("rate", clip, "0"),
        ("discard", clip, "--undo"),
        ("tag", clip, "a", "--remove"),
    ):
        assert run(*argv)[0] == 0
    code, out, _ = run("note", clip, "", "--json")
    assert json.loads(out)["curation"] == {
        "kept": False,
        "rating": None,
        "discarded": False,
        "tags": ["b"],
        "note": "",
    }
    run("rate", clip, "3")
    code, out, _ = run("rate", clip, "--clear", "--json")
    assert code == 0 and json.loads(out)["curation"]["rating"] is None


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("rate", "{a}", "6"), "from 1 to 5"),
        (("rate", "{a}", "-1"), "from 1 to 5"),
        (("rate", "{a}"), "Give a rating"),
        (("rate", "{a}", "3", "--clear"), "not both"),
        (("rate", "{a}", "five"), "a whole number from 1 to 5, not 'five'"),
        (("rate", "{a}", "4.5"), "a whole number from 1 to 5, not '4.5'"),
        (("tag", "{a}", " "), "cannot be empty"),
        (("note", "{a}", "n" * 2001), "limit is 2000"),
        (("prefer", "{a}", "{a}"), "itself"),
        (("keep", "ffffffff"), "No clip matches"),
        (("keep", "zz"), "not a clip id"),
        (("rename-cluster", "{s}", "{c}", "a\x1bb"), "one line"),
    ],
)
def test_bad_curation_input_is_one_sentence_and_writes_nothing(data_dir, generated, argv, words):
    ids = {
        "a": clip_ids(generated)[0],
        "s": generated["id"],
        "c": generated["batches"][0]["clusters"][0]["id"],
    }
    before = shown(generated["id"])
    code, out, err = run(*[a.format(**ids) for a in argv])
    assert code == 2 and out == "" and err.count("\n") == 1 and words in err, err
    assert shown(generated["id"]) == before


def test_prefer_and_prefer_same(data_dir, generated):
    a, b = clip_ids(generated)[:2]
    code, out, err = run("prefer", a[:8], b[:8], "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["chosen"], doc["rejected"], doc["choice"]) == (a, b, "a")
    assert doc["brief_a"] == doc["brief_b"] == generated["batches"][0]["prompt_text"]
    code, out, _ = run("prefer", a, b, "--same")
    assert code == 0 and "as good as each other" in out
    with SessionStore(data_dir) as store:
        assert [p.choice for p in store.get_preferences(store.resolve_session_id(generated["id"]))] == [
            "a",
            "same",
        ]


def test_rename_cluster_shows_the_musicians_name_and_keeps_the_generated_one(data_dir, generated):
    cluster = generated["batches"][0]["clusters"][0]
    code, out, err = run("rename-cluster", generated["id"][:8], cluster["id"][:8], "Night Drive", "--json")
    assert code == 0, err
    assert json.loads(out)["effective_label"] == "Night Drive"
    listed = shown(generated["id"])["batches"][0]["clusters"][0]
    assert (listed["label"], listed["name"], listed["effective_label"]) == (
        cluster["label"],
        "Night Drive",
        "Night Drive",
    )
    code, out, _ = run("show", generated["id"])
    assert f"Night Drive (generated: {cluster['label']})" in out
    run("rename-cluster", generated["id"], cluster["id"], "")
    listed = shown(generated["id"])["batches"][0]["clusters"][0]
    assert (listed["name"], listed["effective_label"]) == (None, cluster["label"])


def test_more_after_a_rename_says_more_like_the_musicians_name(data_dir, generated):
    cluster = generated["batches"][0]["clusters"][0]
    run("rename-cluster", generated["id"], cluster["id"], "Night Drive")
    code, out, err = run("more", generated["id"], cluster["id"][:8], "--clips", "1", "--seed", "3")
    assert code == 0, err
    assert 'more like "Night Drive"' in out
    assert f'more like "{cluster["label"]}"' not in out


def test_extend_takes_minutes_and_seconds_like_the_app(data_dir, generated):
    """--to 0:03 as the app's length field takes it; a length it cannot read is one line, nothing made."""
    track = generated["tracks"][0]
    code, out, err = run("extend", track["id"][:8], "--to", "0:03", "--seed", "2", "--json")
    assert code == 0, err
    (made,) = json.loads(out)["tracks"]
    assert made["duration_sec"] == 3.0
    before = media_wavs(data_dir)
    for bad in ("1:xx", "0:75", "soon"):
        code, out, err = run("extend", track["id"][:8], "--to", bad)
        assert code == 2 and out == "" and len(err.splitlines()) == 1
        assert "minutes:seconds (1:30)" in err and bad in err
    assert media_wavs(data_dir) == before


def test_delete_without_a_terminal_needs_yes(data_dir, generated):
    clip = clip_ids(generated)[0]
    before = sorted(media_wavs(data_dir))
    code, out, err = run("delete", "--track", clip)  # stdin here is not a terminal
    assert code == 2 and "add --yes" in err and err.count("\n") == 1
    assert sorted(media_wavs(data_dir)) == before
    code, _, err = run("delete", generated["id"], "--track", clip, "--yes")
    assert code == 2 and "exactly one" in err
    code, out, err = run("delete", "--track", clip[:8], "--yes", "--json")
    assert code == 0, err
    assert json.loads(out)["track_ids"] == [clip] and len(media_wavs(data_dir)) == len(before) - 1
    assert clip not in clip_ids(shown(generated["id"]))


def test_delete_a_batch_and_a_session(data_dir, generated):
    cluster = generated["batches"][0]["clusters"][0]
    code, out, err = run("more", generated["id"], cluster["id"], "--clips", "2", "--json")
    assert code == 0, err
    more = json.loads(out)["batches"][0]
    code, out, err = run("delete", "--batch", more["id"][:8], "--yes")
    assert code == 0 and out.startswith("deleted 2 clips and their audio files"), err
    code, out, err = run("delete", "--track", clip_ids(generated)[0], "--yes")
    assert code == 0 and out.startswith("deleted 1 clip and its audio file"), err
    assert [b["id"] for b in shown(generated["id"])["batches"]] == [generated["batches"][0]["id"]]
    code, out, err = run("delete", generated["id"][:8], "--yes", "--json")
    assert code == 0 and json.loads(out)["session_removed"] is True
    assert media_wavs(data_dir) == [] and run("sessions", "--json")[1].strip() == "[]"


@pytest.mark.parametrize(("answer", "deleted"), [("n", False), ("y", True)])
def test_delete_asks_at_a_terminal(data_dir, generated, answer, deleted):
    """A real pseudo-terminal as stdin: the question is asked, and only 'y' deletes."""
    import pty

    clip = clip_ids(generated)[0]
    master, slave = pty.openpty()
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-m", "sessionlab", "delete", "--track", clip[:8]],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        text=True,
    )
    os.close(slave)
    os.write(master, f"{answer}\n".encode())
    out, err = child.communicate(timeout=60)
    os.close(master)
    assert "Delete clip" in err and "[y/N]" in err
    assert (child.returncode == 0) is deleted
    assert (clip not in clip_ids(shown(generated["id"]))) is deleted
    if not deleted:
        assert "Nothing was deleted." in err


def test_extend_makes_a_longer_clip_beside_its_source(data_dir, generated):
    track = generated["tracks"][0]
    code, out, err = run("extend", track["id"][:8], "--to", "9.5", "--seed", "2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    (batch,) = doc["batches"]
    assert batch["kind"] == "extend" and batch["parent_cluster_id"] == track["cluster_id"]
    (made,) = doc["tracks"]
    assert made["duration_sec"] == 9.5
    code, out, err = run("extend", track["id"][:8], "--to", "1")
    assert code == 2 and "already 2.0 s long" in err and out == ""
    code, out, err = run("extend", track["id"][:8], "--to", "9.5")
    assert code == 0 and "extended from" in out
