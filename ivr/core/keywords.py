"""What an inbound text message asks for (pure). Only this reading of a body is ever kept:
the body itself is never stored or logged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time

from ivr.core.safetime import Reading, read_safe_time

# Twilio's own opt-out, opt-in and help words still reach the webhook.
OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN = frozenset({"START", "UNSTOP", "YES"})
HELP = frozenset({"HELP", "INFO"})
STEPS = frozenset({"STEPS", "STEP", "ADVICE"})
ANYTIME = frozenset({"ANYTIME", "ANY TIME", "ANYTIME IS FINE"})


@dataclass(frozen=True)
class Intent:
    """kind: opt_out, opt_in, help, steps, anytime, plan (a safe-time window), ambiguous (an
    hour that could be morning or evening), time_unclear, ask_time (a time we can't read,
    from someone new) or request; `reading` holds what was read of a time."""

    kind: str
    reading: Reading | None = None


def keyword(body: str) -> str:
    """The body as Twilio compares keywords: trimmed, upper case, without end punctuation."""
    return " ".join(body.strip().strip(".!?").upper().split())


def interpret(
    body: str, has_callback: Callable[[], bool], today: date, usual: tuple[time, time]
) -> Intent:
    """Read a message. A safe time sets the plan; anything else asks for a callback. A time
    we can't read is never taken for "any time": someone waiting gets an example; someone
    new is asked when it is safe before anyone calls (ask_time). `has_callback` is only
    asked then (it costs the store a read)."""
    word = keyword(body)
    for kind, words in (
        ("opt_out", OPT_OUT),
        ("opt_in", OPT_IN),
        ("help", HELP),
        ("steps", STEPS),
        ("anytime", ANYTIME),
    ):
        if word in words:
            return Intent(kind)
    reading = read_safe_time(body, today, usual)
    if reading.kind == "anytime":
        return Intent("anytime", reading)
    if reading.kind in ("plan", "ambiguous"):
        return Intent(reading.kind, reading)
    if reading.kind == "unclear":
        return Intent("time_unclear" if has_callback() else "ask_time", reading)
    return Intent("request")
