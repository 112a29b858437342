"""When a callback is due, and what we may honestly promise (pure: the clock is passed in).

A callback may only be made inside a *slot*: a part of one opening day that is also inside
the person's safe window. Every reply that says when we will call is built from a Promise,
and the Promise's `due` and `slot_end` are what the queue stores, so what a person is told is
what is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from ivr.core.hours import SEARCH_DAYS, HoursConfig, OpeningHours, Override
from ivr.core.safetime import Window

PromiseKind = Literal["soon", "closing", "at", "reopen"]


@dataclass(frozen=True)
class Slot:
    """Part of one opening day inside the person's window: calls may be made from `start`
    until `end` (not included). `closes` is True when `end` is the helpline's closing time
    (not the end of the person's window)."""

    start: datetime
    end: datetime
    closes: bool


@dataclass(frozen=True)
class Promise:
    """What we tell the person, and what is stored.

    soon: due now, with at least the minimum time left in this slot ("as soon as someone is
    free"); closing: due now but the slot ends within that time, so the reply also names
    `fallback`, the next slot's start; at: due at a later slot's start (or later in a slot,
    after a retry delay or a closure's end); reopen: a supervisor closed the line without an
    end: due once the line reopens, inside the slot."""

    kind: PromiseKind
    due: datetime
    slot_end: datetime
    fallback: datetime | None = None
    closes: bool = True


def day_slot(day: date, window: Window, hours: OpeningHours) -> Slot | None:
    """The slot of one local date, or None when the helpline is closed that day or the window
    leaves nothing of its opening hours."""
    session = hours.day(day).session
    if session is None or day.weekday() not in window.weekdays:
        return None
    if window.not_before is not None and day < window.not_before:
        return None
    zone = hours.timezone
    opens = datetime.combine(day, session.opens, tzinfo=zone)
    closes = datetime.combine(day, session.closes, tzinfo=zone)
    start = max(opens, _on(day, window.earliest, hours)) if window.earliest else opens
    end = min(closes, _on(day, window.latest, hours)) if window.latest else closes
    return Slot(start, end, end == closes) if start < end else None


def _on(day: date, at: time | None, hours: OpeningHours) -> datetime:
    return datetime.combine(day, at or time(0), tzinfo=hours.timezone)


def slots_after(at: datetime, window: Window, hours: OpeningHours) -> Iterator[Slot]:
    """Slots that end after `at`, in order (for about a year: the hours' own search limit)."""
    first = at.astimezone(hours.timezone).date()
    for offset in range(SEARCH_DAYS):
        slot = day_slot(first + timedelta(days=offset), window, hours)
        if slot is not None and slot.end > at:
            yield slot


def first_slot(at: datetime, window: Window, hours: OpeningHours) -> Slot | None:
    return next(slots_after(at, window, hours), None)


def meets_week(window: Window, config: HoursConfig) -> bool:
    """Whether the window leaves any time to call in the usual week (closures aside)."""
    return any(
        day in window.weekdays
        and max(window.earliest or session.opens, session.opens)
        < min(window.latest or session.closes, session.closes)
        for day, session in config.weekly.items()
    )


def meets_hours(window: Window, now: datetime, hours: OpeningHours) -> bool:
    """Whether the window leaves any time to call at all ("after 6pm" and "weekends" don't)."""
    return first_slot(now, window, hours) is not None


def promise(
    now: datetime,
    window: Window,
    hours: OpeningHours,
    override: Override | None,
    min_slot: timedelta,
) -> Promise:
    """What to promise at `now` for a window that meets the hours (see meets_hours).

    A supervisor's closure with an end counts from its end; without an end, the callback is
    due as soon as the line reopens (the scheduler releases nothing while it is closed)."""
    if override is not None and override.active(now):
        if override.until is not None:
            return at_or_after(max(now, override.until), window, hours)
        slot = _need(first_slot(now, window, hours))
        return Promise("reopen", max(now, slot.start), slot.end, closes=slot.closes)
    slot = _need(first_slot(now, window, hours))
    if slot.start > now:
        return Promise("at", slot.start, slot.end, closes=slot.closes)
    if slot.end - now >= min_slot:
        return Promise("soon", now, slot.end, closes=slot.closes)
    later = first_slot(slot.end, window, hours)
    return Promise("closing", now, slot.end, later.start if later else None, slot.closes)


def at_or_after(at: datetime, window: Window, hours: OpeningHours) -> Promise:
    """Due at the first moment at or after `at` inside a slot (a retry, a closure's end)."""
    slot = _need(first_slot(at, window, hours))
    return Promise("at", max(at, slot.start), slot.end, closes=slot.closes)


def restate(
    now: datetime,
    due: datetime,
    window: Window,
    hours: OpeningHours,
    override: Override | None,
    min_slot: timedelta,
) -> Promise:
    """What to tell someone who writes again about a callback already due at `due`: that time
    if it is still ahead, else as if asked now; a supervisor's closure moves it on."""
    if due > now:
        later = promise(due, window, hours, override, min_slot)
        return (
            later if later.due > due or later.kind == "reopen" else at_or_after(due, window, hours)
        )
    return promise(now, window, hours, override, min_slot)


def _need(slot: Slot | None) -> Slot:
    if slot is None:
        raise ValueError("the window never meets the opening hours: check meets_hours first")
    return slot


@dataclass(frozen=True)
class Placement:
    """Where a callback goes in the queue for a promise: held (no safe time agreed yet, never
    released), scheduled (the scheduler releases it at `due`, while the line is open) or due
    (claimable now). `claimable_on` is the day it became claimable with enough time left,
    which is what counts towards expiry (see expiry.py)."""

    status: Literal["held", "scheduled", "due"]
    due: datetime
    slot_end: datetime | None
    claimable_on: date | None = None


def placement(promise: Promise | None, now: datetime, hours: OpeningHours) -> Placement:
    """None (no promise: held) waits for a safe time; "reopen" waits for the scheduler, which
    releases nothing while a supervisor keeps the line closed."""
    if promise is None:
        return Placement("held", now, None)
    if promise.kind in ("soon", "closing"):
        today = now.astimezone(hours.timezone).date()
        return Placement(
            "due", promise.due, promise.slot_end, today if promise.kind == "soon" else None
        )
    return Placement("scheduled", promise.due, promise.slot_end)


def closure_note(
    now: datetime,
    due: datetime,
    hours: OpeningHours,
    override: Override | None,
    welsh: bool = False,
) -> str | None:
    """The message of the closure that keeps us from calling sooner, if one does: a
    supervisor's closure now, or a closure in hours.toml between now and `due`. `welsh`:
    its Welsh message (None without one: a Welsh text never carries English)."""
    if override is not None and override.active(now):
        return (override.message_cy or None) if welsh else override.message
    reason = hours.status(now).reason  # a closure that started part-way through a day
    if reason is not None and reason.kind == "closure":
        return reason.welsh if welsh else reason.text
    day = now.astimezone(hours.timezone).date()
    last = due.astimezone(hours.timezone).date()
    while day <= last:
        reason = hours.day(day).reason
        if reason is not None and reason.kind == "closure":
            return reason.welsh if welsh else reason.text
        day += timedelta(days=1)
    return None


def holidays_between(asked: date, due: datetime, hours: OpeningHours) -> list[str]:
    """The bank holidays (their names, each once, in order) from the day asked for up to the
    day a callback is due: why the first day we can call is later than the one asked for
    ("call me tomorrow" on 24 December: Christmas Day and the Boxing Day bank holiday)."""
    names: list[str] = []
    day, last = asked, due.astimezone(hours.timezone).date()
    while day < last:
        reason = hours.day(day).reason
        usually_open = day.weekday() in hours.config.weekly  # not "Boxing Day" on a Saturday
        if (
            reason is not None
            and reason.kind == "bank_holiday"
            and usually_open
            and reason.text not in names
        ):
            names.append(reason.text or "")
        day += timedelta(days=1)
    return names
