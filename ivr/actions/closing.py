"""A supervisor closes the line now (a message callers hear, until a time or until reopened)
and reopens it. The console's supervisor page calls these; what it says when one is refused
is the message of `NotClosed`, in staff's words, so every caller of the action says the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ivr.content.flows import closure_message_problem, closure_opening_problem
from ivr.core.clock import brief_in_words
from ivr.core.hours import parse_reopening
from ivr.services import Services
from ivr.store import audit
from ivr.store.closures import close_line, reopen_line


class NotClosed(Exception):
    """The line was not closed; the message says why, in staff's words."""


@dataclass(frozen=True)
class Closure:
    """A supervisor's closure as staff read it: what callers hear, and until when."""

    message: str
    message_cy: str
    until: datetime | None  # None: until a supervisor reopens the line
    until_words: str  # "Wednesday 24 December 16:00", or "" (until reopened)

    def active(self, at: datetime) -> bool:
        """Still closing the line at `at` (a closure past its time is left until reopened)."""
        return self.until is None or at < self.until


def close(
    services: Services, actor: str, message: str, until: str = "", message_cy: str = ""
) -> Closure:
    """Close the line now with `message` (and its Welsh, if any) until `until` as staff
    write it ("14:00", "2026-12-24 16:00"; empty: until reopened). Refused (NotClosed) if
    the time can't be read or has passed, or the message can't be heard or texted; done,
    every process hears it within seconds and the audit trail says who closed it."""
    now = services.clock()
    zone = services.flows.hours.timezone
    reopens = None
    if until:
        try:
            reopens = parse_reopening(until, now, zone)
        except ValueError:
            raise NotClosed(
                "Write the time like 14:00 (today) or 2026-12-24 16:00, or leave it empty."
            ) from None
        if reopens <= now:  # the line would not close at all: say so, don't pretend
            raise NotClosed("That time has already passed: the line was not closed.")
    message, message_cy = message.strip(), message_cy.strip()
    problem = (
        closure_message_problem(message)
        or (closure_message_problem(message_cy, welsh=True) if message_cy else None)
        or closure_opening_problem(services.flows, now, message, reopens, message_cy)
    )
    if problem:
        raise NotClosed(f"The line was not closed: the message can't be used, {problem}.")
    close_line(services.redis, message, reopens, services.keys.real, message_cy)
    services.override.invalidate()  # this process at once; the others hear it announced
    audit.record(
        services.redis,
        now,
        actor,
        "closed the line",
        detail=f"until {brief_in_words(reopens, zone)}" if reopens else "until reopened",
        keys=services.keys,
    )
    return Closure(message, message_cy, reopens, _words(services, reopens))


def reopen(services: Services, actor: str) -> None:
    """End a supervisor's closure: the line follows its usual hours again, in every process
    within seconds; the audit trail says who reopened it."""
    reopen_line(services.redis, services.keys.real)
    services.override.invalidate()
    audit.record(services.redis, services.clock(), actor, "reopened the line", keys=services.keys)


def current(services: Services) -> Closure | None:
    """The supervisor's closure now, read afresh (None: none, or the store can't be read and
    the usual hours apply)."""
    override = services.closure()
    if override is None:
        return None
    return Closure(
        override.message, override.message_cy, override.until, _words(services, override.until)
    )


def _words(services: Services, until: datetime | None) -> str:
    """As the supervisor page writes it."""
    zone = services.flows.hours.timezone
    return f"{until.astimezone(zone):%A %-d %B %H:%M}" if until else ""
