"""Nothing is lost: the sweep keeps unknown audio aside, manifests and backups rebuild the database.

Real data dirs, real SQLite files, real WAVs from the embedded sketch engine, and
the CLI through core.cli.main (one test through a fresh process, as in the issue).
"""

from __future__ import annotations

import gc
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from core import backup, manifest, paths
from core.cli import main
from core.store import SessionStore
from tests.core.store_child import SPACE, add_one, make_batch

REPO = Path(__file__).resolve().parents[2]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    gc.collect()  # the CLI leaves its store to the garbage collector: close it before files are changed
    return code, out.getvalue(), err.getvalue()


def wav_digests(root: Path) -> dict[str, str]:
    """Every WAV anywhere under the data dir (media, kept aside), by name, with its content's digest."""
    return {
        p.name.split("~")[0].removesuffix(".wav"): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*.wav")
        if "tmp" not in p.relative_to(root).parts
    }


def generate(*extra: str) -> dict:
    code, out, err = run(
        "generate",
        "--brief",
        "slow dark ambient pad",
        "--clips",
        "3",
        "--duration",
        "1",
        "--seed",
        "5",
        "--json",
    )
    assert code == 0, err
    return json.loads(out)


def more(session: dict) -> dict:
    cluster = session["batches"][0]["clusters"][0]
    code, out, err = run("more", session["id"], cluster["id"], "--clips", "2", "--seed", "9", "--json")
    assert code == 0, err
    return json.loads(out)


def show(session_id: str) -> dict:
    code, out, err = run("show", session_id, "--json")
    assert code == 0, err
    doc = json.loads(out)
    doc.pop("updated_at")  # a rebuilt session's time of last change is its newest batch's
    return doc


def vectors(root: Path) -> dict[str, tuple[str, int, bytes]]:
    conn = sqlite3.connect(paths.db_path(root))
    try:
        embeddings = {f"e{t}": (s, d, v) for t, s, d, v in conn.execute("SELECT * FROM embeddings")}
        centroids = {f"c{c}": (s, d, v) for c, s, d, v in conn.execute("SELECT * FROM centroids")}
    finally:
        conn.close()  # before the test empties the file under it
    return embeddings | centroids


def copy_database(source: Path, target: Path) -> None:
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def wreck(root: Path, how: str, older: Path | None = None) -> None:
    db = paths.db_path(root)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    if how == "deleted":
        db.unlink()
    elif how == "emptied":
        db.write_bytes(b"")
    elif how == "older":
        assert older is not None
        db.unlink()
        copy_database(older, db)


# --------------------------------------------------------------------------- the sweep keeps audio


