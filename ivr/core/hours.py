"""Opening hours: pure functions of the configuration and an instant (no I/O, no clock).

Everything that decides "is the helpline open, and if not, why and until when" lives here,
so the voice tree, SMS replies, the scheduler and the CLI all agree.
"""

from __future__ import annotations

import contextlib
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
    """Closed from `start` to `end` inclusive, with what callers should be told; with
    `from_time`, from that time on `start`; with `to_time`, until that time on `end` (the
    moment the line reopens, if its hours are on then)."""

    start: date
    end: date
    message: str
    message_cy: str = ""  # what Welsh callers hear and read ("": see README, Welsh)
    from_time: time | None = None
    to_time: time | None = None

    @property
    def starts(self) -> datetime:
        """The first closed moment, local wall-clock time (naive)."""
        return datetime.combine(self.start, self.from_time or time(0))

    @property
    def ends(self) -> datetime:
        """The first moment after the closure, local wall-clock time (naive)."""
        if self.to_time is not None:
            return datetime.combine(self.end, self.to_time)
        return datetime.combine(self.end + timedelta(days=1), time(0))

    def covers_day(self, d: date) -> bool:
        return self.starts <= datetime.combine(d, time(0)) and self.ends >= datetime.combine(
            d + timedelta(days=1), time(0)
        )

    def covers(self, local: datetime) -> bool:
        """Whether the closure holds at `local` (wall-clock time in the helpline's zone)."""
        return self.starts <= local.replace(tzinfo=None) < self.ends

    def describe(self) -> str:
        """ "2026-12-24 16:00 to 2027-01-01", as staff wrote it."""
        start = f"{self.start}" + (f" {self.from_time:%H:%M}" if self.from_time else "")
        end = f"{self.end}" + (f" {self.to_time:%H:%M}" if self.to_time else "")
        return f"{start} to {end}"


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
        # Worked out once per day and kept: every call asks the day's status (a plain function
        # of the configuration, which never changes for this object).
        self._days: dict[date, Day] = {}
        self._sessions: dict[date, tuple[datetime, datetime]] = {}
        self._openings_after: dict[date, datetime] = {}

    @property
    def timezone(self) -> ZoneInfo:
        return self.config.timezone

    def day(self, d: date) -> Day:
        cached = self._days.get(d)
        if cached is None:
            cached = self._days[d] = self._compute_day(d)
        return cached

    def _compute_day(self, d: date) -> Day:
        """The day's session, cut short by a closure that starts or ends within it."""
        closures = [c for c in self.config.closures if c.start <= d <= c.end]
        for closure in closures:
            if closure.covers_day(d):
                return Day(d, None, _closure_reason(closure))
        usual = self._usual_day(d)
        session = usual.session
        for closure in closures:
            if session is None:
                break
            session = _clip(session, d, closure)
            if session is None:
                return Day(d, None, _closure_reason(closure))
        return Day(d, session, usual.reason)

    def _usual_day(self, d: date) -> Day:
        cfg = self.config
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

    def _session_at(self, day: Day, session: Session) -> tuple[datetime, datetime]:
        """When `day`'s own session (`day.session`, given as it is known not to be None)
        opens and closes, as instants."""
        found = self._sessions.get(day.day)
        if found is None:
            found = (self._at(day.day, session.opens), self._at(day.day, session.closes))
            self._sessions[day.day] = found
        return found

    def next_opening_after_day(self, d: date) -> datetime:
        """The first opening on a day after `d`."""
        found = self._openings_after.get(d)
        if found is None:
            found = self._openings_after[d] = self._first_opening_after(d)
        return found

    def _first_opening_after(self, d: date) -> datetime:
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
        bounds = self._session_at(today, session) if session is not None else None
        closures = self.config.closures
        closure = next((c for c in closures if c.covers(local)), None) if closures else None
        if closure is not None:
            reopens = (
                bounds[0]
                if bounds is not None and local < bounds[0]
                else self.next_opening_after_day(today.day)
            )
            return Status(at, False, None, reopens, _closure_reason(closure))
        if bounds is not None:
            opens, closes = bounds
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


def _closure_reason(closure: Closure) -> Reason:
    return Reason("closure", closure.message, closure.message_cy or None)


def _clip(session: Session, d: date, closure: Closure) -> Session | None:
    """What is left of a day's session beside a closure that starts or ends that day (None:
    nothing). A closure strictly inside a session is refused when the file is read."""
    opens, closes = datetime.combine(d, session.opens), datetime.combine(d, session.closes)
    if closure.ends <= opens or closure.starts >= closes:
        return session
    if closure.starts <= opens and closure.ends >= closes:
        return None
    if closure.starts <= opens:
        return Session(closure.ends.time(), session.closes)
    return Session(session.opens, closure.starts.time())


# --- parsing the configuration (from already-read TOML data; the file I/O is in flows.py)

_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_ISO_ISH = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::\d{2})?)?")
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})$")


