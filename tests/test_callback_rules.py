"""Callback rules (ivr.callbacks, pure): what a safe-time message means, when a callback falls
due, which numbers may be called back, when to try again and when a request has expired.

The hours are the shipped flows/hours.toml: 10:00-16:00 UK time, Monday to Friday, except
bank holidays in England and Wales. 25 November 2026 is a Wednesday.
"""

from __future__ import annotations

from datetime import time, timedelta
from functools import cache

import pytest

from ivr.callbacks import (
    Preferred,
    after_outcome,
    callable_number,
    due_at,
    parse_preferred,
    preferred_from,
    retry_at,
)
from ivr.flows import DEFAULT_DIR, load_hours
from ivr.hours import OpeningHours, Override
from ivr.tomlfile import read_toml
from tests.conftest import london


@cache
def shipped_hours() -> OpeningHours:
    _, hours = load_hours(read_toml(DEFAULT_DIR / "hours.toml"), london("2026-11-25T11:00"))
    return hours


def pref(text: str | None) -> Preferred | None:
    """Test shorthand: "14:30" -> today not before 14:30; "tomorrow 11:00" -> tomorrow."""
    if text is None:
        return None
    tomorrow = text.startswith("tomorrow ")
    hour, minute = text.removeprefix("tomorrow ").split(":")
    return Preferred(time(int(hour), int(minute)), tomorrow)


# ------------------------------------------------------------------ a safe time, in words


@pytest.mark.parametrize(("text", "expected"), [
    ("2pm", "14:00"),
    ("2 pm", "14:00"),
    ("2 p.m.", "14:00"),  # the final "." goes with the sentence's full stop
    ("2 p.m. is fine", "14:00"),
    ("11 a.m. tomorrow", "tomorrow 11:00"),
    ("2PM", "14:00"),
    ("2pm.", "14:00"),
    ("after 1", "13:00"),  # a bare hour from 1 to 7 is the afternoon
    ("from 3", "15:00"),
    ("around 3", "15:00"),
    ("any time after 2", "14:00"),
    ("14:30", "14:30"),
    ("14.30", "14:30"),
    ("at 11", "11:00"),
    ("11am", "11:00"),
    ("8", "08:00"),
    ("12pm", "12:00"),
    ("12am", "00:00"),
    ("after 6pm", "18:00"),
    ("2pm is fine", "14:00"),
    ("2pm, please", "14:00"),
    ("noon", "12:00"),
    ("after midday", "12:00"),
    ("tomorrow 11am", "tomorrow 11:00"),
    ("11am tomorrow", "tomorrow 11:00"),
    ("Tmrw 2pm", "tomorrow 14:00"),
    ("midday tomorrow", "tomorrow 12:00"),
    ("tomorrow after 3", "tomorrow 15:00"),
])
def test_a_safe_time_is_understood(text, expected):
    assert parse_preferred(text) == pref(expected)


@pytest.mark.parametrize("text", [
    "25:99", "24:00", "14:60", "13pm", "0pm", "14:3", "after lunch", "after lunch o'clock",
    "2pm or 3pm", "hello", "", "tomorrow", "call me", "07400123456", "999",
])
def test_anything_else_is_not_a_time(text):
    assert parse_preferred(text) is None


@pytest.mark.parametrize(("stored", "expected"), [
    ("14:30", Preferred(time(14, 30))), ("09:05", Preferred(time(9, 5))),
    ("", None), (None, None),
])
def test_a_stored_preferred_time_reads_back(stored, expected):
    assert preferred_from(stored) == expected


# ------------------------------------------------------------------ when a callback is due


