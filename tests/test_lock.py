"""requirements/lock.txt, which `make test` and `make run` install from, pins every
package pyproject.toml asks for, inside the range pyproject.toml allows.

It fails when a dependency is added or a range moved without `make lock`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def locked() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and version, f"not an exact pin: {line!r}"
        assert "+" not in version, f"a local version label would not resolve from an index: {line!r}"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def test_the_lock_pins_every_dependency_and_extra_within_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    wanted = [Requirement(text) for text in (*project["dependencies"], *extras["dev"], *extras["ml"])]
    pins = locked()
    assert len(wanted) > 10 and len(pins) >= len(wanted)
    for requirement in wanted:
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements/lock.txt: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"the lock's {requirement.name}=={pins[name]} is outside {requirement.specifier}: run make lock"
        )


def test_the_lock_holds_the_cpu_torch_the_makefile_installs() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    torch = next(line for line in makefile.splitlines() if line.startswith("TORCH"))
    assert f"torch=={locked()['torch']}" in torch, (torch, locked()["torch"])
