"""Opening hours: pure functions of the configuration and an instant (no I/O, no clock).

Everything that decides "is the helpline open, and if not, why and until when" lives here,
so the voice tree, SMS replies, the scheduler and the CLI all agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

SEARCH_DAYS = 366
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class HoursError(ValueError):
    """A problem in the hours configuration; `where` is the key path, for file and line."""

    def __init__(self, where: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


class NeverOpens(RuntimeError):
    """No opening within SEARCH_DAYS of an instant: the configuration must be fixed."""


@dataclass(frozen=True)
class Closure:
    """Closed from `start` to `end` inclusive, with what callers should be told."""

    start: date
    end: date
    message: str
    message_cy: str = ""  # what Welsh callers hear and read ("": see README, Welsh)


@dataclass(frozen=True)
class Session:
    opens: time
    closes: time


@dataclass(frozen=True)
class HoursConfig:
    timezone: ZoneInfo
    subdivision: str
    weekly: Mapping[int, Session]
    closures: tuple[Closure, ...] = ()
    special: Mapping[date, Session] = field(default_factory=dict)
    bank_holiday_names: Mapping[str, str] = field(default_factory=dict)
    observed_name: str = "the {name} bank holiday"


@dataclass(frozen=True)
class Reason:
    """Why the helpline is closed. kind: closure, bank_holiday, weekend, not_open_today,
    before_opening or after_closing; `text` is the closure message or the holiday's name."""

    kind: str
    text: str | None = None
    welsh: str | None = None  # a closure's Welsh message, when it has one


@dataclass(frozen=True)
class Status:
    """`next_opening` is always an instant (the scheduler plans by it); `reopening_known` is
    False while a supervisor has closed the line without an end, when nobody may be told a
    time."""

    at: datetime
    open: bool
    closes_at: datetime | None
    next_opening: datetime
    reason: Reason | None
    reopening_known: bool = True

    def as_json(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "open": self.open,
            "closes_at": self.closes_at.isoformat() if self.closes_at else None,
            "next_opening": self.next_opening.isoformat() if self.reopening_known else None,
            "reason": None
            if self.reason is None
            else {"kind": self.reason.kind, "text": self.reason.text},
        }


@dataclass(frozen=True)
class Override:
    """A supervisor closed the line from the console: now, until `until` (None: until they
    reopen it), with what callers hear and read."""

    message: str
    until: datetime | None = None
    message_cy: str = ""

    def active(self, at: datetime) -> bool:
        return self.until is None or at < self.until


@dataclass(frozen=True)
class Day:
    """One local date: its session, or why there is none."""

    day: date
    session: Session | None
    reason: Reason | None


@lru_cache(maxsize=64)
def bank_holidays(subdivision: str, year: int) -> dict[date, str]:
    """The bank holidays of one year, built once per (subdivision, year)."""
    table = holidays.country_holidays("GB", subdiv=subdivision, years=year)
    return {d: name.split("; ")[0] for d, name in table.items()}


