"""Putting opening times into British English words (pure; the templates come from flows/)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import TYPE_CHECKING

from ivr.core.hours import WEEKDAYS, OpeningHours, Session

if TYPE_CHECKING:  # promise.py needs safetime.py, which uses time_words() from here
    from ivr.core.promise import Promise
    from ivr.core.safetime import Window

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class PhraseTemplates:
    today: str
    tomorrow: str
    this_week: str
    later: str
    usual_hours: str
    day_range: str
    window: Mapping[str, str]  # a safe time in words: after, before, between, days...
    # The names of days and months and the hour's suffixes, in the content's language
    # (phrases.toml's [names]; British English unless the file says otherwise).
    weekdays: tuple[str, ...] = tuple(d.capitalize() for d in WEEKDAYS)
    months: tuple[str, ...] = MONTHS
    am: str = "am"
    pm: str = "pm"

    def hour(self, t: time) -> str:
        return time_words(t, self.am, self.pm)

    def weekday(self, day_index: int) -> str:
        return self.weekdays[day_index]


def time_words(t: time, am: str = "am", pm: str = "pm") -> str:
    """10:00 -> "10am", 13:30 -> "1:30pm", 12:00 -> "12pm"."""
    suffix = am if t.hour < 12 else pm
    hour = t.hour % 12 or 12
    return f"{hour}{suffix}" if t.minute == 0 else f"{hour}:{t.minute:02d}{suffix}"


def when(opening: datetime, now: datetime, hours: OpeningHours, t: PhraseTemplates) -> str:
    """The next opening as callers should hear it: "today at 10am", "tomorrow at 10am",
    "on Monday at 10am" (only a weekend between), else "on Tuesday 29 December at 10am"."""
    local_now = now.astimezone(hours.timezone)
    local_open = opening.astimezone(hours.timezone)
    days = (local_open.date() - local_now.date()).days
    fields = {
        "time": t.hour(local_open.time()),
        "weekday": t.weekday(local_open.weekday()),
        "day": local_open.day,
        "month": t.months[local_open.month - 1],
    }
    if days == 0:
        return t.today.format(**fields)
    if days == 1:
        return t.tomorrow.format(**fields)
    if days < 7 and hours.only_weekend_between(local_now.date(), local_open.date()):
        return t.this_week.format(**fields)
    return t.later.format(**fields)


def usual_hours(weekly: Mapping[int, Session], t: PhraseTemplates) -> str:
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
            names = t.weekday(days[0])
        elif len(days) == 2:
            names = f"{t.weekday(days[0])} {t.window['and']} {t.weekday(days[1])}"
        else:
            names = t.day_range.format(first=t.weekday(days[0]), last=t.weekday(days[-1]))
        parts.append(
            t.usual_hours.format(
                opens=t.hour(session.opens), closes=t.hour(session.closes), days=names
            )
        )
    return "; ".join(parts)


def window_words(window: Window, t: PhraseTemplates) -> str:
    """A safe time as a text message puts it: "after 2pm on Tuesdays", "between 2pm and
    3pm", "on any day except Mondays", "from Friday 27 November"."""
    w = t.window
    parts = []
    if window.earliest and window.latest:
        parts.append(w["between"].format(start=t.hour(window.earliest), end=t.hour(window.latest)))
    elif window.earliest:
        parts.append(w["after"].format(time=t.hour(window.earliest)))
    elif window.latest:
        parts.append(w["before"].format(time=t.hour(window.latest)))
    if len(window.weekdays) < len(WEEKDAYS):
        parts.append(_days_words(window.weekdays, t))
    if window.not_before is not None:
        d = window.not_before
        parts.append(
            w["from_date"].format(
                weekday=t.weekday(d.weekday()), day=d.day, month=t.months[d.month - 1]
            )
        )
    return " ".join(parts) if parts else w["any_time"]


def _days_words(days: frozenset[int], t: PhraseTemplates) -> str:
    """ "on any day except Mondays" (one day left out), "on Mondays to Fridays" (a run), or
    the shorter of "on Tuesdays and Wednesdays" and "on any day except ..."."""

    w = t.window

    def listing(chosen: list[int]) -> str:
        names = [w["plural"].format(weekday=t.weekday(d)) for d in chosen]
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {w['and']} {names[-1]}"

    chosen = sorted(days)
    others = [d for d in range(len(WEEKDAYS)) if d not in days]
    if len(others) == 1:
        return w["except_days"].format(days=listing(others))
    if len(chosen) >= 3 and chosen == list(range(chosen[0], chosen[-1] + 1)):
        return w["days"].format(
            days=w["range"].format(
                first=w["plural"].format(weekday=t.weekday(chosen[0])),
                last=w["plural"].format(weekday=t.weekday(chosen[-1])),
            )
        )
    if len(others) < len(chosen):
        return w["except_days"].format(days=listing(others))
    return w["days"].format(days=listing(chosen))


def promise_when(
    promise: Promise | None,
    now: datetime,
    hours: OpeningHours,
    t: PhraseTemplates,
    words: Mapping[str, str],
) -> str:
    """When a callback will come, in the words of `words` (from flows/: "soon", "closing",
    "reopen", "held"): "as soon as someone is free", "today at 2pm", "before 4pm today if we
    can, or else tomorrow at 10am", "once you tell us a safe time"."""
    if promise is None:
        return words["held"]
    if promise.kind == "at":
        return when(promise.due, now, hours, t)
    if promise.kind == "closing" and promise.fallback is not None:
        return words["closing"].format(
            closes=t.hour(promise.slot_end.astimezone(hours.timezone).time()),
            fallback=when(promise.fallback, now, hours, t),
        )
    return words["reopen" if promise.kind == "reopen" else "soon"]
