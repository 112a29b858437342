"""A person's safe time to be called, read from a text message (pure: no clock, no I/O).

The plan is a window: not before `earliest`, not from `latest` on, only on some weekdays, not
before a date ("tomorrow"). Whether and when a window meets the opening hours is decided in
ivr/promise.py; this module only reads words into a window, or says why it can't.

How a message is read, and why:
- It is split into tokens (numbers, words, a few marks) and politeness is dropped ("please",
  "call me", "thanks", "hi", "x"). Any other word makes the message more than a time phrase:
  then if it says anything about when (a time, a day, a part of the day, a routine, a meal,
  a person with their presence: see "times inside sentences" below) it is "unclear", so the
  person is asked; else "none", a plain callback request. A routine said with a time is
  read: "after my shift ends at 5" is after 5pm. So are phone numbers (five digits or more
  in a row), 999, 112, 111 and 101, and texts longer than one message (160 characters).
- A tiny grammar reads the rest into clauses ("after 2", "between 12 and 2", "tuesdays",
  "not monday", "tomorrow", "mornings"); the window is what all clauses allow together. What
  it can't read, or a window that allows nothing ("between 3 and 1pm"), is "unclear".
- A bare hour ("after 8") may be morning or evening: the one inside the usual hours wins; if
  neither or both are, the other clauses may still decide ("after 8, before 11am"), or a part
  of the day ("tomorrow morning after 9"); else the reading is "ambiguous" and the person is
  asked. Nothing is moved into opening hours here: "after 6pm" is read as it was written.
- A point time ("2pm") allows AT_SLACK after it, never past the usual closing ("3:45": to
  4pm); "lunchtime" is 12pm to 2pm, "after lunch" from 1pm, "before lunch" before 12pm;
  mornings end at 12pm, afternoons start at 12pm, evenings (and "tonight") at 6pm; "first
  thing" is within the hour after the usual opening, "end of the day" within the hour
  before the usual closing. "After work", "teatime" or "after dinner" are times we can't
  know (a meal is a different hour in different places): unclear, so that the person is
  asked, rather than none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time, timedelta
from itertools import product
from typing import Literal, NamedTuple, TypeVar

from ivr.core.phrases import time_words

ALL_DAYS: frozenset[int] = frozenset(range(7))  # Monday is 0, as date.weekday()
# "2pm" means a call from 2pm and within the hour after (never past 23:59 of that day).
AT_SLACK = timedelta(hours=1)


@dataclass(frozen=True)
class Window:
    """When it is safe to call. None (or every day) means no limit of that kind; `latest` is
    the end, not included ("before 11am" is latest=11:00)."""

    earliest: time | None = None
    latest: time | None = None
    weekdays: frozenset[int] = ALL_DAYS
    not_before: date | None = None

    @property
    def anytime(self) -> bool:
        return self == Window()

    def dumps(self) -> str:
        """The window as stored with a callback: "14:00-15:00/1/2026-11-27", "-11:00/01234/",
        "-/0123456/" for any time. Short on purpose: a callback's hash stays in Redis's
        compact encoding (values under 64 bytes), about a third of the memory."""
        return (
            f"{_hhmm(self.earliest)}-{_hhmm(self.latest)}/"
            f"{''.join(str(d) for d in sorted(self.weekdays))}/"
            f"{self.not_before.isoformat() if self.not_before else ''}"
        )

    @classmethod
    def loads(cls, text: str) -> Window:
        times, days, not_before = text.split("/")
        earliest, latest = times.split("-")
        return cls(
            earliest=time.fromisoformat(earliest) if earliest else None,
            latest=time.fromisoformat(latest) if latest else None,
            weekdays=frozenset(int(d) for d in days),
            not_before=date.fromisoformat(not_before) if not_before else None,
        )


def _hhmm(at: time | None) -> str:
    return at.strftime("%H:%M") if at else ""


ANYTIME = Window()
ReadingKind = Literal["plan", "anytime", "ambiguous", "unclear", "none"]


@dataclass(frozen=True)
class Reading:
    """What a message said about a safe time.

    plan: a window; anytime: no limits (ANYTIME, "any time is fine"); ambiguous: a bare hour
    that could be morning or evening, both outside the usual hours ("after 8"): `hour` is it;
    unclear: it looks like a time but can't be read ("25:99"); none: not about a time."""

    kind: ReadingKind
    window: Window | None = None
    hour: int | None = None
    minute: int = 0  # of an ambiguous time: "half 6" is 6:30, never 6

    @property
    def said(self) -> str:
        """An ambiguous time as a reply puts it before am/pm: "6", "6:30"."""
        return f"{self.hour}:{self.minute:02d}" if self.minute else f"{self.hour}"

    @property
    def about_time(self) -> bool:
        """Whether the text said anything about when to call (its words are then kept for
        the advisor, sealed)."""
        return self.kind != "none"


# ------------------------------------------------------------------ words


class _Tok(NamedTuple):
    kind: str  # "num", "days", "after", ... or "unknown"
    value: str = ""  # the digits of a number, the weekdays ("01234"), the part of the day
    raw: str = ""  # the word as written (after joining "any time" and the like)


