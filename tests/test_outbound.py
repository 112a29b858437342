"""Calling a person back, as Twilio drives it: the advisor's phone rings and asks for 1, then
the caller's number is dialled with answering machine detection; a machine hears nothing unless
a voicemail was allowed; nothing is ever dialled while the helpline is closed; the console's
view of the call follows Twilio's status callbacks."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
import redis
from flask import Flask

from ivr.simulate import TwilioLikeClient
from ivr.store.closures import close_line
from ivr.store.queue import CallbackQueue
from ivr.web.outbound import MACHINE
from tests.common import (
    CLOSED_AT,
    OPEN_AT,
    SEALER,
    assert_no_dial_to_emergency,
    dialled,
    empty,
    london,
    path,
    query,
    request_callback,
    spoken,
    twiml,
)

HELPLINE = "+441234567890"
BASE = "https://helpline.example.org"
CALLER = "+447400123456"
# Emergency numbers as they could be stored.
EMERGENCY_FORMS = ("999", "112", "101", "+44999", "+44112", "+44101", "911")


def verbs(root: ElementTree.Element) -> list[str]:
    return [child.tag for child in root]


def outbound_text(app: Flask, name: str) -> str:
    return app.extensions["helpline"].flows.voice.outbound[name]


@pytest.fixture
def outbound_app(make_app):
    def factory(at: str = OPEN_AT, **settings: object) -> Flask:
        return make_app(at=at, helpline_number=HELPLINE, public_base_url=BASE, **settings)

    return factory


def twilio_post(app: Flask, url: str, **params: str):
    """A webhook request signed as Twilio signs it."""
    return TwilioLikeClient(
        app,
        {
            "CallSid": "CA" + "c" * 32,
            "AccountSid": "AC" + "0" * 32,
            "CallStatus": "in-progress",
            **params,
        },
    ).post(url)


def claimed(
    store: redis.Redis, number: str = CALLER, voicemail: bool = False, at: str = OPEN_AT
) -> str:
    """A callback claimed by Alex (what call-next has done before Twilio rings her)."""
    queue = CallbackQueue(store, SEALER)
    requested = london("2026-11-25T09:30")
    callback_id = request_callback(
        queue, number, "sms", requested, requested, voicemail=voicemail
    ).callback_id
    assert queue.claim("alex", london(at)).id == callback_id
    return callback_id


def state(store: redis.Redis, callback_id: str) -> str | None:
    return CallbackQueue(store, SEALER).get(callback_id).call_state


# ------------------------------------------------------------------ the advisor's leg


def test_the_advisor_is_asked_to_press_1(outbound_app, store):
    app = outbound_app()
    callback_id = claimed(store)
    root = twiml(twilio_post(app, f"/voice/outbound/advisor?cb={callback_id}"))
    assert verbs(root) == ["Gather", "Say", "Hangup"]
    gather = root.find("Gather")
    assert (gather.get("input"), gather.get("numDigits"), gather.get("method")) == (
        "dtmf",
        "1",
        "POST",
    )
    assert path(gather.get("action")) == "/voice/outbound/connect"
    assert query(gather.get("action")) == {"cb": callback_id}
    assert spoken(gather) == [outbound_text(app, "connect")]
    assert root.find("Number") is None and root.find("Dial") is None


def connect(app: Flask, callback_id: str, digits: str = "1"):
    return twilio_post(app, f"/voice/outbound/connect?cb={callback_id}", Digits=digits)


@pytest.mark.parametrize(
    ("voicemail", "detection"), [(False, "Enable"), (True, "DetectMessageEnd")]
)
def test_pressing_1_dials_the_caller_with_machine_detection(
    outbound_app, store, voicemail, detection
):
    app = outbound_app()
    callback_id = claimed(store, voicemail=voicemail)
    root = twiml(connect(app, callback_id))
    assert verbs(root) == ["Dial"]
    dial = root.find("Dial")
    assert dial.get("callerId") == HELPLINE
    assert dial.get("record") == "do-not-record"
    assert path(dial.get("action")) == "/voice/outbound/dial-result"
    numbers = dial.findall("Number")
    assert [n.text for n in numbers] == [CALLER]
    number = numbers[0]
    assert number.get("machineDetection") == detection
    assert number.get("url") == f"{BASE}/voice/outbound/caller-answered?cb={callback_id}"
    assert number.get("statusCallback") == f"{BASE}/voice/outbound/caller-status?cb={callback_id}"
    assert number.get("statusCallbackEvent").split() == [
        "initiated",
        "ringing",
        "answered",
        "completed",
    ]
    assert state(store, callback_id) == "ringing"


@pytest.mark.parametrize("digits", ["", "2", "0", "9", "*", "#"])
def test_any_other_key_or_none_hangs_up_without_dialling(outbound_app, store, digits):
    app = outbound_app()
    callback_id = claimed(store)
    root = twiml(connect(app, callback_id, digits))
    assert root.find("Dial") is None
    assert verbs(root)[-1] == "Hangup"
    assert spoken(root) == [outbound_text(app, "no_key")]
    assert state(store, callback_id) == "claimed"


@pytest.mark.parametrize("situation", ["due", "done", "unknown", "missing"])
def test_a_callback_that_is_not_claimed_is_not_dialled(outbound_app, store, situation):
    app = outbound_app()
    queue = CallbackQueue(store, SEALER)
    at = london(OPEN_AT)
    callback_id = request_callback(queue, CALLER, "sms", at, at).callback_id
    if situation == "done":
        queue.claim("alex", at)
        queue.finish(callback_id, "alex", "reached", "done", at)
    url = {
        "unknown": "/voice/outbound/connect?cb=0123456789abcdef",
        "missing": "/voice/outbound/connect",
    }.get(situation, f"/voice/outbound/connect?cb={callback_id}")
    root = twiml(twilio_post(app, url, Digits="1"))
    assert root.find("Dial") is None
    assert spoken(root) == [outbound_text(app, "not_claimed")]


@pytest.mark.parametrize("closure", ["after_hours", "supervisor_closed_the_line"])
def test_nothing_is_ever_dialled_while_the_helpline_is_closed(outbound_app, store, closure):
    if closure == "after_hours":  # claimed at 15:59, the advisor presses 1 at 19:00
        app = outbound_app(at=CLOSED_AT)
        callback_id = claimed(store, at="2026-11-25T15:59")
    else:
        app = outbound_app()
        callback_id = claimed(store)
        close_line(store, "We are closed for staff training.", None)
    root = twiml(connect(app, callback_id))
    assert root.find("Dial") is None and root.find("Number") is None
    assert spoken(root) == [outbound_text(app, "closed")]
    assert verbs(root)[-1] == "Hangup"


def test_an_emergency_number_in_the_store_is_never_dialled(outbound_app, store):
    app = outbound_app()
    for number in EMERGENCY_FORMS:
        empty(store)
        callback_id = claimed(store, number=number)
        root = twiml(connect(app, callback_id))
        assert root.find("Dial") is None and root.find("Number") is None, number


def test_requests_not_signed_by_twilio_are_refused(outbound_app, store):
    app = outbound_app()
    callback_id = claimed(store)
    response = app.test_client().post(
        f"/voice/outbound/connect?cb={callback_id}", data={"Digits": "1"}
    )
    assert response.status_code == 403
    assert state(store, callback_id) == "claimed"


# ------------------------------------------------------------------ the caller's leg


def caller_answered(app: Flask, callback_id: str, answered_by: str):
    return twilio_post(
        app, f"/voice/outbound/caller-answered?cb={callback_id}", AnsweredBy=answered_by
    )


@pytest.mark.parametrize("machine", MACHINE)
def test_a_machine_hears_nothing_when_no_voicemail_was_allowed(outbound_app, store, machine):
    app = outbound_app()
    callback_id = claimed(store, voicemail=False)
    root = twiml(caller_answered(app, callback_id, machine))
    assert verbs(root) == ["Hangup"]
    assert spoken(root) == []
    assert state(store, callback_id) == "machine"


def test_a_machine_is_bridged_when_a_voicemail_was_allowed(outbound_app, store):
    app = outbound_app()
    callback_id = claimed(store, voicemail=True)
    root = twiml(caller_answered(app, callback_id, "machine_end_beep"))
    assert verbs(root) == []  # empty: the advisor speaks after the beep
    assert state(store, callback_id) == "machine"


@pytest.mark.parametrize("answered_by", ["human", "unknown", ""])
def test_a_person_is_connected_to_the_advisor(outbound_app, store, answered_by):
    app = outbound_app()
    callback_id = claimed(store)
    root = twiml(caller_answered(app, callback_id, answered_by))
    assert verbs(root) == []
    assert state(store, callback_id) == "connected"
    assert store.hget(f"hl:main:cb:{callback_id}", "caller_connected") == "1"


def test_an_answer_for_an_unknown_callback_hangs_up(outbound_app, store):
    root = twiml(caller_answered(outbound_app(), "0123456789abcdef", "human"))
    assert verbs(root) == ["Hangup"]


# ------------------------------------------------------------------ back on the advisor's leg


def dial_result(app: Flask, callback_id: str, status: str):
    return twilio_post(app, f"/voice/outbound/dial-result?cb={callback_id}", DialCallStatus=status)


def test_after_a_machine_the_advisor_is_told_no_message_was_left(outbound_app, store):
    app = outbound_app()
    callback_id = claimed(store)
    caller_answered(app, callback_id, "machine_start")
    root = twiml(dial_result(app, callback_id, "completed"))
    assert spoken(root) == [outbound_text(app, "machine")]
    assert verbs(root)[-1] == "Hangup"
    assert state(store, callback_id) == "ended"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("no-answer", "no_answer"),
        ("busy", "no_answer"),
        ("failed", "no_answer"),
        ("canceled", "no_answer"),
        ("completed", "ended"),
    ],
)
def test_after_the_callers_leg_the_advisor_hears_what_happened(
    outbound_app, store, status, message
):
    app = outbound_app()
    callback_id = claimed(store)
    root = twiml(dial_result(app, callback_id, status))
    assert spoken(root) == [outbound_text(app, message)]
    assert verbs(root)[-1] == "Hangup"
    assert state(store, callback_id) == "ended"


def test_after_a_voicemail_was_left_the_advisor_is_not_told_about_a_machine(outbound_app, store):
    app = outbound_app()
    callback_id = claimed(store, voicemail=True)
    caller_answered(app, callback_id, "machine_end_beep")
    root = twiml(dial_result(app, callback_id, "completed"))
    assert spoken(root) == [outbound_text(app, "ended")]


# ------------------------------------------------------------------ status callbacks


@pytest.mark.parametrize(
    ("events", "final"),
    [
        (["initiated"], "claimed"),
        (["initiated", "ringing"], "ringing"),
        (["ringing", "completed"], "ended"),
        (["ringing", "no-answer"], "ended"),
        (["ringing", "busy"], "ended"),
    ],
)
def test_the_callers_leg_status_updates_the_console(outbound_app, store, events, final):
    app = outbound_app()
    callback_id = claimed(store)
    for event in events:
        root = twiml(
            twilio_post(app, f"/voice/outbound/caller-status?cb={callback_id}", CallStatus=event)
        )
        assert verbs(root) == []
    assert state(store, callback_id) == final


def test_a_late_ringing_event_does_not_undo_connected(outbound_app, store):
    app = outbound_app()
    callback_id = claimed(store)
    caller_answered(app, callback_id, "human")
    twilio_post(app, f"/voice/outbound/caller-status?cb={callback_id}", CallStatus="ringing")
    assert state(store, callback_id) == "connected"


def test_after_a_machine_the_callers_status_leaves_it_for_dial_result(outbound_app, store):
    app = outbound_app()
    callback_id = claimed(store)
    caller_answered(app, callback_id, "machine_start")
    twilio_post(app, f"/voice/outbound/caller-status?cb={callback_id}", CallStatus="completed")
    assert state(store, callback_id) == "machine"


@pytest.mark.parametrize(
    ("status", "final"),
    [
        ("in-progress", "advisor_answered"),
        ("no-answer", "advisor_missed"),
        ("busy", "advisor_missed"),
        ("failed", "advisor_missed"),
        ("ringing", "claimed"),
    ],
)
def test_the_advisors_leg_status_updates_the_console(outbound_app, store, status, final):
    app = outbound_app()
    callback_id = claimed(store)
    twiml(twilio_post(app, f"/voice/outbound/status?cb={callback_id}", CallStatus=status))
    assert state(store, callback_id) == final


def test_status_callbacks_never_touch_a_finished_callback(outbound_app, store):
    app = outbound_app()
    callback_id = claimed(store)
    queue = CallbackQueue(store, SEALER)
    queue.finish(callback_id, "alex", "reached", "done", london(OPEN_AT))
    twilio_post(app, f"/voice/outbound/caller-status?cb={callback_id}", CallStatus="ringing")
    twilio_post(app, f"/voice/outbound/status?cb={callback_id}", CallStatus="in-progress")
    callback = queue.get(callback_id)
    assert (callback.status, callback.call_state) == ("done", "ended")


# ------------------------------------------------------------------ never an emergency number


def test_no_outbound_answer_ever_dials_an_emergency_number(outbound_app, store):
    app = outbound_app()
    callback_id = claimed(store)
    for url, params in [
        ("/voice/outbound/advisor", {}),
        ("/voice/outbound/connect", {"Digits": "1"}),
        ("/voice/outbound/caller-answered", {"AnsweredBy": "human"}),
        ("/voice/outbound/dial-result", {"DialCallStatus": "completed"}),
        ("/voice/outbound/status", {"CallStatus": "completed"}),
        ("/voice/outbound/caller-status", {"CallStatus": "completed"}),
    ]:
        for cb in (callback_id, "999", "112"):
            root = twiml(twilio_post(app, f"{url}?cb={cb}", To="999", From="112", **params))
            assert_no_dial_to_emergency(root)
            assert all(n == CALLER for n in dialled(root)), (url, dialled(root))


def test_an_error_on_the_callers_leg_ends_it_without_a_word(outbound_app, store, monkeypatch):
    import ivr.web.outbound

    app = outbound_app()
    callback_id = claimed(store, voicemail=False)
    monkeypatch.setattr(ivr.web.outbound, "_callback", lambda: 1 / 0)
    root = twiml(caller_answered(app, callback_id, "human"))
    assert verbs(root) == ["Hangup"]  # never the helpline's greeting to whoever answered
    assert spoken(root) == []
