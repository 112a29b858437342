"""When a waiting callback expires (ivr.core.expiry, pure): after opening days on which it could
have been called and was not, never before the time the person was told; and only once
someone has tried to call it. One nobody has tried is overdue instead, first for advisors, and
a supervisor is asked about it; a held one ends after opening days without a safe time.

The hours are the shipped flows/hours.toml. 25 November 2026 is a Wednesday.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ivr.core.expiry import (
    END_HELD,
    EXPIRE,
    WAIT,
    Count,
    Limits,
    count_through,
    last_day,
    overdue,
    to_decide,
    tonight,
)
from tests.common import shipped_hours

LIMIT = 5
LIMITS = Limits(expiry=LIMIT, decision=5, held=5)


def expired(count: Count, attempts: int = 1) -> bool:
    return tonight(count, attempts, False, LIMITS) == EXPIRE


def d(text: str) -> date:
    return date.fromisoformat(text)


def nights(
    count: Count,
    first: str,
    last: str,
    held: bool = False,
    requested: str = "2026-11-25",
    claimable: dict[str, bool] | None = None,
) -> Count:
    """Run the nightly count every night from `first` to `last` (the day before each run is
    counted); `claimable` says on which days the callback became claimable (released)."""
    day = d(first)
    while day <= d(last):
        if claimable and claimable.get(day.isoformat()):
            count = Count(count.missed, count.counted, day)
        count = count_through(count, day, held, d(requested), shipped_hours())
        day += timedelta(days=1)
    return count


def test_a_day_it_became_claimable_and_was_not_reached_counts_once():
    count = Count(claimable_on=d("2026-11-25"))
    once = count_through(count, d("2026-11-25"), False, d("2026-11-25"), shipped_hours())
    assert once == Count(1, d("2026-11-25"), d("2026-11-25"))
    again = count_through(once, d("2026-11-26"), False, d("2026-11-25"), shipped_hours())
    assert again == once  # the same claimable day is never counted twice


def test_days_it_was_never_claimable_do_not_count():
    """Waiting for its promised day (a weekend, a closure, a day outside the window, the
    scheduler down): nothing is counted, however many nights pass."""
    count = nights(Count(), "2026-11-25", "2027-01-10")
    assert count == Count()


def test_a_claimable_day_in_the_future_of_the_count_waits_for_its_night():
    count = Count(claimable_on=d("2026-11-26"))
    assert count_through(count, d("2026-11-25"), False, d("2026-11-25"), shipped_hours()) == count


def test_five_opening_days_unreached_expire_a_callback_and_four_flag_its_last_day():
    released = {f"2026-11-{day}": True for day in ("25", "26", "27", "30")}
    count = nights(Count(), "2026-11-25", "2026-11-30", claimable=released)
    assert count.missed == 4
    today = d("2026-12-01")
    assert last_day(count, LIMIT, today, today) and not expired(count)
    count = nights(count, "2026-12-01", "2026-12-01", claimable={"2026-12-01": True})
    assert expired(count)


def test_a_missed_night_never_makes_expiry_earlier():
    # Released on three days, but the nightly job only ran after the third.
    count = Count(claimable_on=d("2026-11-27"))
    assert (
        count_through(count, d("2026-11-27"), False, d("2026-11-25"), shipped_hours()).missed == 1
    )


@pytest.mark.parametrize(
    ("requested", "last_night", "missed"),
    [
        ("2026-11-25", "2026-11-25", 0),  # the day it was asked never counts
        ("2026-11-25", "2026-11-26", 1),
        ("2026-11-25", "2026-11-29", 2),  # Thursday, Friday; not the weekend
        ("2026-11-25", "2026-12-02", 5),
        ("2026-12-23", "2027-01-03", 4),  # 24th, 29th, 30th, 31st: not the bank holidays
    ],
)
def test_a_held_callback_counts_every_opening_day_since_it_was_asked(requested, last_night, missed):
    count = nights(Count(), requested, last_night, held=True, requested=requested)
    assert count.missed == missed


def test_counting_a_held_callback_twice_changes_nothing():
    once = count_through(Count(), d("2026-11-30"), True, d("2026-11-25"), shipped_hours())
    assert count_through(once, d("2026-11-30"), True, d("2026-11-25"), shipped_hours()) == once
    assert once.missed == 3


@pytest.mark.parametrize(
    ("missed", "flag", "gone"),
    [(0, False, False), (3, False, False), (4, True, False), (5, True, True)],
)
def test_last_day_and_expiry(missed, flag, gone):
    count = Count(missed)
    today = d("2026-11-25")
    assert (last_day(count, LIMIT, today, today), expired(count)) == (flag, gone)


def test_a_callback_due_on_a_later_day_is_not_on_its_last_day_today():
    """Found in review: a "Tue only" callback was flagged "last day" on Monday, though it
    could not expire that night."""
    assert not last_day(Count(4), LIMIT, d("2026-12-01"), d("2026-11-30"))


# ------------------------------------------------------------------ nobody has tried: overdue


def every_opening_day(first: str, last: str) -> dict[str, bool]:
    """Released (claimable) on every opening day from `first` to `last`."""
    hours, day, days = shipped_hours(), d(first), {}
    while day <= d(last):
        if hours.day(day).session is not None:
            days[day.isoformat()] = True
        day += timedelta(days=1)
    return days


def test_a_callback_nobody_tried_is_still_waiting_after_20_opening_days():
    """Found: a callback nobody took for five opening days ended `expired` with attempts 0."""
    released = every_opening_day("2026-11-25", "2026-12-22")
    count = nights(Count(), "2026-11-25", "2026-12-22", claimable=released)
    assert count.missed == 20
    assert tonight(count, 0, False, LIMITS) == WAIT
    assert overdue(count, 0, False, LIMITS)
    assert last_day(count, LIMIT, d("2026-12-23"), d("2026-12-23"))  # in the first group


@pytest.mark.parametrize(
    ("missed", "attempts", "verdict", "is_overdue"),
    [
        (4, 0, WAIT, False),
        (5, 0, WAIT, True),  # the expiry period is over: overdue, not expired
        (40, 0, WAIT, True),
        (4, 1, WAIT, False),
        (5, 1, EXPIRE, False),  # tried once: expires as before
        (5, 2, EXPIRE, False),
    ],
)
def test_expiry_needs_one_attempt_and_overdue_is_the_untried_past_it(
    missed, attempts, verdict, is_overdue
):
    count = Count(missed)
    assert tonight(count, attempts, False, LIMITS) == verdict
    assert overdue(count, attempts, False, LIMITS) is is_overdue


@pytest.mark.parametrize(
    ("missed", "kept", "asked"),
    [
        (5, 0, False),
        (9, 0, False),
        (10, 0, True),  # overdue for the decision period: a supervisor is asked
        (12, 10, False),  # kept at 10: not asked again until another period has passed
        (15, 10, True),
    ],
)
def test_a_supervisor_is_asked_after_a_further_decision_period(missed, kept, asked):
    count = Count(missed, kept=kept)
    assert to_decide(count, 0, False, LIMITS) is asked
    assert not to_decide(count, 1, False, LIMITS)  # tried: expiry decides, not a person
    assert not to_decide(count, 0, True, LIMITS)  # held: its own rule


def test_a_held_callback_ends_after_its_own_opening_days_whatever_its_attempts():
    limits = Limits(expiry=5, decision=5, held=3)
    assert tonight(Count(2), 0, True, limits) == WAIT
    assert tonight(Count(3), 0, True, limits) == END_HELD
    assert tonight(Count(3), 2, True, limits) == END_HELD
    assert not overdue(Count(30), 0, True, limits)  # a held one is never "overdue"


def test_a_held_callback_counts_from_the_day_we_asked_for_a_time():
    """Held from a later day (a second text we could not meet): its days count from there."""
    count = count_through(Count(), d("2026-12-03"), True, d("2026-12-01"), shipped_hours())
    assert count.missed == 2  # 2 and 3 December, not 25 November onwards
