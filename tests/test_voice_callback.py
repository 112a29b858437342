"""Asking for a callback on a call: press 5, confirm (or key in) the number, say whether a
voicemail is all right, and hear when we will call. The request joins the same queue as
texts, under the same rules: one open callback per number, UK mobiles and landlines only.

Walks use ivr.simulate.simulate_call (the real webhooks, followed like Twilio); single steps
are signed posts with one CallSid. Expected words come from the loaded flows/voice.toml.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from flask import Flask

from ivr.core.callbacks import Callback
from ivr.core.safetime import ANYTIME, describe
from ivr.simulate import Speech, Transcript, TwilioLikeClient, simulate_call
from ivr.store.closures import close_line
from tests.common import (
    ACCOUNT_SID,
    london,
    number_forms,
    path,
    redirect_of,
    send,
    spoken,
    stored_anywhere,
    twiml,
)

ME = "+447400123456"
SOMEONE_ELSE = "+447400123457"
OPEN, EVENING, CHRISTMAS = "2026-11-25T11:00", "2026-11-25T19:00", "2026-12-25T11:00"
WITHHELD = ("anonymous", "", "+266696687", "restricted", "+447700900123", "+33612345678")


def content(app: Flask) -> Mapping[str, str]:
    return app.extensions["helpline"].flows.voice.callback


def callbacks(app: Flask) -> list[Callback]:
    return list(app.extensions["helpline"].queue.all())


def the_callback(app: Flask, number: str) -> Callback:
    callback = app.extensions["helpline"].queue.open_for(number)
    assert callback is not None, f"no open callback for {number}"
    return callback


def said(transcript: Transcript) -> str:
    assert not [e for e in transcript.events if e["type"] == "error"], transcript.lines()
    return "\n".join(transcript.heard())


def done(app: Flask, when: str, existing: bool = False) -> str:
    return content(app)["done_existing" if existing else "done_new"].format(when=when)


# ------------------------------------------------------------------ one step at a time


class Call:
    """One call's signed requests to the callback routes, with a stable CallSid."""

    def __init__(self, app: Flask, caller: str = ME) -> None:
        self.client = TwilioLikeClient(
            app,
            {
                "CallSid": "CA" + uuid.uuid4().hex,
                "AccountSid": ACCOUNT_SID,
                "From": caller,
                "To": "+441234567890",
                "CallStatus": "in-progress",
                "Direction": "inbound",
            },
        )

    def post(self, url: str, **fields: str) -> ElementTree.Element:
        return twiml(self.client.post(url, fields))


def redirected_to(root: ElementTree.Element) -> str:
    return path(redirect_of(root))


def gather_action(root: ElementTree.Element) -> str:
    return urlsplit(next(root.iter("Gather")).get("action") or "").path


# ------------------------------------------------------------------ the whole walk


@pytest.mark.parametrize(
    ("at", "due", "status", "when"),
    [
        (OPEN, OPEN, "due", "as soon as an advisor is free"),
        (EVENING, "2026-11-26T10:00", "scheduled", "tomorrow at 10am"),
        ("2026-11-28T11:00", "2026-11-30T10:00", "scheduled", "on Monday at 10am"),
        (CHRISTMAS, "2026-12-29T10:00", "scheduled", "on Tuesday 29 December at 10am"),
    ],
)
def test_press_5_confirm_own_number_and_voicemail(make_app, at, due, status, when):
    app = make_app(at=at)

    heard = said(simulate_call(app, ["5", "1", "1", "1"], caller=ME))

    assert content(app)["confirm_number"].format(last3="4 5 6") in heard
    assert content(app)["voicemail"] in heard
    assert done(app, when) in heard
    callback = the_callback(app, ME)
    assert (callback.number, callback.source, callback.voicemail) == (ME, "voice", True)
    assert callback.due_at == london(due)
    assert callback.status == status
    assert callback.plan == ANYTIME
    assert len(callbacks(app)) == 1


