"""The SMS front door, as Twilio sees it: a text asks for a callback, keywords do the rest.

Every request is signed like Twilio's and every reply is read from its TwiML. The store is
the real (embedded) Redis, emptied before each test. 25 November 2026 is a Wednesday.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import time
from time import time as now_seconds

import pytest
import redis
from flask import Flask

from ivr.content.flows import MAX_REPLY_SEGMENTS, MAX_STEP_SEGMENTS, REVEALING
from ivr.core.callbacks import Callback
from ivr.core.gsm7 import non_gsm7, segments
from ivr.core.safetime import ANYTIME, Window
from ivr.store.closures import close_line
from ivr.store.keys import PURGE as PURGE_LIST
from ivr.store.purges import Purge
from ivr.store.queue import CallbackQueue
from ivr.twilio.optout import OptOutConfig, uses_default_opt_out
from ivr.twilio.rest import run_purges
from tests.common import (
    ACCOUNT_SID,
    SEALER,
    SENDER,
    everything_stored,
    flows_with,
    london,
    new_sid,
    number_forms,
    only,
    reply_text,
    send,
    stored_anywhere,
)

ME = SENDER
SOMEONE_ELSE = "+447400123457"
WEDNESDAY_OPEN, WEDNESDAY_EVENING = "2026-11-25T11:00", "2026-11-25T19:00"
SOON = "as soon as someone is free"


# ------------------------------------------------------------------ what the app holds


def helpline(app: Flask):
    return app.extensions["helpline"]


def queue(app: Flask) -> CallbackQueue:
    return helpline(app).queue


def callbacks(app: Flask) -> list[Callback]:
    return list(queue(app).all())


def the_callback(app: Flask, number: str = ME) -> Callback:
    callback = queue(app).open_for(number)
    assert callback is not None, f"no open callback for {number}"
    assert [c.id for c in callbacks(app) if c.number == number] == [callback.id]
    return callback


def placed(callback: Callback) -> tuple[object, ...]:
    """Where a callback is and when (not the person's words, kept with each text)."""
    return (callback.status, callback.plan, callback.due_at, callback.slot_end)


def first_reply(app: Flask, when: str, existing: bool = False) -> str:
    return (
        f"{reply_text(app, 'existing' if existing else 'new', when=when)} "
        f"{reply_text(app, 'options')}"
    )


def callback_records(r: redis.Redis) -> dict[str, list[str]]:
    """Every callback key and what it holds (not the counters, which other code keeps)."""
    return {key: sorted(everything_stored(r, key)) for key in r.keys("hl:main:cb*")}


def not_counters(r: redis.Redis) -> set[str]:
    """The keys that are not flood or day counters."""
    return {k for k in r.keys("*") if not k.startswith(("hl:main:stats:", "hl:main:sms:rate:"))}


# Said first when bank holidays keep us from calling sooner (found: "call me tomorrow" on 24
# December was told Tuesday 29 December with no reason given).
HOLIDAY_NOTES = {
    "2026-12-24T11:00": "We are closed for Christmas Day and the Boxing Day bank holiday until "
    "Tuesday 29 December. ",
    "2026-12-25T11:00": "We are closed for Christmas Day and the Boxing Day bank holiday until "
    "Tuesday 29 December. ",
    "2026-04-02T17:00": "We are closed for Good Friday and Easter Monday until Tuesday 7 April. ",
}

TRAINING_CLOSURE = """
[[closures]]
from = 2026-12-21
to = 2026-12-23
message = "The helpline is closed for staff training."
"""


# ------------------------------------------------------------------ when the callback is due


@pytest.mark.parametrize(
    ("now", "closure", "due", "status", "when"),
    [
        (WEDNESDAY_OPEN, False, WEDNESDAY_OPEN, "due", SOON),
        ("2026-11-25T09:00", False, "2026-11-25T10:00", "scheduled", "today at 10am"),
        (WEDNESDAY_EVENING, False, "2026-11-26T10:00", "scheduled", "tomorrow at 10am"),
        ("2026-11-27T19:00", False, "2026-11-30T10:00", "scheduled", "on Monday at 10am"),
        ("2026-11-28T11:00", False, "2026-11-30T10:00", "scheduled", "on Monday at 10am"),
        ("2026-11-29T21:00", False, "2026-11-30T10:00", "scheduled", "tomorrow at 10am"),
        (
            "2026-12-25T11:00",
            False,
            "2026-12-29T10:00",
            "scheduled",
            "on Tuesday 29 December at 10am",
        ),  # Christmas Day, then Boxing Day on Monday 28th
        (
            "2026-04-02T17:00",
            False,
            "2026-04-07T10:00",
            "scheduled",
            "on Tuesday 7 April at 10am",
        ),  # Good Friday and Easter Monday
        (
            "2026-12-21T11:00",
            True,
            "2026-12-24T10:00",
            "scheduled",
            "on Thursday 24 December at 10am",
        ),  # a closure from Monday 21st to Wednesday 23rd
        (
            "2026-12-18T19:00",
            True,
            "2026-12-24T10:00",
            "scheduled",
            "on Thursday 24 December at 10am",
        ),  # Friday before the closure
    ],
)
def test_a_text_is_called_back_at_the_next_opening(
    make_app, tmp_path, now, closure, due, status, when
):
    settings = {"flows_dir": flows_with(tmp_path, TRAINING_CLOSURE)} if closure else {}
    app = make_app(at=now, **settings)

    reply = only(send(app, "Hello, can someone call me please"))

    callback = the_callback(app)
    assert callback.due_at == london(due)
    assert callback.status == status
    assert callback.source == "sms"
    assert callback.number == ME
    assert callback.plan == ANYTIME
    assert callback.id in queue(app).ids(status)
    note = "The helpline is closed for staff training. " if closure else HOLIDAY_NOTES.get(now, "")
    assert reply == note + first_reply(app, when)


@pytest.mark.parametrize(
    ("until", "due", "when"),
    [
        ("2026-11-25T13:00", "2026-11-25T13:00", "today at 1pm"),
        (None, WEDNESDAY_OPEN, "as soon as we reopen"),  # nobody set a time: none is invented
    ],
)
def test_a_text_while_a_supervisor_has_closed_the_line_carries_its_message(
    make_app, store, until, due, when
):
    app = make_app(at=WEDNESDAY_OPEN)
    close_line(store, "We are closed for training.", london(until) if until else None)

    reply = only(send(app, "hello"))

    callback = the_callback(app)
    assert callback.due_at == london(due)
    assert callback.status == "scheduled"  # released only once the line is open again
    assert reply == f"We are closed for training. {first_reply(app, when)}"


def test_a_text_during_a_closure_in_hours_toml_carries_its_message(make_app, tmp_path):
    app = make_app(at="2026-12-22T11:00", flows_dir=flows_with(tmp_path, TRAINING_CLOSURE))
    reply = only(send(app, "hello"))
    assert reply == (
        "The helpline is closed for staff training. "
        + first_reply(app, "on Thursday 24 December at 10am")
    )


def test_a_closure_before_the_callback_is_named_even_when_texting_the_evening_before(
    make_app, tmp_path
):
    app = make_app(at="2026-12-18T19:00", flows_dir=flows_with(tmp_path, TRAINING_CLOSURE))
    assert only(send(app, "hello")).startswith("The helpline is closed for staff training. ")


def test_a_second_text_finds_the_same_request(make_app):
    app = make_app(at=WEDNESDAY_EVENING)
    send(app, "hello")
    reply = only(send(app, "are you there?"))
    assert reply == first_reply(app, "tomorrow at 10am", existing=True)
    assert len(callbacks(app)) == 1


# ------------------------------------------------------------------ retries and floods


def test_twilio_retrying_a_message_changes_nothing(make_app, store):
    app = make_app(at=WEDNESDAY_EVENING)
    sid = new_sid()
    first = send(app, "hello", sid=sid)
    before = callback_records(store)
    again = send(app, "hello", sid=sid)

    assert again == first
    assert len(callbacks(app)) == 1
    assert callback_records(store) == before


def test_a_retried_safe_time_is_not_applied_twice(make_app):
    app = make_app()
    send(app, "hello")
    sid = new_sid()
    first = send(app, "2pm", sid=sid)
    assert send(app, "2pm", sid=sid) == first
    assert the_callback(app).due_at == london("2026-11-25T14:00")


def test_fifty_texts_at_once_from_one_number_make_one_callback(make_app):
    app = make_app(at=WEDNESDAY_EVENING, sms_rate_limit=1000)
    start = threading.Barrier(50, timeout=60)  # never hang if a thread fails to start

    def text_once(i: int) -> list[str]:
        start.wait()
        return send(app, "hello, are you there")

    with ThreadPoolExecutor(max_workers=50) as pool:
        replies = [only(r) for r in pool.map(text_once, range(50))]

    callback = the_callback(app)
    assert len(callbacks(app)) == 1
    assert callback.due_at == london("2026-11-26T10:00")
    assert replies.count(first_reply(app, "tomorrow at 10am")) == 1
    assert replies.count(first_reply(app, "tomorrow at 10am", existing=True)) == 49


def test_two_numbers_get_a_callback_each(make_app):
    app = make_app()
    send(app, "hello", sender=ME)
    send(app, "hello", sender=SOMEONE_ELSE)
    assert the_callback(app, ME).id != the_callback(app, SOMEONE_ELSE).id


# ------------------------------------------------------------------ the body is never kept


SECRET = "Quokka-7731 he posted my photos on Zebragram"


@pytest.mark.parametrize("at", [WEDNESDAY_OPEN, WEDNESDAY_EVENING])
def test_the_body_is_never_stored_or_logged(make_app, store, caplog, twilio_api, at):
    app = make_app(at=at, **twilio_api)
    caplog.set_level(logging.DEBUG)
    bodies = [
        SECRET,
        f"{SECRET} - after 2pm please if that is ok with you",
        f"STEPS {SECRET}",
        f"{SECRET} " * 100,
    ]
    for body in bodies:
        send(
            app,
            body,
            NumMedia="1",
            MediaUrl0=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/"
            f"MM{'a' * 32}/Media/ME{'b' * 32}",
        )
        send(app, body)

    assert the_callback(app)  # the texts were taken
    # "-7731", not "7731": a random hex MessageSid may hold those four digits (it did once)
    for fragment in ("Quokka", "-7731", "Zebragram", "photos"):
        assert stored_anywhere(store, fragment) == []
        assert fragment not in caplog.text


# ------------------------------------------------------------------ opting out and back in


@pytest.mark.parametrize(
    "word",
    [
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "stop",
        "Stop",
        "stop.",
        "STOP!",
        "Stop!!",  # Twilio documents only the bare word: still erased (ivr/core/keywords.py)
        " Quit ",
    ],
)
def test_opting_out_erases_everything_about_the_number(make_app, store, word):
    app = make_app(at=WEDNESDAY_EVENING)
    send(app, "hello")
    send(app, "2pm")
    send(app, "hello", sender=SOMEONE_ELSE)

    assert send(app, word) == []  # Twilio sends its own opt-out confirmation

    assert queue(app).open_for(ME) is None
    assert [c.number for c in callbacks(app)] == [SOMEONE_ELSE]
    for form in number_forms(ME):
        assert stored_anywhere(store, form) == []
    # What is left keyed on the number's hash is only the flood counter, which expires.
    traces = [k for k in store.keys("*") if SEALER.lookup(ME) in k]
    assert all(k.startswith(("hl:main:sms:rate:", "hl:main:sms:quiet:")) for k in traces), traces
    assert all(store.ttl(k) > 0 for k in traces)
    assert the_callback(app, SOMEONE_ELSE)


def test_opting_out_with_nothing_stored_is_quiet_and_stores_nothing(make_app, store):
    app = make_app()
    assert send(app, "STOP") == []
    assert callbacks(app) == []
    for form in number_forms(ME):
        assert stored_anywhere(store, form) == []


def test_opting_out_works_even_when_replies_are_paused(make_app):
    app = make_app(sms_rate_limit=2)
    for _ in range(4):
        send(app, "hello")
    send(app, "STOP")
    assert queue(app).open_for(ME) is None
    assert callbacks(app) == []


@pytest.mark.parametrize("word", ["START", "UNSTOP", "start", "Unstop."])
def test_opting_back_in_asks_for_nothing(make_app, word):
    app = make_app()
    send(app, "hello")
    send(app, "STOP")
    assert send(app, word) == []
    assert callbacks(app) == []


def test_opting_in_without_having_opted_out_stores_nothing(make_app):
    app = make_app()
    assert send(app, "START") == []
    assert callbacks(app) == []


def test_after_opting_back_in_a_new_text_is_a_new_request(make_app):
    app = make_app(at=WEDNESDAY_EVENING)
    send(app, "hello")
    send(app, "STOP")
    send(app, "START")
    assert only(send(app, "hello again")) == first_reply(app, "tomorrow at 10am")
    assert len(callbacks(app)) == 1


# ------------------------------------------------------------------ as Twilio delivers them
# On a long code Twilio answers STOP itself ("Any of these STOP keyword replies will prevent a
# customer from receiving new messages…"), then passes the message on to the webhook; any
# text we send that number afterwards fails with error 21610 (help.twilio.com, "Twilio
# support for opt-out keywords (SMS STOP filtering)"). With a Messaging Service's Advanced
# Opt-Out, Twilio also answers HELP, and the webhook carries OptOutType=STOP|START|HELP
# (help.twilio.com, "How to Track Opt-Out, Opt-In and Help Messages Using the OptOutType
# Parameter"); its keywords may be ones of the helpline's own choosing.


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ("STOP", {}),  # Twilio's default handling: no OptOutType
        ("Stop", {"OptOutType": "STOP"}),  # Advanced Opt-Out
        ("REMOVE", {"OptOutType": "STOP"}),  # a keyword the helpline added to Advanced Opt-Out
    ],
)
def test_the_stop_twilio_forwards_after_its_own_reply_erases_and_gets_no_second_reply(
    make_app, body, fields
):
    app = make_app(at=WEDNESDAY_EVENING)
    send(app, "hello")
    started = now_seconds()

    assert send(app, body, **fields) == []  # a reply would only fail: Twilio error 21610

    assert queue(app).open_for(ME) is None and callbacks(app) == []
    erased = helpline(app).erasures.erased_since(started, SEALER)
    assert SEALER.lookup(ME) in erased  # no restore undoes it