# A whole text message is at most this long; longer text is a letter, not a time.
_MAX_LENGTH = 160
# More than four digits in a row is a phone number, not a time.
_PHONE = re.compile(r"[0-9]{5,}")
# Emergency and NHS numbers are never times ("999" is not 9:99).
_NOT_TIMES = frozenset({"999", "112", "111", "101"})
_QUOTES = str.maketrans("\u2018\u2019`", "'''")
# "a.m." and "p.m." become "am" and "pm"; the final dot may have gone with the sentence.
_DOTTED_AMPM = re.compile(r"(?<![a-z])([ap])\.\s?m(?![a-z])\.?")
# "14.30" and "2:30" stay one number; other punctuation (, . ! ? ; :) only separates.
_TOKEN = re.compile(r"[0-9]+(?:[:.][0-9]+)?|[a-z]+(?:'[a-z]+)?|[-\u2013\u2014/&]")

_FILLER = frozenset(
    {
        "please",
        "pls",
        "plz",
        "is",
        "fine",
        "ok",
        "okay",
        "good",
        "safe",
        "best",
        "only",
        "call",
        "ring",
        "me",
        "back",
        "can",
        "you",
        "could",
        "would",
        "be",
        "it's",
        "its",
        "any",
        "time",
        "thanks",
        "thank",
        "ta",
        "cheers",
        "i'm",
        "im",
        "free",
        "the",
        "a",
        "in",
        "on",
        "at",
        "around",
        "about",
        "approx",
        "roughly",
        "ish",
        "this",
        "every",
        "hi",
        "hello",
        "hiya",
        "yes",
        "yeah",
        "x",
        "xx",
        "xxx",
        # hesitations: "um, 5 please"
        "um",
        "umm",
        "erm",
        "er",
        "uh",
        "uhm",
        "hmm",
        "oh",
        "well",
        "sorry",
    }
)
# Two words that mean one thing; "no one" is joined only so that it is not "no" and "1".
_PAIRS = {
    ("any", "time"): "anytime",
    ("any", "day"): "anyday",
    ("lunch", "time"): "lunchtime",
    ("half", "past"): "half",
    ("quarter", "past"): "quarterpast",
    ("quarter", "to"): "quarterto",
    ("o", "clock"): "oclock",
    ("week", "day"): "weekdays",
    ("week", "days"): "weekdays",
    ("week", "end"): "weekend",
    ("week", "ends"): "weekend",
    ("no", "one"): "noone",
}
_DAY_NAMES = (
    "mon monday mondays",
    "tue tues tuesday tuesdays",
    "wed weds wednesday wednesdays",
    "thu thur thurs thursday thursdays",
    "fri friday fridays",
    "sat saturday saturdays",
    "sun sunday sundays",
)
_NUMBER_WORDS = (
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
)
_HOUR_WORD = "(?:\\d|noon|midday|lunch|half|" + "|".join(_NUMBER_WORDS) + ")"
_PART_OF_DAY = (
    "(?:mornings?|afternoons?|evenings?|nights?|tonight|weekends?|weekdays?|"
    "mon|tue|wed|thu|fri|sat|sun)"
)
# ------------------------------------------------------------------ times inside sentences
#
# A text that is more than a time phrase is read for anything about *when*: a clock time, a
# day, a part of the day, a routine ("after work", "when the kids are in bed"), a meal
# ("teatime": a different hour in different places) or a person with their presence ("when
# he's out", "before he gets home", "not while my partner is here"). Any of these and the
# text is never "none" (which would be any time): a routine said with an hour is read
# ("after my shift ends at 5" is after 5pm), anything else is "unclear" and the person is
# asked. A person without presence or a time ("he shared it with his mates") says nothing
# about when. Past times ("last night", "yesterday", "2 days ago") and greetings ("good
# morning") are not safe times and are left out first. The texts these rules must and must
# not catch are tables in tests/safetime_texts.py.

