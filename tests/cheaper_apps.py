"""The suite builds an app for nearly every test (about 5 000 of them from the same rules and
the same flows/), and two parts of building one are work a running server does once: these
make that work once per test session too. Nothing here changes what an app does.

- werkzeug writes and compiles Python source for two URL builders per rule each time a rule
  is added to an app's map (about 70 rules: a third of building an app). A builder depends
  only on the rule's parsed parts and its defaults, so the same parts get the same builder.
- flows/ is checked once per version and day and the last few days are kept
  (ivr/content/published.py); tests move their clocks across many days of the year, so the
  session keeps more of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing.rules import Rule

from ivr.content import published

CHECKED_DAYS_IN_TESTS = 60

_compile_builder = Rule._compile_builder
_builders: dict[tuple[object, ...], Callable[..., Any]] = {}


def _same_parts_same_builder(self: Rule, append_unknown: bool = True) -> Callable[..., Any]:
    if self.defaults:  # resolved into the source: compiled as werkzeug does
        return _compile_builder(self, append_unknown)
    key = (tuple(self._trace), append_unknown)
    found = _builders.get(key)
    if found is None:
        found = _builders[key] = _compile_builder(self, append_unknown)
    return found


def install() -> None:
    Rule._compile_builder = _same_parts_same_builder  # type: ignore[method-assign]
    published.CHECKED_DAYS_KEPT = CHECKED_DAYS_IN_TESTS
