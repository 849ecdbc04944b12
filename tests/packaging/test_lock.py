"""The lock files stay in step with pyproject.toml (``scripts/update-lock`` regenerates them):
every declared dependency is pinned with hashes, and the service's lock pins what the dev lock
pins, so CI tests the versions the image ships."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", re.MULTILINE)


def pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    found = {canonicalize_name(n): v for n, v in PIN.findall(text)}
    blocks = [b for b in re.split(r"\n(?=[A-Za-z0-9])", text) if PIN.match(b)]
    unhashed = [b.split()[0] for b in blocks if "--hash=sha256:" not in b]
    assert not unhashed, f"{name}: pins without hashes: {unhashed}"
    return found


def declared(extras: bool) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    if extras:
        reqs += [r for group in project.get("optional-dependencies", {}).values() for r in group]
    names = {canonicalize_name(Requirement(r).name) for r in reqs}
    return names - {canonicalize_name(project["name"])}  # test names scim-bridge[browser]: its own extra


def test_every_dependency_is_pinned_with_hashes() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert declared(extras=False) <= set(runtime), "run scripts/update-lock: pyproject.toml changed"
    assert declared(extras=True) <= set(dev), "run scripts/update-lock: pyproject.toml changed"


def test_the_service_lock_pins_what_the_dev_lock_pins() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {n: v for n, v in runtime.items() if dev.get(n) != v} == {}