_N = r"(?:\d{1,2}(?:[:.]\d{2})?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
# After a loose word ("at 6", "about 8") a number is a time only where a sentence could end
# or go on about time: "about 20 pictures" is no time.
_TIME_END = (
    r"(?=\s*(?:$|[,.!?;:)]|(?:please|pls|thanks|thank|and|or|but|if|when|as|so|then|ish|um|erm|"
    r"o'?\s?clock|tonight|today|tomorrow|in\s+the|on|x+|am|pm|a\.m|p\.m)\b))"
)
# What follows a number that counts things: a plural, "of", "more", a length of time.
_COUNTED = (
    r"(?:[a-z]+s|of|more|men|women|people|children|year\w*|month\w*|week\w*|day\w*|"
    r"hour\w*|min\w*|percent|%)"
)
_NOT_PLURAL = r"(?:is|was|has|does|this|yes|thanks|cheers|his|its|as|us|always|plus|pls|plz)"
_PERSON = (
    r"(?:he|she|they|him|her|them|someone|somebody|anyone|anybody|no\s?one|no-one|nobody|"
    r"(?:my|our|the)\s+(?:\w+\s+)?(?:partner|husband|hubby|wife|boyfriend|girlfriend|bf|gf|"
    r"ex|mum|mom|mam|dad|parents?|family|flatmate|housemate|roommate|kids|children|son|"
    r"daughter|brother|sister|boss|fianc[eé]e?|other\s+half|man|fella|carer|stepdad|"
    r"stepmum|uncle|aunt|nan|gran|grandad))"
)
_PRESENCE = (
    r"(?:home|back|here|there|around|about|away|gone|asleep|awake|out|in|up|over|round|"
    r"in\s+bed|in\s+the\s+house|at\s+home|at\s+work|with\s+me|next\s+to\s+me|nearby|"
    r"on\s+nights|on\s+shift|working|sleeping|to\s+work|to\s+bed|to\s+sleep|"
    r"downstairs|upstairs|next\s+door|in\s+the\s+(?:next|other|same)\s+room|beside\s+me|"
    r"(?:sat|sitting|stood|standing)\s+(?:next\s+to|with|beside)\s+me|listening|"
    r"(?:gets?|comes?|goes|go|got)\s+(?:in|home|back|out)|leaves?|left|wakes?\s+up|"
    r"goes\s+to\s+(?:work|bed|sleep))"
)
_BE = (
    r"(?:'s|s(?=\s)|'re|re(?=\s)|'ll\s+be|ll\s+be|\s+(?:is|are|was|were|will\s+be|be|isn'?t|"
    r"aren'?t|is\s+not|are\s+not|won'?t\s+be|has|have|hasn'?t))?"
    r"(?:\s+(?:not|still|already|usually|normally|always|never|just|often))?"
)
# What may follow a presence for it to be one: "he's out" and "he's out till 6", not "he is
# out of control" or "she is in my class".
_PRESENCE_END = (
    r"(?=\s*(?:$|[,.!?;:)]|(?:and|or|but|so|then|till|until|til|from|at|on|in\s+the|tonight|"
    r"today|tomorrow|now|all|most|every|during|after|before|when|while|whilst|please|pls|"
    r"x+|by|around|about|soon|shortly|later|any|um|erm|for\s+(?:the|a)|[0-9]))\b)"
)
_MENTIONS_TIME = re.compile(
    "|".join(
        [
            # clock times and idioms
            r"\b\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|ish)\b|\b\d{1,2}[:.]\d{2}\b|\bo'?\s?clock\b",
            rf"\bhalf\s+(?:past\s+)?{_N}\b|\bquarter\s+(?:to|past)\s+{_N}\b",
            r"\b(?:noon|midday|midnight|first\s+thing|end\s+of\s+(?:the\s+)?day)\b",
            rf"\b(?:after|before|until|till|til|from|between|by|past)\s+(?:about\s+|around\s+)?{_N}\b",
            rf"\b(?:at|around|about|for)\s+{_N}{_TIME_END}",
            # an hour alone ("um 5 please", "5 I think"): not a count ("3 videos", "2 of
            # them"), an age ("I'm 12") or money ("£5")
            rf"(?<!i'm )(?<!im )(?<!am )(?<!aged )(?<!age )(?<!£)\b(?:[1-9]|1[0-2])\b"
            rf"(?!\s*(?!{_NOT_PLURAL}\b){_COUNTED}\b)",
            # days and parts of the day; dates ("not until the 4th", "on 30 December",
            # "after new year"): a date is a time too (review: stored as any time)
            r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b|\b(?:tues?|weds?|thur?s?|fri)\b",
            r"\b(?:[1-9]|[12]\d|3[01])(?:st|nd|rd|th)\b|\bnew\s+year\b|\bchristmas\b",
            r"\b(?:january|february|march|april|june|july|august|september|october|"
            r"november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\b",
            r"\b(?:today|tomorrow|tmrw|tmr|tomoz|tomorow|tonight|tonite|weekends?|weekdays?)\b",
            r"\b(?:this|next)\s+week\b|\b(?:mornings?|afternoons?|evenings?|nights?)\b",
            r"\blunch\s*(?:times?|break)?\b|\b(?:in|during|on)\s+my\s+break\b",
            # routines, meals, "now"
            r"\b(?:after|before|once|when|until|till|during)\s+(?:my\s+|the\s+|i\s+)?"
            r"(?:finish\s+)?(?:work|shift|school|college|uni|nursery|school\s+run|bed|bedtime)\b",
            r"\b(?:i'?m|i\s+am|me|while|whilst|when)\s+(?:at|in)\s+(?:work|school|college|uni|"
            r"the\s+office|the\s+gym)\b|\bbedtime\b|\bschool\s+run\b",
            r"\b(?:kids|children|kid|child|baby|little\s+ones?)(?:'s)?\s+(?:are\s+|is\s+|go\s+|"
            r"goes\s+|have\s+gone\s+|has\s+gone\s+)?(?:in\s+bed|to\s+bed|asleep|at\s+school|"
            r"to\s+school)\b",
            r"\bwhen\s+i(?:'m|\s+am|m)?\s+(?:alone|on\s+my\s+own|by\s+myself|home|back|free|"
            r"off|finished|done|get|finish|leave|go)\b|\bwhen\s+(?:it'?s|it\s+is)\s+"
            r"(?:safe|quiet)\b",
            r"\b(?:tea|dinner|supper)\s*time\b|\b(?:after|before|at|around|during|over|by|"
            r"until|till)\s+(?:my\s+|our\s+|the\s+)?(?:tea|dinner|supper|breakfast)\b",
            r"\bnot\s+(?:right\s+)?now\b|\bcan'?t\s+(?:talk|speak)\b|\bcannot\s+(?:talk|speak)\b",
            r"\blater\b|\bnot\s+yet\b|\bin\s+(?:an?|half\s+an|a\s+couple\s+of|a\s+few|\d+|one|two|"
            r"three)\s+(?:hours?|hrs?|mins?|minutes?)\b",
            # instructions about calling
            r"\b(?:don'?t|do\s+not|never|not|only|stop)\s+(?:call|ring|phone)(?:ing)?\b",
            # a person and their presence
            rf"\b(?:when|while|whilst|until|till|til|before|after|once|unless|if|as\s+long\s+as"
            rf"|whenever)\s+{_PERSON}{_BE}\s+{_PRESENCE}\b",
            rf"\b{_PERSON}{_BE}\s+{_PRESENCE}{_PRESENCE_END}",
        ]
    )
)
# Not safe times: the past, and greetings.
_NOT_SAFE_TIMES = re.compile(
    r"\b(?:last|the\s+other)\s+(?:night|week|weekend|month|year|morning|evening|afternoon|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b|\byesterday(?:\s+(?:morning|afternoon|"
    r"evening))?\b|\b(?:\w+\s+)?(?:days?|weeks?|months?|years?|hours?|nights?)\s+ago\b|"
    r"\bgood\s+(?:morning|afternoon|evening|night)\b|\b\w+\s+years?\s+old\b"
)


