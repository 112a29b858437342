"""Opening hours: open or closed at any instant, why, until when, and when it next opens.

The helpline is open 10:00-16:00 UK time, Monday to Friday, except bank holidays (England and
Wales unless hours.toml says otherwise). These tests use the shipped flows/hours.toml.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

import pytest
from click.testing import CliRunner

from ivr.cli import main
from ivr.content.flows import DEFAULT_DIR
from ivr.core import hours as hours_module
from ivr.core.hours import (
    Closure,
    OpeningHours,
    Reason,
    Session,
    Status,
    bank_holidays,
)
from tests.common import LONDON, hours_with, london, shipped_config

TEN, FOUR = time(10, 0), time(16, 0)


@pytest.fixture
def hours() -> OpeningHours:
    return OpeningHours(shipped_config())


def at(day: date | str, clock: str = "12:00") -> datetime:
    """UK local time on `day`."""
    return london(f"{day}T{clock}")


def status_at(hours: OpeningHours, day: date | str, clock: str = "12:00") -> Status:
    return hours.status(at(day, clock))


# --- bank holidays --------------------------------------------------------------------------

ENGLAND_AND_WALES_BANK_HOLIDAYS = [
    pytest.param("2026-01-01", "New Year's Day", id="2026-new-year"),
    pytest.param("2026-04-03", "Good Friday", id="2026-good-friday"),
    pytest.param("2026-04-06", "Easter Monday", id="2026-easter-monday"),
    pytest.param("2026-05-04", "the early May bank holiday", id="2026-early-may"),
    pytest.param("2026-05-25", "the spring bank holiday", id="2026-spring"),
    pytest.param("2026-08-31", "the summer bank holiday", id="2026-summer"),
    pytest.param("2026-12-25", "Christmas Day", id="2026-christmas"),
    pytest.param("2026-12-28", "the Boxing Day bank holiday", id="2026-boxing-day-substitute"),
    pytest.param("2027-01-01", "New Year's Day", id="2027-new-year"),
    pytest.param("2027-03-26", "Good Friday", id="2027-good-friday"),
    pytest.param("2027-03-29", "Easter Monday", id="2027-easter-monday"),
    pytest.param("2027-05-03", "the early May bank holiday", id="2027-early-may"),
    pytest.param("2027-05-31", "the spring bank holiday", id="2027-spring"),
    pytest.param("2027-08-30", "the summer bank holiday", id="2027-summer"),
    pytest.param("2027-12-27", "the Christmas bank holiday", id="2027-christmas-substitute"),
    pytest.param("2027-12-28", "the Boxing Day bank holiday", id="2027-boxing-day-substitute"),
    pytest.param("2028-01-03", "the New Year bank holiday", id="2028-new-year-substitute"),
    pytest.param("2028-04-14", "Good Friday", id="2028-good-friday"),
    pytest.param("2028-04-17", "Easter Monday", id="2028-easter-monday"),
    pytest.param("2028-05-01", "the early May bank holiday", id="2028-early-may"),
    pytest.param("2028-05-29", "the spring bank holiday", id="2028-spring"),
    pytest.param("2028-08-28", "the summer bank holiday", id="2028-summer"),
    pytest.param("2028-12-25", "Christmas Day", id="2028-christmas"),
    pytest.param("2028-12-26", "Boxing Day", id="2028-boxing-day"),
]


@pytest.mark.parametrize(("day", "spoken_name"), ENGLAND_AND_WALES_BANK_HOLIDAYS)
def test_bank_holiday_is_closed_at_noon_with_its_spoken_name(hours, day, spoken_name):
    assert date.fromisoformat(day).weekday() < 5, "a weekday, so only the holiday closes it"
    status = status_at(hours, day)
    assert not status.open
    assert status.closes_at is None
    assert status.reason == Reason("bank_holiday", spoken_name)
    assert status.next_opening > at(day)
    assert status.next_opening.time() == TEN


def test_no_other_weekday_in_2026_to_2028_is_a_bank_holiday(hours):
    expected = {date.fromisoformat(p.values[0]) for p in ENGLAND_AND_WALES_BANK_HOLIDAYS}
    day, closed = date(2026, 1, 1), set()
    while day.year <= 2028:
        if day.weekday() < 5 and status_at(hours, day).reason is not None:
            closed.add(day)
        day += timedelta(days=1)
    assert closed == expected


@pytest.mark.parametrize(
    "day",
    [
        pytest.param("2026-12-26", id="2026-boxing-day-on-saturday"),
        pytest.param("2027-12-25", id="2027-christmas-on-saturday"),
        pytest.param("2027-12-26", id="2027-boxing-day-on-sunday"),
        pytest.param("2028-01-01", id="2028-new-year-on-saturday"),
    ],
)
def test_bank_holiday_on_a_weekend_is_given_as_the_reason(hours, day):
    status = status_at(hours, day)
    assert not status.open
    assert status.reason is not None and status.reason.kind == "bank_holiday"


def test_a_substitute_day_not_named_in_the_file_uses_observed_name():
    hours = hours_with(bank_holiday_names={}, observed_name="the {name} substitute holiday")
    assert status_at(hours, "2027-12-27").reason == Reason(
        "bank_holiday", "the Christmas Day substitute holiday"
    )


def test_a_bank_holiday_not_named_in_the_file_is_said_as_the_package_writes_it():
    hours = hours_with(bank_holiday_names={})
    assert status_at(hours, "2026-05-04").reason == Reason("bank_holiday", "May Day")


# --- weekends, boundaries -------------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        pytest.param("2026-11-28", id="saturday"),
        pytest.param("2026-11-29", id="sunday"),
    ],
)
@pytest.mark.parametrize("clock", ["00:00", "10:00", "12:00", "15:59", "23:59"])
def test_closed_all_weekend_and_opens_on_monday(hours, day, clock):
    status = status_at(hours, day, clock)
    assert not status.open
    assert status.reason == Reason("weekend")
    assert status.next_opening == at("2026-11-30", "10:00")


BOUNDARIES = [
    pytest.param("09:59:59", False, Reason("before_opening"), id="09:59:59-closed"),
    pytest.param("10:00", True, None, id="10:00-open"),
    pytest.param("15:59:59", True, None, id="15:59:59-open"),
    pytest.param("15:59:59.999999", True, None, id="last-microsecond-open"),
    pytest.param("16:00", False, Reason("after_closing"), id="16:00-closed"),
]


@pytest.mark.parametrize(
    "day",
    [
        pytest.param("2026-11-25", id="winter-gmt"),
        pytest.param("2026-07-15", id="summer-bst"),
    ],
)
@pytest.mark.parametrize(("clock", "is_open", "reason"), BOUNDARIES)
def test_opening_and_closing_instants(hours, day, clock, is_open, reason):
    status = status_at(hours, day, clock)
    assert status.open is is_open
    assert status.reason == reason
    assert hours.is_open(at(day, clock)) is is_open


def test_before_opening_the_next_opening_is_this_morning(hours):
    status = status_at(hours, "2026-11-25", "09:59:59")
    assert status.next_opening == at("2026-11-25", "10:00")
    assert status.closes_at is None


def test_naive_datetime_is_refused(hours):
    with pytest.raises(ValueError, match="timezone-aware"):
        hours.status(datetime(2026, 11, 25, 12, 0))


def test_an_instant_in_another_zone_is_judged_in_uk_time(hours):
    # 09:30 UTC is 10:30 BST in July: open, and closing at 16:00 BST (15:00 UTC).
    status = hours.status(datetime.fromisoformat("2026-07-15T09:30:00+00:00"))
    assert status.open
    assert status.closes_at.isoformat() == "2026-07-15T16:00:00+01:00"


# --- closes_at and next_opening -------------------------------------------------------------


def test_closes_at_is_today_at_four_when_open(hours):
    status = status_at(hours, "2026-11-25", "11:00")
    assert status.closes_at == at("2026-11-25", "16:00")
    assert status.reason is None


@pytest.mark.parametrize(
    ("day", "clock"),
    [
        pytest.param("2026-11-25", "09:00", id="before-opening"),
        pytest.param("2026-11-25", "16:00", id="after-closing"),
        pytest.param("2026-11-28", "12:00", id="weekend"),
        pytest.param("2026-12-25", "12:00", id="bank-holiday"),
    ],
)
def test_closes_at_is_none_when_closed(hours, day, clock):
    status = status_at(hours, day, clock)
    assert not status.open
    assert status.closes_at is None


@pytest.mark.parametrize(
    ("now", "next_opening"),
    [
        pytest.param("2026-11-25T12:00", "2026-11-26T10:00", id="wednesday-to-thursday"),
        pytest.param("2026-11-27T12:00", "2026-11-30T10:00", id="friday-to-monday"),
        pytest.param("2026-04-02T12:00", "2026-04-07T10:00", id="maundy-thursday-to-tuesday"),
        pytest.param("2026-12-24T12:00", "2026-12-29T10:00", id="christmas-eve-2026-to-tuesday"),
    ],
)
def test_when_open_next_opening_is_the_first_opening_after_this_session(hours, now, next_opening):
    status = hours.status(london(now))
    assert status.open
    assert status.next_opening == london(next_opening)
    assert hours.next_opening(london(now)) == london(next_opening)


# --- daylight saving ------------------------------------------------------------------------

# The last opening day before each change and the first after (2027's spring change falls
# on Easter Sunday, so those are Thursday and Tuesday).
DST_CHANGES = [
    pytest.param("2026-03-27", "2026-03-30", "+00:00", "+01:00", id="2026-clocks-go-forward"),
    pytest.param("2026-10-23", "2026-10-26", "+01:00", "+00:00", id="2026-clocks-go-back"),
    pytest.param("2027-03-25", "2027-03-30", "+00:00", "+01:00", id="2027-clocks-go-forward"),
    pytest.param("2027-10-29", "2027-11-01", "+01:00", "+00:00", id="2027-clocks-go-back"),
]


@pytest.mark.parametrize(("before", "after", "offset_before", "offset_after"), DST_CHANGES)
def test_opens_at_ten_local_time_either_side_of_a_clock_change(
    hours, before, after, offset_before, offset_after
):
    assert hours.next_opening(at(before, "09:00")).isoformat() == (
        f"{before}T10:00:00{offset_before}"
    )
    assert hours.next_opening(at(before, "17:00")).isoformat() == (
        f"{after}T10:00:00{offset_after}"
    )
    for day in (before, after):
        assert not hours.is_open(at(day, "09:59:59"))
        assert hours.is_open(at(day, "10:00"))
        assert not hours.is_open(at(day, "16:00"))


@pytest.mark.parametrize(
    ("instant", "is_open"),
    [
        pytest.param("2026-03-27T10:00:00+00:00", True, id="2026-fri-before-10:00-gmt"),
        pytest.param("2026-03-30T08:59:59+00:00", False, id="2026-mon-after-09:59:59-bst"),
        pytest.param("2026-03-30T09:00:00+00:00", True, id="2026-mon-after-10:00-bst"),
        pytest.param("2026-03-30T15:00:00+00:00", False, id="2026-mon-after-16:00-bst"),
        pytest.param("2026-10-23T09:00:00+00:00", True, id="2026-fri-before-10:00-bst"),
        pytest.param("2026-10-26T09:30:00+00:00", False, id="2026-mon-after-09:30-gmt"),
        pytest.param("2026-10-26T15:30:00+00:00", True, id="2026-mon-after-15:30-gmt"),
        pytest.param("2027-03-30T09:00:00+00:00", True, id="2027-tue-after-10:00-bst"),
        pytest.param("2027-11-01T09:59:59+00:00", False, id="2027-mon-after-09:59:59-gmt"),
        pytest.param("2027-11-01T10:00:00+00:00", True, id="2027-mon-after-10:00-gmt"),
    ],
)
def test_utc_instants_around_clock_changes(hours, instant, is_open):
    assert hours.is_open(datetime.fromisoformat(instant)) is is_open


# --- Easter and Christmas -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("thursday", "tuesday"),
    [
        pytest.param("2026-04-02", "2026-04-07", id="2026"),
        pytest.param("2027-03-25", "2027-03-30", id="2027"),
    ],
)
def test_easter_closes_from_thursday_at_four_to_tuesday_at_ten(hours, thursday, tuesday):
    status = status_at(hours, thursday, "16:00")
    assert not status.open
    assert status.next_opening == at(tuesday, "10:00")
    assert status.next_opening.isoformat() == f"{tuesday}T10:00:00+01:00"
    day = date.fromisoformat(thursday) + timedelta(days=1)
    while day < date.fromisoformat(tuesday):
        assert not status_at(hours, day).open, day
        day += timedelta(days=1)
    assert status_at(hours, tuesday, "10:00").open


def test_christmas_2027_opens_on_wednesday(hours):
    status = status_at(hours, "2027-12-24", "17:00")
    assert not status.open
    assert status.next_opening.isoformat() == "2027-12-29T10:00:00+00:00"
    assert status_at(hours, "2027-12-25").reason == Reason("bank_holiday", "Christmas Day")
    assert status_at(hours, "2027-12-26").reason == Reason("bank_holiday", "Boxing Day")
    assert status_at(hours, "2027-12-27").reason == Reason(
        "bank_holiday", "the Christmas bank holiday"
    )
    assert status_at(hours, "2027-12-28").reason == Reason(
        "bank_holiday", "the Boxing Day bank holiday"
    )
    assert status_at(hours, "2027-12-29", "10:00").open


def test_christmas_2026_opens_on_tuesday(hours):
    status = status_at(hours, "2026-12-24", "16:00")
    assert status.reason == Reason("after_closing")
    assert status.next_opening.isoformat() == "2026-12-29T10:00:00+00:00"


def test_christmas_years_ahead_needs_no_code_change(hours):
    # 2035: Christmas Day is a Tuesday, Boxing Day a Wednesday.
    assert status_at(hours, "2035-12-25").reason == Reason("bank_holiday", "Christmas Day")
    assert status_at(hours, "2035-12-26").reason == Reason("bank_holiday", "Boxing Day")
    assert hours.next_opening(at("2035-12-24", "17:00")) == at("2035-12-27", "10:00")


# --- closures and special hours -------------------------------------------------------------

CHRISTMAS_CLOSURE = Closure(
    date(2026, 12, 24), date(2027, 1, 1), "The helpline is closed for the Christmas holidays."
)


def test_a_closure_gives_its_message_as_the_reason():
    hours = hours_with(closures=(CHRISTMAS_CLOSURE,))
    status = status_at(hours, "2026-12-24")
    assert not status.open
    assert status.reason == Reason("closure", CHRISTMAS_CLOSURE.message)
    assert status.next_opening.isoformat() == "2027-01-04T10:00:00+00:00"


@pytest.mark.parametrize("day", ["2026-12-24", "2026-12-25", "2026-12-28", "2027-01-01"])
def test_a_closure_covers_every_day_from_and_to_inclusive(day):
    hours = hours_with(closures=(CHRISTMAS_CLOSURE,))
    assert status_at(hours, day).reason == Reason("closure", CHRISTMAS_CLOSURE.message)


def test_the_last_opening_before_a_closure_points_past_it():
    hours = hours_with(closures=(CHRISTMAS_CLOSURE,))
    status = status_at(hours, "2026-12-23", "15:00")
    assert status.open
    assert status.next_opening == at("2027-01-04", "10:00")
    assert status_at(hours, "2027-01-04", "10:00").open


def test_special_hours_close_christmas_eve_at_one():
    hours = hours_with(special={date(2026, 12, 24): Session(TEN, time(13, 0))})
    before = status_at(hours, "2026-12-24", "12:59:59")
    assert before.open
    assert before.closes_at == at("2026-12-24", "13:00")
    after = status_at(hours, "2026-12-24", "13:00")
    assert after.reason == Reason("after_closing")
    assert after.next_opening == at("2026-12-29", "10:00")


def test_special_hours_can_open_a_saturday():
    hours = hours_with(special={date(2026, 11, 28): Session(TEN, time(14, 0))})
    assert hours.next_opening(at("2026-11-27", "17:00")) == at("2026-11-28", "10:00")
    saturday = status_at(hours, "2026-11-28", "11:00")
    assert saturday.open
    assert saturday.closes_at == at("2026-11-28", "14:00")
    assert saturday.next_opening == at("2026-11-30", "10:00")
    assert status_at(hours, "2026-11-28", "14:00").reason == Reason("after_closing")
    assert status_at(hours, "2026-11-29").reason == Reason("weekend")


def test_special_hours_replace_a_bank_holiday():
    hours = hours_with(special={date(2026, 12, 28): Session(TEN, time(13, 0))})
    status = status_at(hours, "2026-12-28", "11:00")
    assert status.open
    assert status.closes_at == at("2026-12-28", "13:00")


def test_a_weekday_left_out_of_weekly_is_not_open_today():
    weekly = {d: s for d, s in shipped_config().weekly.items() if d != 2}
    status = status_at(hours_with(weekly=weekly), "2026-11-25")
    assert status.reason == Reason("not_open_today")
    assert status.next_opening == at("2026-11-26", "10:00")


# --- Scotland -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "in_england", "in_scotland"),
    [
        pytest.param("2026-01-02", None, "the New Year bank holiday", id="2026-01-02"),
        pytest.param("2026-04-06", "Easter Monday", None, id="easter-monday-2026"),
        pytest.param("2026-08-03", None, "the summer bank holiday", id="scottish-summer-2026"),
        pytest.param("2026-08-31", "the summer bank holiday", None, id="english-summer-2026"),
        pytest.param("2026-11-30", None, "Saint Andrew's Day", id="st-andrews-day-2026"),
        pytest.param(
            "2027-01-04", None, "the New Year bank holiday", id="2027-new-year-substitute"
        ),
    ],
)
def test_scotland_has_different_bank_holidays(hours, day, in_england, in_scotland):
    scotland = hours_with(subdivision="SCT")
    for place, expected in ((hours, in_england), (scotland, in_scotland)):
        status = status_at(place, day)
        assert status.open is (expected is None)
        assert status.reason == (None if expected is None else Reason("bank_holiday", expected))


# --- the bank holiday cache -----------------------------------------------------------------


def test_bank_holidays_are_built_once_per_year(monkeypatch):
    built: list[tuple[str, int]] = []
    real = hours_module.holidays.country_holidays

    def counting(*args, **kwargs):
        built.append((kwargs.get("subdiv"), kwargs.get("years")))
        return real(*args, **kwargs)

    monkeypatch.setattr(hours_module.holidays, "country_holidays", counting)
    bank_holidays.cache_clear()
    try:
        noons = [at(date(2027, 1, 1) + timedelta(days=n)) for n in range(365)]
        forwards = [OpeningHours(shipped_config()).status(t) for t in noons]
        backwards = [OpeningHours(shipped_config()).status(t) for t in reversed(noons)]
    finally:
        bank_holidays.cache_clear()
    # 2028 is needed for the next opening after the last days of 2027.
    assert built == [("ENG", 2027), ("ENG", 2028)]
    assert forwards == backwards[::-1]
    # Eight weekday bank holidays, plus Christmas Day and Boxing Day on the weekend.
    assert sum(not s.open and s.reason.kind == "bank_holiday" for s in forwards) == 10


def test_bank_holidays_cache_is_per_subdivision():
    assert date(2026, 1, 2) in bank_holidays("SCT", 2026)
    assert date(2026, 1, 2) not in bank_holidays("ENG", 2026)


# --- as_json and the command line -----------------------------------------------------------


def test_as_json_when_open(hours):
    data = status_at(hours, "2026-07-15", "11:00").as_json()
    assert data["open"] is True
    assert data["closes_at"] == "2026-07-15T16:00:00+01:00"
    assert data["next_opening"] == "2026-07-16T10:00:00+01:00"
    assert data["reason"] is None
    assert json.loads(json.dumps(data)) == data


def test_as_json_when_closed(hours):
    data = status_at(hours, "2027-12-27").as_json()
    assert {"open", "closes_at", "next_opening", "reason"} <= data.keys()
    assert data["open"] is False
    assert data["closes_at"] is None
    assert data["next_opening"] == "2027-12-29T10:00:00+00:00"
    assert data["reason"] == {"kind": "bank_holiday", "text": "the Christmas bank holiday"}
    assert json.loads(json.dumps(data)) == data


def test_hours_command_prints_json_for_christmas_eve_2027():
    result = CliRunner().invoke(
        main,
        ["hours", "--at", "2027-12-24T17:00", "--json"],
        env={"HELPLINE_FLOWS_DIR": str(DEFAULT_DIR)},
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["open"] is False
    assert data["closes_at"] is None
    assert data["next_opening"] == "2027-12-29T10:00:00+00:00"
    assert data["reason"] == {"kind": "after_closing", "text": None}


def test_the_shipped_hours_are_in_uk_time():
    assert shipped_config().timezone == LONDON
    assert shipped_config().subdivision == "ENG"