def test_help_twilio_has_answered_itself_gets_no_second_reply(make_app):
    """Found: with Twilio answering HELP, the person got two replies (Twilio's and ours).
    When the webhook says Twilio answered (OptOutType=HELP), we stay quiet."""
    app = make_app(at=WEDNESDAY_EVENING)
    assert send(app, "HELP", OptOutType="HELP") == []
    assert send(app, "INFO", OptOutType="HELP") == []
    assert send(app, "HELP")[-1] == reply_text(app, "help")  # nobody else answered
    assert callbacks(app) == []


def test_start_twilio_has_answered_gets_no_reply_and_asks_for_nothing(make_app):
    app = make_app(at=WEDNESDAY_EVENING)
    send(app, "STOP")
    assert send(app, "JOIN", OptOutType="START") == []  # a keyword of the helpline's choosing
    assert callbacks(app) == []


@pytest.mark.parametrize(
    ("config", "default"),
    [
        (OptOutConfig(), True),  # a bare number: Twilio's standard replies, HELP twice
        (OptOutConfig("MG" + "0" * 32, advanced_opt_out=False), True),
        (OptOutConfig("MG" + "0" * 32, advanced_opt_out=True), False),
        (OptOutConfig("MG" + "0" * 32), False),  # not known from the API: a live check
        (OptOutConfig(default_handling_off=True), False),
    ],
)
def test_whether_twilio_answers_keywords_with_its_defaults(config, default):
    """For `helpline twilio verify` (it reads the number's configuration and warns)."""
    assert uses_default_opt_out(config) is default


