"""``sessionlab dataset``: curation as an audiofolder dataset plus DPO-style preference pairs.

Real stores and WAVs; the dataset is read back by the Hugging Face ``datasets``
"audiofolder" loader. That loader's final step (encoding the audio column into
Arrow) imports torchcodec even for ``Audio(decode=False)``, and torchcodec is not
installed here, so one test runs the loader's own metadata discovery and example
generator (``_split_generators`` / ``_generate_examples``: the part that reads our
layout), and a second one, skipped without torchcodec, runs ``load_dataset`` whole
and casts the column to ``Audio(decode=False)``.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from pathlib import Path

import pytest

from core import curation
from core.cli import main
from core.errors import ValidationError
from core.export.dataset import DATASET_VERSION, write_dataset
from core.models import BriefParams
from core.store import SessionStore
from tests.core.store_child import add_one


@pytest.fixture
def store(data_dir: Path):
    with SessionStore(data_dir) as opened:
        yield opened


def curated(store: SessionStore, brief: str = "warm lofi piano") -> tuple[uuid.UUID, list[uuid.UUID]]:
    draft = store.draft_session(brief, BriefParams(duration_sec=0.1))
    add_one(store, draft.id, n_tracks=3, position=0, new_session=draft)
    add_one(store, draft.id, n_tracks=3, position=1)
    clips = [t.id for t in store.require_session(draft.id).tracks]
    curation.keep(store, clips[0])
    curation.rate(store, clips[0], 5)
    curation.set_tags(store, clips[0], ["Drums", "warm"])
    curation.set_note(store, clips[1], "too busy")
    curation.discard(store, clips[1])
    curation.rename_cluster(store, draft.id, store.require_session(draft.id).clusters[0].id, "Night Drive")
    curation.prefer(store, clips[2], clips[3], "a")
    curation.prefer(store, clips[2], clips[3], "b")  # changed their mind: the latest word stands
    curation.prefer(store, clips[0], clips[4], "same")  # a tie: no chosen/rejected pair
    return draft.id, clips


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): digest(p) for p in sorted(directory.rglob("*")) if p.is_file()}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_dataset_holds_every_marked_or_compared_clip_with_its_marks(store, tmp_path):
    session_id, clips = curated(store)
    result = write_dataset(store, [session_id], tmp_path / "ds")
    rows = read_jsonl(tmp_path / "ds" / "metadata.jsonl")
    # Marked: 0 (kept, rated, tagged), 1 (noted, discarded); compared decisively: 2 and 3. 4 and 5 carry no signal.
    assert [r["track_id"] for r in rows] == [str(c) for c in clips[:4]]
    assert result.clips == 4 and result.preferences == 1 and result.ties == 1
    first, second = rows[0], rows[1]
    assert (first["kept"], first["rating"], first["tags"], first["discarded"]) == (
        True,
        5,
        ["drums", "warm"],
        False,
    )
    assert (second["discarded"], second["note"], second["rating"]) == (True, "too busy", None)
    assert all(r["dataset_version"] == DATASET_VERSION for r in rows)
    assert first["brief"] == "warm lofi piano" and first["prompt"] == "clip 0" and first["seed"] == "0"
    named = [r for r in rows if r["cluster"] == "Night Drive"]
    assert named and all(
        r["cluster_label"] != "Night Drive" for r in named
    )  # the generated label travels too
    session = store.require_session(session_id)
    for row in rows:
        source = Path(session.find_track(uuid.UUID(row["track_id"]))[1].path)
        assert digest(tmp_path / "ds" / row["file_name"]) == digest(source)


def test_preferences_are_chosen_rejected_pairs_with_relative_paths(store, tmp_path):
    session_id, clips = curated(store)
    write_dataset(store, [session_id], tmp_path / "ds")
    pairs = read_jsonl(tmp_path / "ds" / "preferences.jsonl")
    assert len(pairs) == 1
    pair = pairs[0]
    assert (pair["chosen_id"], pair["rejected_id"]) == (str(clips[3]), str(clips[2]))  # the latest judgement
    assert pair["prompt"].startswith("a test brief") and pair["dataset_version"] == DATASET_VERSION
    for key in ("chosen", "rejected"):
        assert not Path(pair[key]).is_absolute() and (tmp_path / "ds" / pair[key]).is_file()
    assert {"prompt", "chosen", "rejected"} <= set(pair)


def test_the_audiofolder_loader_reads_the_layout(store, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    from datasets.download import DownloadManager

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    session_id, clips = curated(store)
    write_dataset(store, [session_id], tmp_path / "ds")
    builder = datasets.load_dataset_builder("audiofolder", data_dir=str(tmp_path / "ds"))
    splits = builder._split_generators(DownloadManager())
    assert [s.name for s in splits] == ["train"]
    features = builder.info.features
    assert isinstance(features["audio"], datasets.Audio)
    assert {"kept", "rating", "discarded", "tags", "note", "dataset_version"} <= set(features)
    examples = [example for _, example in builder._generate_examples(**splits[0].gen_kwargs)]
    assert [e["track_id"] for e in examples] == [str(c) for c in clips[:4]]
    for example in examples:
        assert Path(example["audio"]).is_file() and Path(example["audio"]).is_relative_to(tmp_path / "ds")
    assert examples[0]["rating"] == 5 and examples[1]["discarded"] is True


def test_load_dataset_whole_with_undecoded_audio(store, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    pytest.importorskip(
        "torchcodec", reason="datasets encodes audio columns with torchcodec, not installed here"
    )
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    session_id, clips = curated(store)
    write_dataset(store, [session_id], tmp_path / "ds")
    loaded = datasets.load_dataset("audiofolder", data_dir=str(tmp_path / "ds"), split="train")
    loaded = loaded.cast_column("audio", datasets.Audio(decode=False))
    assert loaded.num_rows == 4 and loaded[0]["rating"] == 5


def test_the_same_input_gives_the_same_bytes_and_a_second_run_changes_nothing(store, tmp_path):
    session_id, _ = curated(store)
    other, _ = curated(store, "bright techno")
    first = write_dataset(store, [session_id, other], tmp_path / "one")
    again = write_dataset(
        store, [other, session_id], tmp_path / "two"
    )  # order of the arguments does not matter
    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    assert first.files_written == 8
    files_before = tree(tmp_path / "one")
    rerun = write_dataset(store, [session_id, other], tmp_path / "one")
    assert (rerun.files_written, rerun.files_unchanged, rerun.files_removed) == (0, 8, 0)
    assert tree(tmp_path / "one") == files_before  # no duplicated file, nothing rewritten differently
    assert again.sessions == first.sessions


def test_a_second_run_drops_the_files_of_clips_no_longer_in_it(store, tmp_path):
    session_id, clips = curated(store)
    write_dataset(store, [session_id], tmp_path / "ds")
    curation.keep(store, clips[0], kept=False)
    curation.rate(store, clips[0], None)
    curation.set_tags(store, clips[0], [])
    result = write_dataset(store, [session_id], tmp_path / "ds")
    assert result.files_removed == 1 and result.clips == 3
    listed = {r["file_name"] for r in read_jsonl(tmp_path / "ds" / "metadata.jsonl")}
    on_disk = {str(p.relative_to(tmp_path / "ds")) for p in (tmp_path / "ds" / "audio").rglob("*.wav")}
    assert listed == on_disk


def test_a_folder_holding_other_things_is_refused_and_left_alone(store, tmp_path):
    session_id, _ = curated(store)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "metadata.jsonl").write_text("my own\n")
    with pytest.raises(ValidationError, match="not empty"):
        write_dataset(store, [session_id], foreign)
    with pytest.raises(ValidationError, match="inside the session folders"):
        write_dataset(store, [session_id], store.root / "media" / str(session_id) / "ds")
    assert tree(foreign) == {"metadata.jsonl": digest(foreign / "metadata.jsonl")}


def test_a_file_in_the_way_with_other_bytes_is_never_overwritten(store, tmp_path):
    session_id, _ = curated(store)
    result = write_dataset(store, [session_id], tmp_path / "ds")
    row = read_jsonl(tmp_path / "ds" / "metadata.jsonl")[0]
    target = tmp_path / "ds" / row["file_name"]
    target.write_bytes(b"someone else's take")
    before = tree(tmp_path / "ds")
    with pytest.raises(ValidationError, match="other content"):
        write_dataset(store, [session_id], tmp_path / "ds")
    assert tree(tmp_path / "ds") == before and result.clips == 4


def test_the_cli_writes_a_dataset_of_every_session_by_default(data_dir, tmp_path):
    with SessionStore(data_dir) as store:
        first, _ = curated(store)
        second, _ = curated(store, "bright techno")
    out, err = io.StringIO(), io.StringIO()
    assert main(["dataset", "--to", str(tmp_path / "ds"), "--json"], out=out, err=err) == 0, err.getvalue()
    doc = json.loads(out.getvalue())
    assert set(doc["sessions"]) == {str(first), str(second)} and doc["clips"] == 8
    out = io.StringIO()
    assert main(["dataset", str(first)[:8], "--to", str(tmp_path / "one")], out=out, err=err) == 0
    assert (
        out.getvalue().startswith("dataset v1 in ")
        and "4 clips, 1 preference pair (1 tie left out)" in out.getvalue()
    )
    err = io.StringIO()
    assert main(["dataset", "--to", str(tmp_path)], out=io.StringIO(), err=err) == 2
    assert err.getvalue().count("\n") == 1 and "not empty" in err.getvalue()