def test_asking_while_a_supervisor_has_closed_the_line(make_app, store):
    """No time is invented while nobody has said when the line reopens."""
    app = make_app(at=OPEN)
    close_line(store, "We are closed for training.", None)
    heard = said(simulate_call(app, ["5", "1", "1", "1"], caller=ME))
    assert done(app, "as soon as we reopen") in heard
    callback = the_callback(app, ME)
    assert (callback.status, callback.due_at) == ("scheduled", london(OPEN))


@pytest.mark.parametrize(
    ("at", "when"),
    [
        ("2026-11-25T15:59", "before 4pm today if we can, or else tomorrow at 10am"),
        ("2026-11-25T15:20", "as soon as an advisor is free"),
    ],
)
def test_near_closing_a_caller_is_told_the_fallback_honestly(make_app, at, when):
    """Found: a call at 15:59 was told "as soon as an advisor is free"."""
    app = make_app(at=at)
    heard = said(simulate_call(app, ["5", "1", "1", "1"], caller=ME))
    assert done(app, when) in heard


def test_no_voicemail_is_remembered(make_app):
    app = make_app(at=EVENING)
    said(simulate_call(app, ["5", "1", "2", "1"], caller=ME))
    assert the_callback(app, ME).voicemail is False


def test_the_last_three_digits_are_read_out_one_by_one(make_app):
    app = make_app()
    heard = said(simulate_call(app, ["5"], caller="+442079460001"))
    assert "ending 0 0 1." in heard


@pytest.mark.parametrize("caller", WITHHELD)
def test_a_withheld_or_uncallable_caller_keys_in_a_number(make_app, caller):
    app = make_app(at=EVENING)

    heard = said(simulate_call(app, ["5", "07400123456", "1", "1", "1"], caller=caller))

    assert content(app)["ask_number"] in heard
    assert "number ending" not in heard
    assert content(app)["read_back"].format(digits="0 7 4 0 0 1 2 3 4 5 6") in heard
    assert done(app, "tomorrow at 10am") in heard
    callback = the_callback(app, ME)
    assert (callback.source, callback.voicemail) == ("voice", True)
    assert len(callbacks(app)) == 1


def test_press_2_to_give_a_different_number(make_app):
    app = make_app(at=EVENING)
    heard = said(simulate_call(app, ["5", "2", "02079460001", "1", "2", "1"], caller=ME))
    assert content(app)["read_back"].format(digits="0 2 0 7 9 4 6 0 0 0 1") in heard
    assert [c.number for c in callbacks(app)] == ["+442079460001"]
    assert the_callback(app, "+442079460001").voicemail is False


def test_a_number_keyed_in_wrongly_can_be_keyed_again(make_app):
    app = make_app(at=EVENING)
    said(
        simulate_call(app, ["5", "2", "07400123457", "2", "07400123456", "1", "1", "1"], caller=ME)
    )
    assert [c.number for c in callbacks(app)] == [ME]


@pytest.mark.parametrize(
    ("digits", "kind"),
    [
        ("09011234567", "premium rate"),
        ("07012345678", "personal number"),
        ("0033612345678", "international"),
        ("08451234567", "shared cost"),
        ("07400", "too short"),
        ("07700900123", "not a real number"),
    ],
)
def test_numbers_we_may_not_call_are_refused(make_app, store, digits, kind):
    app = make_app(at=EVENING)

    transcript = simulate_call(app, ["5", digits], caller="anonymous")

    heard = said(transcript)
    assert content(app)["invalid_number"] in heard, kind
    assert heard.count(content(app)["ask_number"]) == 2  # asked again
    assert "You keyed in" not in heard
    assert callbacks(app) == []
    assert stored_anywhere(store, digits) == []


