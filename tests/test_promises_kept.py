"""Every promise made to a person is kept, end to end: what a reply says is what is stored,
and a callback never lapses before the time it promised.

Texts go through the real /sms webhook (signed as Twilio signs them); the scheduler's jobs
run through `helpline jobs run`, as staff run them, against the same real Redis.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr import create_app
from ivr.core.clock import fixed_clock
from ivr.core.phrases import time_words, when
from ivr.core.promise import day_slot, first_slot
from ivr.simulate import TwilioLikeClient
from ivr.store.closures import close_line, reopen_line
from ivr.store.queue import CallbackQueue
from tests.common import SEALER, TOKEN, empty, examples, flows_with, london

ME = "+447400123456"
CHRISTMAS = """
[[closures]]
from = 2026-12-24
to = 2027-01-01
message = "The helpline is closed for the Christmas holidays."

[[special_hours]]
date = 2026-12-23
opens = "10:00"
closes = "13:00"
"""


def text(app, body: str, sid: str) -> list[str]:
    client = TwilioLikeClient(
        app, {"From": ME, "To": "+441234567890", "AccountSid": "AC" + "0" * 32}
    )
    response = client.post("/sms", {"Body": body, "MessageSid": sid})
    assert response.status_code == 200
    return [m.text or "" for m in ElementTree.fromstring(response.get_data(as_text=True))]


@pytest.fixture
def christmas_flows(tmp_path: Path) -> Path:
    return flows_with(tmp_path, CHRISTMAS)


def days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


# ------------------------------------------------------------------ the Christmas case


def test_a_callback_promised_for_4_january_is_kept_until_it_has_been_missed_five_days(
    make_app, cli, store, christmas_flows
):
    """Found: a text at 13:30 on 23 December was told "Monday 4 January at 10am", and the
    nightly job on 31 December expired the callback (7 calendar days from the request).
    Nobody tries to call it here, so after its five days it is overdue, not expired (issue
    19: tests/test_overdue.py)."""
    app = make_app(at="2026-12-23T13:30", flows_dir=christmas_flows)
    [reply] = text(app, "hello", "SM" + "1" * 32)
    assert reply.startswith("The helpline is closed for the Christmas holidays. ")
    assert "We will call you on Monday 4 January at 10am." in reply
    queue = CallbackQueue(store, SEALER)
    callback = queue.open_for(ME)
    assert (callback.status, callback.due_at) == ("scheduled", london("2027-01-04T10:00"))

    def job(name: str, at: str) -> None:
        result = cli("jobs", "run", name, "--at", at, "--apply", "--yes", flows=christmas_flows)
        assert result.exit_code == 0, result.output

    # Every night and every day of the closure: nothing is counted, nothing expires.
    for day in days("2026-12-24", "2027-01-03"):
        job("nightly", f"{day}T02:30")
        job("tick", f"{day}T12:00")
        assert queue.get(callback.id).status == "scheduled", day
    assert queue.get(callback.id).count.missed == 0

    # Released at the first opening after the closure.
    job("nightly", "2027-01-04T02:30")
    job("opening", "2027-01-04T10:00")
    assert queue.get(callback.id).status == "due"

    # Five opening days unreached: Monday 4 to Friday 8 January. Its days are over only on
    # the night after the fifth (then, never tried, it is overdue: it waits on, first in
    # line), and it is flagged for advisors before its last day.
    for n, day in enumerate(days("2027-01-04", "2027-01-11")):
        if day.weekday() < 5:
            job("opening", f"{day}T10:00")
            job("tick", f"{day}T16:00")  # the day's slot has ended: on to the next one
        job("nightly", f"{day + timedelta(days=1)}T02:30")
        waited = queue.get(callback.id)
        if day < date(2027, 1, 8):
            assert waited.status == "scheduled", (n, day, waited)
        else:
            assert (waited.status, waited.count.missed) == ("scheduled", 5), (n, day, waited)
            break
        if day == date(2027, 1, 7):
            assert waited.count.missed == 4  # the last day: flagged to advisors
    assert queue.open_for(ME) is not None


def test_a_retry_does_not_restart_the_count(make_app, cli, store):
    app = make_app(at="2026-11-25T19:00")
    text(app, "hello", "SM" + "2" * 32)
    queue = CallbackQueue(store, SEALER)
    callback_id = queue.open_for(ME).id

    def job(name: str, at: str) -> None:
        assert cli("jobs", "run", name, "--at", at, "--apply", "--yes").exit_code == 0

    job("opening", "2026-11-26T10:00")
    job("tick", "2026-11-26T16:00")
    job("nightly", "2026-11-27T02:30")
    assert queue.get(callback_id).count.missed == 1
    job("opening", "2026-11-27T10:00")
    claimed = queue.claim("alex", london("2026-11-27T11:00"))
    assert claimed.id == callback_id
    from ivr.core.callbacks import after_outcome  # the rule the console applies

    status, place = after_outcome(
        "no_answer",
        0,
        3,
        london("2026-11-27T11:00"),
        app.extensions["helpline"].flows.hours,
        timedelta(hours=2),
        claimed.plan,
    )
    queue.finish(callback_id, "alex", "no_answer", status, london("2026-11-27T11:00"), place)
    job("tick", "2026-11-27T13:00")
    job("tick", "2026-11-27T16:00")
    job("nightly", "2026-11-28T02:30")
    assert queue.get(callback_id).count.missed == 2  # counted on, not from zero


# ------------------------------------------------------------------ the promise property


INSTANTS = st.datetimes(min_value=datetime(2026, 12, 14), max_value=datetime(2027, 1, 12)).map(
    lambda at: at.replace(second=0, microsecond=0)
)
BODIES = st.sampled_from(
    [
        "hello",
        "2pm",
        "after 1",
        "14:30",
        "before 11am",
        "not after 1pm",
        "between 12 and 2",
        "mornings",
        "afternoons",
        "tomorrow",
        "Tuesday",
        "not Monday",
        "Tuesday after 2",
        "tomorrow 11am",
        "11am",
        "after 6pm",
        "evenings only",
        "after 8",
        "ANYTIME",
        "3:45pm",
        "weekdays before 11",
    ]
)
CLOSURES = st.sampled_from(["none", "until", "open-ended"])


@pytest.fixture(scope="module")
def property_flows(tmp_path_factory) -> Path:
    return flows_with(tmp_path_factory.mktemp("flows"), CHRISTMAS)


@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    at=INSTANTS,
    first=BODIES,
    second=st.one_of(st.none(), BODIES),
    closure=CLOSURES,
    closed_for=st.integers(min_value=1, max_value=72),
)
def test_the_time_a_reply_promises_is_the_time_stored(
    store, store_settings, property_flows, at, first, second, closure, closed_for
):
    """For any instant, closure and texts: what the reply says is worked out here from the
    stored due time and slot end alone, and the stored time is inside the person's window
    and the opening hours; "as soon as someone is free" only with time enough to call."""
    empty(store)
    zone = london("2026-12-01T00:00").tzinfo
    now = at.replace(tzinfo=zone)
    app = create_app(
        {
            "twilio_auth_token": TOKEN,
            **store_settings,
            "log_level": "ERROR",
            "flows_dir": property_flows,
        },
        clock=fixed_clock(now),
    )
    h = app.extensions["helpline"]
    reopen_line(store)
    until = now + timedelta(hours=closed_for)
    if closure == "until":
        close_line(store, "We are closed for training.", until)
    elif closure == "open-ended":
        close_line(store, "We are closed for training.", None)
    replies = text(app, first, "SM" + "a" * 32)
    if second is not None:
        replies = text(app, second, "SM" + "b" * 32)
    callback = h.queue.open_for(ME)
    assert callback is not None
    reply = " ".join(replies)
    replies_text = h.flows.sms.replies
    if callback.status == "held":
        assert callback.plan is None
        assert any(replies_text[name] in reply for name in ("held_new", "ask_time", "held"))
        return
    hours = h.flows.hours
    slot = day_slot(callback.due_at.astimezone(zone).date(), callback.plan, hours)
    assert slot is not None, (callback, reply)
    assert slot.start <= callback.due_at < slot.end  # inside the window and the hours
    assert callback.slot_end == slot.end
    assert callback.count.missed == 0  # nothing counted against it: not near expiry
    if replies_text["kept"] in reply:
        return  # nothing was promised by this text
    closed = closure == "open-ended" or (closure == "until" and until > now)
    if closure == "open-ended":
        words = replies_text["reopen"]
    elif callback.due_at > now:
        words = when(callback.due_at, now, hours, h.flows.phrases)
        assert not closed or callback.due_at >= until
    elif callback.slot_end - now >= timedelta(minutes=30):
        words = replies_text["soon"]
    else:
        later = first_slot(callback.slot_end, callback.plan, hours)
        words = replies_text["closing"].format(
            closes=time_words(callback.slot_end.astimezone(zone).time()),
            fallback=when(later.start, now, hours, h.flows.phrases),
        )
    assert f"call you {words}" in reply, (reply, words, callback)
