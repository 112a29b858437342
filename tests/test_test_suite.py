"""The test suite's own house rules, read from its source with `ast`: no test module imports
another (shared helpers live in tests/common.py, fixtures in tests/conftest.py), and the
vocabulary of tests/common.py (what a caller hears, what a texter reads) is defined there
only, so `spoken()` means one thing everywhere."""

from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

TESTS = Path(__file__).resolve().parent
TEST_MODULES = sorted(TESTS.glob("test_*.py"))
# Python source of several lines held in a string, run in a child process (e.g. the gevent
# run in test_signin_pool.py).
IMPORT_LINE = re.compile(r"^\s*(?:from|import)\s+(tests\.test_\w+|test_\w+)\b", re.MULTILINE)


def imported_modules(tree: ast.Module) -> list[str]:
    """Every module an import names, relative ones written as `.name`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found.append(module)
            if node.module is None:  # from . import test_x
                found += ["." + alias.name for alias in node.names]
    return found


def is_test_module(name: str) -> bool:
    last = name.lstrip(".").split(".")
    return (
        name.startswith("tests.test_")
        or (name.startswith(".") and last[-1].startswith("test_"))
        or (len(last) == 1 and last[0].startswith("test_"))
    )


def strings(tree: ast.Module) -> list[str]:
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" in node.value
    ]


def top_level_functions(tree: ast.Module) -> set[str]:
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_there_are_test_modules_to_check() -> None:
    assert len(TEST_MODULES) > 40
    assert TESTS / "test_test_suite.py" in TEST_MODULES


@pytest.mark.parametrize("module", TEST_MODULES, ids=lambda p: p.name)
def test_no_test_module_imports_another(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
    crossing = [name for name in imported_modules(tree) if is_test_module(name)]
    crossing += [m.group(1) for text in strings(tree) for m in IMPORT_LINE.finditer(text)]
    assert not crossing, (
        f"{module.name} imports {crossing}: move what it needs to tests/common.py "
        "(helpers) or tests/conftest.py (fixtures)"
    )


@pytest.mark.parametrize(
    ("name", "crossing"),
    [
        ("from tests.test_sms import send", True),
        ("import tests.test_sms", True),
        ("from .test_sms import send", True),
        ("from . import test_sms", True),
        ("from test_sms import send", True),
        ("from tests.common import send", False),
        ("from tests.conftest import AppFactory", False),
        ("from tests.prism import prism_mock", False),
        ("from ivr.web import test_routes", False),
    ],
)
def test_the_import_check_tells_a_test_module_from_a_helper(name: str, crossing: bool) -> None:
    found = [m for m in imported_modules(ast.parse(name)) if is_test_module(m)]
    assert bool(found) == crossing, found


def test_the_vocabulary_is_defined_once_in_common() -> None:
    vocabulary = {"spoken", "heard", "twiml", "replies", "send", "twilio_client", "add_advisor"}
    common = ast.parse((TESTS / "common.py").read_text(encoding="utf-8"))
    assert vocabulary <= top_level_functions(common)
    assert {f"assert_{name}" for name in ("hears", "not_hears", "999_first")} <= (
        top_level_functions(common)
    )
    for module in [*TEST_MODULES, TESTS / "conftest.py"]:
        defined = top_level_functions(ast.parse(module.read_text(encoding="utf-8")))
        assert not defined & vocabulary, f"{module.name} defines its own {defined & vocabulary}"


def test_no_test_module_has_a_clock_of_its_own() -> None:
    """The in-process clock is common.Clock (the `clock` fixture); test_processes.py's clock
    for real processes is a FileClock, named apart."""
    for module in TEST_MODULES:
        tree = ast.parse(module.read_text(encoding="utf-8"))
        classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
        assert "Clock" not in classes, f"{module.name} defines its own Clock"


def test_the_shards_of_make_fast_run_every_test_exactly_once() -> None:
    """`make fast` deals the tests out to one process a core (TEST_SHARD=i/n, see
    tests/conftest.py: keep_shard): every test runs in one of them, whatever order each
    collected the tests in, none in two, and a file's tests together."""
    from tests.conftest import keep_shard

    ids = [f"tests/test_{n % 11}.py::test_{n}[{n % 7}]" for n in range(500)]
    runs: list[str] = []
    for i in range(3):
        left: list[object] = []
        config = SimpleNamespace(hook=SimpleNamespace(pytest_deselected=Deselected(left)))
        items = [Case(n) for n in (ids if i % 2 else ids[::-1])]
        keep_shard(config, items, f"{i}/3")  # type: ignore[arg-type]
        assert items and len(items) + len(left) == len(ids)
        runs += [item.nodeid for item in items]
    assert sorted(runs) == sorted(ids)
    by_file: dict[str, set[int]] = {}
    for i in range(3):
        config = SimpleNamespace(hook=SimpleNamespace(pytest_deselected=Deselected([])))
        items = [Case(n) for n in ids]
        keep_shard(config, items, f"{i}/3")  # type: ignore[arg-type]
        for item in items:
            by_file.setdefault(item.nodeid.partition("::")[0], set()).add(i)
    assert all(len(shards) == 1 for shards in by_file.values()), by_file