def test_three_refused_numbers_end_the_call_kindly(make_app):
    app = make_app(at=EVENING)
    transcript = simulate_call(
        app, ["5", "09011234567", "09011234567", "09011234567"], caller="anonymous"
    )
    heard = said(transcript)
    assert heard.count(content(app)["invalid_number"]) == 3
    assert transcript.events[-1]["type"] == "hangup"
    assert "9 9 9" in transcript.heard()[-3]  # the safety line before goodbye
    assert callbacks(app) == []


def test_a_number_with_an_open_request_is_told_it_already_has_one(make_app):
    app = make_app(at=EVENING)
    send(app, "hello", sender=ME)  # asked by text earlier

    heard = said(simulate_call(app, ["5", "1", "1", "1"], caller=ME))

    assert done(app, "tomorrow at 10am", existing=True) in heard
    callback = the_callback(app, ME)
    assert callback.source == "sms"
    assert len(callbacks(app)) == 1


def test_asking_twice_keeps_one_request_with_the_latest_voicemail_answer(make_app):
    app = make_app(at=EVENING)
    heard = said(simulate_call(app, ["5", "1", "1", "1", "5", "1", "2", "1"], caller=ME))
    assert done(app, "tomorrow at 10am") in heard
    assert done(app, "tomorrow at 10am", existing=True) in heard
    assert len(callbacks(app)) == 1
    assert the_callback(app, ME).voicemail is False  # "no voicemail" the second time counts


def test_one_call_can_ask_for_two_different_numbers(make_app):
    app = make_app(at=EVENING)
    heard = said(
        simulate_call(app, ["5", "1", "1", "1", "5", "2", "07400123457", "1", "2", "1"], caller=ME)
    )
    assert heard.count(done(app, "tomorrow at 10am")) == 2
    assert the_callback(app, ME).voicemail is True
    assert the_callback(app, SOMEONE_ELSE).voicemail is False


def test_a_callback_asked_for_by_phone_can_be_cancelled_by_text(make_app, store):
    app = make_app(at=EVENING)
    said(simulate_call(app, ["5", "1", "1", "1"], caller=ME))
    assert send(app, "STOP", sender=ME) == []
    assert callbacks(app) == []
    for form in number_forms(ME):
        assert stored_anywhere(store, form) == []


# ------------------------------------------------------------------ single steps


def test_start_offers_the_callers_own_number(make_app):
    app = make_app()
    root = Call(app).post("/voice/callback")
    assert spoken(root) == [
        content(app)["confirm_number"].format(last3="4 5 6"),
        app.extensions["helpline"].flows.voice.no_input,
    ]
    gather = next(root.iter("Gather"))
    assert (gather.get("input"), gather.get("numDigits")) == ("dtmf speech", "1")
    assert gather_action(root) == "/voice/callback/confirm"
    assert redirected_to(root) == "/voice/callback"  # silence asks again


def test_start_for_a_withheld_caller_goes_straight_to_keying_in(make_app, store):
    app = make_app()
    root = Call(app, caller="anonymous").post("/voice/callback")
    assert spoken(root) == []
    assert redirected_to(root) == "/voice/callback/number"
    assert store.keys("hl:main:call:*") == []


def test_the_number_question_takes_up_to_13_digits_ended_by_hash(make_app):
    app = make_app()
    root = Call(app, caller="anonymous").post("/voice/callback/number")
    gather = next(root.iter("Gather"))
    assert gather.get("finishOnKey") == "#"
    assert gather.get("numDigits") == "13"
    assert spoken(root)[0] == content(app)["ask_number"]
    assert gather_action(root) == "/voice/callback/check"


@pytest.mark.parametrize(
    ("digits", "read_back"),
    [
        ("07400123456", "0 7 4 0 0 1 2 3 4 5 6"),
        ("07400123456#", "0 7 4 0 0 1 2 3 4 5 6"),
        ("020 7946 0001", "0 2 0 7 9 4 6 0 0 0 1"),
        ("447400123456", "4 4 7 4 0 0 1 2 3 4 5 6"),
    ],
)
def test_a_keyed_number_is_read_back_digit_by_digit(make_app, digits, read_back):
    app = make_app()
    root = Call(app, caller="anonymous").post("/voice/callback/check", Digits=digits)
    assert spoken(root)[0] == content(app)["read_back"].format(digits=read_back)
    assert gather_action(root) == "/voice/callback/number/confirm"


