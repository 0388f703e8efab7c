"""bench/scale.py's core measurements, on a small session built the bench's way: every
use case it times runs in the session and leaves there what it should."""

from __future__ import annotations

import uuid
from pathlib import Path

from bench.scale import CLIPS_PER_BATCH, _service, build, measure_core, working_copy
from core.models import BATCH_EXTEND, BATCH_IMPORT, BATCH_INITIAL, BATCH_MORE


def test_the_core_measurements_run_each_use_case_in_the_session(data_dir: Path, tmp_path: Path) -> None:
    data, session_id, built = build(tmp_path / "cache", 24)
    assert built is not None and build(tmp_path / "cache", 24) == (data, session_id, None)  # cached
    work = working_copy(data, tmp_path / "copy")
    sid = uuid.UUID(session_id)
    before = _service(work).store.get_session(sid)
    assert before is not None and len(before.tracks) >= 24

    figures = measure_core(work, session_id, repeat=2)

    for name in ("add_batch", "more", "import", "extend", "curate"):
        assert figures[f"{name}_sec"] > 0, name
    store = _service(work).store
    after = store.get_session(sid)
    assert after is not None
    last = max(b.position for b in before.batches)
    made = [b for b in after.batches if b.position > last]
    assert [b.kind for b in made] == [BATCH_INITIAL] * 2 + [BATCH_MORE] * 2 + [BATCH_IMPORT] * 2 + [
        BATCH_EXTEND
    ] * 2
    assert [b.num_generated for b in made[4:]] == [CLIPS_PER_BATCH] * 2 + [1, 1]
    # Six rounds of curation: each kept a clip of the first batch and deleted one of the second.
    assert before.batches[1].tracks and not {t.id for t in before.batches[1].tracks} & {
        t.id for t in after.tracks
    }
    curations = store.get_curations(sid)
    kept = {t.id for t in before.batches[0].tracks if curations.get(t.id) and curations[t.id].kept}
    assert kept == {t.id for t in before.batches[0].tracks}
    assert len(after.tracks) == len(before.tracks) + sum(b.num_generated for b in made) - len(
        before.batches[1].tracks
    )
