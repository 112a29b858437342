"""When a waiting callback expires (ivr.core.expiry, pure): after opening days on which it could
have been called and was not, never before the time the person was told.

The hours are the shipped flows/hours.toml. 25 November 2026 is a Wednesday.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ivr.core.expiry import Count, count_through, expired, last_day
from tests.common import shipped_hours

LIMIT = 5


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
    assert last_day(count, LIMIT, today, today) and not expired(count, LIMIT)
    count = nights(count, "2026-12-01", "2026-12-01", claimable={"2026-12-01": True})
    assert expired(count, LIMIT)


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
    assert (last_day(count, LIMIT, today, today), expired(count, LIMIT)) == (flag, gone)


def test_a_callback_due_on_a_later_day_is_not_on_its_last_day_today():
    """Found in review: a "Tue only" callback was flagged "last day" on Monday, though it
    could not expire that night."""
    assert not last_day(Count(4), LIMIT, d("2026-12-01"), d("2026-11-30"))
