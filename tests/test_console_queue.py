"""The queue an advisor works from: who is waiting (numbers masked), call next (only when open,
on duty and able to ring), two advisors never calling the same person, outcomes that bring a
no-answer back later in opening hours, and claims that are given back when nothing happened."""

from __future__ import annotations

import re
import socket
import threading
from datetime import time, timedelta

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from ivr.content.flows import DEFAULT_DIR, load_flows
from ivr.core.callbacks import OUTCOMES, after_outcome
from ivr.core.expiry import Count
from ivr.core.hours import OpeningHours
from ivr.core.safetime import ANYTIME, Window
from ivr.store import audit
from ivr.store.closures import close_line
from ivr.store.queue import CallbackQueue
from tests.common import (
    CLOSED_AT,
    OPEN_AT,
    SEALER,
    SUPERVISOR_PHONE,
    add_advisor,
    csrf_token,
    empty,
    flashes,
    london,
    post_form,
    request_callback,
    signed_in,
)

HELPLINE = "+441234567890"
BASE = "https://helpline.example.org"
# Valid UK mobiles, each with its own last three digits (what the console shows).
CALLERS = ("+447400123456", "+447400123457", "+447400123458", "+447400123459")
FRIDAY_AFTERNOON = "2026-11-27T15:00"
RETRY = timedelta(hours=2)


def hours() -> OpeningHours:
    return load_flows(DEFAULT_DIR, london(OPEN_AT)).hours


TODAYS_CLOSE = london("2026-11-25T16:00")


def ask(
    store: redis.Redis,
    number: str,
    requested: str,
    plan: Window = ANYTIME,
    voicemail: bool = False,
    source: str = "sms",
) -> str:
    """A callback asked for at `requested`, due at once, in today's slot; its id."""
    at = london(requested)
    return request_callback(
        CallbackQueue(store, SEALER),
        number,
        source,
        at,
        at,
        plan,
        slot_end=TODAYS_CLOSE,
        voicemail=voicemail,
    ).callback_id


def queue_of(app: Flask) -> CallbackQueue:
    return app.extensions["helpline"].queue


@pytest.fixture
def calling_app(make_app, twilio_api):
    """In hours, with Twilio credentials (REST calls go to the Prism mock) and a number."""

    def factory(at: str = OPEN_AT, **settings: object) -> Flask:
        return make_app(
            at=at,
            cookie_secure=False,
            **{"helpline_number": HELPLINE, "public_base_url": BASE, **twilio_api, **settings},
        )

    return factory


def on_duty_advisor(
    app: Flask,
    store: redis.Redis,
    name: str = "Alex",
    phone: str = "+447400000111",
    supervisor: bool = False,
):
    add_advisor(store, name, phone, supervisor=supervisor, on_duty=True)
    return signed_in(app, name)


# ------------------------------------------------------------------ who is waiting


def test_the_queue_shows_due_callbacks_oldest_first_with_masked_numbers(make_app, store):
    newest = ask(store, CALLERS[0], "2026-11-25T10:30", Window(earliest=time(14)), voicemail=True)
    oldest = ask(store, CALLERS[1], "2026-11-20T11:00", source="voice")
    middle = ask(store, CALLERS[2], "2026-11-24T15:00")
    app = make_app(cookie_secure=False)
    client = on_duty_advisor(app, store)

    page = client.get("/console/").get_data(as_text=True)
    shown = re.findall(r"\+44 7400 •••\d{3}", page)
    assert shown == ["+44 7400 •••457", "+44 7400 •••458", "+44 7400 •••456"]

    rows = client.get("/console/queue.json").get_json()["due"]
    assert [r["id"] for r in rows] == [oldest, middle, newest]
    assert rows[0] | {"id": None} == {
        "id": None,
        "number": "+44 7400 •••457",
        "waited": "5 days",
        "plan": "any time",
        "words": "",  # their own words about when (none: a call)
        "status": "due",
        "due": "Fri 20 Nov 11:00",
        "last_day": False,
        "overdue": False,
        "voicemail": False,
        "attempts": 0,
        "source": "voice",
        "language": "English",  # a Welsh speaker sees "Cymraeg (Welsh)" and takes it
        "urgent": False,  # a text that spoke of danger or despair: shown, and taken first
        "state": "",
        "call_state": "",
    }
    assert (rows[1]["waited"], rows[1]["source"]) == ("20 h 0 min", "sms")
    assert (rows[2]["waited"], rows[2]["plan"], rows[2]["voicemail"]) == (
        "30 min",
        "after 2pm",
        True,
    )


