"""Curation: keep, rate, discard, notes, tags, cluster names, preferences, analysis and deletes.

Real data dirs, real SQLite files and real WAVs (tests.core.store_child builds the batches).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest

from core import curation, curation_file, manifest, paths
from core.curation_models import ClipAnalysis, Curation, Preference
from core.errors import NotFoundError, StorageError, ValidationError
from core.models import new_id, utcnow
from core.store import SessionStore
from core.store.schema import MIGRATIONS, migrate
from tests.core.store_child import add_one


@pytest.fixture
def store(data_dir: Path):
    with SessionStore(data_dir) as opened:
        yield opened


def new_session(store: SessionStore, *, batches: int = 2, tracks: int = 3) -> uuid.UUID:
    draft = store.draft_session("warm lofi piano", store_params())
    add_one(store, draft.id, n_tracks=tracks, position=0, new_session=draft)
    for position in range(1, batches):
        add_one(store, draft.id, n_tracks=tracks, position=position)
    return draft.id


def store_params():
    from core.models import BriefParams

    return BriefParams(duration_sec=0.1)


def file_doc(store: SessionStore, session_id: uuid.UUID) -> dict:
    return json.loads(curation_file.curation_path(store.root, session_id).read_bytes())


# ----------------------------------------------------------------- models


@pytest.mark.parametrize("rating", [0, 6, -1, 2.5, True, "3"])
def test_a_rating_outside_1_to_5_is_refused_with_one_sentence(rating):
    with pytest.raises(ValidationError) as caught:
        Curation(rating=rating)
    assert str(caught.value).endswith(".") and "\n" not in str(caught.value)


def test_tags_are_lower_case_sorted_unique_and_never_empty():
    assert Curation(tags=("Lo-Fi", "drums", "lo-fi", "  warm   pad ")).tags == ("drums", "lo-fi", "warm pad")
    for bad in ("", "   ", "x" * 41, "a\x1bb"):
        with pytest.raises(ValidationError):
            Curation(tags=(bad,))
    with pytest.raises(ValidationError, match="list of words"):
        Curation(tags="drums")


def test_a_note_is_bounded_and_plain_text():
    assert Curation(note="  two\nlines ").note == "two\nlines"
    with pytest.raises(ValidationError, match="limit is 2000"):
        Curation(note="x" * 2001)
    with pytest.raises(ValidationError, match="control"):
        Curation(note="bad \x1b[31m colour")


def test_a_preference_needs_two_different_clips_and_a_known_choice():
    a, b = new_id(), new_id()
    with pytest.raises(ValidationError, match="itself"):
        Preference(id=new_id(), session_id=new_id(), track_a=a, track_b=a, choice="a", created_at=utcnow())
    with pytest.raises(ValidationError, match="'a', 'b' or 'same'"):
        Preference(id=new_id(), session_id=new_id(), track_a=a, track_b=b, choice="c", created_at=utcnow())
    same = Preference(
        id=new_id(), session_id=new_id(), track_a=a, track_b=b, choice="same", created_at=utcnow()
    )
    assert same.chosen is None and same.rejected is None
    picked = Preference(
        id=new_id(), session_id=new_id(), track_a=a, track_b=b, choice="b", created_at=utcnow()
    )
    assert (picked.chosen, picked.rejected) == (b, a)


def test_clip_analysis_is_checked():
    assert ClipAnalysis(bpm=120, key=" A  minor ", source="engine").key == "A minor"
    for bad in ({"bpm": 0}, {"bpm": float("nan")}, {"source": "guess"}, {"key": ""}, {"lufs": float("inf")}):
        with pytest.raises(ValidationError):
            ClipAnalysis(**bad)


# ----------------------------------------------------------------- marks


def test_marks_are_stored_read_back_and_undone(store):
    session_id = new_session(store)
    session = store.require_session(session_id)
    first, second = session.tracks[0].id, session.tracks[1].id
    assert store.get_curation(first) == Curation() and store.get_curations(session_id) == {}
    curation.keep(store, first)
    curation.rate(store, first, 4)
    curation.set_note(store, first, "great groove")
    curation.add_tag(store, first, "Drums")
    curation.add_tag(store, first, "bass")
    curation.discard(store, second)
    assert store.get_curation(first) == Curation(
        kept=True, rating=4, tags=("bass", "drums"), note="great groove"
    )
    assert store.get_curations(session_id) == {
        first: Curation(kept=True, rating=4, tags=("bass", "drums"), note="great groove"),
        second: Curation(discarded=True),
    }
    curation.remove_tag(store, first, "DRUMS")
    curation.keep(store, first, kept=False)
    curation.rate(store, first, None)
    curation.set_note(store, first, "")
    curation.set_tags(store, first, [])
    curation.discard(store, second, discarded=False)
    assert store.get_curations(session_id) == {}  # only clips with marks
    # The generated rows and the audio are untouched by curation.
    assert store.require_session(session_id).tracks == session.tracks
    assert all(Path(t.path).is_file() for t in session.tracks)


def test_bad_input_writes_nothing(store):
    session_id = new_session(store, batches=1)
    track = store.require_session(session_id).tracks[0].id
    curation.rate(store, track, 3)
    before = curation_file.curation_path(store.root, session_id).read_bytes()
    for call in (
        lambda: curation.rate(store, track, 0),
        lambda: curation.rate(store, track, 6),
        lambda: curation.add_tag(store, track, "  "),
        lambda: curation.set_note(store, track, "n" * 3000),
        lambda: curation.keep(store, track, kept="yes"),
        lambda: curation.keep(store, str(track)),
    ):
        with pytest.raises(ValidationError):
            call()
    with pytest.raises(NotFoundError, match="No clip"):
        curation.keep(store, new_id())
    assert store.get_curation(track) == Curation(rating=3)
    assert curation_file.curation_path(store.root, session_id).read_bytes() == before


def test_a_change_is_one_transaction_read_and_write(store):
    """A change that fails half-way (bad marks from the caller) leaves the stored marks as they were."""
    session_id = new_session(store, batches=1)
    track = store.require_session(session_id).tracks[0].id
    curation.keep(store, track)

    def broken(current):
        raise ValidationError("no")

    with pytest.raises(ValidationError):
        store.update_curation(track, broken)
    assert store.get_curation(track) == Curation(kept=True)


def test_a_cluster_gets_the_musicians_name_and_keeps_its_generated_label(store):
    session_id = new_session(store, batches=1)
    cluster = store.require_session(session_id).clusters[0]
    curation.rename_cluster(store, session_id, cluster.id, "  Night   Drive ")
    assert store.get_cluster_names(session_id) == {cluster.id: "Night Drive"}
    stored = store.get_cluster(session_id, cluster.id)
    assert stored.label == cluster.label  # the generated label stays on the cluster
    assert curation.effective_label(stored, store.get_cluster_names(session_id)) == "Night Drive"
    curation.rename_cluster(store, session_id, cluster.id, "")
    assert store.get_cluster_names(session_id) == {}
    assert curation.effective_label(stored, {}) == cluster.label
    with pytest.raises(ValidationError, match="one line"):
        curation.rename_cluster(store, session_id, cluster.id, "two\x1blines")
    with pytest.raises(ValidationError, match="limit is 120"):
        curation.rename_cluster(store, session_id, cluster.id, "n" * 121)
    other = new_session(store, batches=1)
    with pytest.raises(NotFoundError):
        curation.rename_cluster(store, other, cluster.id, "Elsewhere")


def test_a_preference_is_stored_with_both_clips_the_time_and_the_briefs(store):
    session_id = new_session(store)
    tracks = store.require_session(session_id).tracks
    a, b = tracks[0].id, tracks[4].id  # from two batches
    before = utcnow()
    stored = curation.prefer(store, a, b, "b")
    assert (stored.chosen, stored.rejected) == (b, a)
    assert before <= stored.created_at <= utcnow()
    assert stored.brief_a.startswith("a test brief") and stored.brief_b.startswith("a test brief")
    curation.prefer(store, a, b, "same")
    assert [p.choice for p in store.get_preferences(session_id)] == ["b", "same"]
    assert store.get_preferences(session_id)[0] == stored


def test_a_preference_refuses_one_clip_twice_and_clips_of_two_sessions(store):
    first = new_session(store, batches=1)
    second = new_session(store, batches=1)
    a = store.require_session(first).tracks[0].id
    elsewhere = store.require_session(second).tracks[0].id
    with pytest.raises(ValidationError, match="itself"):
        curation.prefer(store, a, a, "a")
    with pytest.raises(ValidationError, match="different sessions"):
        curation.prefer(store, a, elsewhere, "a")
    with pytest.raises(ValidationError, match="'a', 'b' or 'same'"):
        curation.prefer(store, a, store.require_session(first).tracks[1].id, "better")
    assert store.get_preferences(first) == [] and store.get_preferences(second) == []


def test_the_database_refuses_what_the_code_would_refuse(store):
    """The tables check ratings and choices themselves (a second line of defence)."""
    session_id = new_session(store, batches=1)
    track = str(store.require_session(session_id).tracks[0].id)
    conn = sqlite3.connect(store.db_file)
    conn.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO curation (track_id, session_id, rating, updated_at) VALUES (?, ?, 6, 'x')",
            (track, str(session_id)),
        )
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO preferences VALUES ('p', ?, ?, ?, 'a', 'x', '', '')", (str(session_id), track, track)
        )
    conn.close()


def test_analysis_is_stored_and_replaced(store):
    session_id = new_session(store, batches=1)
    track = store.require_session(session_id).tracks[0].id
    assert store.get_analysis([track]) == {}
    store.put_analysis(track, ClipAnalysis(bpm=92.0, key="A minor", source="engine"))
    store.put_analysis(
        track, ClipAnalysis(bpm=92.0, key="A minor", source="engine", lufs=-14.2, true_peak_dbtp=-1.5)
    )
    assert store.get_analysis([track, new_id()]) == {
        track: ClipAnalysis(bpm=92.0, key="A minor", source="engine", lufs=-14.2, true_peak_dbtp=-1.5)
    }
    with pytest.raises(NotFoundError):
        store.put_analysis(new_id(), ClipAnalysis())


def test_the_migration_brings_a_version_2_database_forward(tmp_path):
    """A database of schema 2 with a session opens, keeps its rows and gains the curation tables."""
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    migrate(conn, MIGRATIONS[:2])
    conn.execute("INSERT INTO sessions VALUES ('s', 't', 't', 'brief', '{}', '')")
    assert migrate(conn, MIGRATIONS) == len(MIGRATIONS)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"curation", "cluster_names", "preferences", "clip_analysis"} <= tables
    assert conn.execute("SELECT brief_text FROM sessions").fetchone()[0] == "brief"


def test_a_read_only_store_reads_curation_and_refuses_to_write(store, data_dir):
    session_id = new_session(store, batches=1)
    track = store.require_session(session_id).tracks[0].id
    curation.keep(store, track)
    with SessionStore(data_dir, read_only=True) as reader:
        assert reader.get_curations(session_id) == {track: Curation(kept=True)}
        with pytest.raises(StorageError):
            curation.rate(reader, track, 2)


# ----------------------------------------------------------------- the curation file


def test_every_change_reaches_the_curation_file_beside_the_audio(store):
    session_id = new_session(store)
    session = store.require_session(session_id)
    a, b = session.tracks[0].id, session.tracks[1].id
    curation.keep(store, a)
    curation.rate(store, a, 5)
    curation.rename_cluster(store, session_id, session.clusters[0].id, "Keeper")
    pref = curation.prefer(store, a, b, "a")
    doc = file_doc(store, session_id)
    assert doc["kind"] == "sessionlab-curation" and doc["session_id"] == str(session_id)
    assert doc["clips"][str(a)]["kept"] is True and doc["clips"][str(a)]["rating"] == 5
    assert doc["cluster_names"][str(session.clusters[0].id)]["name"] == "Keeper"
    assert doc["preferences"][str(pref.id)]["choice"] == "a"


def test_the_file_keeps_newer_marks_that_an_older_database_lacks(store):
    """A write merges by time: a database restored from an older copy cannot wipe newer marks."""
    session_id = new_session(store, batches=1)
    a, b = [t.id for t in store.require_session(session_id).tracks[:2]]
    curation.rate(store, a, 5)
    # The database forgets the rating (as an older backup would), then another mark is made.
    with store._writing() as conn:
        conn.execute("DELETE FROM curation")
    curation.keep(store, b)
    doc = file_doc(store, session_id)
    assert doc["clips"][str(a)]["rating"] == 5 and doc["clips"][str(b)]["kept"] is True


def test_a_missing_or_damaged_file_is_rebuilt_from_the_database_and_the_damaged_one_kept(store):
    session_id = new_session(store, batches=1)
    a, b = [t.id for t in store.require_session(session_id).tracks[:2]]
    curation.rate(store, a, 2)
    path = curation_file.curation_path(store.root, session_id)
    path.unlink()
    curation.keep(store, b)
    assert set(file_doc(store, session_id)["clips"]) == {str(a), str(b)}
    path.write_text("{ damaged")
    curation.discard(store, b)
    assert set(file_doc(store, session_id)["clips"]) == {str(a), str(b)}
    aside = list((store.root / "kept-aside").rglob("curation*"))
    assert [p.read_text() for p in aside] == ["{ damaged"]


def test_the_sweep_and_doctor_know_the_curation_file_of_a_known_session(store, data_dir):
    from core import doctor

    session_id = new_session(store, batches=1)
    curation.keep(store, store.require_session(session_id).tracks[0].id)
    store.close()
    with SessionStore(data_dir) as again:
        assert again.swept_at_open == 0
        assert curation_file.curation_path(data_dir, session_id).is_file()
    report = doctor.examine(data_dir)
    assert report.healthy, report.lines()


# ----------------------------------------------------------------- deletes


def test_deleting_a_clip_removes_its_row_its_marks_and_its_file_only(store):
    session_id = new_session(store, batches=2, tracks=3)
    session = store.require_session(session_id)
    victim, other = session.batches[0].tracks[0], session.batches[0].tracks[1]
    curation.keep(store, victim.id)
    curation.keep(store, other.id)
    curation.prefer(store, victim.id, other.id, "a")
    gone = curation.delete_track(store, victim.id)
    assert gone.track_ids == (victim.id,) and gone.batch_ids == () and not gone.session_removed
    assert not Path(victim.path).exists() and Path(other.path).is_file()
    after = store.require_session(session_id)
    assert victim.id not in {t.id for t in after.tracks} and len(after.tracks) == 5
    assert victim.id not in {t for c in after.clusters for t in c.track_ids}
    assert store.get_curations(session_id) == {other.id: Curation(kept=True)}
    assert store.get_preferences(session_id) == []  # a judgement needs both clips
    doc = file_doc(store, session_id)
    assert str(victim.id) not in doc["clips"] and doc["preferences"] == {}
    record = manifest.read(manifest.manifest_path(store.root, session_id, victim.batch_id), store.root)
    assert victim.id not in {t.id for t in record.batch.tracks}
    with pytest.raises(NotFoundError):
        curation.delete_track(store, victim.id)


def test_deleting_the_last_clip_of_a_cluster_removes_the_cluster(store):
    session_id = new_session(store, batches=2, tracks=3)
    batch = store.require_session(session_id).batches[0]
    lonely = next(c for c in batch.clusters if len(c.track_ids) == 1)
    curation.rename_cluster(store, session_id, lonely.id, "Solo")
    gone = curation.delete_track(store, lonely.track_ids[0])
    assert gone.cluster_ids == (lonely.id,)
    assert store.get_cluster(session_id, lonely.id) is None
    assert store.get_cluster_names(session_id) == {}
    record = manifest.read(manifest.manifest_path(store.root, session_id, batch.id), store.root)
    assert lonely.id not in {c.id for c in record.batch.clusters}


def test_deleting_the_last_clip_of_a_batch_removes_the_batch_and_its_manifest(store):
    session_id = new_session(store, batches=2, tracks=1)
    batch = store.require_session(session_id).batches[0]
    gone = curation.delete_track(store, batch.tracks[0].id)
    assert gone.batch_ids == (batch.id,) and not gone.session_removed
    assert store.get_batch(session_id, batch.id) is None
    assert not manifest.manifest_path(store.root, session_id, batch.id).exists()
    assert len(store.require_session(session_id).batches) == 1


def test_deleting_the_last_batch_removes_the_session_and_its_folder(store):
    session_id = new_session(store, batches=1, tracks=2)
    batch = store.require_session(session_id).batches[0]
    gone = curation.delete_batch(store, batch.id)
    assert gone.session_removed and set(gone.track_ids) == {t.id for t in batch.tracks}
    assert store.get_session(session_id) is None
    assert not paths.session_media_dir(store.root, session_id).exists()
    assert store.list_sessions() == []


def test_deleting_a_batch_keeps_the_others(store):
    session_id = new_session(store, batches=2, tracks=2)
    first, second = store.require_session(session_id).batches
    curation.keep(store, first.tracks[0].id)
    curation.keep(store, second.tracks[0].id)
    gone = curation.delete_batch(store, first.id)
    assert gone.batch_ids == (first.id,) and not gone.session_removed
    assert not any(Path(t.path).exists() for t in first.tracks)
    assert all(Path(t.path).is_file() for t in second.tracks)
    assert not manifest.manifest_path(store.root, session_id, first.id).exists()
    assert store.get_curations(session_id) == {second.tracks[0].id: Curation(kept=True)}
    assert set(file_doc(store, session_id)["clips"]) == {str(second.tracks[0].id)}
    with pytest.raises(NotFoundError, match="No batch"):
        curation.delete_batch(store, first.id)


def test_files_go_only_after_the_rows_commit(store, monkeypatch):
    """A delete whose transaction fails removes no file."""
    session_id = new_session(store, batches=2, tracks=2)
    track = store.require_session(session_id).tracks[0]
    real = store._writing

    def failing():
        raise StorageError("The session database is busy.")

    monkeypatch.setattr(store, "_writing", failing)
    with pytest.raises(StorageError):
        curation.delete_track(store, track.id)
    monkeypatch.setattr(store, "_writing", real)
    assert Path(track.path).is_file() and store.get_track(session_id, track.id) is not None


def test_resolving_clip_and_batch_prefixes(store):
    session_id = new_session(store, batches=1)
    session = store.require_session(session_id)
    track, batch = session.tracks[0], session.batches[0]
    assert store.resolve_track_id(str(track.id)[:8]) == track.id
    assert store.resolve_track_id(str(track.id).upper()) == track.id
    assert store.resolve_batch_id(str(batch.id)[:8]) == batch.id
    with pytest.raises(NotFoundError, match="No clip"):
        store.resolve_track_id("ffffffff-0000")
    with pytest.raises(ValidationError, match="too short"):
        store.resolve_batch_id("ab")


def test_two_stores_on_one_data_dir_never_drop_each_others_marks_from_the_file(store, data_dir):
    """Each store keeps the file it wrote parsed; a write by the other (a new file) makes it read again."""
    session_id = new_session(store, batches=1)
    a, b, c = [t.id for t in store.require_session(session_id).tracks]
    with SessionStore(data_dir) as other:
        curation.keep(store, a)
        curation.keep(other, b)
        curation.keep(store, c)
        curation.rate(other, a, 2)
    clips = file_doc(store, session_id)["clips"]
    assert {k: (v["kept"], v["rating"]) for k, v in clips.items()} == {
        str(a): (True, 2),
        str(b): (True, None),
        str(c): (True, None),
    }


def test_the_file_is_the_same_bytes_as_plain_sorted_json(store):
    session_id = new_session(store, batches=1)
    tracks = store.require_session(session_id).tracks
    curation.set_note(store, tracks[0].id, "ünïcode ✓")
    curation.add_tag(store, tracks[1].id, "drums")
    curation.prefer(store, tracks[0].id, tracks[1].id, "b")
    raw = curation_file.curation_path(store.root, session_id).read_bytes()
    assert (
        raw == json.dumps(json.loads(raw), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    )


def test_a_crash_between_the_rows_and_the_files_leaves_the_file_kept_aside(store, data_dir, monkeypatch):
    """Rows committed, then the process dies before removing the file: the next start keeps it aside."""
    session_id = new_session(store, batches=2, tracks=2)
    track = store.require_session(session_id).tracks[0]

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # stands in for a kill after the commit

    monkeypatch.setattr(store, "_remove_files", crash)
    with pytest.raises(KeyboardInterrupt):
        curation.delete_track(store, track.id)
    assert store.get_track(session_id, track.id) is None and Path(track.path).is_file()
    store.close()
    with SessionStore(data_dir) as again:
        assert again.swept_at_open == 1
    assert not Path(track.path).exists()
    assert (data_dir / "kept-aside" / "media" / str(session_id) / Path(track.path).name).is_file()


def test_typed_tags_split_on_commas_else_on_spaces():
    assert curation.parse_tags("Dusty Drums, warm,, warm ") == ("dusty drums", "warm")
    assert curation.parse_tags("intro  Outro intro") == ("intro", "outro")
    assert curation.parse_tags("   ") == ()
    with pytest.raises(ValidationError) as caught:
        curation.parse_tags("ok, " + "x" * 41)
    assert str(caught.value) == "The tag 'xxxxxxxxxxxxxxxxxxxx'... is 41 characters long; the limit is 40."


def test_tags_and_note_are_replaced_together_or_not_at_all(store):
    session_id = new_session(store, batches=1)
    track = store.require_session(session_id).tracks[0].id
    curation.keep(store, track)
    marks = curation.annotate(store, track, ["Warm", "intro"], "  before the drop\nsecond line ")
    assert marks == Curation(kept=True, tags=("intro", "warm"), note="before the drop\nsecond line")
    assert store.get_curation(track) == marks
    before = curation_file.curation_path(store.root, session_id).read_bytes()
    for tags, note in ((["fine"], "n" * 3000), (["x" * 41], "fine"), ("one string", "fine")):
        with pytest.raises(ValidationError):
            curation.annotate(store, track, tags, note)
    assert store.get_curation(track) == marks
    assert curation_file.curation_path(store.root, session_id).read_bytes() == before
