"""Found (review, s3 #2): a caller who hung up in the middle of the callback questions (their
number confirmed, the safe time not yet answered) left no callback at all: only the last
answer stored one. When the call ends Twilio POSTs the number's status callback
(https://www.twilio.com/docs/voice/api/call-resource#statuscallback); what they had asked so
far is then kept as a callback **held for a safe time**: never "any time", never a time
they did not give, never a second one, nothing for a number they had not confirmed.

Each request is signed as Twilio signs it, with one CallSid per call."""

from __future__ import annotations

import uuid

from flask import Flask

from ivr.core.callbacks import Callback
from ivr.core.safetime import Window
from ivr.simulate import TwilioLikeClient, simulate_call
from tests.common import ACCOUNT_SID, HELPLINE, send, twiml

ME = "+447400123456"
KEYED = "07400654321"
KEYED_E164 = "+447400654321"
EVENING, OPEN = "2026-11-25T19:00", "2026-11-25T11:00"


class Call:
    """One inbound call's signed requests, and its end as Twilio reports it."""

    def __init__(self, app: Flask, caller: str = ME) -> None:
        self.sid = "CA" + uuid.uuid4().hex
        self.client = TwilioLikeClient(
            app,
            {
                "CallSid": self.sid,
                "AccountSid": ACCOUNT_SID,
                "From": caller,
                "To": HELPLINE,
                "CallStatus": "in-progress",
                "Direction": "inbound",
            },
        )

    def press(self, url: str, digits: str = "") -> None:
        twiml(self.client.post(url, {"Digits": digits} if digits else {}))

    def hang_up(self, status: str = "completed") -> int:
        """The number's status callback when the call ends: the fields Twilio sends."""
        fields = {
            "CallStatus": status,
            "CallDuration": "74",
            "Timestamp": "Wed, 25 Nov 2026 19:01:14 +0000",
            "CallbackSource": "call-progress-events",
            "SequenceNumber": "0",
            "ApiVersion": "2010-04-01",
        }
        return self.client.post("/voice/callback/call-ended", fields).status_code


def callbacks(app: Flask) -> list[Callback]:
    return list(app.extensions["helpline"].queue.all())


def held_one(app: Flask, number: str = ME) -> Callback:
    (callback,) = callbacks(app)
    assert callback.number == number
    assert callback.status == "held" and callback.plan is None  # never "any time"
    return callback


def own_number_confirmed(app: Flask) -> Call:
    call = Call(app)
    call.press("/voice/callback")
    call.press("/voice/callback/confirm", "1")  # yes, call this number
    return call


def test_the_finding_hanging_up_at_the_safe_time_question_keeps_a_held_callback(make_app):
    app = make_app(at=EVENING)
    call = own_number_confirmed(app)
    call.press("/voice/callback/voicemail/answer", "1")  # a voicemail is all right
    call.press("/voice/callback/safe-time?voicemail=1")
    assert callbacks(app) == []
    assert call.hang_up() == 200
    callback = held_one(app)
    assert (callback.source, callback.voicemail) == ("voice", True)


def test_hanging_up_at_the_voicemail_question_keeps_it_with_no_voicemail(make_app):
    app = make_app(at=OPEN)
    call = own_number_confirmed(app)
    call.hang_up()
    assert held_one(app).voicemail is False  # not asked yet: the safe choice


def test_a_keyed_number_read_back_and_confirmed_is_kept(make_app):
    app = make_app(at=EVENING)
    call = Call(app, caller="anonymous")
    call.press("/voice/callback/check", KEYED)
    call.press("/voice/callback/number/confirm", "1")
    call.hang_up()
    held_one(app, KEYED_E164)


def test_no_callback_for_a_number_they_had_not_confirmed(make_app):
    app = make_app(at=EVENING)
    offered = Call(app)
    offered.press("/voice/callback")  # hung up while asked "is it this number?"
    offered.hang_up()
    refused = Call(app, caller="+447400111222")
    refused.press("/voice/callback")
    refused.press("/voice/callback/confirm", "2")  # not this number
    refused.press("/voice/callback/check", KEYED)  # keyed, not yet read back and confirmed
    refused.hang_up()
    assert callbacks(app) == []


def test_a_caller_who_went_back_to_the_menu_asked_for_nothing(make_app):
    app = make_app(at=EVENING)
    call = own_number_confirmed(app)
    call.press("/voice/callback/voicemail/answer", "0")  # the main menu
    call.hang_up()
    assert callbacks(app) == []


def test_a_finished_request_is_not_changed_or_doubled_by_the_call_ending(make_app):
    app = make_app(at=EVENING)
    call = own_number_confirmed(app)
    call.press("/voice/callback/voicemail/answer", "2")
    call.press("/voice/callback/save?voicemail=0", "3")  # afternoons
    (before,) = callbacks(app)
    call.hang_up()
    assert callbacks(app) == [before]


def test_the_status_callback_twice_stores_one(make_app):
    app = make_app(at=EVENING)
    call = own_number_confirmed(app)
    call.hang_up()
    call.hang_up()
    held_one(app)


def test_a_safe_time_they_gave_before_stands(make_app):
    app = make_app(at=EVENING)
    send(app, "after 2pm", sender=ME)
    (texted,) = callbacks(app)
    call = own_number_confirmed(app)
    call.hang_up()
    (after,) = callbacks(app)
    assert after.id == texted.id and after.plan == texted.plan
    assert after.plan is not None and after.plan != Window()
    assert (after.status, after.due_at) == (texted.status, texted.due_at)


def test_a_call_that_spoke_of_despair_keeps_an_urgent_callback(make_app):
    app = make_app(at=EVENING)
    call = own_number_confirmed(app)
    twiml(
        call.client.post(
            "/voice/callback/voicemail/answer", {"SpeechResult": "I want to end it all"}
        )
    )
    call.hang_up()
    assert held_one(app).urgent


def test_an_unsigned_status_callback_is_refused(make_app):
    app = make_app(at=EVENING)
    own_number_confirmed(app)
    response = app.test_client().post(
        "/voice/callback/call-ended", data={"CallSid": "CA" + "f" * 32, "CallStatus": "completed"}
    )
    assert response.status_code == 403
    assert callbacks(app) == []


def test_the_simulator_ends_a_call_as_twilio_does(make_app):
    """`helpline simulate call --press 5 --press 1`: the caller hangs up at the voicemail
    question; the transcript's call ends with the status callback, so the held callback
    is there as it would be."""
    app = make_app(at=EVENING)
    simulate_call(app, ["5", "1"], caller=ME)
    held_one(app)