@pytest.mark.parametrize(("now", "preferred", "due"), [
    # No preferred time: now when open, else the next opening.
    ("2026-11-25T11:00", None, "2026-11-25T11:00"),   # Wednesday, open: at once
    ("2026-11-25T15:59", None, "2026-11-25T15:59"),
    ("2026-11-25T09:00", None, "2026-11-25T10:00"),   # before opening: today at 10
    ("2026-11-25T16:00", None, "2026-11-26T10:00"),   # closing time is closed
    ("2026-11-25T19:00", None, "2026-11-26T10:00"),   # Wednesday evening: Thursday
    ("2026-11-27T17:00", None, "2026-11-30T10:00"),   # Friday evening: Monday
    ("2026-11-28T11:00", None, "2026-11-30T10:00"),   # Saturday: Monday
    ("2026-11-29T23:30", None, "2026-11-30T10:00"),   # Sunday night: Monday
    ("2026-12-25T11:00", None, "2026-12-29T10:00"),   # Christmas Day: Boxing Day is Monday's
    ("2026-04-02T17:00", None, "2026-04-07T10:00"),   # Easter: Good Friday to Easter Monday
    ("2026-04-03T11:00", None, "2026-04-07T10:00"),   # Good Friday itself
    # A preferred time: the first open moment at or after it.
    ("2026-11-25T11:00", "14:00", "2026-11-25T14:00"),
    ("2026-11-25T11:00", "14:30", "2026-11-25T14:30"),
    ("2026-11-25T08:00", "09:00", "2026-11-25T10:00"),  # before opening: at 10
    ("2026-11-25T19:00", "09:00", "2026-11-26T10:00"),
    ("2026-11-25T11:00", "18:00", "2026-11-25T15:30"),  # after closing: 15:30 at the latest
    ("2026-11-25T11:00", "16:00", "2026-11-25T15:30"),
    ("2026-11-25T15:00", "14:00", "2026-11-25T15:00"),  # passed today while open: now
    ("2026-11-25T11:00", "11:00", "2026-11-25T11:00"),
    ("2026-11-25T15:45", "18:00", "2026-11-26T15:30"),  # too late today even for 15:30
    ("2026-11-25T19:00", "14:00", "2026-11-26T14:00"),  # evening: tomorrow at that time
    ("2026-11-28T11:00", "14:00", "2026-11-30T14:00"),  # weekend: Monday at that time
    ("2026-12-25T11:00", "14:00", "2026-12-29T14:00"),  # bank holidays: after them
    ("2026-04-02T17:00", "11:00", "2026-04-07T11:00"),
    # "tomorrow": from the next day, skipping closed days.
    ("2026-11-25T11:00", "tomorrow 11:00", "2026-11-26T11:00"),
    ("2026-11-25T11:00", "tomorrow 09:00", "2026-11-26T10:00"),
    ("2026-11-27T11:00", "tomorrow 11:00", "2026-11-30T11:00"),  # Friday: Monday
    ("2026-12-24T11:00", "tomorrow 12:00", "2026-12-29T12:00"),  # Christmas Eve: Tuesday
])
def test_due_at(now, preferred, due):
    assert due_at(london(now), shipped_hours(), pref(preferred)) == london(due)


def test_due_at_is_an_instant_in_uk_time_across_the_clock_change():
    # 10:00 in British Summer Time is 09:00 UTC.
    due = due_at(london("2026-04-02T17:00"), shipped_hours())
    assert due.isoformat(timespec="minutes") in ("2026-04-07T09:00+00:00",
                                                  "2026-04-07T10:00+01:00")


@pytest.mark.parametrize(("now", "until", "preferred", "due"), [
    ("2026-11-25T11:00", "2026-11-25T13:00", None, "2026-11-25T13:00"),
    ("2026-11-25T11:00", "2026-11-25T17:00", None, "2026-11-26T10:00"),  # reopens after hours
    ("2026-11-25T11:00", "2026-11-25T13:00", "14:00", "2026-11-25T14:00"),
    ("2026-11-25T11:00", "2026-11-25T13:00", "12:00", "2026-11-25T13:00"),
    ("2026-11-25T11:00", "2026-11-25T10:30", None, "2026-11-25T11:00"),  # already over
])
def test_a_supervisors_closure_counts_from_its_end(now, until, preferred, due):
    override = Override("We are closed for training.", london(until))
    assert due_at(london(now), shipped_hours(), pref(preferred), override) == london(due)


