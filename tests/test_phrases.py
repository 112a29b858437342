"""Opening times in words, as callers hear them and texts say them, from flows/phrases.toml."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time

import pytest

from ivr.content.flows import DEFAULT_DIR, load_phrases
from ivr.content.tomlfile import read_toml
from ivr.core.hours import Closure, OpeningHours, Session
from ivr.core.phrases import PhraseTemplates, time_words, usual_hours, when, window_words
from ivr.core.safetime import Window
from tests.common import hours_with, london, shipped_config

TEN, FOUR = time(10, 0), time(16, 0)


@pytest.fixture(scope="module")
def phrases() -> PhraseTemplates:
    return load_phrases(read_toml(DEFAULT_DIR / "phrases.toml"))


def next_opening_in_words(hours: OpeningHours, phrases: PhraseTemplates, now: datetime) -> str:
    return when(hours.status(now).next_opening, now, hours, phrases)


# --- when -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "words"),
    [
        pytest.param("2026-11-25T08:00", "today at 10am", id="weekday-before-opening"),
        pytest.param("2026-11-25T00:00", "today at 10am", id="weekday-just-after-midnight"),
        pytest.param("2026-11-25T12:00", "tomorrow at 10am", id="weekday-while-open"),
        pytest.param("2026-11-25T17:00", "tomorrow at 10am", id="weekday-evening"),
        pytest.param("2026-11-27T17:00", "on Monday at 10am", id="friday-evening"),
        pytest.param("2026-11-28T12:00", "on Monday at 10am", id="saturday"),
        # Monday is the next day, so "tomorrow" is the plainer way to say it.
        pytest.param("2026-11-29T12:00", "tomorrow at 10am", id="sunday"),
        pytest.param(
            "2026-12-24T17:00", "on Tuesday 29 December at 10am", id="christmas-eve-2026-evening"
        ),
        pytest.param("2026-12-25T12:00", "on Tuesday 29 December at 10am", id="christmas-day-2026"),
        pytest.param(
            "2027-12-24T17:00", "on Wednesday 29 December at 10am", id="christmas-eve-2027-evening"
        ),
        pytest.param(
            "2026-05-01T17:00", "on Tuesday 5 May at 10am", id="friday-before-bank-holiday-monday"
        ),
        pytest.param("2026-04-02T16:00", "on Tuesday 7 April at 10am", id="easter-2026"),
        pytest.param(
            "2026-12-31T17:00",
            "on Monday 4 January at 10am",
            id="new-years-eve-2026-bank-holiday-friday",
        ),
    ],
)
def test_next_opening_in_words(phrases, now, words):
    hours = OpeningHours(shipped_config())
    assert next_opening_in_words(hours, phrases, london(now)) == words


def test_the_day_is_counted_in_uk_time_not_utc(phrases):
    # 23:30 UTC on Wednesday 15 July is 00:30 BST on Thursday: the opening is today.
    hours = OpeningHours(shipped_config())
    now = datetime.fromisoformat("2026-07-15T23:30:00+00:00")
    assert next_opening_in_words(hours, phrases, now) == "today at 10am"


def test_an_opening_weeks_away_gives_the_full_date(phrases):
    closure = Closure(date(2026, 11, 30), date(2026, 12, 11), "Closed for training.")
    hours = hours_with(closures=(closure,))
    assert next_opening_in_words(hours, phrases, london("2026-11-27T17:00")) == (
        "on Monday 14 December at 10am"
    )


def test_an_opening_exactly_a_week_away_gives_the_full_date(phrases):
    hours = hours_with(weekly={0: Session(TEN, FOUR)})  # Mondays only
    assert next_opening_in_words(hours, phrases, london("2026-11-30T17:00")) == (
        "on Monday 7 December at 10am"
    )


def test_a_closure_between_gives_the_full_date(phrases):
    closure = Closure(date(2026, 11, 30), date(2026, 11, 30), "Closed for training.")
    hours = hours_with(closures=(closure,))
    assert next_opening_in_words(hours, phrases, london("2026-11-27T17:00")) == (
        "on Tuesday 1 December at 10am"
    )


def test_an_opening_at_half_past_one_is_said_as_1_30pm(phrases):
    hours = hours_with(special={date(2026, 11, 26): Session(time(13, 30), FOUR)})
    assert next_opening_in_words(hours, phrases, london("2026-11-25T17:00")) == (
        "tomorrow at 1:30pm"
    )


def test_special_saturday_opening_is_tomorrow_from_friday_evening(phrases):
    hours = hours_with(special={date(2026, 11, 28): Session(TEN, time(14, 0))})
    assert next_opening_in_words(hours, phrases, london("2026-11-27T17:00")) == ("tomorrow at 10am")


def test_the_templates_come_from_the_phrases_file(phrases):
    custom = replace(phrases, this_week="this {weekday}, {time}")
    hours = OpeningHours(shipped_config())
    now = london("2026-11-27T17:00")
    assert when(hours.status(now).next_opening, now, hours, custom) == "this Monday, 10am"


# --- clock ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "words"),
    [
        pytest.param(time(10, 0), "10am", id="10:00"),
        pytest.param(time(13, 30), "1:30pm", id="13:30"),
        pytest.param(time(16, 0), "4pm", id="16:00"),
        pytest.param(time(12, 0), "12pm", id="noon"),
        pytest.param(time(0, 0), "12am", id="midnight"),
        pytest.param(time(0, 5), "12:05am", id="00:05"),
        pytest.param(time(9, 5), "9:05am", id="09:05"),
        pytest.param(time(11, 59), "11:59am", id="11:59"),
        pytest.param(time(23, 45), "11:45pm", id="23:45"),
    ],
)
def test_clock(t, words):
    assert time_words(t) == words


# --- usual_hours ----------------------------------------------------------------------------


def test_usual_hours_of_the_shipped_week(phrases):
    assert usual_hours(shipped_config().weekly, phrases) == "from 10am to 4pm, Monday to Friday"


@pytest.mark.parametrize(
    ("weekly", "words"),
    [
        pytest.param(
            {
                0: Session(TEN, FOUR),
                1: Session(TEN, FOUR),
                2: Session(TEN, FOUR),
                3: Session(TEN, FOUR),
                4: Session(TEN, time(13, 0)),
            },
            "from 10am to 4pm, Monday to Thursday; from 10am to 1pm, Friday",
            id="short-friday",
        ),
        pytest.param(
            {5: Session(TEN, time(12, 30)), 6: Session(TEN, time(12, 30))},
            "from 10am to 12:30pm, Saturday and Sunday",
            id="two-days",
        ),
        pytest.param(
            {0: Session(TEN, FOUR), 2: Session(TEN, FOUR)},
            "from 10am to 4pm, Monday; from 10am to 4pm, Wednesday",
            id="not-consecutive",
        ),
        pytest.param(
            {3: Session(time(9, 30), time(17, 0))}, "from 9:30am to 5pm, Thursday", id="one-day"
        ),
    ],
)
def test_usual_hours_groups_consecutive_days_with_the_same_hours(phrases, weekly, words):
    assert usual_hours(weekly, phrases) == words


@pytest.mark.parametrize(
    ("window", "words"),
    [
        (Window(), "at any time we are open"),
        (Window(earliest=time(14)), "after 2pm"),
        (Window(latest=time(11)), "before 11am"),
        (Window(time(12), time(14)), "between 12pm and 2pm"),
        (Window(weekdays=frozenset({1})), "on Tuesdays"),
        (Window(weekdays=frozenset({1, 3})), "on Tuesdays and Thursdays"),
        (Window(weekdays=frozenset({0, 2, 4})), "on Mondays, Wednesdays and Fridays"),
        (Window(weekdays=frozenset(range(5))), "on Mondays to Fridays"),
        (Window(weekdays=frozenset(range(1, 7))), "on any day except Mondays"),
        (Window(weekdays=frozenset({0, 1, 3, 4, 6})), "on any day except Wednesdays and Saturdays"),
        (Window(earliest=time(14), weekdays=frozenset({1})), "after 2pm on Tuesdays"),
        (Window(not_before=date(2026, 11, 27)), "from Friday 27 November"),
    ],
)
def test_a_safe_time_in_words_for_a_text(phrases, window, words):
    """Found in review: replies read "we will only call you not Mon"."""
    assert window_words(window, phrases) == words