def test_no_full_number_ever_reaches_the_console(make_app, store):
    for n, number in enumerate(CALLERS):
        ask(store, number, f"2026-11-25T10:0{n}")
    app = make_app(cookie_secure=False)
    client = on_duty_advisor(app, store)
    queue_of(app).claim("alex", london(OPEN_AT))  # and one being called: "your call"
    for url in ("/console/", "/console/queue.json"):
        text = client.get(url).get_data(as_text=True)
        assert "•••" in text or "\\u2022\\u2022\\u2022" in text
        for number in CALLERS:
            assert number not in text
            assert number[3:] not in text  # nor as digits without the +44
            assert "0" + number[3:] not in text


def test_the_queue_says_whether_the_line_is_open(make_app, store):
    assert (
        on_duty_advisor(make_app(cookie_secure=False), store)
        .get("/console/queue.json")
        .get_json()["open"]
        is True
    )
    empty(store)
    assert (
        on_duty_advisor(make_app(at=CLOSED_AT, cookie_secure=False), store)
        .get("/console/queue.json")
        .get_json()["open"]
        is False
    )


# ------------------------------------------------------------------ call next


def test_call_next_claims_the_oldest_and_rings_the_advisor(calling_app, store):
    ask(store, CALLERS[0], "2026-11-25T10:30")
    oldest = ask(store, CALLERS[1], "2026-11-25T10:05")
    app = calling_app()
    client = on_duty_advisor(app, store)

    assert post_form(client, "/console/call-next").status_code == 302
    assert "Ringing your phone" in flashes(client)  # Prism accepted the REST request
    callback = queue_of(app).get(oldest)
    assert (callback.status, callback.claimed_by, callback.call_state) == (
        "claimed",
        "alex",
        "claimed",
    )
    assert queue_of(app).counts()["due"] == 1
    mine = client.get("/console/queue.json").get_json()["mine"]
    assert (mine["id"], mine["number"], mine["state"]) == (
        oldest,
        "+44 7400 •••457",
        "Ringing your phone",
    )


def test_the_audit_trail_records_claimed_and_called_with_a_masked_number(calling_app, store):
    callback_id = ask(store, CALLERS[0], "2026-11-25T10:30")
    client = on_duty_advisor(calling_app(), store)
    post_form(client, "/console/call-next")
    entries = [e for e in audit.recent(store) if e["callback"] == callback_id]
    assert [e["action"] for e in reversed(entries)] == ["claimed", "called"]
    assert {e["number"] for e in entries} == {"***456"}
    assert {e["actor"] for e in entries} == {"alex"}
    assert not any(CALLERS[0][3:] in value for e in audit.recent(store) for value in e.values())


def test_one_call_at_a_time(calling_app, store):
    first = ask(store, CALLERS[0], "2026-11-25T10:00")
    ask(store, CALLERS[1], "2026-11-25T10:30")
    app = calling_app()
    client = on_duty_advisor(app, store)
    post_form(client, "/console/call-next")
    post_form(client, "/console/call-next")
    assert "Record the outcome of your current call first" in flashes(client)
    assert [cb.id for cb in queue_of(app).claimed_by("alex")] == [first]


def test_call_next_with_nobody_waiting_says_so(calling_app, store):
    client = on_duty_advisor(calling_app(), store)
    post_form(client, "/console/call-next")
    assert "Nobody is waiting right now" in flashes(client)


