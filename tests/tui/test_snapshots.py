"""Snapshot tests of every screen (pytest-textual-snapshot), on the real core.

Deterministic: fixed seeds, 120 x 36, rows stamped with fixed times and shown in
UTC, a clock that steps, no cursor blink, toasts cleared, a temporary data dir.
Review the SVG report before accepting a change (--snapshot-update).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from tests.tui import scenes


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scenes' sessions, made once through the real service and copied per test."""
    root = tmp_path_factory.mktemp("snapshot-sessions") / "data"
    with scenes.fixed_time():
        scenes.make_sessions(Settings(data_dir=root))
    return root


@pytest.fixture
def picture(
    snap_compare: Callable[..., bool], settings: Settings, prepared: Path, fixed_time: None
) -> Iterator[Callable[[str], bool]]:
    held: list[scenes.Gate] = []

    def take(name: str) -> bool:
        scene = scenes.scene(name)
        if scene.sessions:
            shutil.copytree(prepared, settings.data_dir, dirs_exist_ok=True)
        app = scenes.make_app(settings, **scene.app_options)
        if scene.gate is not None:
            app.generation_observer = scene.gate
            held.append(scene.gate)
        return snap_compare(app, terminal_size=scenes.SIZE, run_before=scene.drive)

    yield take
    for gate in held:  # let a held generation see its cancellation and end
        gate.release.set()


@pytest.mark.parametrize("name", [s.name for s in scenes.scenes() if s.snapshot])
def test_screen(picture: Callable[[str], Any], name: str) -> None:
    assert picture(name)
