"""What an inbound text message asks for (pure). Only this reading of a body is ever kept:
the body itself is never stored or logged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from ivr.safetime import Reading, read_safe_time

# Twilio's own opt-out, opt-in and help words still reach the webhook.
OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
                     "OPTOUT"})
OPT_IN = frozenset({"START", "UNSTOP", "YES"})
HELP = frozenset({"HELP", "INFO"})
STEPS = frozenset({"STEPS", "STEP", "ADVICE"})
ANYTIME = frozenset({"ANYTIME", "ANY TIME", "ANYTIME IS FINE"})


@dataclass(frozen=True)
class Intent:
    """kind: opt_out, opt_in, help, steps, anytime, plan (a safe-time window), ambiguous (an
    hour that could be morning or evening), time_unclear or request; `reading` holds what was
    read of a time."""

    kind: str
    reading: Reading | None = None


def keyword(body: str) -> str:
    """The body as Twilio compares keywords: trimmed, upper case, without end punctuation."""
    return " ".join(body.strip().strip(".!?").upper().split())


def interpret(body: str, has_callback: bool, today: date,
              usual: tuple[time, time]) -> Intent:
    """Read a message. A safe time sets the plan; anything else asks for a callback. An
    unreadable time from someone new is just a request (they get the first reply, which
    asks for a time); from someone waiting, it gets an example."""
    word = keyword(body)
    for kind, words in (("opt_out", OPT_OUT), ("opt_in", OPT_IN), ("help", HELP),
                        ("steps", STEPS), ("anytime", ANYTIME)):
        if word in words:
            return Intent(kind)
    reading = read_safe_time(body, today, usual)
    if reading.kind == "anytime":
        return Intent("anytime", reading)
    if reading.kind in ("plan", "ambiguous"):
        return Intent(reading.kind, reading)
    if reading.kind == "unclear" and has_callback:
        return Intent("time_unclear", reading)
    return Intent("request")
