"""The lock in requirements/ is what `make run` and `make test` install, hash-checked: every
dependency pyproject.toml names must be locked, within its range, so nobody adds one without
locking it (indirect dependencies appear only in the lock, rightly). Offline: reads files."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: int


def pins(lock: str) -> dict[str, Pin]:
    """name -> its pinned version and how many hashes it carries, from a pip requirements file."""
    found: dict[str, Pin] = {}
    name = ""
    for line in (LOCKS / lock).read_text(encoding="utf-8").splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match["name"])
            found[name] = Pin(match["version"], 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            found[name] = Pin(found[name].version, found[name].hashes + 1)
    return found


APP = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
BUILD = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
DEV = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]]


@pytest.mark.parametrize(
    ("lock", "requirement"),
    [("app.txt", r) for r in APP + BUILD] + [("dev.txt", r) for r in APP + BUILD + DEV],
    ids=lambda x: str(x),
)
def test_every_named_dependency_is_locked_within_its_range(lock: str, requirement: Requirement):
    pin = pins(lock).get(canonicalize_name(requirement.name))
    assert pin, f"{requirement.name} is in pyproject.toml but not in requirements/{lock}: make lock"
    assert requirement.specifier.contains(pin.version, prereleases=True), (
        f"requirements/{lock} locks {requirement.name}=={pin.version}, outside {requirement}"
        ": make lock"
    )


def test_the_extras_asked_for_are_locked_too():
    """gunicorn[gevent]: the extra's own packages are what gunicorn.conf.py runs on."""
    assert "gevent" in pins("app.txt")


def test_the_dev_lock_keeps_every_version_of_the_app_lock():
    """The dev lock is constrained by the app's: tests run on exactly what `make run` runs."""
    app, dev = pins("app.txt"), pins("dev.txt")
    assert {n: p.version for n, p in app.items()} == {n: dev[n].version for n in app if n in dev}
    assert set(app) <= set(dev)


@pytest.mark.parametrize("lock", ["app.txt", "dev.txt", "pip.txt", "uv.txt"])
def test_every_locked_package_carries_hashes(lock: str):
    locked = pins(lock)
    assert locked
    assert [name for name, pin in locked.items() if pin.hashes == 0] == []


def test_pip_and_the_lock_tool_are_pinned_themselves():
    assert set(pins("pip.txt")) == {"pip"}
    assert set(pins("uv.txt")) == {"uv"}


def test_make_installs_only_from_the_lock_with_hashes_checked():
    """No `pip install` in the Makefile resolves on its own: each one is hash-checked from a lock,
    or installs the project itself with no dependencies and no build isolation."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installs = [
        line
        for line in makefile.replace("\\\n", " ").splitlines()
        if "pip install" in line and not line.lstrip().startswith("#")
    ]
    assert installs
    for line in installs:
        hashed = "--require-hashes" in line
        itself = "--no-deps" in line and "--no-build-isolation" in line and "-e ." in line
        assert hashed or itself, line