def date_problem(key: str, written: str) -> str:
    """Why `written` (the value of `key` in hours.toml) is not a date the file can hold, in
    the words of the person who wrote it, with the right form."""
    example = f"{key} = 2026-12-24"
    if match := _ISO_ISH.match(written):
        year, month, day = (int(g) for g in match.group(1, 2, 3))
        if match.group(4) is not None:
            alone = f"{year:04}-{month:02}-{day:02}"
            hour, minute = int(match.group(4)), match.group(5)
            if key in ("from", "to"):
                return (
                    f"{key} = {written} has a time in it: write the date alone, and the time "
                    f"on the next line in quotes: {key} = {alone} then "
                    f'{key}_time = "{hour:02}:{minute}"'
                )
            if key == "date":
                return (
                    f"date = {written} has a time in it: write the date alone (date = {alone}); "
                    'the hours go in opens = "10:00" and closes = "13:00"'
                )
            return f"{key} = {written} has a time in it: write the date alone: {key} = {alone}"
        if not 1 <= month <= 12:
            return f"{key} = {written}: there is no month {month}; write year-month-day: {example}"
        try:
            real = date(year, month, day)
        except ValueError:
            return (
                f"{key} = {written}: {_MONTHS[month - 1].title()} {year} has no day {day}; "
                f"write year-month-day: {example}"
            )
        return (
            f"{key} = {written}: write the month and the day with two digits each: "
            f"{key} = {real.isoformat()}"
        )
    if match := _DAY_FIRST.match(written):
        day, month, year = (int(g) for g in match.groups())
        try:
            real = date(year + 2000 if year < 100 else year, month, day)
        except ValueError:
            return f"{key} = {written} is not a date: write year-month-day: {example}"
        return f"{key} = {written}: write dates year first, with dashes: {key} = {real.isoformat()}"
    words = [w.lower().rstrip(".") for w in re.findall(r"[A-Za-z]+\.?", written)]
    month_of = next(
        (
            i + 1
            for w in words
            for i, name in enumerate(_MONTHS)
            if len(w) >= 3 and name.startswith(w)
        ),
        None,
    )
    numbers = [int(n) for n in re.findall(r"\d+", written)]
    if month_of is not None and numbers and 1 <= numbers[0] <= 31:
        day = numbers[0]
        if len(numbers) > 1 and numbers[1] >= 1000:
            try:
                real = date(numbers[1], month_of, day)
                return f"{key} = {written}: write dates in numbers, year first: {key} = {real}"
            except ValueError:
                pass
        return (
            f"{key} = {written}: write dates in numbers, with the year first: "
            f"{key} = 2026-{month_of:02}-{day:02} for {day} {_MONTHS[month_of - 1].title()} 2026"
        )
    return f"{key} = {written} is not a date: write year-month-day: {example}"


def parse_time(value: object, where: tuple[str | int, ...]) -> time:
    key = str(where[-1]) if where else "time"
    if isinstance(value, time):  # TOML's own time, with seconds
        raise HoursError(
            where, f'{key} = {value:%H:%M:%S}: write times in quotes, as {key} = "{value:%H:%M}"'
        )
    if not isinstance(value, str) or not _TIME.match(value):
        example = "10:00" if key == "opens" else "16:00"
        raise HoursError(
            where,
            f'{key}: {value!r} is not a time: write "HH:MM" on the 24-hour clock, '
            f'e.g. {key} = "{example}"',
        )
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def parse_date(value: object, where: tuple[str | int, ...]) -> date:
    key = str(where[-1]) if where else "date"
    if isinstance(value, datetime):
        raise HoursError(where, date_problem(key, value.isoformat()))
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        if re.match(r"^\d{4}-\d{2}-\d{2}$", value.strip()):
            with contextlib.suppress(ValueError):
                return date.fromisoformat(value.strip())
        raise HoursError(where, date_problem(key, value.strip()))
    raise HoursError(
        where, f"{key} = {value!r} is not a date: write year-month-day: {key} = 2026-12-24"
    )


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
            raise HoursError((*where, key), _unknown(key, allowed, where))
    for key in sorted(required - set(table)):
        raise HoursError(where, f"missing {key!r}")


# Where each setting of hours.toml belongs: a key found elsewhere is named with its place.
SETTINGS_OF = {
    "": ("timezone", "subdivision", "observed_name"),
    "[[closures]]": ("from", "to", "from_time", "to_time", "message", "message_cy"),
    "[[special_hours]]": ("date", "opens", "closes"),
    "[weekly]": WEEKDAYS,
}


def _place(where: tuple[str | int, ...]) -> str:
    if not where:
        return "the top of the file"
    if len(where) > 1 and isinstance(where[1], int):
        return f"a [[{where[0]}]] table"
    return f"[{where[0]}]" if len(where) == 1 else f"{where[-1]}'s {{ }}"


