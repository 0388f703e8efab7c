"""Write SVG screenshots of the real app into screenshots/ (shown in README.md).

Each picture is a scene from tests/tui/scenes.py: sessions made by the real core
on the embedded engine (fixed seeds and times) in a temporary data dir, the app
driven by keys to the state worth showing, 120 x 36. Nothing is mocked.

Usage: .venv/bin/python scripts/screenshots.py [NAME ...]   (default: all)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "screenshots"


async def shoot(scene, settings, prepared: Path, out: Path) -> Path:  # type: ignore[no-untyped-def]
    from tests.tui import scenes

    if scene.sessions:
        shutil.copytree(prepared, settings.data_dir)
    app = scenes.make_app(settings, **scene.app_options)
    if scene.gate is not None:
        app.generation_observer = scene.gate
    try:
        async with app.run_test(size=scenes.SIZE) as pilot:
            await scene.drive(pilot)
            await pilot.pause()
            svg = app.export_screenshot(title=f"Session Lab — {scene.caption}")
    finally:
        if scene.gate is not None:
            scene.gate.release.set()
    path = out / f"{scene.name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


async def main(names: list[str]) -> None:
    sys.path.insert(0, str(REPO))
    # The test suite's ALSA null device: pictures never depend on this machine's sound card.
    null_conf = REPO / "tests" / "asound-null.conf"
    if null_conf.is_file():
        os.environ.setdefault("ALSA_CONFIG_PATH", str(null_conf))
    from core.settings import Settings
    from tests.tui import scenes

    chosen = [s for s in scenes.scenes() if not names or s.name in names]
    unknown = set(names) - {s.name for s in scenes.scenes()}
    if unknown:
        raise SystemExit(f"unknown scene(s): {', '.join(sorted(unknown))}")
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sessionlab-shots-") as tmp, scenes.fixed_time():
        prepared = Path(tmp) / "prepared"
        scenes.make_sessions(Settings(data_dir=prepared))
        for scene in chosen:
            settings = Settings(data_dir=Path(tmp) / f"data-{scene.name}")
            path = await shoot(scene, settings, prepared, OUT)
            print(f"{path.relative_to(REPO)}  {scene.caption}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="scene names (default: all)")
    asyncio.run(main(parser.parse_args().names))
