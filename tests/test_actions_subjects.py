"""Subject requests as an action, without Flask or the command line: what is held about a
number, across helplines, and erasing it; audited without the number. The real store;
Twilio's logs are left out (no credentials), which the answer says."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ivr.actions import subjects
from ivr.config import Settings
from ivr.core.clock import fixed_clock
from ivr.services import Services, build_services
from ivr.store import audit
from tests.common import OPEN_AT, london, request_callback

NUMBER = "+447400123456"
OTHER = "+447400654321"


@pytest.fixture
def services(store, store_settings) -> Services:
    return build_services(
        Settings().override(store_settings), fixed_clock(london(OPEN_AT)), upgrade=False
    )


@pytest.fixture
def asked(services) -> list[str]:
    now = london(OPEN_AT)
    ids = [
        request_callback(services.queue, NUMBER, "sms", now - timedelta(days=1), now).callback_id,
        request_callback(services.queue, OTHER, "voice", now, now).callback_id,
    ]
    services.queue.cancel(ids[0], now)
    ids.append(request_callback(services.queue, NUMBER, "voice", now, now).callback_id)
    return ids


def test_show_gives_the_numbers_callbacks_and_says_twilio_was_not_asked(services, asked):
    found = subjects.show(services, NUMBER, actor="sam")
    assert [cb.id for cb in found.held.callbacks] == [asked[0], asked[2]]
    assert found.held.open_callback == asked[2]
    assert found.twilio is None
    assert "TWILIO_ACCOUNT_SID" in found.twilio_problem
    entry = audit.recent(services.redis, 1, services.keys)[0]
    assert (entry["actor"], entry["action"], entry["number"]) == (
        "sam",
        "looked up what is held about a number (subject request)",
        "",
    )


def test_erase_removes_the_numbers_callbacks_and_no_one_elses(services, asked):
    done = subjects.erase(services, NUMBER, actor="sam")
    assert done.callbacks == 2
    assert not done.complete  # Twilio's logs still to delete
    assert subjects.show(services, NUMBER).held.callbacks == []
    assert [cb.id for cb in subjects.show(services, OTHER).held.callbacks] == [asked[1]]
    erased = audit.recent(services.redis, 5, services.keys)
    assert any(
        e["action"] == "erased a number's records (subject request)" and NUMBER not in str(e)
        for e in erased
    )