# ------------------------------------------------------------------ HELP and STEPS


@pytest.mark.parametrize("word", ["HELP", "help", "INFO", "Info?"])
def test_help_gives_the_hours_and_999_and_asks_for_nothing(make_app, word):
    app = make_app(at=WEDNESDAY_OPEN)  # closed, the crisis text goes first: test_sms_safety
    reply = only(send(app, word))
    assert reply == reply_text(app, "help")
    assert "from 10am to 4pm, Monday to Friday" in reply
    assert "999" in reply
    assert callbacks(app) == []


def test_help_leaves_an_existing_request_alone(make_app):
    app = make_app(at=WEDNESDAY_EVENING)
    send(app, "2pm")
    before = the_callback(app)
    send(app, "HELP")
    assert the_callback(app) == before


@pytest.mark.parametrize("word", ["SEND STEPS", "send steps", "Send steps."])
def test_send_steps_sends_the_five_steps_as_five_texts(make_app, word):  # STEPS asks first
    app = make_app()
    texts = send(app, word)
    assert texts == list(helpline(app).flows.sms.steps)
    assert len(texts) == 5
    for number, text in enumerate(texts, start=1):
        assert text.startswith(f"{number}. ")
        assert non_gsm7(text) == []
        assert segments(text) <= MAX_STEP_SEGMENTS


