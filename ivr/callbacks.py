"""Callback rules, as plain functions of the hours and an instant (no Redis, no Flask).

When is a callback due, what did a "safe time" message mean, what may be called: queue.py
stores the answers; sms.py, voice.py and the scheduler ask these questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import phonenumbers

from ivr.hours import SEARCH_DAYS, OpeningHours, Override

STATUSES = ("scheduled", "due", "claimed", "done", "cancelled", "expired")
OPEN_STATUSES = ("scheduled", "due", "claimed")
SOURCES = ("sms", "voice")
# A call needs some time before closing: a preferred time is moved to at least this early.
LAST_CALL_BEFORE_CLOSE = timedelta(minutes=30)


@dataclass(frozen=True)
class Callback:
    """All we keep about a callback request: no names, no message bodies."""

    id: str
    number: str  # E.164
    source: str  # sms or voice
    requested_at: datetime
    due_at: datetime
    status: str = "scheduled"
    preferred: str | None = None  # "HH:MM", the earliest time of day that is safe to call
    voicemail: bool = False
    attempts: int = 0
    claimed_by: str | None = None  # the advisor calling now
    call_state: str | None = None  # claimed, ringing, connected, machine, ended
    outcome: str | None = None


# ------------------------------------------------------------------ a preferred ("safe") time


@dataclass(frozen=True)
class Preferred:
    """What a "safe time" message meant: not before `at` o'clock, on `day` if one was given."""

    at: time
    tomorrow: bool = False


# The final "." of "a.m." / "p.m." may have been trimmed with the sentence's full stop.
_AMPM = r"(?:\s*(am|pm|a\.m\.?|p\.m\.?))"
_TIME_RE = re.compile(
    r"^(?:(?P<before>tomorrow|tmrw|tomoz)\s+)?(?:(?:after|from|at|around|about|any\s*time\s+after)\s+)?"
    r"(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?" + _AMPM + r"?"
    r"(?:\s+(?P<after>tomorrow|tmrw|tomoz))?(?:\s+(?:is\s+)?(?:ok|fine|good|safe|please))*$"
)
_NOON = re.compile(r"^(?:(tomorrow)\s+)?(?:after\s+|at\s+|around\s+)?(noon|midday|lunchtime)"
                   r"(?:\s+(tomorrow))?$")


def parse_preferred(text: str) -> Preferred | None:
    """ "2pm", "after 1", "14:30", "tomorrow 11am" -> a Preferred; None if not a time.

    A bare hour from 1 to 7 means the afternoon: nobody asks for a call at 3 in the morning
    from a helpline that opens at 10."""
    cleaned = " ".join(text.lower().replace(",", " ").split()).strip(" .!")
    if match := _NOON.match(cleaned):
        return Preferred(time(12, 0), bool(match.group(1) or match.group(3)))
    match = _TIME_RE.match(cleaned)
    if not match:
        return None
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    suffix = (match.group(4) or "").replace(".", "")
    if minute > 59 or hour > 23:
        return None
    if suffix:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    elif 1 <= hour <= 7:
        hour += 12
    return Preferred(time(hour, minute), bool(match["before"] or match["after"]))


# ------------------------------------------------------------------ when a callback is due


def due_at(now: datetime, hours: OpeningHours, preferred: Preferred | None = None,
           override: Override | None = None) -> datetime:
    """The first moment the helpline can call: now if open, else the next opening; with a
    preferred time, the first open moment at or after it (moved into opening hours). A
    supervisor's closure with an end counts from its end; one without an end from the
    opening callers are told of (the usual one after today, as the voice menu says)."""
    if override is not None and override.active(now):
        reopens = (override.until if override.until is not None
                   else hours.status_with(now, override).next_opening)
        return due_at(max(now, reopens), hours, preferred)
    if preferred is None:
        status = hours.status(now)
        return now if status.open else status.next_opening
    local = now.astimezone(hours.timezone)
    start: date = local.date() + timedelta(days=1 if preferred.tomorrow else 0)
    for offset in range(SEARCH_DAYS):
        day = hours.day(start + timedelta(days=offset))
        if day.session is None:
            continue
        opens = datetime.combine(day.day, day.session.opens, tzinfo=hours.timezone)
        closes = datetime.combine(day.day, day.session.closes, tzinfo=hours.timezone)
        latest = max(opens, closes - LAST_CALL_BEFORE_CLOSE)
        wanted = datetime.combine(day.day, preferred.at, tzinfo=hours.timezone)
        candidate = min(max(wanted, opens), latest)
        if candidate >= now:
            return candidate
        if opens <= now < closes and wanted <= now:
            return now  # the preferred time has passed today and we are open: call now
    return hours.next_opening(now)


def retry_at(now: datetime, hours: OpeningHours, delay: timedelta,
             preferred: Preferred | None) -> datetime:
    """After no answer: `delay` later, moved into opening hours (and the preferred time)."""
    return due_at(now + delay, hours, preferred)


OUTCOMES = ("reached", "no_answer", "voicemail_left", "wrong_number", "declined")


def after_outcome(outcome: str, attempts_before: int, max_attempts: int, now: datetime,
                  hours: OpeningHours, delay: timedelta,
                  preferred: Preferred | None) -> tuple[str, datetime | None]:
    """The callback's next status (and due time) after an advisor records an outcome: no
    answer comes back after `delay` (in opening hours) until `max_attempts`, then expires."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    if outcome != "no_answer":
        return "done", None
    if attempts_before + 1 >= max_attempts:
        return "expired", None
    return "scheduled", retry_at(now, hours, delay, preferred)


def preferred_from(text: str | None) -> Preferred | None:
    """A stored "HH:MM" back into a Preferred."""
    if not text:
        return None
    hour, minute = text.split(":")
    return Preferred(time(int(hour), int(minute)))


# ------------------------------------------------------------------ numbers we may call back


CALLABLE_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE,
                  phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def callable_number(raw: str, region: str = "GB") -> str | None:
    """E.164 for a UK mobile or geographic number; None for anything else (premium, personal
    070, shared-cost, international, short codes): the helpline must not become a way to run
    up call charges."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if (parsed.country_code != 44 or not phonenumbers.is_valid_number(parsed)
            or phonenumbers.region_code_for_number(parsed) != "GB"):  # not +44 1624 (IoM)…
        return None
    if phonenumbers.number_type(parsed) not in CALLABLE_TYPES:
        return None
    national = phonenumbers.national_significant_number(parsed)
    if national.startswith("70"):
        return None  # personal numbers: charged like premium, diverted anywhere
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
