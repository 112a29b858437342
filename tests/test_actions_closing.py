"""Closing the line and reopening it, as the supervisor page asks for it: without Flask, on the
real store, the clock stopped on a Wednesday in hours."""

from __future__ import annotations

import pytest

from ivr.actions import closing
from ivr.config import Settings
from ivr.core.clock import fixed_clock
from ivr.services import Services, build_services
from ivr.store import audit
from tests.common import OPEN_AT, london


@pytest.fixture
def services(store, store_settings) -> Services:
    return build_services(
        Settings().override(store_settings), fixed_clock(london(OPEN_AT)), upgrade=False
    )


def last_audit(services: Services) -> dict[str, str]:
    return audit.recent(services.redis, 1, services.keys)[0]


def test_a_closure_is_heard_at_once_until_its_time_and_audited(services):
    done = closing.close(services, "sam", "  We are closed for training.  ", until="15:00")
    assert done.message == "We are closed for training."
    assert done.until == london("2026-11-25T15:00")
    assert done.until_words == "Wednesday 25 November 15:00"
    assert not services.call_status().open  # this process's copy, at once
    assert not services.line_status().open
    assert services.line_status(london("2026-11-25T15:00")).open
    assert closing.current(services) == done
    assert done.active(london(OPEN_AT)) and not done.active(london("2026-11-25T15:00"))
    entry = last_audit(services)
    assert (entry["actor"], entry["action"]) == ("sam", "closed the line")
    assert entry["detail"].startswith("until ")


def test_a_closure_without_a_time_lasts_until_reopened(services):
    closing.close(services, "sam", "We are closed today.")
    assert last_audit(services)["detail"] == "until reopened"
    assert not services.line_status(london("2026-11-30T11:00")).open
    closing.reopen(services, "sam")
    assert closing.current(services) is None
    assert services.call_status().open
    assert (last_audit(services)["actor"], last_audit(services)["action"]) == (
        "sam",
        "reopened the line",
    )


@pytest.mark.parametrize(
    ("until", "message", "says"),
    [
        ("10:30", "We are closed.", "That time has already passed: the line was not closed."),
        ("teatime", "We are closed.", "Write the time like 14:00 (today) or 2026-12-24 16:00"),
        ("", "We are closed 😀", "The line was not closed: the message can't be used, it has"),
        ("", "x" * 500, "The line was not closed: the message can't be used, it is 500"),
    ],
)
def test_a_closure_that_cant_be_kept_is_refused_and_nothing_changes(services, until, message, says):
    with pytest.raises(closing.NotClosed) as refused:
        closing.close(services, "sam", message, until=until)
    assert str(refused.value).startswith(says)
    assert closing.current(services) is None
    assert services.line_status().open
    assert audit.recent(services.redis, 5, services.keys) == []