def test_the_first_reply_offers_steps_only_as_steps_for_our_advice(make_app):
    app = make_app()
    reply = only(send(app, "hello"))
    assert reply.count("STEPS") == reply.count("STEPS for our advice") == 1


# ------------------------------------------------------------------ every reply is safe to send


def replies_of_every_kind(app: Flask) -> dict[str, list[str]]:
    """One conversation that draws every reply an ordinary text can get."""
    media = (
        f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/"
        f"MM{'c' * 32}/Media/ME{'d' * 32}"
    )
    return {
        "new": send(app, "hello"),
        "existing": send(app, "hello?"),
        "preferred": send(app, "2pm"),
        "outside_hours": send(app, "after 6pm"),
        "ambiguous": send(app, "after 8"),
        "time_unclear": send(app, "25:99"),
        "anytime": send(app, "ANYTIME"),
        "help": send(app, "HELP", sender=SOMEONE_ELSE),
        "media": send(app, "look", sender=SOMEONE_ELSE, NumMedia="1", MediaUrl0=media),
        "not_uk": send(app, "hello", sender="+33612345678"),
    }


@pytest.mark.parametrize(
    "at",
    [WEDNESDAY_OPEN, WEDNESDAY_EVENING, "2026-11-28T11:00", "2026-12-25T11:00", "2026-04-02T17:00"],
)
def test_replies_are_plain_short_and_discreet(make_app, at):
    app = make_app(at=at, sms_rate_limit=100)
    why = 1 if at in HOLIDAY_NOTES else 0  # the bank holidays may go as a text of their own
    for kind, texts in replies_of_every_kind(app).items():
        # media: its notice; help while closed: the crisis text first (test_sms_safety.py)
        assert 1 <= len(texts) <= (2 if kind in ("media", "help") else 1) + why, kind
        for reply in texts:
            assert non_gsm7(reply) == [], kind
            assert segments(reply) <= MAX_REPLY_SEGMENTS, (kind, reply)
            assert [word for word in REVEALING if word in reply.lower()] == [], kind


@pytest.mark.parametrize("kind", ["new", "existing", "help", "media", "not_uk"])
def test_replies_that_answer_a_request_give_the_emergency_number(make_app, kind):
    app = make_app(at=WEDNESDAY_EVENING, sms_rate_limit=100)
    assert "999" in " ".join(replies_of_every_kind(app)[kind])


