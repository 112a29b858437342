"""When a waiting callback has waited too long (pure: the nightly job passes in the date).

A callback expires after a number of opening days on which it could have been called and
was not: days on which it became claimable, inside the person's safe window, with enough of
that window left. Days the helpline is closed, days outside the window, and days before the
time we promised never count, so a callback never expires before the time the person was
told. A retry after no answer does not restart the count. A callback held for a safe time
(the person's times never met our hours) counts every opening day since it was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from ivr.core.hours import OpeningHours


@dataclass(frozen=True)
class Count:
    """What a callback carries for its expiry: days missed so far, the last day counted, and
    the last day it became claimable (None: not yet)."""

    missed: int = 0
    counted: date | None = None
    claimable_on: date | None = None


def count_through(
    count: Count, yesterday: date, held: bool, requested: date, hours: OpeningHours
) -> Count:
    """The count after the nights up to and including `yesterday` (the nightly job's view).

    Idempotent: counting the same days twice changes nothing, and a night the job did not
    run is counted on the next one (for a held callback exactly; otherwise the claimable day
    is only remembered once, so a missed night can only make expiry later, never earlier)."""
    if held:
        start = (count.counted or requested) + timedelta(days=1)  # the day asked never counts
        days = sum(
            1
            for offset in range((yesterday - start).days + 1)
            if hours.day(start + timedelta(days=offset)).session is not None
        )
        return replace(
            count, missed=count.missed + days, counted=max(yesterday, count.counted or yesterday)
        )
    day = count.claimable_on
    if day is None or day > yesterday or (count.counted is not None and day <= count.counted):
        return count
    return replace(count, missed=count.missed + 1, counted=day)


def expired(count: Count, limit: int) -> bool:
    return count.missed >= limit


def last_day(count: Count, limit: int, due_day: date, today: date) -> bool:
    """It expires tonight unless someone reaches it today: it has missed all but one of its
    days, and today is one it can be called on (it is due today, not on a later day)."""
    return count.missed >= limit - 1 and due_day <= today
