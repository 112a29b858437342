"""What an inbound text message asks for (pure). Only this reading of a body is ever kept:
the body itself is never stored or logged."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ivr.callbacks import Preferred, parse_preferred

# Twilio's own opt-out, opt-in and help words still reach the webhook.
OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
                     "OPTOUT"})
OPT_IN = frozenset({"START", "UNSTOP", "YES"})
HELP = frozenset({"HELP", "INFO"})
STEPS = frozenset({"STEPS", "STEP", "ADVICE"})
ANYTIME = frozenset({"ANYTIME", "ANY TIME", "ANYTIME IS FINE"})
# Looks like an attempt at a time, so an unreadable one gets an example, not silence.
_TIMEISH = re.compile(r"\d|\b(am|pm|after|before|tomorrow|morning|afternoon|noon|o ?clock)\b")


@dataclass(frozen=True)
class Intent:
    """kind: opt_out, opt_in, help, steps, anytime, time, time_unclear or request."""

    kind: str
    preferred: Preferred | None = None


def keyword(body: str) -> str:
    """The body as Twilio compares keywords: trimmed, upper case, without end punctuation."""
    return " ".join(body.strip().strip(".!?").upper().split())


def interpret(body: str, has_callback: bool) -> Intent:
    """Read a message. A time sets the safe time; anything else asks for a callback."""
    word = keyword(body)
    for kind, words in (("opt_out", OPT_OUT), ("opt_in", OPT_IN), ("help", HELP),
                        ("steps", STEPS), ("anytime", ANYTIME)):
        if word in words:
            return Intent(kind)
    if len(body) <= 40:
        preferred = parse_preferred(body)
        if preferred is not None:
            return Intent("time", preferred)
        if has_callback and _TIMEISH.search(body.lower()):
            return Intent("time_unclear")
    return Intent("request")
