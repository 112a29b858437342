"""The suite builds an app for nearly every test (thousands of them, from the same rules and
the same flows/), and parts of building one are work a running server does once: these make
that work once per test session too. Nothing here changes what an app does.

- werkzeug parses each rule and writes and compiles Python source for its two URL builders
  each time the rule is added to an app's map (about 70 rules: most of building an app
  after the content). What compile() makes depends only on the rule's class and text, its
  map's slash and host settings and its converters, so a rule compiled once is copied
  after (its converters shared: werkzeug's own never read their map). werkzeug is pinned
  by the lock; tests/test_test_suite.py compiles every rule of an app both ways and
  compares them, so an upgrade that changes compile() is caught.
- Jinja parses and compiles each template the first time an app renders it, and every app
  has its own environment: the session keeps the compiled code in memory, with Jinja's own
  bytecode cache (keyed on the template's name and a hash of its source, so an edited
  template is compiled again).
- The collector: each app leaves thousands of objects, and with Python's default thresholds
  the oldest generation (the checked content of many days, the compiled rules) is walked
  again and again. The session collects the young less often and the old rarely.
- flows/ is checked once per version and day and the last few days are kept
  (ivr/content/published.py); tests move their clocks across many days of the year, so the
  session keeps more of them (each about 2 MB).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from flask import Flask
from jinja2 import BytecodeCache, Environment
from jinja2.bccache import Bucket
from werkzeug.routing.rules import Rule

from ivr.content import published

CHECKED_DAYS_IN_TESTS = 60
COLLECTOR_THRESHOLDS = (20_000, 20, 100)

_compile = Rule.compile
_compiled: dict[tuple[object, ...], tuple[Any, ...]] = {}


def _compile_once(self: Rule) -> None:
    if self.defaults or self.map is None:  # defaults are written into the builders' source
        _compile(self)
        return
    key: tuple[object, ...] = (type(self), self.rule, self.merge_slashes, self.map.host_matching)
    key += (self.host, self.subdomain, *sorted(self.map.converters.items()))
    found = _compiled.get(key)
    if found is None:
        _compile(self)
        build: Callable[..., Any] = self._build.__func__  # type: ignore[attr-defined]
        unknown: Callable[..., Any] = self._build_unknown.__func__  # type: ignore[attr-defined]
        _compiled[key] = (
            self._parts,
            self._trace,
            self._converters,
            self.arguments,
            build,
            unknown,
        )
        return
    parts, trace, converters_of, arguments, build, unknown = found
    self._parts, self._trace, self._converters = list(parts), list(trace), dict(converters_of)
    self.arguments = set(arguments)  # compile() adds the rule's variables to it
    self._build = build.__get__(self, None)
    self._build_unknown = unknown.__get__(self, None)


class SessionTemplates(BytecodeCache):
    """Compiled templates kept for the session, shared by every app's environment."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


_templates = SessionTemplates()
_create_jinja_environment = Flask.create_jinja_environment


def _environment_sharing_templates(self: Flask) -> Environment:
    environment = _create_jinja_environment(self)
    environment.bytecode_cache = _templates
    return environment


def install() -> None:
    Rule.compile = _compile_once  # type: ignore[method-assign]
    Flask.create_jinja_environment = _environment_sharing_templates  # type: ignore[method-assign]
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    published.CHECKED_DAYS_KEPT = CHECKED_DAYS_IN_TESTS
