"""Putting opening times into British English words (pure; the templates come from flows/)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import TYPE_CHECKING

from ivr.hours import WEEKDAYS, OpeningHours, Session

if TYPE_CHECKING:  # promise.py needs safetime.py, which uses clock() from here
    from ivr.promise import Promise

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


@dataclass(frozen=True)
class PhraseTemplates:
    today: str
    tomorrow: str
    this_week: str
    later: str
    usual_hours: str
    day_range: str


def clock(t: time) -> str:
    """10:00 -> "10am", 13:30 -> "1:30pm", 12:00 -> "12pm"."""
    suffix = "am" if t.hour < 12 else "pm"
    hour = t.hour % 12 or 12
    return f"{hour}{suffix}" if t.minute == 0 else f"{hour}:{t.minute:02d}{suffix}"


def weekday_name(day_index: int) -> str:
    return WEEKDAYS[day_index].capitalize()


def when(opening: datetime, now: datetime, hours: OpeningHours, t: PhraseTemplates) -> str:
    """The next opening as callers should hear it: "today at 10am", "tomorrow at 10am",
    "on Monday at 10am" (only a weekend between), else "on Tuesday 29 December at 10am"."""
    local_now = now.astimezone(hours.timezone)
    local_open = opening.astimezone(hours.timezone)
    days = (local_open.date() - local_now.date()).days
    fields = {"time": clock(local_open.time()), "weekday": weekday_name(local_open.weekday()),
              "day": local_open.day, "month": MONTHS[local_open.month - 1]}
    if days == 0:
        return t.today.format(**fields)
    if days == 1:
        return t.tomorrow.format(**fields)
    if days < 7 and hours.only_weekend_between(local_now.date(), local_open.date()):
        return t.this_week.format(**fields)
    return t.later.format(**fields)


def usual_hours(weekly: dict[int, Session], t: PhraseTemplates) -> str:
    """The usual week in words, e.g. "from 10am to 4pm, Monday to Friday"; days with
    different hours are listed one group at a time."""
    groups: list[tuple[Session, list[int]]] = []
    for day in sorted(weekly):
        session = weekly[day]
        if groups and groups[-1][0] == session and groups[-1][1][-1] == day - 1:
            groups[-1][1].append(day)
        else:
            groups.append((session, [day]))
    parts = []
    for session, days in groups:
        if len(days) == 1:
            names = weekday_name(days[0])
        elif len(days) == 2:
            names = f"{weekday_name(days[0])} and {weekday_name(days[1])}"
        else:
            names = t.day_range.format(first=weekday_name(days[0]), last=weekday_name(days[-1]))
        parts.append(t.usual_hours.format(opens=clock(session.opens),
                                          closes=clock(session.closes), days=names))
    return "; ".join(parts)


def promise_when(promise: Promise | None, now: datetime, hours: OpeningHours,
                 t: PhraseTemplates, words: Mapping[str, str]) -> str:
    """When a callback will come, in the words of `words` (from flows/: "soon", "closing",
    "reopen", "held"): "as soon as someone is free", "today at 2pm", "before 4pm today if we
    can, or else tomorrow at 10am", "once you tell us a safe time"."""
    if promise is None:
        return words["held"]
    if promise.kind == "at":
        return when(promise.due, now, hours, t)
    if promise.kind == "closing" and promise.fallback is not None:
        return words["closing"].format(
            closes=clock(promise.slot_end.astimezone(hours.timezone).time()),
            fallback=when(promise.fallback, now, hours, t))
    return words["reopen" if promise.kind == "reopen" else "soon"]
