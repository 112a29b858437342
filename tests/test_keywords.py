"""Reading an inbound text (ivr.keywords, pure): which keyword, which safe time, or simply a
request for a callback. Only this reading is ever kept; the body itself never is."""

from __future__ import annotations

from datetime import time

import pytest

from ivr.callbacks import Preferred
from ivr.keywords import Intent, interpret, keyword


@pytest.mark.parametrize(("body", "word"), [
    ("stop", "STOP"),
    ("  Stop.  ", "STOP"),
    ("STOP!", "STOP"),
    ("help?", "HELP"),
    ("any   time", "ANY TIME"),
    ("anytime is fine!!", "ANYTIME IS FINE"),
    ("", ""),
    ("hello there", "HELLO THERE"),
])
def test_keyword_is_trimmed_upper_case_and_without_end_punctuation(body, word):
    assert keyword(body) == word


@pytest.mark.parametrize("body", [
    "STOP", "stop", "Stop", "stop.", "STOP!", " stop ", "STOPALL", "unsubscribe", "Cancel",
    "END", "quit", "revoke", "optout",
])
def test_opt_out_words(body):
    assert interpret(body, has_callback=True) == Intent("opt_out")
    assert interpret(body, has_callback=False) == Intent("opt_out")


@pytest.mark.parametrize(("body", "kind"), [
    ("START", "opt_in"), ("unstop", "opt_in"), ("Yes", "opt_in"),
    ("HELP", "help"), ("info", "help"), ("Help!", "help"),
    ("STEPS", "steps"), ("step", "steps"), ("advice", "steps"),
    ("ANYTIME", "anytime"), ("any time", "anytime"), ("Anytime is fine.", "anytime"),
])
def test_other_keywords(body, kind):
    assert interpret(body, has_callback=True).kind == kind
    assert interpret(body, has_callback=False).kind == kind


@pytest.mark.parametrize("body", [
    "please stop calling me at work",  # a sentence containing STOP is not an opt-out
    "Can you help me",
    "I need advice please",
    "hello",
    "",
    "😀",
])
def test_anything_else_asks_for_a_callback(body):
    assert interpret(body, has_callback=False) == Intent("request")


@pytest.mark.parametrize(("body", "at", "tomorrow"), [
    ("2pm", time(14), False),
    ("after 1", time(13), False),
    ("14:30", time(14, 30), False),
    ("tomorrow 11am", time(11), True),
    ("After 6pm", time(18), False),
    ("noon tomorrow", time(12), True),
])
def test_a_safe_time_is_read(body, at, tomorrow):
    for has_callback in (True, False):
        assert interpret(body, has_callback) == Intent("time", Preferred(at, tomorrow))


@pytest.mark.parametrize("body", ["25:99", "after lunch o'clock", "at 3 o clock maybe",
                                  "tomorrow morning", "13pm"])
def test_an_unreadable_time_from_someone_waiting_gets_an_example(body):
    assert interpret(body, has_callback=True) == Intent("time_unclear")


@pytest.mark.parametrize("body", ["25:99", "after lunch o'clock", "tomorrow morning"])
def test_an_unreadable_time_from_someone_new_is_still_a_request(body):
    assert interpret(body, has_callback=False) == Intent("request")


def test_a_long_message_is_never_read_as_a_time():
    body = "I was wondering whether you could call me back at 2pm tomorrow please, thanks"
    assert len(body) > 40
    assert interpret(body, has_callback=True) == Intent("request")
