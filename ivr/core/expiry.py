"""When a waiting callback has waited too long (pure: the nightly job passes in the date).

The count is of opening days on which it could have been called and was not: days on which
it became claimable, inside the person's safe window, with enough of that window left. Days
the helpline is closed, days outside the window, and days before the time we promised never
count, so nothing ends before the time the person was told. A retry after no answer does not
restart the count.

What the count leads to (issue 19: no callback dropped unattempted):
- tried at least once: it expires after `Limits.expiry` days (CALLBACK_EXPIRY_OPENING_DAYS);
- nobody has tried: it never expires. Past the expiry days it is overdue (first in Take
  next, counted for advisors and the supervisor); after `Limits.decision` more days a
  supervisor is asked to keep it or close it, and only their decision closes it;
- held for a safe time (we asked for one and got none): the count is of every opening day
  since we asked (the held callback's due_at: the store starts the count again each time we
  ask), and it ends after `Limits.held` days, whatever the attempts.
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
    kept: int = 0  # `missed` when a supervisor last chose to keep it overdue (0: never)


@dataclass(frozen=True)
class Limits:
    """The settings, in opening days: expiry after an attempt, the supervisor's decision
    after being overdue that long, and the end of a held callback."""

    expiry: int = 5  # CALLBACK_EXPIRY_OPENING_DAYS
    decision: int = 5  # CALLBACK_DECISION_OPENING_DAYS
    held: int = 5  # CALLBACK_HELD_OPENING_DAYS


WAIT, EXPIRE, END_HELD = "wait", "expire", "end_held"


def count_through(
    count: Count, yesterday: date, held: bool, asked: date, hours: OpeningHours
) -> Count:
    """The count after the nights up to and including `yesterday` (the nightly job's view);
    `asked`: for a held callback, the day we asked for a safe time (that day never counts).

    Idempotent: counting the same days twice changes nothing, and a night the job did not
    run is counted on the next one (for a held callback exactly; otherwise the claimable day
    is only remembered once, so a missed night can only make expiry later, never earlier)."""
    if held:
        start = max(count.counted or asked, asked) + timedelta(days=1)
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


def tonight(count: Count, attempts: int, held: bool, limits: Limits) -> str:
    """What the nightly job does with a waiting callback once counted: WAIT, EXPIRE (tried at
    least once, its days are over) or END_HELD (no safe time given in the held days). A
    callback nobody has tried always waits: only a supervisor's decision closes it."""
    if held:
        return END_HELD if count.missed >= limits.held else WAIT
    if attempts > 0 and count.missed >= limits.expiry:
        return EXPIRE
    return WAIT


def overdue(count: Count, attempts: int, held: bool, limits: Limits) -> bool:
    """Nobody has tried to call it and its expiry days are over: it goes first."""
    return not held and attempts == 0 and count.missed >= limits.expiry


def to_decide(count: Count, attempts: int, held: bool, limits: Limits) -> bool:
    """Overdue for the decision days (since it became overdue, or since a supervisor last
    kept it): a supervisor is asked to keep it or close it."""
    return (
        overdue(count, attempts, held, limits)
        and count.missed >= max(limits.expiry, count.kept) + limits.decision
    )


def last_day(count: Count, limit: int, due_day: date, today: date) -> bool:
    """In the group Take next serves first: it has missed all but one of its days (it
    expires, or becomes overdue, tonight unless someone reaches it today) or more (overdue),
    and today is one it can be called on (it is due today, not on a later day)."""
    return count.missed >= limit - 1 and due_day <= today