class OpeningHours:
    """The helpline's hours: answers for any instant, from the configuration alone."""

    def __init__(self, config: HoursConfig) -> None:
        self.config = config
        self._days: dict[date, Day] = {}

    @property
    def timezone(self) -> ZoneInfo:
        return self.config.timezone

    def day(self, d: date) -> Day:
        cached = self._days.get(d)
        if cached is None:
            cached = self._days[d] = self._compute_day(d)
        return cached

    def _compute_day(self, d: date) -> Day:
        cfg = self.config
        for closure in cfg.closures:
            if closure.start <= d <= closure.end:
                return Day(d, None, Reason("closure", closure.message, closure.message_cy or None))
        if d in cfg.special:
            return Day(d, cfg.special[d], None)
        holiday = bank_holidays(cfg.subdivision, d.year).get(d)
        if holiday is not None:
            return Day(d, None, Reason("bank_holiday", self.holiday_name(holiday)))
        session = cfg.weekly.get(d.weekday())
        if session is not None:
            return Day(d, session, None)
        return Day(d, None, Reason("weekend" if d.weekday() >= 5 else "not_open_today"))

    def holiday_name(self, official: str) -> str:
        """The bank holiday as callers should hear it, e.g. "the Christmas bank holiday"."""
        names = self.config.bank_holiday_names
        if official in names:
            return names[official]
        base = official.removesuffix(" (observed)")
        if base != official:
            return self.config.observed_name.format(name=names.get(base, base))
        return official

    def _at(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=self.timezone)

    def next_opening_after_day(self, d: date) -> datetime:
        """The first opening on a day after `d`."""
        for offset in range(1, SEARCH_DAYS + 1):
            later = self.day(d + timedelta(days=offset))
            if later.session is not None:
                return self._at(later.day, later.session.opens)
        raise NeverOpens(f"the helpline does not open in the {SEARCH_DAYS} days after {d}")

    def status(self, at: datetime) -> Status:
        """Open or not at `at` (timezone-aware), until when, and why not."""
        if at.tzinfo is None:
            raise ValueError("status() needs a timezone-aware datetime")
        local = at.astimezone(self.timezone)
        today = self.day(local.date())
        session = today.session
        if session is not None:
            opens, closes = self._at(today.day, session.opens), self._at(today.day, session.closes)
            if opens <= local < closes:
                return Status(at, True, closes, self.next_opening_after_day(today.day), None)
            if local < opens:
                return Status(at, False, None, opens, Reason("before_opening"))
            return Status(
                at, False, None, self.next_opening_after_day(today.day), Reason("after_closing")
            )
        return Status(at, False, None, self.next_opening_after_day(today.day), today.reason)

    def status_with(self, at: datetime, override: Override | None) -> Status:
        """The status, with a supervisor's closure on top when there is one. An open-ended
        closure reports the usual next opening as `next_opening` (for planning), but marks it
        unknown: callers are not told a time nobody has set."""
        status = self.status(at)
        if override is None or not override.active(at):
            return status
        after = status if override.until is None else self.status(override.until)
        reopens = override.until if override.until and after.open else after.next_opening
        if status.open and override.until is None:
            reopens = self.next_opening_after_day(at.astimezone(self.timezone).date())
        return Status(
            at,
            False,
            None,
            reopens,
            Reason("closure", override.message, override.message_cy or None),
            reopening_known=override.until is not None,
        )

    def is_open(self, at: datetime) -> bool:
        return self.status(at).open

    def next_opening(self, at: datetime) -> datetime:
        """When closed, the moment it next opens; when open, the opening after this session."""
        return self.status(at).next_opening

    def only_weekend_between(self, first: date, last: date) -> bool:
        """True when every day strictly between the two dates is an ordinary weekend day."""
        d = first + timedelta(days=1)
        while d < last:
            if self.day(d).reason != Reason("weekend"):
                return False
            d += timedelta(days=1)
        return True


# --- parsing the configuration (from already-read TOML data; the file I/O is in flows.py)


def parse_time(value: object, where: tuple[str | int, ...]) -> time:
    if not isinstance(value, str) or not _TIME.match(value):
        raise HoursError(where, f'{value!r} is not a time: write it as "HH:MM", e.g. "10:00"')
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def parse_date(value: object, where: tuple[str | int, ...]) -> date:
    if isinstance(value, datetime):
        raise HoursError(where, f"{value!r} has a time of day: give a date such as 2026-12-24")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise HoursError(where, f"{value!r} is not a date: write it as 2026-12-24")


def parse_session(table: object, where: tuple[str | int, ...]) -> Session:
    if not isinstance(table, Mapping):
        raise HoursError(where, 'expected { opens = "10:00", closes = "16:00" }')
    _only_keys(table, {"opens", "closes"}, where, required={"opens", "closes"})
    session = Session(
        parse_time(table["opens"], (*where, "opens")),
        parse_time(table["closes"], (*where, "closes")),
    )
    if session.closes <= session.opens:
        raise HoursError(
            (*where, "closes"),
            f"closes at {session.closes:%H:%M}, not after it opens at {session.opens:%H:%M}",
        )
    return session


def _only_keys(
    table: Mapping[str, object],
    allowed: Set[str],
    where: tuple[str | int, ...],
    required: Set[str] = frozenset(),
) -> None:
    for key in table:
        if key not in allowed:
            raise HoursError(
                (*where, key),
                f"unknown setting {key!r} (expected one of {', '.join(sorted(allowed))})",
            )
    for key in sorted(required - set(table)):
        raise HoursError(where, f"missing {key!r}")


