"""What an inbound text message asks for (pure). Only this reading of a body is ever kept:
the body itself is never stored or logged."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time

from ivr.core.safetime import Reading, read_safe_time

# Twilio's own opt-out, opt-in and help words still reach the webhook.
OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN = frozenset({"START", "UNSTOP", "YES"})
HELP = frozenset({"HELP", "INFO", "CYMORTH", "GWYBODAETH"})
STEPS = frozenset({"STEPS", "STEP", "ADVICE", "CAMAU", "CYNGOR"})  # asked first: they say
# what the helpline is about, and someone else may read the phone; these send them.
SEND_STEPS = frozenset(
    {"SEND STEPS", "SEND ADVICE", "STEPS YES", "YES STEPS", "ANFON CAMAU", "ANFON CYNGOR"}
)
ANYTIME = frozenset({"ANYTIME", "ANY TIME", "ANYTIME IS FINE", "UNRHYW BRYD", "UNRHYW ADEG"})
# Replies in Welsh from then on (a keyword only: the language of a short text is not guessed),
# and back to English.
WELSH = frozenset({"CYMRAEG", "WELSH"})
ENGLISH = frozenset({"ENGLISH", "SAESNEG"})
# Welsh words for a safe time, read as the English the safe-time reader knows: "ar ôl 2"
# (after 2), "cyn 11yb" (before 11am), "rhwng 12 a 2" (between 12 and 2), "yfory" (tomorrow).
WELSH_TIME_WORDS = (
    (re.compile(r"\bar [oô]l\b", re.IGNORECASE), "after"),
    (re.compile(r"\bcyn\b", re.IGNORECASE), "before"),
    (re.compile(r"\brhwng (\S+) a\b", re.IGNORECASE), r"between \1 and"),
    (re.compile(r"\byfory\b", re.IGNORECASE), "tomorrow"),
    (re.compile(r"\bheddiw\b", re.IGNORECASE), "today"),
    (re.compile(r"(?<=[0-9])\s?yb\b", re.IGNORECASE), "am"),
    (re.compile(r"(?<=[0-9])\s?y[ph]\b", re.IGNORECASE), "pm"),
    (re.compile(r"\byn y bore\b|\bbore\b", re.IGNORECASE), "morning"),
    (re.compile(r"\byn y prynhawn\b|\bprynhawn\b", re.IGNORECASE), "afternoon"),
)


# Any of them at all: most texts hold none, and are then searched once, not once a word.
_ANY_WELSH_TIME_WORD = re.compile(
    "|".join(f"(?:{pattern.pattern})" for pattern, _ in WELSH_TIME_WORDS), re.IGNORECASE
)


def welsh_times(body: str) -> str:
    """A text's Welsh time words in the English the safe-time reader knows (others kept)."""
    if not _ANY_WELSH_TIME_WORD.search(body):
        return body  # (no word replaced: none of them is there)
    for pattern, english in WELSH_TIME_WORDS:
        body = pattern.sub(english, body)
    return body


@dataclass(frozen=True)
class Intent:
    """kind: opt_out, opt_in, help, steps (asked first), send_steps, anytime, welsh or
    english (the language of replies), plan (a safe-time window), ambiguous (an hour that
    could be morning or evening), time_unclear, ask_time (a time we can't read,
    from someone new) or request; `reading` holds what was read of a time."""

    kind: str
    reading: Reading | None = None


# How Twilio matches its opt-out words (help.twilio.com/articles/223134027, "Twilio support
# for opt-out keywords (SMS STOP filtering)"): only a message that is the single word blocks
# the number; a word with others around it ("STOP PLEASE") does not. About case ("Stop") and
# punctuation ("Stop!!") the page says nothing. So a word with only spaces, case or end
# punctuation around it is read as the word: if Twilio did block it and we kept the callback,
# an advisor would ring someone who told us to stop (and who may not be alone); if it did
# not, erasing is still what they asked for, and nothing of ours texts them afterwards. Two
# words ("STOP please") are never the keyword, as for Twilio: they are the person's own
# words (actions/texts.py).


def keyword(body: str) -> str:
    """The body as a keyword: trimmed, upper case, spaces collapsed, without end punctuation
    (see above for why "Stop!!" is STOP although Twilio documents only the bare word)."""
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
        ("send_steps", SEND_STEPS),
        ("anytime", ANYTIME),
        ("welsh", WELSH),
        ("english", ENGLISH),
    ):
        if word in words:
            return Intent(kind)
    reading = read_safe_time(welsh_times(body), today, usual)
    if reading.kind == "anytime":
        return Intent("anytime", reading)
    if reading.kind in ("plan", "ambiguous"):
        return Intent(reading.kind, reading)
    if reading.kind == "unclear":
        return Intent("time_unclear" if has_callback() else "ask_time", reading)
    return Intent("request")
