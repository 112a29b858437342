"""A person's safe time to be called, read from a text message (pure: no clock, no I/O).

The plan is a window: not before `earliest`, not from `latest` on, only on some weekdays, not
before a date ("tomorrow"). Whether and when a window meets the opening hours is decided in
ivr/promise.py; this module only reads words into a window, or says why it can't.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, time
from typing import Literal

ALL_DAYS: frozenset[int] = frozenset(range(7))  # Monday is 0, as date.weekday()


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
        """The window as stored with a callback (JSON, stable key order)."""
        return json.dumps({
            "earliest": self.earliest.strftime("%H:%M") if self.earliest else None,
            "latest": self.latest.strftime("%H:%M") if self.latest else None,
            "weekdays": "".join(str(d) for d in sorted(self.weekdays)),
            "not_before": self.not_before.isoformat() if self.not_before else None,
        }, sort_keys=True)

    @classmethod
    def loads(cls, text: str) -> Window:
        data = json.loads(text)
        return cls(
            earliest=time.fromisoformat(data["earliest"]) if data.get("earliest") else None,
            latest=time.fromisoformat(data["latest"]) if data.get("latest") else None,
            weekdays=frozenset(int(d) for d in data.get("weekdays", "0123456")),
            not_before=date.fromisoformat(data["not_before"]) if data.get("not_before")
            else None,
        )


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


def read_safe_time(text: str, today: date, usual: tuple[time, time]) -> Reading:
    """Read `text` (a whole text message) as a safe time. `today` is the local date the
    message arrived ("tomorrow" is today + 1); `usual` is the earliest opening and latest
    closing of the usual week, used only to decide whether a bare hour ("after 1") means
    the morning or the afternoon."""
    raise NotImplementedError


def describe(window: Window) -> str:
    """The window in a few words for advisors and replies: "after 2pm", "before 11am",
    "between 12pm and 2pm", "Tue only", "not Mon", "from Thu 26 Nov"; "any time"."""
    raise NotImplementedError