# ------------------------------------------------------------------ a safe time to call


@pytest.mark.parametrize(
    ("now", "body", "due", "window", "when"),
    [
        (WEDNESDAY_OPEN, "2pm", "2026-11-25T14:00", "between 2pm and 3pm", "today at 2pm"),
        (WEDNESDAY_OPEN, "after 1", "2026-11-25T13:00", "after 1pm", "today at 1pm"),
        (
            WEDNESDAY_OPEN,
            "14:30",
            "2026-11-25T14:30",
            "between 2:30pm and 3:30pm",
            "today at 2:30pm",
        ),
        (WEDNESDAY_OPEN, "2 p.m.", "2026-11-25T14:00", "between 2pm and 3pm", "today at 2pm"),
        (
            WEDNESDAY_OPEN,
            "tomorrow 11am",
            "2026-11-26T11:00",
            "between 11am and 12pm from Thursday 26 November",
            "tomorrow at 11am",
        ),
        (
            WEDNESDAY_OPEN,
            "between 12 and 2",
            "2026-11-25T12:00",
            "between 12pm and 2pm",
            "today at 12pm",
        ),
        (WEDNESDAY_EVENING, "2pm", "2026-11-26T14:00", "between 2pm and 3pm", "tomorrow at 2pm"),
        (WEDNESDAY_EVENING, "before 11am", "2026-11-26T10:00", "before 11am", "tomorrow at 10am"),
        (WEDNESDAY_EVENING, "not after 1pm", "2026-11-26T10:00", "before 1pm", "tomorrow at 10am"),
        (WEDNESDAY_EVENING, "mornings", "2026-11-26T10:00", "before 12pm", "tomorrow at 10am"),
        (WEDNESDAY_OPEN, "afternoons", "2026-11-25T12:00", "after 12pm", "today at 12pm"),
        (
            WEDNESDAY_OPEN,
            "Tuesday",
            "2026-12-01T10:00",
            "on Tuesdays",
            "on Tuesday 1 December at 10am",
        ),
        (
            WEDNESDAY_OPEN,
            "Tuesday after 2",
            "2026-12-01T14:00",
            "after 2pm on Tuesdays",
            "on Tuesday 1 December at 2pm",
        ),
        (
            "2026-11-30T11:00",
            "not Monday",
            "2026-12-01T10:00",
            "on any day except Mondays",
            "tomorrow at 10am",
        ),
        (
            WEDNESDAY_EVENING,
            "weekdays before 11",
            "2026-11-26T10:00",
            "before 11am on Mondays to Fridays",
            "tomorrow at 10am",
        ),
        (
            "2026-11-27T11:00",
            "tomorrow 11am",
            "2026-11-30T11:00",
            "between 11am and 12pm from Saturday 28 November",
            "on Monday at 11am",
        ),
        (
            "2026-12-24T11:00",
            "2pm tomorrow",
            "2026-12-29T14:00",
            "between 2pm and 3pm from Friday 25 December",
            "on Tuesday 29 December at 2pm",
        ),
        # Found: "11am" sent at 12:00 was answered "as soon as someone is free or soon after".
        (
            "2026-11-25T12:00",
            "11am",
            "2026-11-26T11:00",
            "between 11am and 12pm",
            "tomorrow at 11am",
        ),
    ],
)
def test_a_safe_time_moves_the_callback_and_the_reply_says_when(
    make_app, now, body, due, window, when
):
    app = make_app(at=now)
    send(app, "hello")

    answer = only(send(app, body))

    callback = the_callback(app)
    assert callback.due_at == london(due)
    assert callback.status == "scheduled"
    assert callback.id in queue(app).ids("scheduled")
    assert answer == HOLIDAY_NOTES.get(now, "") + reply_text(
        app, "preferred", window=window, when=when
    )


@pytest.mark.parametrize(
    ("now", "body"),
    [
        (WEDNESDAY_OPEN, "after 6pm"),  # found: answered "we will call you today at 3:30pm"
        (WEDNESDAY_OPEN, "evenings only"),  # found: ignored silently
        (WEDNESDAY_OPEN, "weekends"),
        (WEDNESDAY_EVENING, "after 4pm"),
    ],
)
def test_a_safe_time_we_can_never_meet_is_never_moved_quietly(make_app, now, body):
    app = make_app(at=now)
    send(app, "2pm")
    before = the_callback(app)

    answer = only(send(app, body))

    assert answer == f"{reply_text(app, 'kept')} {reply_text(app, 'outside_hours')}"
    assert "from 10am to 4pm, Monday to Friday" in answer
    assert placed(the_callback(app)) == placed(before)  # the earlier plan stands