NO_CALLS = "Calls can&#39;t be made right now: tell your supervisor."


@pytest.mark.parametrize(
    ("situation", "message"),
    [
        ("closed", "The helpline is closed: nobody is called while it is closed"),
        ("closed_by_supervisor", "The helpline is closed: nobody is called while it is closed"),
        ("off_duty", "Go on duty first"),
        ("no_twilio", NO_CALLS),
        ("no_helpline_number", NO_CALLS),
    ],
)
def test_call_next_is_refused_and_nothing_is_claimed(
    make_app, twilio_api, store, situation, message
):
    settings = {
        "cookie_secure": False,
        "helpline_number": HELPLINE,
        "public_base_url": BASE,
        **twilio_api,
    }
    if situation == "closed":
        settings["at"] = CLOSED_AT
    elif situation == "no_twilio":
        settings = {k: v for k, v in settings.items() if k not in twilio_api}
    elif situation == "no_helpline_number":
        settings["helpline_number"] = ""
    ask(store, CALLERS[0], "2026-11-25T10:30")
    app = make_app(**settings)
    add_advisor(store, "Alex", "+447400000111", on_duty=situation != "off_duty")
    if situation == "closed_by_supervisor":
        close_line(store, "Closed for staff training.", None)
    client = signed_in(app, "Alex")
    post_form(client, "/console/call-next")
    page = flashes(client)
    assert f'<p class="flash error" role="alert">{message}' in page, "not shown as an error"
    assert queue_of(app).counts() == {"held": 0, "scheduled": 0, "due": 1, "claimed": 0, "ended": 0}
    assert not any(e["action"] == "claimed" for e in audit.recent(store))


@pytest.mark.parametrize(
    ("missing", "said"),
    [
        (("twilio_account_sid",), "TWILIO_ACCOUNT_SID is not set"),
        (("helpline_number",), "HELPLINE_NUMBER is not set"),
        (
            ("twilio_account_sid", "twilio_auth_token", "helpline_number"),
            "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and HELPLINE_NUMBER are not set",
        ),
    ],
)
def test_calls_that_cant_be_made_are_explained_to_the_supervisor_not_the_advisor(
    calling_app, store, caplog, missing, said
):
    """Found: "Call next" without Twilio settings showed the advisor "TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN and HELPLINE_NUMBER must be set", in the same yellow box as good news.
    The advisor is told what to do; the settings are named on the supervisor page and in
    the log."""
    ask(store, CALLERS[0], "2026-11-25T10:30")
    app = calling_app(**{name: "" for name in missing})
    advisor = on_duty_advisor(app, store)
    with caplog.at_level("ERROR", logger="ivr.web.console"):
        post_form(advisor, "/console/call-next")
    page = flashes(advisor)
    assert f'<p class="flash error" role="alert">{NO_CALLS}</p>' in page
    assert "TWILIO" not in page and "HELPLINE_NUMBER" not in page
    assert said in caplog.text

    add_advisor(store, "Sam", SUPERVISOR_PHONE, supervisor=True)
    page = signed_in(app, "Sam").get("/console/supervisor/").get_data(as_text=True)
    assert "Calls can't be made</h2>" in page
    assert "Advisors can&#39;t make calls from the console" in page
    assert "TWILIO" not in page and "HELPLINE_NUMBER" not in page  # the log has the names


def test_the_supervisor_page_raises_no_alarm_when_calls_can_be_made(calling_app, store):
    add_advisor(store, "Sam", SUPERVISOR_PHONE, supervisor=True)
    page = signed_in(calling_app(), "Sam").get("/console/supervisor/").get_data(as_text=True)
    assert "Calls can't be made" not in page