@pytest.mark.parametrize(
    "digits", ["", "*", "0", "09011234567", "0033612345678", "07012345678", "1" * 40]
)
def test_a_keyed_number_we_may_not_call_is_refused(make_app, store, digits):
    app = make_app()
    root = Call(app, caller="anonymous").post("/voice/callback/check", Digits=digits)
    assert spoken(root) == [content(app)["invalid_number"]]
    assert redirected_to(root) == "/voice/callback/number"
    assert store.keys("hl:main:call:*") == []


@pytest.mark.parametrize(
    ("route", "digit", "leads_to"),
    [
        ("/voice/callback/confirm", "1", "/voice/callback/voicemail"),
        ("/voice/callback/confirm", "2", "/voice/callback/number"),
        ("/voice/callback/confirm", "7", "/voice/callback"),
        ("/voice/callback/confirm", "", "/voice/callback"),
        ("/voice/callback/number/confirm", "1", "/voice/callback/voicemail"),
        ("/voice/callback/number/confirm", "2", "/voice/callback/number"),
        ("/voice/callback/number/confirm", "#", "/voice/callback/number/again"),
        ("/voice/callback/number/confirm", "9", "/voice/callback/number/again"),
        ("/voice/callback/confirm", "9", "/voice/callback"),
        ("/voice/callback/confirm", "0", "/voice/menu"),
        ("/voice/callback/number/confirm", "0", "/voice/menu"),
    ],
)
def test_yes_no_questions(make_app, route, digit, leads_to):
    app = make_app()
    assert redirected_to(Call(app).post(route, Digits=digit)) == leads_to


def test_saving_without_a_number_starts_again_and_stores_nothing(make_app):
    app = make_app()
    root = Call(app).post("/voice/callback/save", Digits="1")
    assert redirected_to(root) == "/voice/callback"
    assert callbacks(app) == []


@pytest.mark.parametrize("digit", ["", "3", "*"])
def test_the_voicemail_question_needs_a_yes_or_no(make_app, digit):
    app = make_app()
    call = Call(app)
    call.post("/voice/callback")
    root = call.post("/voice/callback/voicemail/answer", Digits=digit)
    assert redirected_to(root) == "/voice/callback/voicemail"
    assert callbacks(app) == []


@pytest.mark.parametrize("digit", ["", "4", "*"])
def test_saving_needs_one_of_the_safe_times(make_app, digit):
    app = make_app()
    call = Call(app)
    call.post("/voice/callback")
    root = call.post("/voice/callback/save?voicemail=1", Digits=digit)
    assert redirected_to(root) == "/voice/callback/safe-time"
    assert callbacks(app) == []


@pytest.mark.parametrize(
    ("at", "keys", "window", "due", "when"),
    [
        ("2026-11-25T11:00", "1", "any time", "2026-11-25T11:00", "as soon as an advisor is free"),
        (
            "2026-11-25T11:00",
            "2",
            "before 12pm",
            "2026-11-25T11:00",
            "as soon as an advisor is free",
        ),
        ("2026-11-25T11:00", "3", "after 12pm", "2026-11-25T12:00", "today at 12pm"),
        ("2026-11-25T12:30", "2", "before 12pm", "2026-11-26T10:00", "tomorrow at 10am"),
        ("2026-11-25T19:00", "3", "after 12pm", "2026-11-26T12:00", "tomorrow at 12pm"),
    ],
)
def test_a_caller_chooses_a_safe_time_on_the_keypad(make_app, at, keys, window, due, when):
    """Found: voice callbacks had no safe time at all."""
    app = make_app(at=at)
    heard = said(simulate_call(app, ["5", "1", "2", keys], caller=ME))
    assert content(app)["safe_time"] in heard
    assert done(app, when) in heard
    callback = the_callback(app, ME)
    assert (describe(callback.plan), callback.due_at, callback.voicemail) == (
        window,
        london(due),
        False,
    )