def test_an_hour_that_could_be_morning_or_evening_gets_a_question_not_a_guess(make_app):
    """Found: "after 8" was read as 8am. 8am is before we open and 8pm after we close."""
    app = make_app()
    send(app, "2pm")
    before = the_callback(app)

    answer = only(send(app, "after 8"))

    assert answer == f"{reply_text(app, 'kept')} {reply_text(app, 'ambiguous', hour=8)}"
    assert placed(the_callback(app)) == placed(before)


@pytest.mark.parametrize("body", ["after 6pm", "evenings only", "after 8"])
def test_a_first_text_we_cannot_place_is_held_until_the_person_answers(make_app, body):
    app = make_app()

    answer = only(send(app, body))

    callback = the_callback(app)
    assert (callback.status, callback.plan) == ("held", None)
    assert queue(app).ids("held") == [callback.id]
    assert answer.startswith(reply_text(app, "held_new"))
    assert queue(app).claim("alex", london(WEDNESDAY_OPEN)) is None

    # A plain "hello" while held restates that nothing happens until they answer.
    assert only(send(app, "hello")) == first_reply(app, reply_text(app, "held"), existing=True)

    # Then they answer: the request is placed and the reply says when.
    answer = only(send(app, "2pm"))
    callback = the_callback(app)
    assert (callback.status, callback.due_at) == ("scheduled", london("2026-11-25T14:00"))
    assert answer == reply_text(app, "preferred", window="between 2pm and 3pm", when="today at 2pm")


def test_a_held_request_is_placed_by_anytime(make_app):
    app = make_app()
    send(app, "after 6pm")
    answer = only(send(app, "ANYTIME"))
    callback = the_callback(app)
    assert (callback.status, callback.plan) == ("due", ANYTIME)
    assert answer == reply_text(app, "anytime", when=SOON)


def test_a_safe_time_as_the_first_text_asks_for_a_callback_at_that_time(make_app):
    app = make_app()
    answer = only(send(app, "2pm"))
    callback = the_callback(app)
    assert callback.due_at == london("2026-11-25T14:00")
    assert callback.plan == Window(time(14), time(15))
    assert answer == reply_text(app, "preferred", window="between 2pm and 3pm", when="today at 2pm")


def test_inside_the_window_the_callback_is_due_now(make_app):
    app = make_app(at="2026-11-25T14:10")
    send(app, "hello")
    send(app, "after 1")
    callback = the_callback(app)
    assert callback.status == "due"
    assert callback.due_at == london("2026-11-25T14:10")


def test_a_safe_time_sent_while_an_advisor_is_calling_is_kept_for_the_next_attempt(make_app):
    """Found: it was dropped."""
    app = make_app()
    send(app, "hello")
    assert queue(app).claim("alex", london(WEDNESDAY_OPEN))

    answer = only(send(app, "after 2"))

    callback = the_callback(app)
    assert (callback.status, callback.plan) == ("claimed", Window(earliest=time(14)))
    assert answer == reply_text(app, "noted", window="after 2pm")


@pytest.mark.parametrize(
    ("now", "due", "status", "when"),
    [
        (WEDNESDAY_OPEN, WEDNESDAY_OPEN, "due", SOON),
        (WEDNESDAY_EVENING, "2026-11-26T10:00", "scheduled", "tomorrow at 10am"),
    ],
)
def test_anytime_clears_the_safe_time(make_app, now, due, status, when):
    app = make_app(at=now)
    send(app, "hello")
    send(app, "3pm")
    assert the_callback(app).plan == Window(time(15), time(16))

    answer = only(send(app, "ANYTIME"))

    callback = the_callback(app)
    assert callback.plan == ANYTIME
    assert callback.due_at == london(due)
    assert callback.status == status
    assert callback.id in queue(app).ids(status)
    assert answer == reply_text(app, "anytime", when=when)


@pytest.mark.parametrize("body", ["25:99", "after lunch o'clock", "13pm"])
def test_an_unreadable_time_gets_an_example_and_changes_nothing(make_app, body):
    app = make_app()
    send(app, "hello")
    send(app, "2pm")
    before = the_callback(app)

    answer = only(send(app, body))

    assert answer == reply_text(app, "time_unclear")
    assert "2pm" in answer  # an example of a time we can read
    assert placed(the_callback(app)) == placed(before)


@pytest.mark.parametrize(
    "body",
    [
        "25:99",
        # Found in review: a time inside a sentence was dropped and the person was called at once.
        "Don't call before 2",
        "please only call after 6pm when he's out",
        "dont call me in the morning",
        "after 2 please, he is home till then",
    ],
)
def test_a_time_we_cannot_read_from_someone_new_is_asked_about_never_taken_for_any_time(
    make_app, body
):
    app = make_app()
    assert only(send(app, body)) == reply_text(app, "ask_time")
    callback = the_callback(app)
    assert (callback.status, callback.plan) == ("held", None)
    assert queue(app).claim("alex", london(WEDNESDAY_OPEN)) is None
    answer = only(send(app, "after 2"))
    assert answer == reply_text(app, "preferred", window="after 2pm", when="today at 2pm")
    assert the_callback(app).status == "scheduled"


