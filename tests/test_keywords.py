"""Reading an inbound text (ivr.core.keywords, pure): which keyword, which safe time, or simply a
request for a callback. Only this reading is ever kept; the body itself never is."""

from __future__ import annotations

from datetime import date, time

import pytest

from ivr.core.keywords import Intent, interpret, keyword
from ivr.core.safetime import Window

TODAY = date(2026, 11, 25)  # a Wednesday
USUAL = (time(10), time(16))


def read(body: str, has_callback: bool) -> Intent:
    return interpret(body, lambda: has_callback, TODAY, USUAL)


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ("stop", "STOP"),
        ("  Stop.  ", "STOP"),
        ("STOP!", "STOP"),
        (
            "Stop!!",
            "STOP",
        ),  # Twilio's page is silent on punctuation: read as STOP (why: keywords.py)
        ("stop?! ", "STOP"),
        ("STOP please", "STOP PLEASE"),  # two words are not Twilio's keyword
        ("help?", "HELP"),
        ("any   time", "ANY TIME"),
        ("anytime is fine!!", "ANYTIME IS FINE"),
        ("", ""),
        ("hello there", "HELLO THERE"),
    ],
)
def test_keyword_is_trimmed_upper_case_and_without_end_punctuation(body, word):
    assert keyword(body) == word


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "stop",
        "Stop",
        "stop.",
        "STOP!",
        " stop ",
        "STOPALL",
        "unsubscribe",
        "Cancel",
        "END",
        "quit",
        "revoke",
        "optout",
    ],
)
def test_opt_out_words(body):
    assert read(body, has_callback=True) == Intent("opt_out")
    assert read(body, has_callback=False) == Intent("opt_out")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("START", "opt_in"),
        ("unstop", "opt_in"),
        ("Yes", "opt_in"),
        ("HELP", "help"),
        ("info", "help"),
        ("Help!", "help"),
        ("STEPS", "steps"),
        ("step", "steps"),
        ("advice", "steps"),
        ("ANYTIME", "anytime"),
        ("any time", "anytime"),
        ("Anytime is fine.", "anytime"),
    ],
)
def test_other_keywords(body, kind):
    assert read(body, has_callback=True).kind == kind
    assert read(body, has_callback=False).kind == kind


@pytest.mark.parametrize(
    "body",
    [
        "please stop texting me at home thanks",  # a sentence containing STOP: no opt-out
        "Can you help me",
        "I need advice please",
        "hello",
        "",
        "😀",
    ],
)
def test_anything_else_asks_for_a_callback(body):
    assert read(body, has_callback=False) == Intent("request")


@pytest.mark.parametrize(
    ("body", "window"),
    [
        ("2pm", Window(time(14), time(15))),
        ("after 1", Window(earliest=time(13))),
        ("14:30", Window(time(14, 30), time(15, 30))),
        ("tomorrow 11am", Window(time(11), time(12), not_before=date(2026, 11, 26))),
        ("After 6pm", Window(earliest=time(18))),
        ("before 11am", Window(latest=time(11))),
    ],
)
def test_a_safe_time_is_read_as_a_plan(body, window):
    for has_callback in (True, False):
        intent = read(body, has_callback)
        assert (intent.kind, intent.reading.window) == ("plan", window)


def test_an_hour_that_could_be_morning_or_evening_is_ambiguous():
    intent = read("after 8", has_callback=True)
    assert (intent.kind, intent.reading.hour) == ("ambiguous", 8)


@pytest.mark.parametrize("body", ["25:99", "after lunch o'clock", "13pm", "after work"])
def test_an_unreadable_time_from_someone_waiting_gets_an_example(body):
    assert read(body, has_callback=True).kind == "time_unclear"


@pytest.mark.parametrize("body", ["25:99", "after lunch o'clock", "after work"])
def test_an_unreadable_time_from_someone_new_is_asked_about(body):
    assert read(body, has_callback=False).kind == "ask_time"


def test_a_time_in_a_long_message_is_not_guessed_but_asked_about():
    body = "I was wondering whether you could call me back at 2pm tomorrow please, thanks"
    assert read(body, has_callback=True).kind == "time_unclear"
    assert read(body, has_callback=False).kind == "ask_time"
