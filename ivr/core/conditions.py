"""Conditions a person puts on how we call that are not times: "text first", "withhold your
number", "don't leave a voicemail", "don't say who you are". They are theirs to keep (their
words go with the callback for the advisor, sealed) and never a time: they are taken out
before a text is read for one, so "call after 2pm, text first" is after 2pm, and "text
first" alone asks for nothing but a call the advisor makes knowing it."""

from __future__ import annotations

import re

_TEXT = r"(?:text|txt|message|msg|sms)"
_CONDITIONS = (
    # text or message before calling
    rf"{_TEXT}(?:\s+me)?\s+(?:first|before(?:\s+(?:you|u)\s+(?:call|ring|phone))?|beforehand)",
    # how the number shows
    r"(?:withh[oe]ld|hide|block)\s+(?:your|ur|the)\s+(?:number|no|caller\s*id)",
    r"(?:from\s+)?(?:a\s+)?(?:private|withheld|hidden|unknown)\s+(?:number|no)",
    r"no\s+caller\s*id",
    # voicemail and messages
    r"(?:don'?t|do\s+not|dont|never|please\s+don'?t)\s+leave\s+(?:a\s+|any\s+)?"
    r"(?:voice\s*mail|voice\s*message|message|msg)s?",
    r"no\s+(?:voice\s*mails?|voice\s*messages?|messages?)",
    # who is calling
    r"(?:don'?t|do\s+not|dont|never)\s+say\s+(?:who\s+(?:you\s+are|it\s+is|is\s+calling)"
    r"|where\s+(?:you(?:'re|\s+are)\s+from|from))",
)
_CONDITION = re.compile(r"(?<![a-z'])(?:" + "|".join(_CONDITIONS) + r")(?![a-z])", re.IGNORECASE)


def has_condition(text: str) -> bool:
    """Whether the text puts a condition on how we call (not when)."""
    return _CONDITION.search(text.replace("\u2019", "'")) is not None


def without_conditions(text: str) -> str:
    """The text with its conditions taken out, to be read for a time."""
    return _CONDITION.sub(" ", text.replace("\u2019", "'"))