@pytest.mark.parametrize("how", ["emptied", "deleted"])
def test_any_command_on_a_lost_database_keeps_every_wav(data_dir, how):
    """The issue's reproduction, in a fresh process: generate, lose the db, `sessionlab sessions`."""
    session = generate()
    before = wav_digests(data_dir)
    assert len(before) == 3
    wreck(data_dir, how)
    result = subprocess.run(
        [sys.executable, "-m", "sessionlab", "sessions"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert wav_digests(data_dir) == before  # every clip, byte for byte
    assert "sessionlab recover" in result.stdout  # not "No sessions yet": something can come back
    SessionStore(data_dir).close()  # and a writing open (generate, more, import, the app) keeps them too
    assert wav_digests(data_dir) == before
    # A reading command may leave them in place or a writing open keep them aside: either way
    # the clips and their manifest stay together, for recover.
    aside = data_dir / "kept-aside" / "media" / session["id"]
    home = aside if aside.is_dir() else data_dir / "media" / session["id"]
    assert sorted(p.stem for p in home.glob("*.wav")) == sorted(before)
    assert (home / f"{session['batches'][0]['id']}.json").is_file()


def test_an_older_database_does_not_cost_the_newer_batches(data_dir, tmp_path):
    session = generate()
    copy_database(paths.db_path(data_dir), tmp_path / "old.db")
    more(session)
    before = wav_digests(data_dir)
    assert len(before) >= 4
    wreck(data_dir, "older", tmp_path / "old.db")
    code, _, err = run("sessions")
    assert code == 0, err
    SessionStore(data_dir).close()  # a writing open sweeps: it sets aside, never deletes
    assert wav_digests(data_dir) == before


def test_the_sweep_moves_unknown_things_aside_and_never_overwrites(data_dir):
    with SessionStore(data_dir) as store:
        session = store.create_session("brief", backup_params())
        add_one(store, session.id, n_tracks=2, position=0)
        media = paths.session_media_dir(data_dir, session.id)
        stray = media / f"{uuid.uuid4()}.wav"
        stray.write_bytes(b"first")
        folder = media / "stems"
        folder.mkdir()
        (folder / "kick.wav").write_bytes(b"kick")
        assert store.sweep_orphans() == 2
        aside = data_dir / "kept-aside" / "media" / str(session.id)
        assert (aside / stray.name).read_bytes() == b"first"
        assert (aside / "stems" / "kick.wav").read_bytes() == b"kick"
        stray.write_bytes(b"second")  # the same name turns up again
        assert store.sweep_orphans() == 1
        assert (aside / stray.name).read_bytes() == b"first"
        assert (aside / f"{stray.stem}~1.wav").read_bytes() == b"second"
        assert store.sweep_orphans() == 0
        assert len(store.require_session(session.id).tracks) == 2


def backup_params():
    from core.models import BriefParams

    return BriefParams(duration_sec=1.0)


# --------------------------------------------------------------------------- manifests


def test_add_batch_writes_a_manifest_that_reads_back_as_the_stored_batch(data_dir):
    with SessionStore(data_dir) as store:
        session = store.create_session("a brief", backup_params(), name="Night")
        batch_id = add_one(store, session.id, n_tracks=3, position=0)
        stored = store.require_session(session.id)
        path = manifest.manifest_path(data_dir, session.id, batch_id)
        doc = json.loads(path.read_text())
        assert doc["format"] == manifest.FORMAT and doc["kind"] == manifest.KIND
        record = manifest.read(path, data_dir)
        assert record.session.name == "Night" and record.session.brief_text == "a brief"
        assert record.batch == stored.batches[0]
        centroids, embeddings = record.vectors[SPACE]
        assert set(embeddings) == {t.id for t in stored.tracks}
        for track_id, vector in store.get_embeddings(list(embeddings), SPACE).items():
            assert embeddings[track_id].tobytes() == vector.tobytes()
        for cluster in stored.batches[0].clusters:
            assert (
                centroids[cluster.id].tobytes() == store.get_centroid(session.id, cluster.id, SPACE).tobytes()
            )
        # A rename reaches the manifests, so a rebuilt session keeps its new name.
        store.rename_session(session.id, "Dawn")
        assert manifest.read(path, data_dir).session.name == "Dawn"
        assert store.sweep_orphans() == 0  # a batch's manifest is named by its row


def test_a_batch_that_fails_to_commit_leaves_no_manifest(data_dir):
    from core.errors import ValidationError

    with SessionStore(data_dir) as store:
        session = store.create_session("a brief", backup_params())
        batch_id = add_one(store, session.id, n_tracks=2, position=0)
        # The same batch id again: the insert fails, and the stored batch's manifest is untouched.
        with (
            pytest.raises(ValidationError, match="cannot be stored"),
            store.staging_dir(uuid.uuid4()) as staging,
        ):
            batch, centroids, embeddings, staged = make_batch(store, session.id, staging, batch_id=batch_id)
            store.add_batch(
                session.id, batch, centroids, space=SPACE, embeddings=embeddings, staged_files=staged
            )
        media = paths.session_media_dir(data_dir, session.id)
        assert [p.name for p in media.glob("*.json")] == [f"{batch_id}.json"]
        assert manifest.read(media / f"{batch_id}.json", data_dir).batch.id == batch_id


# --------------------------------------------------------------------------- recover


@pytest.mark.parametrize(
    ("how", "flags"),
    [("deleted", ["--no-backups"]), ("emptied", []), ("older", ["--no-backups"]), ("older", [])],
    ids=["deleted-from-manifests", "emptied-with-backups", "older-from-manifests", "older-with-backups"],
)
def test_recover_brings_back_every_clip_cluster_label_order_and_vector(data_dir, tmp_path, how, flags):
    session = generate()
    copy_database(paths.db_path(data_dir), tmp_path / "old.db")
    more(session)
    expected = show(session["id"])
    expected_vectors = vectors(data_dir)
    files = wav_digests(data_dir)
    assert len(expected["tracks"]) == len(files) >= 4

    wreck(data_dir, how, tmp_path / "old.db")
    SessionStore(data_dir).close()  # a writing open's sweep sets aside what the database does not know
    code, out, err = run("recover", *flags)
    assert code == 0, err + out
    assert out.count("recovered batch ") == (1 if how == "older" else 2), out
    assert out.splitlines()[-1].endswith("; 0 problems."), out

    assert show(session["id"]) == expected  # clips, clusters, labels, order, every field
    assert vectors(data_dir) == expected_vectors
    assert wav_digests(data_dir) == files
    for track in expected["tracks"]:
        assert Path(track["path"]).is_file()

    # Idempotent: nothing more to do, nothing moved.
    code, out, _ = run("recover", *flags)
    assert code == 0 and out.startswith("Nothing to recover")
    assert show(session["id"]) == expected
    # And the rebuilt session works: more like a cluster of the recovered batch.
    child = expected["batches"][1]["clusters"][0]
    code, out, err = run("more", session["id"], child["id"], "--clips", "1", "--json")
    assert code == 0, err
    assert json.loads(out)["batches"][0]["parent_cluster_id"] == child["id"]


def test_recover_reports_what_it_could_not_bring_back(data_dir):
    session = generate()
    lost = Path(session["tracks"][0]["path"])
    wreck(data_dir, "emptied")
    SessionStore(data_dir).close()  # a writing open's sweep sets the clips aside
    aside = data_dir / "kept-aside" / "media" / session["id"] / lost.name
    aside.unlink()  # that clip's WAV is gone for good
    code, out, err = run("recover", "--json")
    assert code == 1, err
    report = json.loads(out)
    assert report["clips"] == 2 and len(report["batches"]) == 1
    assert len(report["problems"]) == 1 and "1 clip left out, file missing" in report["problems"][0]
    assert lost.stem[:8] in report["problems"][0]
    doc = show(session["id"])
    assert len(doc["tracks"]) == 2 and all(t["file_problem"] is None for t in doc["tracks"])
    # The manifest that still names the lost clip stays aside (never deleted), and a second run is quiet.
    assert (
        data_dir / "kept-aside" / "media" / session["id"] / f"{session['batches'][0]['id']}.json"
    ).is_file()
    code, out, _ = run("recover")
    assert code == 0 and out.startswith("Nothing to recover")


def test_recover_from_a_backup_alone(data_dir):
    """Manifests lost as well (an older Session Lab made the batch): the backup still knows the rows."""
    session = generate()
    assert len(backup.list_backups(data_dir)) == 1  # taken after the first batch was stored
    for path in paths.session_media_dir(data_dir, uuid.UUID(session["id"])).glob("*.json"):
        path.unlink()
    expected = show(session["id"])
    wreck(data_dir, "emptied")
    code, out, err = run("recover")
    assert code == 0, err
    assert "from backup sessionlab-" in out
    assert show(session["id"]) == expected
    assert manifest.manifest_path(
        data_dir, uuid.UUID(session["id"]), uuid.UUID(session["batches"][0]["id"])
    ).is_file()


# --------------------------------------------------------------------------- backups


def test_backups_are_taken_when_due_never_of_an_empty_or_unchanged_database_and_rotate(data_dir, monkeypatch):
    with SessionStore(data_dir) as store:
        assert backup.list_backups(data_dir) == []  # nothing to keep yet
        session = store.create_session("brief", backup_params())
        add_one(store, session.id, n_tracks=8, position=0)
        [first] = backup.list_backups(data_dir)  # the first batch: a backup was due
        add_one(store, session.id, n_tracks=1, position=1)
        assert backup.list_backups(data_dir) == [first]  # not due again yet
        assert backup.take(data_dir, store.db_file) is not None  # changed since: a new copy
        assert backup.take(data_dir, store.db_file) is None  # unchanged: no copy
        copy = sqlite3.connect(f"{first.as_uri()}?mode=ro", uri=True)
        assert copy.execute("SELECT count(*) FROM tracks").fetchone() == (8,)
        copy.close()
        # Wiped, then a little new work: the copy that knows the most survives the rotation.
        store.delete_session(session.id)
        assert backup.take(data_dir, store.db_file, force=True) is None  # an empty database is never copied
        other = store.create_session("other", backup_params())
        richest = backup.list_backups(data_dir)[0]  # 9 tracks
        for i in range(backup.KEEP + 1):  # up to 6 tracks each
            add_one(store, other.id, n_tracks=1, position=i)
            backup.take(data_dir, store.db_file)
        copies = backup.list_backups(data_dir)
        assert len(copies) == backup.KEEP + 1 and richest in copies
        assert not list(backup.backups_root(data_dir).glob(".tmp-*"))


# --------------------------------------------------------------------------- show and doctor


def test_show_marks_a_clip_whose_file_is_missing_or_unreadable(data_dir):
    session = generate()
    missing, damaged, fine = (Path(t["path"]) for t in session["tracks"])
    missing.unlink()
    damaged.write_bytes(b"RIFF....not a wave")
    code, out, _ = run("show", session["id"])
    assert code == 0
    line = {p: next(x for x in out.splitlines() if str(p) in x) for p in (missing, damaged, fine)}
    assert line[missing].endswith(f"{missing}  [missing]")
    assert line[damaged].endswith(f"{damaged}  [unreadable]")
    assert line[fine].endswith(str(fine))
    problems = {t["path"]: t["file_problem"] for t in show(session["id"])["tracks"]}
    assert problems == {str(missing): "missing", str(damaged): "unreadable", str(fine): None}


def files_and_times(root: Path) -> dict[Path, int]:
    """Every file and its modification time, but SQLite's own -wal and -shm (any reader may make them)."""
    return {
        p: p.stat().st_mtime_ns
        for p in root.rglob("*")
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def test_recover_and_doctor_leave_a_missing_data_dir_alone(data_dir):
    code, out, _ = run("recover")
    assert code == 0 and "does not exist" in out
    code, out, _ = run("doctor")
    assert code == 0 and "does not exist" in out
    assert not data_dir.exists()


def test_doctor_on_a_healthy_data_dir(data_dir):
    generate()
    code, out, _ = run("doctor")
    assert code == 0, out
    assert out.splitlines()[-1].startswith("Healthy:")
    code, out, _ = run("doctor", "--json")
    assert json.loads(out)["healthy"] is True


def test_doctor_reports_and_repair_fixes_without_losing_anything(data_dir):
    session = generate()
    batch_id = session["batches"][0]["id"]
    media = paths.session_media_dir(data_dir, uuid.UUID(session["id"]))
    gone, aside, _ = (Path(t["path"]) for t in session["tracks"])
    gone.unlink()  # a row whose WAV is gone for good
    kept = data_dir / "kept-aside" / aside.relative_to(data_dir)
    kept.parent.mkdir(parents=True)
    aside.rename(kept)  # a row whose WAV waits aside
    (media / f"{batch_id}.json").unlink()  # a batch without its manifest
    stray = media / "take-7.wav"
    stray.write_bytes(b"someone's file")
    stale = paths.tmp_root(data_dir) / str(uuid.uuid4())
    stale.mkdir(parents=True)
    before = files_and_times(data_dir)

    code, out, _ = run("doctor")
    assert code == 1
    assert files_and_times(data_dir) == before  # looking changes nothing
    assert f"clip {gone.stem} is missing." in out
    assert f"clip {aside.stem} is missing (a copy is kept aside" in out
    assert "1 batches have no manifest" in out and "1 files in session folders are named by no row" in out
    assert "1 staging folders" in out

    code, out, _ = run("doctor", "--repair")
    assert code == 1  # the clip whose WAV is gone is still reported
    assert aside.is_file() and not kept.exists()  # restored where its row expects it
    assert (media / f"{batch_id}.json").is_file()  # written from the rows
    assert (
        data_dir / "kept-aside" / "media" / session["id"] / "take-7.wav"
    ).read_bytes() == b"someone's file"
    assert not stale.exists()
    problems = [line for line in out.splitlines() if line.startswith("problem:")]
    assert problems == [f"problem: Session {session['id']}: the audio file of clip {gone.stem} is missing."]
    assert len(show(session["id"])["tracks"]) == 3  # the row is reported, never deleted


def test_doctor_repair_sets_a_damaged_database_aside_and_rebuilds_it(data_dir):
    session = generate()
    expected = show(session["id"])
    db = paths.db_path(data_dir)
    db.write_bytes(b"this is not a database" * 100)
    code, out, _ = run("doctor")
    assert code == 1 and "cannot be read" in out
    code, _, err = run("recover")
    assert code == 2 and err.count("\n") == 1 and "doctor --repair" in err
    code, out, err = run("doctor", "--repair")
    assert code == 0, out + err
    assert "the damaged database was moved to" in out
    assert (data_dir / "kept-aside" / "sessionlab.db").read_bytes() == b"this is not a database" * 100
    assert show(session["id"]) == expected


def test_an_imported_flac_comes_back_as_it_was(data_dir, tmp_path):
    """Imported clips keep their own format (here stereo 24-bit FLAC): recover finds them by it."""
    import numpy as np
    import soundfile as sf

    t = np.arange(48000 * 2) / 48000
    take = tmp_path / "take.flac"
    sf.write(
        take, np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], 1) * 0.3, 48000, "PCM_24"
    )
    code, out, err = run("import", "--new", str(take), "--json")
    assert code == 0, err
    session = json.loads(out)
    [track] = session["tracks"]
    stored = Path(track["path"])
    assert stored.suffix == ".flac"
    digest = hashlib.sha256(stored.read_bytes()).hexdigest()
    expected = show(session["id"])

    wreck(data_dir, "deleted")
    code, out, err = run("recover", "--no-backups")  # from the manifest alone
    assert code == 0, err + out
    assert show(session["id"]) == expected
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest
    info = sf.info(stored)
    assert (info.channels, info.samplerate, info.subtype) == (2, 48000, "PCM_24")


# --------------------------------------------------------------------------- curation comes back


def curated_session(root: Path) -> tuple[uuid.UUID, list[uuid.UUID], uuid.UUID]:
    """A session of two batches with marks, a cluster name and a preference; (session, clips, cluster)."""
    from core import curation
    from core.models import BriefParams

    with SessionStore(root) as store:
        draft = store.draft_session("warm lofi piano", BriefParams(duration_sec=0.1))
        add_one(store, draft.id, n_tracks=3, position=0, new_session=draft)
        add_one(store, draft.id, n_tracks=2, position=1)
        session = store.require_session(draft.id)
        clips = [t.id for t in session.tracks]
        curation.keep(store, clips[0])
        curation.rate(store, clips[1], 4)
        curation.set_tags(store, clips[1], ["Drums", "warm"])
        curation.set_note(store, clips[3], "the one")
        curation.discard(store, clips[4])
        curation.rename_cluster(store, draft.id, session.clusters[0].id, "Night Drive")
        curation.prefer(store, clips[0], clips[3], "a")
        return draft.id, clips, session.clusters[0].id


def curation_state(root: Path, session_id: uuid.UUID) -> tuple:
    with SessionStore(root, read_only=True) as store:
        prefs = [
            (p.id, p.track_a, p.track_b, p.choice, p.created_at) for p in store.get_preferences(session_id)
        ]
        return store.get_curations(session_id), store.get_cluster_names(session_id), prefs


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_recover_brings_curation_back_with_the_batches(data_dir, how):
    from core.recovery import recover

    session_id, _clips, _cluster = curated_session(data_dir)
    expected = curation_state(data_dir, session_id)
    assert len(expected[0]) == 4 and expected[1] and len(expected[2]) == 1
    wreck(data_dir, how)
    with SessionStore(data_dir) as store:  # the sweep sets the whole folder aside, curation file included
        assert store.swept_at_open > 0
        report = recover(store, use_backups=False)
    assert len(report.batches) == 2 and report.problems == []
    assert report.curation == 6  # four clips' marks, one name, one preference
    assert curation_state(data_dir, session_id) == expected
    with SessionStore(data_dir) as store:
        again = recover(store, use_backups=False)
    assert again.curation == 0 and again.lines()[-1].startswith("Nothing to recover")


def test_an_older_database_gets_the_newer_marks_back_and_loses_no_undo(data_dir, tmp_path):
    """Restored from a copy made before some marks (and before one mark was taken back)."""
    from core import curation
    from core.recovery import recover

    session_id, clips, cluster = curated_session(data_dir)
    with SessionStore(data_dir) as store:
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    copy_database(paths.db_path(data_dir), tmp_path / "old.db")
    with SessionStore(data_dir) as store:
        curation.keep(store, clips[0], kept=False)  # taken back after the copy was made
        curation.rate(store, clips[2], 5)  # made after the copy
        curation.rename_cluster(store, session_id, cluster, "Dawn")
        curation.prefer(store, clips[1], clips[2], "b")
    expected = curation_state(data_dir, session_id)
    wreck(data_dir, "older", tmp_path / "old.db")
    with SessionStore(data_dir) as store:
        # A mark made on the older database before recover runs does not wipe the file's newer ones.
        curation.add_tag(store, clips[3], "vocal")
        report = recover(store, use_backups=False)
    assert report.batches == [] and report.problems == []
    assert report.curation == 4  # the unkeep, the new rating, the new name, the new preference
    marks, names, prefs = curation_state(data_dir, session_id)
    assert clips[0] not in marks  # the older database's star stays taken back
    assert marks[clips[2]].rating == 5 and names == {cluster: "Dawn"} and prefs == expected[2]
    assert marks[clips[3]].tags == ("vocal",) and marks[clips[3]].note == "the one"


def test_a_clip_the_musician_deleted_does_not_come_back_from_an_older_backup(data_dir):
    from core import curation
    from core.recovery import recover

    session_id, clips, _cluster = curated_session(data_dir)
    with SessionStore(data_dir) as store:
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert backup.take(data_dir, store.db_file, force=True) is not None  # it still knows the clip
        gone = curation.delete_track(store, clips[0])
    assert gone.track_ids == (clips[0],)
    wreck(data_dir, "deleted")
    with SessionStore(data_dir) as store:
        report = recover(store)
    assert report.problems == [] and len(report.batches) == 2
    marks, _names, prefs = curation_state(data_dir, session_id)
    with SessionStore(data_dir, read_only=True) as store:
        assert clips[0] not in {t.id for t in store.require_session(session_id).tracks}
        assert len(store.require_session(session_id).tracks) == 4
    assert clips[0] not in marks and prefs == []  # its star and its preference went with it
