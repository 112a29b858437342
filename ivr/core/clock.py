"""The clock is passed in, so tests and the simulator can run the real app at any instant."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def fixed_clock(at: datetime) -> Clock:
    """A clock stopped at `at` (timezone-aware)."""
    if at.tzinfo is None:
        raise ValueError("fixed_clock needs a timezone-aware datetime")
    return lambda: at


def file_clock(path: str) -> Clock:
    """TEST ONLY (setting HELPLINE_TEST_CLOCK_FILE): the time is read from a file holding an
    ISO-8601 instant, so tests can move the clock of the web and scheduler processes."""

    def now() -> datetime:
        with open(path, encoding="utf-8") as f:
            return datetime.fromisoformat(f.read().strip())

    return now


def parse_instant(text: str, zone: tzinfo) -> datetime:
    """ISO-8601 from the command line; without an offset it is UK local time."""
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=zone)


def clock_from(at: datetime, real: Clock = system_clock) -> Clock:
    """A clock that reads `at` now and runs on with real time from there (`helpline demo`:
    the whole app at a chosen instant, idle sign-out and waiting times still moving)."""
    if at.tzinfo is None:
        raise ValueError("clock_from needs a timezone-aware datetime")
    started = real()
    return lambda: at + (real() - started)


def day_in_words(day: date) -> str:
    """A date as staff read it: "Tuesday 29 December 2026"."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def brief_in_words(at: datetime, zone: tzinfo) -> str:
    """An instant as the console and its audit trail show it, UK local: "Mon 7 Dec 13:00"."""
    return at.astimezone(zone).strftime("%a %-d %b %H:%M")


def in_words(at: datetime, zone: tzinfo) -> str:
    """An instant as staff read it, in UK local time: "Tuesday 29 December 2026 at 10:00"."""
    local = at.astimezone(zone)
    return f"{day_in_words(local.date())} at {local:%H:%M}"