def _about_timing(text: str) -> bool:
    """Whether a sentence (lower case) says anything about when it is safe to call."""
    return bool(_MENTIONS_TIME.search(_NOT_SAFE_TIMES.sub(" ", text)))


# A routine said with a time: "after my shift ends at 5", "after the kids are in bed, about
# 8". The routine goes, leaving "after 5" (or "before 8") for the grammar, and names the half
# of the day a bare hour is in (work ends in the afternoon or evening; a school run is in the
# morning); when that differs from the reading inside the usual hours ("after work at 11"),
# the person is asked which they meant. A routine with no time stays unreadable: asked.
# Longer routines first ("the school run" before "school").
_ROUTINES = (
    (  # the school run: the morning
        r"(?:the\s+)?school\s+run|(?:the\s+)?(?:kids|children)\s+(?:are\s+|go\s+|have\s+gone\s+)?"
        r"(?:at|to)\s+school|(?:the\s+)?drop\s*off",
        "am",
        "am",
    ),
    (  # the children's bedtime: the evening
        r"(?:the\s+|my\s+)?(?:kids|children|kid|child|baby|little\s+ones?)(?:'s)?\s+"
        r"(?:are\s+|is\s+|go\s+|goes\s+|have\s+gone\s+|has\s+gone\s+)?(?:in\s+bed|to\s+bed|"
        r"asleep|down)|(?:the\s+kids'?\s+)?bedtime",
        "pm",
        "pm",
    ),
    (  # home: the evening
        r"i\s+(?:get|am|'m|m)?\s*(?:home|back)",
        "pm",
        "pm",
    ),
    (  # work, school, a shift: after it in the afternoon, before it in the morning
        r"(?:i\s+|i'?m\s+)?(?:finish\s+|get\s+(?:off|out\s+of)\s+|leave\s+|off\s+)?"
        r"(?:my\s+|the\s+)?(?:work|shift|school|college|uni|job)"
        r"(?:\s+(?:ends|finishes|is\s+over|is\s+done|has\s+finished))?",
        "pm",
        "am",
    ),
)
_ROUTINE = re.compile(
    r"\b(?P<link>after|once|when|before|until|till)\s+(?:"
    + "|".join(f"(?P<r{i}>{pattern})" for i, (pattern, _, _) in enumerate(_ROUTINES))
    + r")\b"
)
# Idioms with one meaning, made one word for the grammar.
_IDIOMS = (
    (re.compile(r"\bfirst\s+thing(?:\s+in\s+the\s+morning)?\b"), "firstthing"),
    (re.compile(r"\b(?:the\s+)?end\s+of\s+(?:the\s+)?(?:day|afternoon)\b"), "endofday"),
)


def _without_routine(text: str) -> tuple[str, str | None]:
    """The text with a routine before a time made a plain "after"/"before" ("after my shift
    ends at 5": "after at 5"), and the half of the day that routine names (None: none)."""
    found = _ROUTINE.search(text)
    if found is None:
        return text, None
    which = next(i for i in range(len(_ROUTINES)) if found.group(f"r{i}") is not None)
    _, after, before = _ROUTINES[which]
    before_it = found.group("link") in ("before", "until", "till")
    link = "before" if before_it else "after"
    return text[: found.start()] + link + text[found.end() :], before if before_it else after


_KINDS = {
    "after": "after",
    "from": "from",
    "before": "before by",
    "until": "until till til untill",
    "between": "between btwn",
    "to": "to - \u2013 \u2014",
    "and": "and &",
    "or": "or /",
    "not": "not except excluding",
    "no": "no",
    "but": "but",
    "onwards": "onwards onward",
    "half": "half",
    "quarterpast": "quarterpast",
    "quarterto": "quarterto",
    "oclock": "oclock o'clock",
    "noon": "noon midday",
    "today": "today",
    "tomorrow": "tomorrow tmrw tmr tomoz tomorow tommorow tommorrow",
    "anytime": "anytime anyday whenever",
    "event": "work school",  # "after work": a time we can't know, so unclear, not none
    "firstthing": "firstthing",  # "first thing": within the hour after the usual opening
    "endofday": "endofday",  # "end of the day": within the hour before the usual closing
}
_PERIOD_WORDS = {
    "morning": "morning mornings",
    "afternoon": "afternoon afternoons",
    "evening": "evening evenings night nights tonight",
    "lunch": "lunch lunchtime lunchtimes",
}