@pytest.mark.parametrize(("now", "preferred", "due"), [
    ("2026-11-25T11:00", None, "2026-11-26T10:00"),     # closed while open: the next day
    ("2026-11-25T11:00", "14:00", "2026-11-26T14:00"),
    ("2026-11-25T19:00", None, "2026-11-26T10:00"),
    ("2026-11-27T11:00", None, "2026-11-30T10:00"),     # Friday: Monday
])
def test_a_supervisors_closure_without_an_end_counts_from_the_usual_next_opening(
        now, preferred, due):
    override = Override("We are closed for training.", None)
    assert due_at(london(now), shipped_hours(), pref(preferred), override) == london(due)


# ------------------------------------------------------------------ after no answer


@pytest.mark.parametrize(("now", "delay_minutes", "preferred", "again"), [
    ("2026-11-25T11:00", 120, None, "2026-11-25T13:00"),
    ("2026-11-25T15:00", 120, None, "2026-11-26T10:00"),   # past closing: next opening
    ("2026-11-27T15:00", 120, None, "2026-11-30T10:00"),   # Friday: Monday
    ("2026-11-25T11:00", 120, "14:00", "2026-11-25T14:00"),
    ("2026-11-25T14:00", 120, "14:00", "2026-11-26T14:00"),  # 16:00 is closed: next day
    ("2026-12-24T15:00", 120, None, "2026-12-29T10:00"),
])
def test_retry_at(now, delay_minutes, preferred, again):
    retry = retry_at(london(now), shipped_hours(), timedelta(minutes=delay_minutes),
                     pref(preferred))
    assert retry == london(again)


@pytest.mark.parametrize(("outcome", "attempts_before", "status"), [
    ("reached", 0, "done"),
    ("declined", 0, "done"),
    ("wrong_number", 2, "done"),
    ("voicemail_left", 0, "done"),
    ("no_answer", 0, "scheduled"),
    ("no_answer", 1, "scheduled"),
    ("no_answer", 2, "expired"),  # the third unanswered call is the last
])
def test_after_an_outcome(outcome, attempts_before, status):
    now = london("2026-11-25T11:00")
    new_status, due = after_outcome(outcome, attempts_before, 3, now, shipped_hours(),
                                    timedelta(hours=2), None)
    assert new_status == status
    assert due == (london("2026-11-25T13:00") if status == "scheduled" else None)


def test_an_unknown_outcome_is_refused():
    with pytest.raises(ValueError):
        after_outcome("maybe", 0, 3, london("2026-11-25T11:00"), shipped_hours(),
                      timedelta(hours=2), None)



# ------------------------------------------------------------------ numbers we may call back


@pytest.mark.parametrize(("raw", "number"), [
    ("+447400123456", "+447400123456"),
    ("07400123456", "+447400123456"),
    ("07400 123 456", "+447400123456"),
    ("+44 7400 123456", "+447400123456"),
    ("447400123456", "+447400123456"),
    ("02079460001", "+442079460001"),  # a London landline
    ("+442079460001", "+442079460001"),
])
def test_uk_mobiles_and_landlines_may_be_called(raw, number):
    assert callable_number(raw) == number


@pytest.mark.parametrize("raw", [
    "09011234567",     # premium rate
    "07012345678",     # personal number, charged like premium
    "08451234567",     # shared cost
    "08001111111",     # freephone: not a person's phone
    "+33612345678",    # international
    "0033612345678",
    "+447700900123",   # not a number libphonenumber accepts
    "+447400",         # too short
    "07400123456789",  # too long
    "999", "112", "101",
    "80085", "ACME", "anonymous", "",
])
def test_other_numbers_may_not(raw):
    assert callable_number(raw) is None


@pytest.mark.parametrize("number", ["+447911123456", "+447624123456", "+447797123456"],
                         ids=["guernsey", "isle-of-man", "jersey"])
def test_crown_dependency_numbers_are_not_called_back(number):
    # They share +44 but are charged as separate, dearer destinations.
    assert callable_number(number) is None