def test_the_safe_time_can_be_said(make_app):
    app = make_app()
    simulate_call(app, ["5", "1", "2", Speech("afternoons please")], caller=ME)
    assert describe(the_callback(app, ME).plan) == "after 12pm"


def test_asking_again_on_a_call_changes_the_safe_time(make_app):
    app = make_app(at=EVENING)
    simulate_call(app, ["5", "1", "2", "2"], caller=ME)
    heard = said(simulate_call(app, ["5", "1", "2", "3"], caller=ME))
    assert done(app, "tomorrow at 12pm", existing=True) in heard
    assert describe(the_callback(app, ME).plan) == "after 12pm"


def test_the_number_is_held_only_for_the_call_and_only_until_saved(make_app, store):
    app = make_app(at=EVENING)
    call, other_call = Call(app), Call(app, caller=SOMEONE_ELSE)
    call.post("/voice/callback")
    other_call.post("/voice/callback")
    pending = store.keys("hl:main:call:*")
    assert len(pending) == 2
    assert all(0 < store.ttl(key) <= 3600 for key in pending)

    root = call.post("/voice/callback/save?voicemail=0", Digits="1")

    assert spoken(root) == [done(app, "tomorrow at 10am")]
    assert redirected_to(root) == "/voice/menu"
    assert [c.number for c in callbacks(app)] == [ME]  # not the other caller's number
    assert len(store.keys("hl:main:call:*")) == 1


# Found (review): a number said in a sentence was taken for a key press, and words that
# change a choice were ignored, so a safe time or a voicemail answer came out wrong,
# sometimes the opposite of what was said. A spoken answer now counts only when it says the
# option and nothing that could change it; otherwise the question is asked again.
SAFE_TIMES_NOT_GUESSED = [
    "about 2 p.m.",
    "after 2 o'clock",
    "any time after 2",
    "only after 3",
    "he's back at 3 so before then",
    "not in the afternoon",
    "not mornings, he's home",
    "any time but not when he's home",
    "whenever he's at work",
]


@pytest.mark.parametrize("words", SAFE_TIMES_NOT_GUESSED)
def test_a_spoken_safe_time_in_a_sentence_is_asked_again_never_guessed(make_app, words):
    app = make_app(at=EVENING)
    heard = said(simulate_call(app, ["5", "1", "2", Speech(words)], caller=ME))
    # nothing stored from a guess: the caller hangs up, and what they asked is held for a
    # safe time they have not given (tests/test_voice_callback_hangup.py)
    assert [(c.status, c.plan) for c in callbacks(app)] == [("held", None)]
    assert heard.count(content(app)["safe_time"]) == 2  # asked again


@pytest.mark.parametrize(
    ("words", "window"),
    [
        ("afternoons please", "after 12pm"),
        ("mornings", "before 12pm"),
        ("any time", "any time"),
        ("3", "after 12pm"),
        ("option 2", "before 12pm"),
    ],
)
def test_a_plain_spoken_safe_time_is_taken(make_app, words, window):
    app = make_app(at=EVENING)
    simulate_call(app, ["5", "1", "2", Speech(words)], caller=ME)
    assert describe(the_callback(app, ME).plan) == window


@pytest.mark.parametrize(
    "words",
    ["no, he'd hear it, he has my phone after 1", "only when he's out at the gym, usually after 1"],
)
def test_a_voicemail_answer_in_a_sentence_is_never_a_yes(make_app, words):
    app = make_app(at=EVENING)
    simulate_call(app, ["5", "1", Speech(words), "2", "1"], caller=ME)
    assert the_callback(app, ME).voicemail is False
