"""The house rules (docs/architecture.md), checked on the source: each layer imports only the
layers beneath it; the pure core imports neither Flask, Redis nor Twilio (nor anything but
the standard library and the pure libraries it is built on); and no module outside
ivr/store holds a Redis key name."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from ivr.store.keys import ROOT

PACKAGE = Path(__file__).resolve().parent.parent / "ivr"
# Lowest first: a module may import its own layer and those before it, never one after.
LAYERS = (
    "core",
    "content",
    "config",
    "store",
    "twilio",
    "services",
    "ops",
    "actions",
    "jobs",
    "web",
)
TOP = ("cli", "simulate", "demo", "__main__", "__init__")  # entry points: may import any layer
CORE_MAY_USE = {"holidays", "phonenumbers"}  # pure libraries, beside the standard library


def layer_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else path.stem


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports, at the top or inside a function: (line, dotted name)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(PACKAGE.parent)}:{line}"


def test_every_module_is_in_a_known_layer():
    assert {layer_of(p) for p in modules()} <= set(LAYERS) | set(TOP)


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_beneath_it(layer):
    allowed = set(LAYERS[: LAYERS.index(layer) + 1])
    wrong = [
        f"{where(path, line)} imports {name}"
        for path in modules()
        if layer_of(path) == layer
        for line, name in imports(path)
        if name.startswith("ivr.") and name.split(".")[1] not in allowed
    ]
    assert wrong == []


def test_the_core_is_pure():
    """No Flask, Redis, Twilio or any I/O library: plain functions on plain data."""
    wrong = [
        f"{where(path, line)} imports {name}"
        for path in modules()
        if layer_of(path) == "core"
        for line, name in imports(path)
        if (top := name.split(".")[0]) not in sys.stdlib_module_names
        and top not in CORE_MAY_USE
        and not name.startswith("ivr.core")
    ]
    assert wrong == []


def key_literals(path: Path) -> list[tuple[int, str]]:
    """String constants (plain or the start of an f-string) that begin with the key prefix."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith(ROOT)
        ):
            found.append((node.lineno, node.value))
    return found


def test_only_the_store_knows_key_names():
    wrong = [
        f"{where(path, line)}: {text!r}"
        for path in modules()
        if layer_of(path) != "store"
        for line, text in key_literals(path)
    ]
    assert wrong == []


def test_the_rules_would_catch_a_breach(tmp_path):
    """The checks above can fail: a core module importing redis and naming a key is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text('import redis\nfrom flask import g\nKEY = f"hl:main:{1}"\nOTHER = "hl:x"\n')
    assert [name for _, name in imports(bad)] == ["redis", "flask"]
    assert sorted(text for _, text in key_literals(bad)) == ["hl:main:", "hl:x"]