def test_a_second_time_we_cannot_place_while_held_says_nothing_was_kept(make_app):
    app = make_app()
    send(app, "after 8")
    answer = only(send(app, "after 6pm"))
    assert answer.startswith(reply_text(app, "held_new"))
    assert reply_text(app, "kept") not in answer


# ------------------------------------------------------------------ near closing time


@pytest.mark.parametrize(
    ("now", "when"),
    [
        # Found: at 15:59 people were told "as soon as someone is free", a minute before closing.
        ("2026-11-25T15:59", "before 4pm today if we can, or else tomorrow at 10am"),
        ("2026-11-27T15:45", "before 4pm today if we can, or else on Monday at 10am"),
        ("2026-11-25T15:20", SOON),  # forty minutes is time enough
    ],
)
def test_near_closing_the_reply_names_the_fallback_honestly(make_app, now, when):
    app = make_app(at=now)
    reply = only(send(app, "hello"))
    assert reply == first_reply(app, when)
    callback = the_callback(app)
    assert (callback.status, callback.due_at) == ("due", london(now))
    assert callback.slot_end == london(now).replace(hour=16, minute=0)


def test_how_long_before_closing_counts_as_soon_is_a_setting(make_app):
    app = make_app(at="2026-11-25T15:50", last_call_minutes=5)
    assert only(send(app, "hello")) == first_reply(app, SOON)


# ------------------------------------------------------------------ pictures and files


def media_url(message_sid: str, media_sid: str) -> str:
    return (
        f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/"
        f"{message_sid}/Media/{media_sid}"
    )


def purges(r: redis.Redis) -> list[Purge]:
    return [Purge.loads(item) for item in r.lrange(PURGE_LIST, 0, -1)]


def test_media_is_not_kept_but_deleted_from_twilio(make_app, store, twilio_api):
    app = make_app(**twilio_api)
    sid, media = new_sid("MM"), "ME" + uuid.uuid4().hex

    texts = send(app, "see this", sid=sid, NumMedia="1", MediaUrl0=media_url(sid, media))

    assert texts[0].startswith(reply_text(app, "media"))
    assert " ".join(texts) == f"{reply_text(app, 'media')} {first_reply(app, SOON)}"
    assert purges(store) == [Purge(sid, (media,), delete_message=True)]
    # The purge entry is the only thing that knows about the media.
    assert [Purge.loads(item) for item in stored_anywhere(store, media)] == [Purge(sid, (media,))]
    assert stored_anywhere(store, "Media") == []
    assert the_callback(app)

    assert run_purges(store, helpline(app).twilio) == 1
    assert store.llen(PURGE_LIST) == 0


def test_several_media_are_all_deleted(make_app, store, twilio_api):
    app = make_app(**twilio_api)
    sid = new_sid("MM")
    media = ["ME" + uuid.uuid4().hex for _ in range(3)]
    fields = {f"MediaUrl{i}": media_url(sid, m) for i, m in enumerate(media)}
    send(app, "", sid=sid, NumMedia="3", **fields)
    assert purges(store) == [Purge(sid, tuple(media), delete_message=True)]
    assert run_purges(store, helpline(app).twilio) == 1
    assert store.llen(PURGE_LIST) == 0


def test_without_credentials_media_is_not_kept_and_nothing_is_queued(make_app, store, caplog):
    app = make_app(at=WEDNESDAY_EVENING)
    sid, media = new_sid("MM"), "ME" + uuid.uuid4().hex
    reply = only(send(app, "see this", sid=sid, NumMedia="1", MediaUrl0=media_url(sid, media)))
    assert reply == f"{reply_text(app, 'media')} {first_reply(app, 'tomorrow at 10am')}"
    assert store.exists(PURGE_LIST) == 0
    assert stored_anywhere(store, media) == []
    assert "media left in Twilio" in caplog.text


@pytest.mark.parametrize(("delete_inbound", "queued"), [(True, True), (False, False)])
def test_inbound_messages_are_deleted_from_twilio_when_asked(
    make_app, store, twilio_api, delete_inbound, queued
):
    app = make_app(delete_inbound_messages=delete_inbound, **twilio_api)
    sid = new_sid()
    send(app, "hello", sid=sid)
    assert purges(store) == ([Purge(sid, (), delete_message=True)] if queued else [])

    run_purges(store, helpline(app).twilio)
    assert store.llen(PURGE_LIST) == 0


def test_media_is_deleted_even_when_messages_are_kept(make_app, store, twilio_api):
    app = make_app(delete_inbound_messages=False, **twilio_api)
    sid, media = new_sid("MM"), "ME" + uuid.uuid4().hex
    send(app, "see this", sid=sid, NumMedia="1", MediaUrl0=media_url(sid, media))
    assert purges(store) == [Purge(sid, (media,), delete_message=False)]
    assert run_purges(store, helpline(app).twilio) == 1
    assert store.llen(PURGE_LIST) == 0


