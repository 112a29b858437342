"""Callback rules, as plain functions of the hours and an instant (no Redis, no Flask).

What a callback is, what happens after an advisor's call, and which numbers may be called:
queue.py stores the answers; when a callback is due lives in promise.py, and what a safe-time
message meant in safetime.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import phonenumbers

from ivr.core.expiry import Count
from ivr.core.hours import OpeningHours
from ivr.core.phone import DRAMA, gb_type
from ivr.core.promise import Placement, at_or_after
from ivr.core.safetime import ANYTIME, Window

STATUSES = ("held", "scheduled", "due", "claimed", "done", "cancelled", "expired")
OPEN_STATUSES = ("held", "scheduled", "due", "claimed")
SOURCES = ("sms", "voice")


@dataclass(frozen=True)
class Callback:
    """All we keep about a callback request: no names, no message bodies."""

    id: str
    number: str  # E.164
    source: str  # sms or voice
    requested_at: datetime
    due_at: datetime
    status: str = "scheduled"
    plan: Window | None = ANYTIME  # when it is safe to call; None while held for one
    slot_end: datetime | None = None  # a due callback is not called from this moment on
    voicemail: bool = False
    attempts: int = 0
    claimed_by: str | None = None  # the advisor calling now
    claimed_at: datetime | None = None
    caller_connected: bool = False  # during this claim's call (then it never goes back)
    call_state: str | None = None  # claimed, ringing, connected, machine, ended
    outcome: str | None = None
    count: Count = field(default_factory=Count)  # towards expiry (expiry.py)
    swapped: bool = False  # asked for from the queue: requested_at is when they joined it
    language: str = "en"  # the language they asked in (en, cy): a Welsh speaker may take it
    urgent: bool = False  # their text spoke of danger or despair: shown, and taken first
    # Their own words about when to call (their last few such texts), kept sealed, shown to
    # the advisor beside the window: a misreading can be caught by a human.
    words: tuple[str, ...] = ()
    plan_given: bool = False  # the person gave the plan (a default "any time" may be replaced)

    @property
    def default_plan(self) -> bool:
        """Waiting on the "any time" a plain request gets, which no text of theirs set: a
        later time replaces it, and one we can't meet or read holds it."""
        return self.plan == ANYTIME and not self.plan_given


# ------------------------------------------------------------------ after an advisor's call


OUTCOMES = ("reached", "no_answer", "voicemail_left", "wrong_number", "declined")


def after_outcome(
    outcome: str,
    attempts_before: int,
    max_attempts: int,
    now: datetime,
    hours: OpeningHours,
    delay: timedelta,
    plan: Window | None,
) -> tuple[str, Placement | None]:
    """The callback's next status (and place) after an advisor records an outcome: no answer
    comes back after `delay`, inside the person's window and opening hours, until
    `max_attempts`; then it expires."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    if outcome != "no_answer":
        return "done", None
    if attempts_before + 1 >= max_attempts:
        return "expired", None
    again = at_or_after(now + delay, plan or ANYTIME, hours)
    return "scheduled", Placement("scheduled", again.due, again.slot_end)


# ------------------------------------------------------------------ numbers we may call back


CALLABLE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


def callable_number(raw: str, region: str = "GB", drama: bool = False) -> str | None:
    """E.164 for a UK mobile or geographic number; None for anything else (premium, personal
    070, shared-cost, international, short codes): the helpline must not become a way to run
    up call charges. Drama numbers only when `drama` (a simulation)."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if DRAMA.match(e164):
        return e164 if drama else None
    if gb_type(parsed) not in CALLABLE_TYPES:  # valid, +44, not +44 1624 (IoM)…
        return None
    if phonenumbers.national_significant_number(parsed).startswith("70"):
        return None  # personal numbers: charged like premium, diverted anywhere
    return e164
