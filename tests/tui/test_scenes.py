"""The snapshot scenes' stored sessions do not hinge on k-means' floating-point path.

Another CPU (other SIMD kernels in numpy and OpenBLAS) moves the scene clips'
embeddings by about 1e-5, and unplanned k-means then groups the first batch into
three clusters instead of two: every picture of that session changes. Forcing
OpenBLAS onto its SSE kernels reproduces such a machine here.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tui import scenes

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, sys
from pathlib import Path
from core.settings import Settings
from core.store import SessionStore
from tests.tui import scenes

root = Path(sys.argv[1])
with scenes.fixed_time():
    scenes.make_sessions(Settings(data_dir=root), more_like=False)
store = SessionStore(root)
groups = {}
for info in store.list_sessions():
    (batch,) = store.require_session(info.id).batches
    position = {t.id: t.position for t in batch.tracks}
    groups[info.brief_text] = sorted(sorted(position[t] for t in c.track_ids) for c in batch.clusters)
store.close()
print(json.dumps(groups))
"""


@pytest.mark.skipif(platform.machine().lower() not in {"x86_64", "amd64"}, reason="x86 OpenBLAS kernels")
def test_scene_sessions_keep_their_clusters_on_another_cpu_path(tmp_path: Path) -> None:
    env = {**os.environ, "OPENBLAS_CORETYPE": "Nehalem", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "data")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    groups = json.loads(done.stdout.strip().splitlines()[-1])
    assert groups == {
        scenes.BRIEF: [list(g) for g in scenes.FIRST_BATCH_GROUPS],
        scenes.OTHER_BRIEF: [list(g) for g in scenes.NIGHT_DRIVE_GROUPS],
    }