def _vocabulary() -> dict[str, _Tok]:
    words = {word: _Tok(kind, raw=word) for kind, names in _KINDS.items() for word in names.split()}
    for day, names in enumerate(_DAY_NAMES):
        words.update((word, _Tok("days", str(day), word)) for word in names.split())
    words.update((word, _Tok("days", "01234", word)) for word in ("weekday", "weekdays"))
    words.update((word, _Tok("days", "56", word)) for word in ("weekend", "weekends"))
    for period, names in _PERIOD_WORDS.items():
        words.update((word, _Tok("period", period, word)) for word in names.split())
    words.update((half, _Tok("ampm", half, half)) for half in ("am", "pm"))
    words.update((word, _Tok("num", str(n), word)) for n, word in enumerate(_NUMBER_WORDS, 1))
    return words


_WORDS = _vocabulary()
# Connectors alone say nothing about a time: "no", "not", "and" is not a time attempt.
_CONNECTORS = frozenset({"to", "and", "or", "not", "no", "but"})


def _tokens(text: str) -> list[_Tok]:
    """The message (lower case) as tokens, politeness dropped, unknown words kept."""
    pieces: list[str] = []
    for piece in _TOKEN.findall(text):
        if pieces and (pieces[-1], piece) in _PAIRS:
            pieces[-1] = _PAIRS[pieces[-1], piece]
        else:
            pieces.append(piece)
    return [
        _Tok("num", piece, piece)
        if piece[0].isdigit()
        else _WORDS.get(piece, _Tok("unknown", raw=piece))
        for piece in pieces
        if piece not in _FILLER
    ]


# ------------------------------------------------------------------ grammar


class _Unclear(Exception):
    """The message is about a time, but not one this grammar can read."""


@dataclass(frozen=True)
class _Ref:
    """A time as written. A bare one ("8", "9:30") is an hour from 1 to 11 without am/pm:
    `hour` holds its morning reading. `suffixed`: am/pm was written ("2pm", "8 tonight")."""

    hour: int
    minute: int
    bare: bool = False
    suffixed: bool = False

    def at(self, half: str) -> time:
        """The morning ("am") or afternoon ("pm") reading of a bare time."""
        return time(self.hour % 12 + (12 if half == "pm" else 0), self.minute)

    @property
    def fixed(self) -> time:
        """The time of one that is not bare."""
        return time(self.hour, self.minute)


_Role = Literal["from", "until", "at"]  # earliest ("after 2"), latest ("before 2"), point ("2")


@dataclass(frozen=True)
class _Slot:
    ref: _Ref
    role: _Role


_TIME_STARTS = ("num", "noon", "half", "quarterpast", "quarterto")
_SUFFIX_WORDS = {
    "morning": "am",
    "afternoon": "pm",
    "evening": "pm",
    "night": "pm",
    "tonight": "pm",
}  # "8 in the evening", "8 tonight": singular words only
_PERIODS = {
    "morning": Window(latest=time(12)),
    "afternoon": Window(earliest=time(12)),
    "evening": Window(earliest=time(18)),
    "lunch": Window(time(12), time(14)),
}
_NOT_PERIODS = {
    "morning": Window(earliest=time(12)),
    "afternoon": Window(latest=time(12)),
    "evening": Window(latest=time(18)),
}
_PERIOD_HALF = {"morning": "am", "afternoon": "pm", "evening": "pm"}
# "after lunch" is from 1pm (a lunch hour is 12 to 1); "before lunch" is before 12pm.
_AFTER_LUNCH, _BEFORE_LUNCH = _Ref(13, 0), _Ref(12, 0)


