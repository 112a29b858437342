"""Publishing the words and hours as an action, without Flask or the command line: a copy
of flows/ that passes is published and says what changed; one that fails changes nothing;
a preview says whether the edited files are what callers hear. The real store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivr.actions import publishing
from ivr.config import Settings
from ivr.content.flows import DEFAULT_DIR
from ivr.core.clock import fixed_clock
from ivr.store.published import read_published
from tests.common import OPEN_AT, london

CLOSURE = """
[[closures]]
from = 2026-12-09
to = 2026-12-09
message = "The helpline is closed today for staff training."
"""
TYPO = """
[[closures]]
from = 2026-12-32
to = 2027-01-01
message = "Closed."
"""


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DEFAULT_DIR, tmp_path / "flows"))


@pytest.fixture
def settings(store, store_settings, flows) -> Settings:
    return Settings().override({**store_settings, "flows_dir": flows})


def add_to_hours(flows: Path, text: str) -> None:
    with (flows / "hours.toml").open("a", encoding="utf-8") as f:
        f.write("\n" + text)


def test_nothing_published_yet_then_everything_then_the_same_again(settings, store):
    assert publishing.preview(settings) == publishing.Preview(None, True, False, [])
    first = publishing.publish(settings, fixed_clock(london(OPEN_AT)))
    assert first.before is None and first.changed == sorted(first.record.files)
    assert read_published(store) == first.record
    again = publishing.publish(settings, fixed_clock(london(OPEN_AT)))
    assert again.before is again.record == first.record and again.changed == []
    assert publishing.preview(settings) == publishing.Preview(first.record, True, True, [])


def test_new_hours_are_published_with_a_word_on_twilios_fallback(settings, flows):
    first = publishing.publish(settings, fixed_clock(london(OPEN_AT))).record
    add_to_hours(flows, CLOSURE)
    shown = publishing.preview(settings)
    assert (shown.live, shown.differences) == (False, ["hours.toml"])
    done = publishing.publish(settings, fixed_clock(london(OPEN_AT)))
    assert done.before == first and done.changed == ["hours.toml"] and done.fallback_stale


def test_a_file_with_a_mistake_publishes_nothing_and_names_the_file(settings, flows, store):
    first = publishing.publish(settings, fixed_clock(london(OPEN_AT))).record
    add_to_hours(flows, TYPO)
    with pytest.raises(publishing.NotPublished, match=r"hours\.toml:\d+:") as refused:
        publishing.publish(settings, fixed_clock(london(OPEN_AT)))
    assert "Nothing was published" in str(refused.value)
    assert read_published(store) == first


def test_with_the_store_unreachable_nothing_is_published_and_the_preview_says_so(flows):
    away = Settings().override({"redis_url": "redis://127.0.0.1:9/0", "flows_dir": flows})
    with pytest.raises(publishing.NotPublished, match="the store could not be reached"):
        publishing.publish(away, fixed_clock(london(OPEN_AT)))
    assert publishing.preview(away) == publishing.Preview(None, False, False, [])