def test_without_credentials_nothing_is_queued_for_deletion(make_app, store):
    app = make_app()
    send(app, "hello")
    assert store.exists(PURGE_LIST) == 0


# ------------------------------------------------------------------ too many texts


def test_a_flood_of_texts_gets_quiet_but_keeps_one_request(make_app):
    app = make_app(sms_rate_limit=3)
    replies = [send(app, f"hello {i}") for i in range(8)]

    assert all(len(r) == 1 for r in replies[:3])
    assert replies[3:] == [[]] * 5
    assert len(callbacks(app)) == 1
    assert the_callback(app)


def test_while_quiet_a_safe_time_is_still_taken(make_app):
    app = make_app(sms_rate_limit=1)
    send(app, "hello")
    assert send(app, "2pm") == []
    assert the_callback(app).plan == Window(time(14), time(15))


def test_a_flood_from_one_number_does_not_quieten_another(make_app):
    app = make_app(sms_rate_limit=2)
    for i in range(5):
        send(app, f"hello {i}")
    assert only(send(app, "hello", sender=SOMEONE_ELSE)) == first_reply(app, SOON)


def test_a_flood_from_abroad_gets_quiet_too(make_app):
    app = make_app(sms_rate_limit=2)
    replies = [send(app, "hello", sender="+33612345678") for _ in range(5)]
    assert replies[:2] == [[reply_text(app, "not_uk")]] * 2
    assert replies[2:] == [[]] * 3
    assert callbacks(app) == []


# ------------------------------------------------------------------ odd input


@pytest.mark.parametrize(
    ("body", "label"),
    [
        ("", "empty"),
        ("x" * 5000, "far longer than Twilio allows"),
        ("🙂🙏🏽 ❤️", "emoji"),
        ("\u0001\u0002\u0003", "control characters"),
        ("<Response><Say>hi</Say></Response> & ]]>", "markup"),
        ("مرحبا، هل يمكنكم الاتصال بي", "Arabic"),
        ("   \n\t ", "whitespace"),
    ],
)
def test_odd_bodies_are_ordinary_requests(make_app, body, label):
    app = make_app(at=WEDNESDAY_EVENING)
    assert only(send(app, body)) == first_reply(app, "tomorrow at 10am"), label
    assert len(callbacks(app)) == 1


def test_a_missing_body_is_an_ordinary_request(make_app):
    app = make_app(at=WEDNESDAY_EVENING)
    assert only(send(app, None)) == first_reply(app, "tomorrow at 10am")
    assert the_callback(app)


@pytest.mark.parametrize(
    ("sender", "label"),
    [
        (None, "no From"),
        ("", "empty From"),
        ("80085", "short code"),
        ("ACME", "alphanumeric sender"),
        ("+12", "too short to be a phone"),
    ],
)
def test_senders_we_cannot_reply_to_get_no_reply_and_nothing_is_stored(
    make_app, store, sender, label
):
    app = make_app()
    before = not_counters(store)
    assert send(app, "hello", sender=sender) == [], label
    assert not_counters(store) == before
    assert callbacks(app) == []


@pytest.mark.parametrize(
    "sender", ["+33612345678", "+12025550123", "+447700900123", "+449011234567"]
)
def test_numbers_we_cannot_call_get_the_not_uk_reply_and_nothing_is_kept(make_app, store, sender):
    app = make_app()
    reply = only(send(app, "please call me"))  # someone else's request, for contrast
    reply = only(send(app, "please call me", sender=sender))
    assert reply == reply_text(app, "not_uk")
    assert "999" in reply
    assert [c.number for c in callbacks(app)] == [ME]
    assert stored_anywhere(store, sender) == []
    assert stored_anywhere(store, sender[1:]) == []


def test_a_missing_message_sid_is_still_a_request(make_app, store, twilio_api):
    app = make_app(at=WEDNESDAY_EVENING, **twilio_api)
    assert only(send(app, "hello", sid="")) == first_reply(app, "tomorrow at 10am")
    assert the_callback(app)
    assert store.keys("hl:main:seen:*") == []
    assert store.exists(PURGE_LIST) == 0  # nothing Twilio could find to delete


@pytest.mark.parametrize("count", ["abc", "-1", "", "1.5"])
def test_a_junk_media_count_means_no_media(make_app, count):
    app = make_app(at=WEDNESDAY_EVENING)
    assert only(send(app, "hello", NumMedia=count)) == first_reply(app, "tomorrow at 10am")


def test_an_unsigned_text_is_refused(make_app):
    app = make_app()
    response = app.test_client().post("/sms", data={"From": ME, "Body": "hello"})
    assert response.status_code == 403
    assert callbacks(app) == []


def test_stop_from_abroad_gets_no_reply(make_app):
    app = make_app()
    assert send(app, "STOP", sender="+33612345678") == []
    assert send(app, "hello", sender="+33612345678") != []  # anything else is answered