class _Parser:
    """Reads tokens into time slots (still to be resolved) and a window for everything else."""

    def __init__(
        self, tokens: list[_Tok], today: date, usual: tuple[time, time], routine: str | None
    ) -> None:
        self.tokens = tokens
        self.pos = 0
        self.today = today
        self.usual = usual
        self.routine = routine  # the half of the day a routine named ("after work": pm)
        self.slots: list[_Slot] = []
        self.window = ANYTIME
        self.halves: set[str] = set()  # am/pm said by a part of the day ("tomorrow morning")

    def kind(self, ahead: int = 0) -> str:
        at = self.pos + ahead
        return self.tokens[at].kind if at < len(self.tokens) else ""

    def take(self, *kinds: str) -> _Tok | None:
        if self.kind() not in kinds:
            return None
        self.pos += 1
        return self.tokens[self.pos - 1]

    def need(self, *kinds: str) -> _Tok:
        if (tok := self.take(*kinds)) is None:
            raise _Unclear
        return tok

    def narrow(self, window: Window) -> None:
        self.window = _meet(self.window, window)

    def parse(self) -> None:
        while self.pos < len(self.tokens):
            self.clause()

    def clause(self) -> None:
        tok = self.tokens[self.pos]
        if tok.kind in _TIME_STARTS:
            self.times()
            return
        self.pos += 1
        match tok.kind:
            case "anytime" | "today" | "and":
                pass
            case "to" if tok.raw != "to":  # a dash between clauses is only punctuation
                pass
            case "tomorrow":
                self.narrow(Window(not_before=self.today + timedelta(days=1)))
            case "firstthing":
                self.narrow(Window(latest=_shifted(self.usual[0], AT_SLACK)))
            case "endofday":
                self.narrow(Window(earliest=_shifted(self.usual[1], -AT_SLACK)))
            case "days":
                self.pos -= 1
                self.narrow(Window(weekdays=self.days()))
            case "not":
                self.negation()
            case "no" if self.kind() in ("days", "period", "ampm"):  # "no mornings"
                self.negation()
            case "no":  # "no, after 2pm" answers a question: it is not "not after 2pm"
                pass
            case "but" if self.kind() in ("days", "period", "ampm"):
                # "any day but monday", "anytime but mornings"; after anything else "but"
                # may mean "except" or "only" ("weekdays but evenings"): unclear.
                if self.pos < 2 or self.tokens[self.pos - 2].kind != "anytime":
                    raise _Unclear
                self.negation()
            case "but":  # "after 2 but not friday"
                pass
            case "after":
                self.bound("from", _AFTER_LUNCH)
                self.take("onwards")
            case "before" | "until":
                self.bound("until", _BEFORE_LUNCH)
            case "between":
                start = self.time()
                self.need("and", "to", "until")
                self.range(start, self.time())
            case "from":
                start = self.time()
                if self.range_to():
                    self.range(start, self.time())
                else:
                    self.take("onwards")
                    self.slots.append(_Slot(start, "from"))
            case "period":
                self.period(tok.value)
            case "ampm":  # "am only", "pm only"
                self.period("morning" if tok.value == "am" else "afternoon")
            case _:
                raise _Unclear

    def times(self) -> None:
        """ "2pm", "12-2", "12 to 2", "2pm onwards"."""
        start = self.time()
        if self.range_to():
            self.range(start, self.time())
        elif self.take("onwards"):
            self.slots.append(_Slot(start, "from"))
        else:
            self.slots.append(_Slot(start, "at"))

    def range_to(self) -> bool:
        """ "to", "till" or a dash between two times ("2pm - thanks" is no range)."""
        if self.kind() in ("to", "until") and self.kind(1) in _TIME_STARTS:
            self.pos += 1
            return True
        return False

    def bound(self, role: _Role, lunch: _Ref) -> None:
        """The time after "after" or "before" (or "not after"...): `role` is what it limits,
        `lunch` what lunch means there."""
        if self.kind() == "period" and self.tokens[self.pos].value == "lunch":
            self.pos += 1
            self.slots.append(_Slot(lunch, role))
        else:
            self.slots.append(_Slot(self.time(), role))

    def negation(self) -> None:
        """ "not after 1pm", "not before 11", "not monday", "not today", "not mornings"."""
        if self.take("after"):
            self.bound("until", _AFTER_LUNCH)
        elif self.take("before", "until"):
            self.bound("from", _BEFORE_LUNCH)
        elif self.kind() == "days":
            self.narrow(Window(weekdays=ALL_DAYS - self.days()))
        elif self.take("today"):
            self.narrow(Window(not_before=self.today + timedelta(days=1)))
        else:
            tok = self.need("period", "ampm")
            period = {"am": "morning", "pm": "afternoon"}.get(tok.value, tok.value)
            # "not lunchtime" leaves two windows; "not tonight" is about today only.
            if period not in _NOT_PERIODS or tok.raw == "tonight":
                raise _Unclear
            self.narrow(_NOT_PERIODS[period])

    def period(self, period: str) -> None:
        self.narrow(_PERIODS[period])
        if period in _PERIOD_HALF:
            self.halves.add(_PERIOD_HALF[period])

    def range(self, start: _Ref, end: _Ref) -> None:
        """A bare end of a range takes am/pm from the other end when that keeps it in order
        ("9-11am" is 9am to 11am, "6-8pm" 6pm to 8pm); else it is read as any bare time
        ("10-2pm": 10am, the one in the usual hours; "between 3 and 1pm": 3pm, so unclear)."""
        if start.bare and end.suffixed:
            start = _same_half(start, end.fixed, lambda t: t < end.fixed)
        elif end.bare and start.suffixed:
            end = _same_half(end, start.fixed, lambda t: t > start.fixed)
        self.slots.extend((_Slot(start, "from"), _Slot(end, "until")))

    def days(self) -> frozenset[int]:
        """ "tue", "tue/wed", "mon, wed and fri", "mon-fri", "weekdays or saturday". A day
        twice ("not monday monday") is a contradiction or a slip: unclear either way."""
        days = self.day_item()
        while True:
            if self.kind() in ("and", "or") and self.kind(1) == "days":
                self.pos += 1
            elif self.kind() != "days":
                return days
            more = self.day_item()
            if days & more:
                raise _Unclear
            days |= more

    def day_item(self) -> frozenset[int]:
        """One day or group of days; "mon-fri" and "friday to monday" are every day between."""
        days = self.need("days").value
        if (
            len(days) == 1
            and self.kind() == "to"
            and self.kind(1) == "days"
            and len(last := self.tokens[self.pos + 1].value) == 1
        ):
            self.pos += 2
            first, span = int(days), (int(last) - int(days)) % 7
            return frozenset((first + i) % 7 for i in range(span + 1))
        return frozenset(int(d) for d in days)

    def time(self) -> _Ref:
        """One time: "2", "2pm", "14:30", "0930", "half 2", "quarter to 3", "noon",
        "8 in the evening", "12 noon", "2 o'clock"."""
        tok = self.need(*_TIME_STARTS)
        if tok.kind == "noon":
            return _Ref(12, 0)
        if tok.kind == "num":
            hour, minute, clock24 = _digits(tok.value)
            if minute == 0 and ":" not in tok.value and "." not in tok.value:
                self.take("oclock")
        else:
            hour, minute, clock24 = _digits(self.need("num").value)
            if clock24 or minute or not 1 <= hour <= 12:
                raise _Unclear
            if tok.kind == "quarterto":
                hour, minute = hour - 1 or 12, 45
            else:
                minute = 30 if tok.kind == "half" else 15
        if half := self.suffix():
            if not 1 <= hour <= 12:  # "13pm", "0pm"
                raise _Unclear
            return _Ref(hour % 12 + (12 if half == "pm" else 0), minute, suffixed=True)
        if hour == 12 and not clock24:
            self.take("noon")  # "12 noon"
        return _Ref(hour, minute, bare=not clock24 and hour != 12)

    def suffix(self) -> str | None:
        if tok := self.take("ampm"):
            return tok.value
        if self.kind() == "period" and self.tokens[self.pos].raw in _SUFFIX_WORDS:
            self.pos += 1
            return _SUFFIX_WORDS[self.tokens[self.pos - 1].raw]
        return None