def test_a_phone_that_cant_be_rung_gives_the_callback_back_and_tells_the_supervisor(
    calling_app, store, caplog
):
    """Twilio out of reach (here: nothing listens where its API should be) is no error page:
    the advisor is told what to do, the callback goes back, and the audit trail says why."""
    callback_id = ask(store, CALLERS[0], "2026-11-25T10:30")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{unused.getsockname()[1]}"
    app = calling_app(twilio_api_base_url=nowhere)
    client = on_duty_advisor(app, store)
    with caplog.at_level("ERROR", logger="ivr.web.console"):
        assert post_form(client, "/console/call-next").status_code == 302
    page = flashes(client)
    assert '<p class="flash error" role="alert">Your phone could not be rung' in page
    assert "tell your supervisor" in page
    callback = queue_of(app).get(callback_id)
    assert callback is not None and (callback.status, callback.claimed_by) == ("due", None)
    [failure] = [e for e in audit.recent(store) if e["action"] == "phone not rung"]
    assert failure["detail"] == "Twilio could not be reached (ConnectionError)"
    assert failure["callback"] == callback_id
    assert "Twilio could not be reached" in caplog.text
    assert CALLERS[0] not in caplog.text and "+447400000111" not in caplog.text


# ------------------------------------------------------------------ never the same person twice