def _unknown(key: str, allowed: Set[str], where: tuple[str | int, ...]) -> str:
    """An unknown setting, or one in the wrong table (its header missing or commented out)."""
    home = next(
        (table for table, keys in SETTINGS_OF.items() if key in keys and key not in allowed), None
    )
    if home == "":
        return (
            f"{key} belongs at the top of the file, before the first [table] line, "
            f"not in {_place(where)}"
        )
    if home is not None and not (len(where) > 1 and not isinstance(where[1], int)):
        return (
            f"{key} belongs in a {home} table, not in {_place(where)}: is the {home} line "
            f'above it missing, or still commented out with "#"?'
        )
    return f"unknown setting {key!r} (expected one of {', '.join(sorted(allowed))})"


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
        raise HoursError(
            ("weekly",),
            "write [weekly] with one bracket each side, then one line a day: "
            'monday = { opens = "10:00", closes = "16:00" }',
        )
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
            set(SETTINGS_OF["[[closures]]"]),
            where,
            required={"from", "to", "message"},
        )
        closure = Closure(
            parse_date(entry["from"], (*where, "from")),
            parse_date(entry["to"], (*where, "to")),
            str(entry["message"]).strip(),
            str(entry.get("message_cy", "")).strip(),
            *(
                parse_time(entry[key], (*where, key)) if key in entry else None
                for key in ("from_time", "to_time")
            ),
        )
        if closure.ends <= closure.starts:
            raise HoursError(
                (*where, "to_time" if closure.to_time else "to"),
                f"the closure ends ({closure.describe().split(' to ')[1]}) before it starts "
                f"({closure.describe().split(' to ')[0]})",
            )
        if not closure.message:
            raise HoursError((*where, "message"), "a closure needs a message for callers")
        for j, other in enumerate(closures):
            if closure.starts < other.ends and other.starts < closure.ends:
                raise HoursError(
                    where,
                    f"this closure ({closure.describe()}) "
                    f"overlaps closure {j + 1} ({other.describe()})",
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
            if closure.covers_day(day):
                raise HoursError(
                    where,
                    f"{day} has special hours but is inside the closure {closure.describe()}",
                )
        special[day] = parse_session({"opens": entry["opens"], "closes": entry["closes"]}, where)

    names = data.get("bank_holiday_names", {})
    if isinstance(names, Mapping):
        for key in names:
            if any(key in keys for table, keys in SETTINGS_OF.items() if table != "[weekly]"):
                raise HoursError(
                    ("bank_holiday_names", key), _unknown(key, set(), ("bank_holiday_names",))
                )
    if not isinstance(names, Mapping) or not all(
        isinstance(v, str) and v.strip() for v in names.values()
    ):
        raise HoursError(("bank_holiday_names",), 'expected "Official name" = "spoken name"')
    observed = data.get("observed_name", "the {name} bank holiday")
    if not isinstance(observed, str) or "{name}" not in observed:
        raise HoursError(("observed_name",), "must be text containing {name}")

    for i, closure in enumerate(closures):
        _check_inside_a_day(closure, ("closures", i), weekly, special)
    return HoursConfig(zone, subdivision, weekly, tuple(closures), special, dict(names), observed)


def _check_inside_a_day(
    closure: Closure,
    where: tuple[str | int, ...],
    weekly: Mapping[int, Session],
    special: Mapping[date, Session],
) -> None:
    """A closure within one day's hours (12:00 to 13:00 of a 10:00 to 16:00 day) would
    leave the day two sessions, which the hours cannot hold: refused, in words."""
    if closure.start != closure.end or closure.from_time is None or closure.to_time is None:
        return
    session = special.get(closure.start) or weekly.get(closure.start.weekday())
    if session is None:
        return
    if session.opens < closure.from_time and closure.to_time < session.closes:
        raise HoursError(
            (*where, "from_time"),
            f"this closure ({closure.describe()}) falls inside the day's hours "
            f"({session.opens:%H:%M} to {session.closes:%H:%M}): a closure can end the day "
            "early (from_time alone) or start it late (to_time alone), not both",
        )


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


_REOPENING_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$", re.IGNORECASE)


def parse_reopening(text: str, now: datetime, zone: ZoneInfo) -> datetime:
    """When a supervisor's closure ends, as they write it: a time today ("14:00", "2pm") or
    a date and a time ("2026-12-24 16:00", "24/12/2026 16:00"); ValueError otherwise."""
    words = " ".join(text.replace("T", " ").split())
    day_part, _, time_part = words.rpartition(" ")
    if day_part:
        if match := re.match(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", day_part):
            day = date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        else:
            day = date.fromisoformat(day_part)
    else:
        day = now.astimezone(zone).date()
    match = _REOPENING_TIME.match(time_part)
    if match is None:
        raise ValueError(f"not a time: {time_part!r}")
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), (match.group(3) or "")
    if half:
        if not 1 <= hour <= 12:
            raise ValueError(f"not a time: {time_part!r}")
        hour = hour % 12 + (12 if half.lower() == "pm" else 0)
    elif match.group(2) is None:
        raise ValueError(f"not a time: {time_part!r}")  # a bare "14" could be a day
    return datetime.combine(day, time(hour, minute), tzinfo=zone)