@pytest.mark.parametrize(
    ("codes", "status"), [((0, 5), 0), ((5, 5), 0), ((5, 1), 1), ((1, 0), 1), ((0, 0), 0)]
)
def test_a_shard_dealt_no_test_has_not_failed(monkeypatch, codes, status) -> None:
    """Found by review: with whole files dealt, `python -m tests.shards 2 tests/test_sms.py`
    left the second process nothing, pytest's status 5, and the run failed with every test
    passed."""
    from tests import shards

    ends = iter(codes)

    class Process:
        def __init__(self, *args: object, **kwargs: object) -> None:
            self.code = next(ends)

        def wait(self) -> int:
            return self.code

    monkeypatch.setattr(shards.subprocess, "Popen", Process)
    monkeypatch.setattr(shards.sys, "stdout", io.TextIOWrapper(io.BytesIO()))
    assert shards.main([str(len(codes)), "-q"]) == status


def test_every_test_id_is_the_same_in_every_collection() -> None:
    """`make fast` deals tests to its processes, and samples the big tables, by test id and
    file: each process collects for itself, so an id holding a random value (a new key in
    a parameter) would run in two processes or in none."""
    runs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        env.pop("TEST_SHARD", None)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
            cwd=TESTS.parent,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(sorted(line for line in done.stdout.splitlines() if "::" in line))
    assert len(runs[0]) > 1000
    assert runs[0] == runs[1], sorted(set(runs[0]) ^ set(runs[1]))[:10]


def test_the_shards_are_even_in_what_make_fast_runs() -> None:
    """Found: the shards were dealt by crc32, as the sample is chosen, so every sampled case
    of a big table fell in the first shard (1 903 tests against 1 410): `make fast` waited
    on the heavier one. The slow tests, which `make fast` leaves out, don't count."""
    from tests.conftest import keep_sample, keep_shard

    ids = [f"tests/test_{n % 40}.py::test_big[{n}-{n % 5}]" for n in range(4000)]
    config = SimpleNamespace(hook=SimpleNamespace(pytest_deselected=Deselected([])))
    sampled = [Case(n, slow=n.startswith("tests/test_1.py")) for n in ids]
    keep_sample(config, sampled, 4)  # type: ignore[arg-type]
    shares = []
    for i in range(2):
        items = list(sampled)
        keep_shard(config, items, f"{i}/2")  # type: ignore[arg-type]
        shares.append(sum(not item.slow for item in items))
    assert abs(shares[0] - shares[1]) < len(sampled) / 20, shares