def _digits(text: str) -> tuple[int, int, bool]:
    """ "2" -> (2, 0, False), "2.30" -> (2, 30, False), "14:30" -> (14, 30, True), "0930" ->
    (9, 30, True): 24-hour when there is a leading zero, four digits, or an hour 0 or 13-23.
    At most four digits in a row get here (longer ones are phone numbers)."""
    if ":" in text or "." in text:
        hours, _, minutes = text.replace(".", ":").partition(":")
        if len(minutes) != 2:
            raise _Unclear
    elif len(text) <= 2:
        hours, minutes = text, "0"
    else:
        hours, minutes = text[:-2], text[-2:]
    hour, minute = int(hours), int(minutes)
    if hour > 23 or minute > 59:
        raise _Unclear
    clock24 = (
        (len(hours) > 1 and hours[0] == "0")
        or len(text) == 4
        and text.isdigit()
        or (not 1 <= hour <= 12)
    )
    return hour, minute, clock24


def _same_half(bare: _Ref, other: time, in_order: Callable[[time], bool]) -> _Ref:
    """`bare` in the half of the day of `other` if that keeps the range in order, else as it
    was (still bare)."""
    same = bare.at("pm" if other.hour >= 12 else "am")
    return _Ref(same.hour, same.minute, suffixed=True) if in_order(same) else bare


# ------------------------------------------------------------------ windows

_T = TypeVar("_T", time, date)


def _either(a: _T | None, b: _T | None, pick: Callable[[_T, _T], _T]) -> _T | None:
    return b if a is None else a if b is None else pick(a, b)


def _meet(a: Window, b: Window) -> Window:
    """What both windows allow."""
    return Window(
        earliest=_either(a.earliest, b.earliest, max),
        latest=_either(a.latest, b.latest, min),
        weekdays=a.weekdays & b.weekdays,
        not_before=_either(a.not_before, b.not_before, max),
    )


def _empty(window: Window) -> bool:
    """Nothing is before 00:00 ("before 12am"); "after 3, before 1pm" allows nothing."""
    latest = window.latest
    return (
        not window.weekdays
        or latest is not None
        and (latest == time(0) or window.earliest is not None and window.earliest >= latest)
    )