def parse_hours(data: Mapping[str, object]) -> HoursConfig:
    """Build and check an HoursConfig from the hours.toml data; HoursError names the key."""
    _only_keys(
        data,
        {
            "timezone",
            "subdivision",
            "weekly",
            "closures",
            "special_hours",
            "bank_holiday_names",
            "observed_name",
        },
        (),
        required={"timezone", "subdivision", "weekly"},
    )
    try:
        zone = ZoneInfo(str(data["timezone"]))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HoursError(("timezone",), f"unknown timezone {data['timezone']!r}") from exc
    subdivision = data["subdivision"]
    known = holidays.country_holidays("GB").subdivisions
    if subdivision not in known:
        raise HoursError(
            ("subdivision",),
            f"unknown UK subdivision {subdivision!r} "
            f"(one of {', '.join(known)}; ENG is England and Wales)",
        )

    weekly_data = data["weekly"]
    if not isinstance(weekly_data, Mapping):
        raise HoursError(("weekly",), "expected a [weekly] table of days")
    _only_keys(weekly_data, set(WEEKDAYS), ("weekly",))
    weekly = {
        WEEKDAYS.index(name): parse_session(value, ("weekly", name))
        for name, value in weekly_data.items()
    }

    closures: list[Closure] = []
    for i, entry in enumerate(_table_list(data, "closures")):
        where = ("closures", i)
        _only_keys(
            entry,
            {"from", "to", "message", "message_cy"},
            where,
            required={"from", "to", "message"},
        )
        closure = Closure(
            parse_date(entry["from"], (*where, "from")),
            parse_date(entry["to"], (*where, "to")),
            str(entry["message"]).strip(),
            str(entry.get("message_cy", "")).strip(),
        )
        if closure.end < closure.start:
            raise HoursError(
                (*where, "to"),
                f"the closure ends ({closure.end}) before it starts ({closure.start})",
            )
        if not closure.message:
            raise HoursError((*where, "message"), "a closure needs a message for callers")
        for j, other in enumerate(closures):
            if closure.start <= other.end and other.start <= closure.end:
                raise HoursError(
                    where,
                    f"this closure ({closure.start} to {closure.end}) "
                    f"overlaps closure {j + 1} ({other.start} to {other.end})",
                )
        closures.append(closure)

    special: dict[date, Session] = {}
    for i, entry in enumerate(_table_list(data, "special_hours")):
        where = ("special_hours", i)
        _only_keys(entry, {"date", "opens", "closes"}, where, required={"date", "opens", "closes"})
        day = parse_date(entry["date"], (*where, "date"))
        if day in special:
            raise HoursError(where, f"{day} has special hours twice")
        for closure in closures:
            if closure.start <= day <= closure.end:
                raise HoursError(
                    where,
                    f"{day} has special hours but is inside the closure "
                    f"{closure.start} to {closure.end}",
                )
        special[day] = parse_session({"opens": entry["opens"], "closes": entry["closes"]}, where)

    names = data.get("bank_holiday_names", {})
    if not isinstance(names, Mapping) or not all(
        isinstance(v, str) and v.strip() for v in names.values()
    ):
        raise HoursError(("bank_holiday_names",), 'expected "Official name" = "spoken name"')
    observed = data.get("observed_name", "the {name} bank holiday")
    if not isinstance(observed, str) or "{name}" not in observed:
        raise HoursError(("observed_name",), "must be text containing {name}")

    return HoursConfig(zone, subdivision, weekly, tuple(closures), special, dict(names), observed)


def _table_list(data: Mapping[str, object], key: str) -> list[Mapping[str, object]]:
    entries = data.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise HoursError((key,), f"write each entry as a [[{key}]] table")
    return entries


def usual_span(config: HoursConfig) -> tuple[time, time]:
    """The earliest opening and latest closing of the usual week (to tell a bare "after 1"
    in the afternoon from a morning hour)."""
    sessions = list(config.weekly.values()) or [Session(time(10), time(16))]
    return min(s.opens for s in sessions), max(s.closes for s in sessions)


def check_opens(hours: OpeningHours, at: datetime) -> None:
    """Start-up check: the helpline must open at least once in the next year, and keep doing
    so through every closure and special day still to come (so that no later instant
    finds no opening and status() fails mid-call)."""
    today = at.astimezone(hours.timezone).date()
    config = hours.config
    spans = sorted(
        [
            (today, today),
            *((c.start, c.end) for c in config.closures),
            *((d, d) for d in config.special),
        ]
    )
    day = today
    try:
        hours.status(at)
        for start, end in spans:
            if end < today:
                continue
            # From a year before the span, follow each opening to the next one past its end.
            day = max(today, start - timedelta(days=SEARCH_DAYS + 1))
            while day <= end:
                day = hours.next_opening_after_day(day).date()
    except NeverOpens as exc:
        raise HoursError(
            ("weekly",),
            f"the helpline never opens in the {SEARCH_DAYS} days "
            f"from {day:%Y-%m-%d}: check weekly hours and closures",
        ) from exc