def test_the_fast_sample_keeps_a_case_of_every_test_and_only_applies_when_asked() -> None:
    """FAST_SAMPLE=k (`make fast`, tests/conftest.py: keep_sample) runs a stable share of
    each big table, its first and last case always, and every case of a small one; without
    FAST_SAMPLE (`make test`) nothing is sampled away."""
    from tests.conftest import SAMPLE_OVER, keep_sample, pytest_collection_modifyitems

    big = [f"tests/test_x.py::test_big[{n}]" for n in range(SAMPLE_OVER * 10)]
    small = [f"tests/test_x.py::test_small[{n}]" for n in range(SAMPLE_OVER)]
    ids = [*big, *small, "tests/test_x.py::test_alone"]
    kept_runs = []
    for _ in range(2):
        left: list[object] = []
        config = SimpleNamespace(hook=SimpleNamespace(pytest_deselected=Deselected(left)))
        items = [SimpleNamespace(nodeid=n) for n in ids]
        keep_sample(config, items, 4)  # type: ignore[arg-type]
        kept = [item.nodeid for item in items]
        assert len(kept) + len(left) == len(ids)
        assert {big[0], big[-1], *small, "tests/test_x.py::test_alone"} <= set(kept)
        assert len(big) // 8 < len([n for n in kept if n in big]) < len(big) // 2
        kept_runs.append(kept)
    assert kept_runs[0] == kept_runs[1], "the same cases every run"

    # Through the collection hook itself: without FAST_SAMPLE every case stays.
    for sample, expected in ((None, len(ids)), ("4", len(kept_runs[0]))):
        with pytest.MonkeyPatch.context() as env:
            env.delenv("TEST_SHARD", raising=False)
            if sample is None:
                env.delenv("FAST_SAMPLE", raising=False)
            else:
                env.setenv("FAST_SAMPLE", sample)
            left = []
            config = SimpleNamespace(
                hook=SimpleNamespace(pytest_deselected=Deselected(left)),
                option=SimpleNamespace(collectonly=False),
                stash={},
            )
            items = [Case(n) for n in ids]
            pytest_collection_modifyitems(config, items)  # type: ignore[arg-type]
            assert len(items) == expected


class Case(SimpleNamespace):
    """A collected test as the collection hook reads it."""

    def __init__(self, nodeid: str, slow: bool = False) -> None:
        name = nodeid.partition("::")[2]
        super().__init__(nodeid=nodeid, name=name, originalname=name.partition("[")[0])
        self.path = Path(nodeid.partition("::")[0])
        self.fixturenames = ()
        self.slow = slow

    def get_closest_marker(self, name: str) -> object:
        return True if name == "slow" and self.slow else None

    def add_marker(self, marker: object) -> None:
        raise AssertionError(f"{self.nodeid} is not slow")


class Deselected:
    """pytest's pytest_deselected hook, keeping what it is given."""

    def __init__(self, into: list[object]) -> None:
        self.into = into

    def __call__(self, items: list[object]) -> None:
        self.into.extend(items)


def test_a_copied_rule_is_the_rule_werkzeug_compiles(make_app) -> None:
    """tests/cheaper_apps.py copies a rule compiled for an earlier app: every rule of an app
    (converters, double slashes, the static route) is the same as werkzeug compiles it."""
    from werkzeug.routing.rules import Rule

    from tests import cheaper_apps

    make_app()
    app = make_app()  # its rules copied from the first's
    for copied in app.url_map.iter_rules():
        fresh = copied.empty()
        fresh.map = copied.map
        cheaper_apps._compile(fresh)  # werkzeug's own compile()
        assert isinstance(copied, Rule)
        assert (copied._trace, copied.arguments) == (fresh._trace, fresh.arguments)
        assert [p.content for p in copied._parts] == [p.content for p in fresh._parts]
        values = {name: "x1" for name in copied.arguments}
        assert copied.build(values) == fresh.build(values), copied.rule
        assert copied.build(values | {"q": "1"}) == fresh.build(values | {"q": "1"})