def _point_end(start: time) -> time:
    minutes = min(start.hour * 60 + start.minute + AT_SLACK // timedelta(minutes=1), 23 * 60 + 59)
    return time(*divmod(minutes, 60))


def _slot_window(role: _Role, at: time, closes: time) -> Window:
    """A point time allows AT_SLACK after it, but never past the usual closing: "at 3:45" is
    3:45pm to 4pm, so the window we quote back and keep stays in our hours."""
    if role == "from":
        return Window(earliest=at)
    if role == "until":
        return Window(latest=at)
    end = _point_end(at)
    return Window(at, min(end, closes) if at < closes else end)


def _inside(at: time, role: _Role, usual: tuple[time, time]) -> bool:
    """A start may be the opening time, not the closing time; an end the other way round."""
    opens, closes = usual
    return opens < at <= closes if role == "until" else opens <= at < closes


def _shifted(at: time, by: timedelta) -> time:
    """`at` moved by `by`, within the day."""
    minutes = at.hour * 60 + at.minute + by // timedelta(minutes=1)
    return time(*divmod(max(0, min(minutes, 23 * 60 + 59)), 60))


def _candidates(
    slot: _Slot, halves: set[str], usual: tuple[time, time], routine: str | None = None
) -> list[time]:
    """The times a slot may mean: the one written, or for a bare hour the reading inside the
    usual hours; if neither or both are, the half of the day the message names ("tomorrow
    morning after 9"); else both, for the other clauses to choose from. A routine's half
    ("after work": pm) is taken unless the usual hours say the other ("after work at 11"):
    then both, and the person is asked."""
    ref = slot.ref
    if not ref.bare:
        return [ref.fixed]
    both = [ref.at("am"), ref.at("pm")]
    inside = [at for at in both if _inside(at, slot.role, usual)]
    if routine is not None:
        hinted = ref.at(routine)
        return both if len(inside) == 1 and inside[0] != hinted else [hinted]
    if len(inside) == 1:
        return inside
    return [ref.at(next(iter(halves)))] if len(halves) == 1 else both


# More times than this in one message are not one window (and would be slow to try).
_MAX_TIMES = 4


def _resolve(parser: _Parser, usual: tuple[time, time]) -> Reading:
    """Try every reading of the bare times: one window left is a plan, none is unclear, more
    than one is ambiguous (about the first time that differs between them)."""
    slots = parser.slots
    if len(slots) > _MAX_TIMES:
        return Reading("unclear")
    readings: list[tuple[Window, tuple[time, ...]]] = []
    candidates = (_candidates(slot, parser.halves, usual, parser.routine) for slot in slots)
    for times in product(*candidates):
        window = parser.window
        for slot, at in zip(slots, times, strict=True):
            window = _meet(window, _slot_window(slot.role, at, usual[1]))
        if not _empty(window):
            readings.append((window, times))
    windows = {window for window, _ in readings}
    if not windows:
        return Reading("unclear")
    if len(windows) > 1:
        differs = next(i for i in range(len(slots)) if len({t[i] for _, t in readings}) > 1)
        ref = slots[differs].ref
        return Reading("ambiguous", hour=ref.hour, minute=ref.minute)
    window = windows.pop()
    return Reading("anytime") if window.anytime else Reading("plan", window)


def read_safe_time(text: str, today: date, usual: tuple[time, time]) -> Reading:
    """Read `text` (a whole text message) as a safe time. `today` is the local date the
    message arrived ("tomorrow" is today + 1); `usual` is the earliest opening and latest
    closing of the usual week, used to decide whether a bare hour ("after 1") means the
    morning or the afternoon, and for "first thing" and "end of the day"."""
    text = _DOTTED_AMPM.sub(r"\1m", text.lower().translate(_QUOTES))
    about_timing = _about_timing(text)
    if len(text) > _MAX_LENGTH or _PHONE.search(text):
        return Reading("unclear") if about_timing else Reading("none")
    for idiom, word in _IDIOMS:
        text = idiom.sub(word, text)
    text, routine = _without_routine(text)
    tokens = _tokens(text)
    if any(tok.kind == "num" and tok.raw in _NOT_TIMES for tok in tokens) or all(
        tok.kind in _CONNECTORS for tok in tokens
    ):
        return Reading("unclear") if about_timing else Reading("none")
    if any(tok.kind == "unknown" for tok in tokens):
        # Not a time phrase alone; but a time said inside a sentence ("don't call before 2",
        # "after 6pm when he's out", "not while he's home") is never taken as "any time".
        return Reading("unclear") if about_timing or routine else Reading("none")
    parser = _Parser(tokens, today, usual, routine)
    try:
        parser.parse()
    except _Unclear:
        return Reading("unclear")
    return _resolve(parser, usual)


# ------------------------------------------------------------------ in words

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def describe(window: Window) -> str:
    """The window in a few words for advisors and replies: "after 2pm", "before 11am",
    "between 12pm and 2pm", "Tue only", "not Mon", "from Thu 26 Nov"; "any time".

    A point time ("2pm") is shown as the hour it allows, "2pm to 3pm": an advisor must not
    read "around 2pm" as "1:45 will do"."""
    if window.anytime:
        return "any time"
    parts = [_describe_times(window.earliest, window.latest), _describe_days(window.weekdays)]
    if window.not_before is not None:
        day = window.not_before
        parts.append(f"from {_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}")
    return ", ".join(part for part in parts if part)


def _describe_times(earliest: time | None, latest: time | None) -> str:
    if earliest is not None and latest is not None:
        if latest == _point_end(earliest):
            return f"{time_words(earliest)} to {time_words(latest)}"
        return f"between {time_words(earliest)} and {time_words(latest)}"
    if earliest is not None:
        return f"after {time_words(earliest)}"
    if latest is not None:
        return f"before {time_words(latest)}"
    return ""


def _describe_days(days: frozenset[int]) -> str:
    """The shortest of: the days allowed ("Tue and Wed only"), a run of them ("Mon to Thu
    only"), the days not allowed ("not Mon")."""
    if days == ALL_DAYS:
        return ""
    if not days:
        return "never"
    if days == frozenset(range(5)):
        return "weekdays only"
    if days == frozenset({5, 6}):
        return "weekends only"
    others = ALL_DAYS - days
    texts = [_listing(days, "and") + " only"]
    if len(days) >= 3 and (first := _run_start(days)) is not None:
        texts.append(f"{_DAYS[first]} to {_DAYS[(first + len(days) - 1) % 7]} only")
    texts.append("not " + _listing(others, "or"))
    return min(texts, key=len)


def _run_start(days: frozenset[int]) -> int | None:
    """The first day of `days` if they follow one another (Fri, Sat, Sun, Mon: Fri)."""
    starts = [day for day in days if (day - 1) % 7 not in days]
    return starts[0] if len(starts) == 1 else None


def _listing(days: frozenset[int], joiner: str) -> str:
    names = [_DAYS[day] for day in sorted(days)]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {joiner} {names[-1]}"