@pytest.mark.parametrize(("callbacks", "attempts_each"), [(150, 100), (300, 100), (1, 100)])
def test_two_advisors_claiming_at_once_never_get_the_same_callback(store, callbacks, attempts_each):
    queue = CallbackQueue(store, SEALER)
    start = london("2026-11-25T10:00")
    for n in range(callbacks):
        at = start + timedelta(seconds=n)
        request_callback(queue, f"+4474001{n:05d}", "sms", at, at)
    claimed: dict[str, list[str]] = {"alex": [], "bea": []}
    barrier = threading.Barrier(2)

    def claim_all(advisor: str) -> None:
        own = CallbackQueue(redis.Redis(connection_pool=store.connection_pool), SEALER)
        barrier.wait()
        for _ in range(attempts_each):
            callback = own.claim(advisor, london(OPEN_AT))
            if callback is not None:
                claimed[advisor].append(callback.id)

    threads = [threading.Thread(target=claim_all, args=(name,)) for name in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    every_claim = claimed["alex"] + claimed["bea"]
    assert len(every_claim) == len(set(every_claim))  # nobody is called twice
    assert len(every_claim) == min(callbacks, 2 * attempts_each)
    for advisor, ids in claimed.items():
        assert all(queue.get(i).claimed_by == advisor for i in ids)
    assert queue.counts()["claimed"] == len(every_claim)


def press_together(clients: dict[str, FlaskClient], url: str) -> dict[str, int]:
    """Each client POSTs `url` at the same moment (tokens fetched beforehand)."""
    tokens = {name: csrf_token(client) for name, client in clients.items()}
    barrier = threading.Barrier(len(clients))
    statuses: dict[str, int] = {}

    def press(name: str) -> None:
        barrier.wait()
        statuses[name] = clients[name].post(url, data={"csrf_token": tokens[name]}).status_code

    threads = [threading.Thread(target=press, args=(name,)) for name in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def test_two_advisors_pressing_call_next_together_ring_different_people(calling_app, store):
    rounds = 8
    for n in range(2 * rounds):
        ask(store, f"+4474001234{n:02d}", f"2026-11-25T10:{n:02d}")
    app = calling_app()
    clients = {
        "alex": on_duty_advisor(app, store, "Alex", "+447400000111"),
        "bea": on_duty_advisor(app, store, "Bea", "+447400000112"),
    }
    queue = queue_of(app)
    seen: list[str] = []
    for _ in range(rounds):
        assert press_together(clients, "/console/call-next") == {"alex": 302, "bea": 302}
        mine = {name: [cb.id for cb in queue.claimed_by(name)] for name in clients}
        assert all(len(ids) == 1 for ids in mine.values()), mine
        assert mine["alex"] != mine["bea"]
        seen += mine["alex"] + mine["bea"]
        for name, client in clients.items():
            record(client, mine[name][0], "reached")
    assert len(seen) == len(set(seen)) == 2 * rounds


def test_a_double_click_on_call_next_claims_one_callback(calling_app, store):
    for n in range(10):
        ask(store, f"+4474001234{n:02d}", f"2026-11-25T10:{n:02d}")
    app = calling_app()
    first = on_duty_advisor(app, store)
    second = app.test_client()  # the same session, as a second click sends it
    second.set_cookie("session", first.get_cookie("session").value)
    queue = queue_of(app)
    for _ in range(5):
        assert press_together({"click": first, "again": second}, "/console/call-next") == {
            "click": 302,
            "again": 302,
        }
        mine = queue.claimed_by("alex")
        assert len(mine) == 1, [cb.id for cb in mine]
        record(first, mine[0].id, "reached")
    assert sum(e["action"] == "called" for e in audit.recent(store)) == 5


# ------------------------------------------------------------------ outcomes


def claimed_for(
    app: Flask,
    store: redis.Redis,
    advisor: str = "alex",
    voicemail: bool = False,
    at: str = OPEN_AT,
) -> str:
    requested = london("2026-11-25T09:00")
    claim_at = london(at)
    callback_id = request_callback(
        CallbackQueue(store, SEALER),
        CALLERS[0],
        "sms",
        requested,
        requested,
        slot_end=claim_at.replace(hour=16, minute=0),
        voicemail=voicemail,
    ).callback_id
    assert queue_of(app).claim(advisor, claim_at).id == callback_id
    return callback_id


def record(client, callback_id: str, outcome: str):
    return post_form(client, f"/console/callbacks/{callback_id}/outcome", {"outcome": outcome})


@pytest.mark.parametrize(
    ("outcome", "voicemail", "status", "message"),
    [
        ("reached", False, "done", "Recorded: Reached."),
        ("wrong_number", False, "done", "Recorded: Wrong number."),
        ("declined", False, "done", "Recorded: Asked not to be called."),
        ("voicemail_left", True, "done", "Recorded: Voicemail left."),
        ("no_answer", False, "scheduled", "It will come back to the queue later."),
    ],
)
def test_an_outcome_ends_the_call_or_brings_it_back(
    make_app, store, outcome, voicemail, status, message
):
    app = make_app(cookie_secure=False)
    client = on_duty_advisor(app, store)
    callback_id = claimed_for(app, store, voicemail=voicemail)
    assert record(client, callback_id, outcome).status_code == 302
    assert message in flashes(client)
    callback = queue_of(app).get(callback_id)
    assert (callback.status, callback.outcome, callback.attempts) == (status, outcome, 1)
    assert callback.claimed_by is None
    if status == "done":
        assert queue_of(app).open_for(CALLERS[0]) is None  # a new text starts a new request
    assert any(
        e["action"] == f"outcome {outcome}" and e["number"] == "***456" for e in audit.recent(store)
    )


def test_voicemail_left_is_refused_when_the_person_did_not_allow_a_voicemail(make_app, store):
    app = make_app(cookie_secure=False)
    client = on_duty_advisor(app, store)
    callback_id = claimed_for(app, store, voicemail=False)
    assert "Voicemail left" not in client.get("/console/").get_data(as_text=True)
    record(client, callback_id, "voicemail_left")
    assert "Choose one of the outcomes shown." in flashes(client)
    assert queue_of(app).get(callback_id).status == "claimed"


def test_an_unknown_outcome_is_refused(make_app, store):
    app = make_app(cookie_secure=False)
    client = on_duty_advisor(app, store)
    callback_id = claimed_for(app, store)
    record(client, callback_id, "hung_up_rudely")
    assert "Choose one of the outcomes shown." in flashes(client)
    assert queue_of(app).get(callback_id).status == "claimed"


@pytest.mark.parametrize(
    ("at", "comes_back_at"),
    [
        ("2026-11-25T11:00", "2026-11-25T13:00"),  # Wednesday morning: two hours later
        (FRIDAY_AFTERNOON, "2026-11-30T10:00"),  # Friday 15:00: Monday's opening
    ],
)
def test_no_answer_comes_back_two_hours_later_in_opening_hours(make_app, store, at, comes_back_at):
    app = make_app(at=at, cookie_secure=False)
    client = on_duty_advisor(app, store)
    callback_id = claimed_for(app, store, at=at)
    record(client, callback_id, "no_answer")
    callback = queue_of(app).get(callback_id)
    assert callback.status == "scheduled"
    assert callback.due_at == london(comes_back_at)


def test_the_third_no_answer_expires_the_callback(make_app, store):
    app = make_app(cookie_secure=False)  # max_attempts 3 by default
    client = on_duty_advisor(app, store)
    queue = queue_of(app)
    callback_id = ask(store, CALLERS[0], "2026-11-25T09:00")
    statuses = []
    for _ in range(3):
        assert queue.claim("alex", london(OPEN_AT)).id == callback_id
        record(client, callback_id, "no_answer")
        callback = queue.get(callback_id)
        statuses.append((callback.status, callback.attempts))
        queue.release(callback.due_at, callback.due_at.date())  # the time comes round again
    assert statuses == [("scheduled", 1), ("scheduled", 2), ("expired", 3)]
    assert queue.claim("alex", london("2026-11-27T15:00")) is None


def test_an_advisor_cannot_finish_another_advisors_claim(make_app, store):
    app = make_app(cookie_secure=False)
    alex = on_duty_advisor(app, store, "Alex", "+447400000111")
    add_advisor(store, "Bea", "+447400000112", on_duty=True)
    callback_id = claimed_for(app, store, advisor="bea")
    record(alex, callback_id, "reached")
    assert "That callback is not yours to finish." in flashes(alex)
    callback = queue_of(app).get(callback_id)
    assert (callback.status, callback.claimed_by) == ("claimed", "bea")


def test_a_supervisor_can_finish_anyones_claim(make_app, store):
    app = make_app(cookie_secure=False)
    add_advisor(store, "Bea", "+447400000112", on_duty=True)
    sam = on_duty_advisor(app, store, "Sam", SUPERVISOR_PHONE, supervisor=True)
    callback_id = claimed_for(app, store, advisor="bea")
    record(sam, callback_id, "declined")
    assert queue_of(app).get(callback_id).status == "done"
    assert any(
        e["actor"] == "sam" and e["action"] == "outcome declined" for e in audit.recent(store)
    )


# ------------------------------------------------------------------ after_outcome's table


@pytest.mark.parametrize(
    ("outcome", "at", "earliest", "expected"),
    [
        # Two hours later when that is in hours.
        ("no_answer", "2026-11-25T11:00", None, "2026-11-25T13:00"),
        ("no_answer", "2026-11-25T13:59", None, "2026-11-25T15:59"),
        # Two hours later is after closing: the next opening.
        ("no_answer", "2026-11-25T14:00", None, "2026-11-26T10:00"),
        ("no_answer", "2026-11-25T15:30", None, "2026-11-26T10:00"),
        # Across a weekend.
        ("no_answer", FRIDAY_AFTERNOON, None, "2026-11-30T10:00"),
        # Across the weekend and the late summer bank holiday (Monday 31 August 2026).
        ("no_answer", "2026-08-28T14:30", None, "2026-09-01T10:00"),
        # Christmas: Friday 25th, the weekend, Monday 28th (Boxing Day, observed).
        ("no_answer", "2026-12-24T15:00", None, "2026-12-29T10:00"),
        # Across the end of British Summer Time (Sunday 25 October 2026).
        ("no_answer", "2026-10-23T15:00", None, "2026-10-26T10:00"),
        # A safe time is kept: not before 15:00.
        ("no_answer", "2026-11-25T11:00", "15:00", "2026-11-25T15:00"),
        ("no_answer", FRIDAY_AFTERNOON, "11:30", "2026-11-30T11:30"),
        # Anything else is done at once.
        ("reached", FRIDAY_AFTERNOON, None, None),
        ("wrong_number", "2026-11-25T11:00", None, None),
        ("declined", "2026-11-25T11:00", "15:00", None),
        ("voicemail_left", "2026-11-25T11:00", None, None),
    ],
)
def test_after_outcome_on_the_first_try(outcome, at, earliest, expected):
    plan = Window(earliest=time.fromisoformat(earliest)) if earliest else ANYTIME
    status, place = after_outcome(outcome, 0, 3, london(at), hours(), RETRY, plan)
    if expected is None:
        assert (status, place) == ("done", None)
    else:
        assert status == "scheduled"
        assert place.due == london(expected)


@pytest.mark.parametrize(
    ("attempts_before", "max_attempts", "status"),
    [
        (0, 3, "scheduled"),
        (1, 3, "scheduled"),
        (2, 3, "expired"),
        (5, 3, "expired"),
        (0, 1, "expired"),
        (3, 5, "scheduled"),
        (4, 5, "expired"),
    ],
)
def test_no_answer_expires_at_the_maximum_attempts(attempts_before, max_attempts, status):
    result, place = after_outcome(
        "no_answer",
        attempts_before,
        max_attempts,
        london("2026-11-25T11:00"),
        hours(),
        RETRY,
        ANYTIME,
    )
    assert result == status
    assert (place is None) == (status == "expired")


def test_every_outcome_is_known_and_others_are_refused():
    assert set(OUTCOMES) == {"reached", "no_answer", "voicemail_left", "wrong_number", "declined"}
    with pytest.raises(ValueError):
        after_outcome("maybe", 0, 3, london(OPEN_AT), hours(), RETRY, None)


# ------------------------------------------------------------------ stale claims


def test_an_unfinished_claim_goes_back_to_the_queue(store):
    queue = CallbackQueue(store, SEALER)
    callback_id = ask(store, CALLERS[0], "2026-11-25T09:00")
    claimed_at = london("2026-11-25T11:00")
    queue.claim("alex", claimed_at)
    queue.set_call_state(callback_id, "ringing")
    assert queue.return_stale_claims(claimed_at - timedelta(minutes=1)) == 0  # not stale yet
    assert queue.return_stale_claims(claimed_at + timedelta(minutes=1)) == 1
    callback = queue.get(callback_id)
    assert (callback.status, callback.claimed_by, callback.call_state) == ("due", None, None)
    assert queue.claim("bea", claimed_at + timedelta(minutes=2)).id == callback_id


def test_a_claim_whose_caller_was_connected_is_not_called_again(store):
    queue = CallbackQueue(store, SEALER)
    callback_id = ask(store, CALLERS[0], "2026-11-25T09:00")
    claimed_at = london("2026-11-25T11:00")
    queue.claim("alex", claimed_at)
    queue.set_call_state(callback_id, "connected", caller_connected=True)
    assert queue.return_stale_claims(claimed_at + timedelta(hours=1)) == 0
    callback = queue.get(callback_id)
    assert (callback.status, callback.claimed_by) == ("claimed", "alex")
    assert queue.claim("bea", claimed_at + timedelta(hours=1)) is None


def test_the_queue_flags_a_callback_on_its_last_day_and_counts_those_held(make_app, store):
    last = ask(store, CALLERS[0], "2026-11-19T11:00")
    CallbackQueue(store, SEALER).set_count(last, Count(4, london("2026-11-24T12:00").date()))
    ask(store, CALLERS[1], "2026-11-25T10:00")
    asked = london("2026-11-25T09:00")
    request_callback(CallbackQueue(store, SEALER), CALLERS[2], "sms", asked, asked, plan=None)
    client = on_duty_advisor(make_app(cookie_secure=False), store)

    view = client.get("/console/queue.json").get_json()
    assert [(r["id"] == last, r["last_day"]) for r in view["due"]] == [(True, True), (False, False)]
    assert view["held"] == 1
    page = client.get("/console/").get_data(as_text=True)
    assert page.count("last day</strong>") == 1
    assert re.search(r'<span id="held-count">1</span> waiting for a safe time', page)
