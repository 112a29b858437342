"""A month's figures for funders, from the counters the store keeps for it (store/stats.py:
no phone numbers in them): calls in and out of hours, menu choices, callbacks asked for,
reached and expired, the wait from asking to being called, the in-hours queue (callers who
waited, answered, swapped to a callback, hung up; the time to answer), the busiest hours.

Counter names, as stats.py writes them: "calls", "calls:open:<hour>", "calls:closed:<hour>",
"menu:<action>", "cb:asked", "cb:reached", "cb:expired", "q:queued", "q:answered",
"q:swapped", "q:abandoned", "wait:<minutes>" (how many people were called after waiting
that many whole minutes) and "answer:<minutes>" (how many callers an advisor took from the
queue after that many whole minutes there)."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

# Menu actions (flows/voice.toml's `action`) as staff and funders call them.
CHOICE_NAMES = {
    "advisor": "Speak to an advisor",
    "steps": "The five steps",
    "police": "The police and 999",
    "support": "Other support",
    "callback": "Ask for a callback",
}
WAIT = "wait:"
ANSWER = "answer:"
QUEUE = ("q:queued", "q:answered", "q:swapped", "q:abandoned")
BUSIEST = 3  # hours named as the busiest
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> date:
    """The first day of "2026-11"; ValueError saying how to write it otherwise."""
    found = _MONTH.match(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a month: write it as 2026-11")
    return date(int(found[1]), int(found[2]), 1)


def choice_name(action: str) -> str:
    return CHOICE_NAMES.get(action, action.replace("_", " ").capitalize())


def wait_counter(seconds: float, prefix: str = WAIT) -> str:
    """The counter a wait of `seconds` adds one to (`prefix`: WAIT, or ANSWER for a time to
    answer from the queue)."""
    return f"{prefix}{max(0, int(seconds // 60))}"


def add(total: dict[str, int], more: Mapping[str, int]) -> dict[str, int]:
    for name, value in more.items():
        total[name] = total.get(name, 0) + value
    return total


def with_waits(
    counters: Mapping[str, int],
    waits_seconds: Iterable[float],
    answers_seconds: Iterable[float] = (),
) -> dict[str, int]:
    """A day's counters with its lists of waits and of times to answer from the queue
    (seconds) added as counters of whole minutes, as the month keeps them."""
    total = dict(counters)
    for seconds in waits_seconds:
        add(total, {wait_counter(seconds): 1})
    for seconds in answers_seconds:
        add(total, {wait_counter(seconds, ANSWER): 1})
    return total


def percentile(histogram: Mapping[int, int], fraction: float) -> int | None:
    """The nearest-rank percentile of whole minutes counted in `histogram`; None if empty."""
    people = sum(histogram.values())
    if not people:
        return None
    rank = max(1, math.ceil(fraction * people))
    seen = 0
    for minutes in sorted(histogram):
        seen += histogram[minutes]
        if seen >= rank:
            return minutes
    raise AssertionError("unreachable: the ranks add up to `people`")


@dataclass(frozen=True)
class MonthReport:
    month: date  # its first day
    calls_open: int
    calls_closed: int
    calls_by_hour: tuple[int, ...]  # 24 counts, both together
    menu: tuple[tuple[str, int], ...]  # plain names, most chosen first
    asked: int
    reached: int
    expired: int
    called_back: int  # how many waits the two wait figures are from
    median_wait_minutes: int | None
    p90_wait_minutes: int | None
    busiest_hours: tuple[tuple[int, int], ...]  # (hour, calls), busiest first
    queued: int = 0  # callers who waited in the in-hours queue
    answered: int = 0  # of them, taken by an advisor
    swapped: int = 0  # left the queue for a callback that kept their place
    abandoned: int = 0  # hung up while waiting
    median_answer_minutes: int | None = None  # whole minutes (nearest rank), as waits
    p90_answer_minutes: int | None = None
    helpline: str = ""  # its name as staff and funders know it ("": unnamed)
    counted_to: date | None = None  # the last day counted, for a month in progress

    @property
    def title(self) -> str:
        """ "November 2026", or "December 2026, so far (to 7 December)" for a month not
        over yet: a funder must not read a week as a month."""
        name = self.month.strftime("%B %Y")
        if self.counted_to is None:
            return name
        return f"{name}, so far (to {self.counted_to.day} {self.counted_to:%B})"

    @property
    def calls(self) -> int:
        return self.calls_open + self.calls_closed


def month_report(
    month: date, counters: Mapping[str, int], today: date | None = None, helpline: str = ""
) -> MonthReport:
    """The month's figures from its counters; `today` within the month marks it in progress
    (counted to today); `helpline` names whose they are."""
    by_hour = {"open": [0] * 24, "closed": [0] * 24}
    menu: dict[str, int] = {}
    waits: dict[int, int] = {}
    answers: dict[int, int] = {}
    for name, value in counters.items():
        parts = name.split(":")
        if parts[0] == "calls" and len(parts) == 3 and parts[1] in by_hour:
            by_hour[parts[1]][int(parts[2])] += value
        elif parts[0] == "menu" and len(parts) == 2:
            add(menu, {choice_name(parts[1]): value})
        elif name.startswith(WAIT):
            waits[int(name.removeprefix(WAIT))] = value
        elif name.startswith(ANSWER):
            answers[int(name.removeprefix(ANSWER))] = value
    both = tuple(o + c for o, c in zip(by_hour["open"], by_hour["closed"], strict=True))
    busiest = sorted(((h, n) for h, n in enumerate(both) if n), key=lambda x: (-x[1], x[0]))
    return MonthReport(
        month=month,
        calls_open=sum(by_hour["open"]),
        calls_closed=sum(by_hour["closed"]),
        calls_by_hour=both,
        menu=tuple(sorted(menu.items(), key=lambda item: (-item[1], item[0]))),
        asked=counters.get("cb:asked", 0),
        reached=counters.get("cb:reached", 0),
        expired=counters.get("cb:expired", 0),
        called_back=sum(waits.values()),
        median_wait_minutes=percentile(waits, 0.5),
        p90_wait_minutes=percentile(waits, 0.9),
        busiest_hours=tuple(busiest[:BUSIEST]),
        queued=counters.get("q:queued", 0),
        answered=counters.get("q:answered", 0),
        swapped=counters.get("q:swapped", 0),
        abandoned=counters.get("q:abandoned", 0),
        median_answer_minutes=percentile(answers, 0.5),
        p90_answer_minutes=percentile(answers, 0.9),
        helpline=helpline,
        counted_to=today
        if today and (today.year, today.month) == (month.year, month.month)
        else None,
    )


def hour_span(hour: int) -> str:
    return f"{hour:02d}:00–{(hour + 1) % 24:02d}:00"


def calls(n: int) -> str:
    return f"{n} call" if n == 1 else f"{n} calls"


def minutes(value: int | None) -> str:
    return "not enough calls back yet" if value is None else f"{value} min"


def seconds_text(seconds: int | None) -> str:
    """A short time, as the numbers page shows a time to answer: "45 s", "2 min 5 s"."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min" + (f" {seconds % 60} s" if seconds % 60 else "")


def axis_ticks(top: int, most: int = 5) -> list[int]:
    """A chart's scale for counts up to `top`: at most `most` round ticks from 0 (a step of
    1, 2 or 5 times a power of ten), the last at or above `top`."""
    if top <= 0:
        return [0, 1]
    power = 1
    while True:
        for step in (power, 2 * power, 5 * power):
            if math.ceil(top / step) < most:
                return list(range(0, math.ceil(top / step) * step + 1, step))
        power *= 10


def within(value: int | None) -> str:
    """A percentile of whole minutes (each counts the minutes begun, so 0 is under one
    minute) as the time everyone it covers was answered within."""
    return "nobody was answered from the queue" if value is None else f"{value + 1} min"


def figures(report: MonthReport) -> list[tuple[str, str]]:
    """The main figures as (name, value), in the order people read them."""
    return [
        ("Calls", str(report.calls)),
        ("Calls in opening hours", str(report.calls_open)),
        ("Calls out of hours", str(report.calls_closed)),
        ("Callbacks asked for", str(report.asked)),
        ("Callbacks reached", str(report.reached)),
        ("Callbacks expired", str(report.expired)),
        ("Median wait from asking to being called", minutes(report.median_wait_minutes)),
        ("90% were called within", minutes(report.p90_wait_minutes)),
        ("Callers who waited in the queue", str(report.queued)),
        ("Answered by an advisor from the queue", str(report.answered)),
        ("Swapped to a callback, keeping their place", str(report.swapped)),
        ("Hung up while waiting", str(report.abandoned)),
        ("Half of those answered were answered within", within(report.median_answer_minutes)),
        ("90% of those answered were answered within", within(report.p90_answer_minutes)),
    ]


def rows(report: MonthReport) -> list[tuple[str, str]]:
    """The whole report as (figure, value) pairs, in words: its text form."""
    named = [("Helpline", report.helpline)] if report.helpline else []
    table = [*named, ("Month", report.title), *figures(report)]
    table += [(f"Menu: {name}", str(n)) for name, n in report.menu]
    table += [(f"Busy hour: {hour_span(hour)}", calls(n)) for hour, n in report.busiest_hours]
    return table


def as_text(report: MonthReport) -> str:
    width = max(len(name) for name, _ in rows(report))
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows(report)) + "\n"


def measures(report: MonthReport) -> list[tuple[str, str, int | str | None]]:
    """The whole report as (figure, unit, number) for a spreadsheet: numbers only (None: too
    few to tell), every hour of the day (so months line up column by column), after the
    helpline, the month and the last day counted."""
    last = report.counted_to or (report.month + timedelta(days=32)).replace(day=1) - timedelta(1)
    named: list[tuple[str, str, int | str | None]] = [
        ("Helpline", "", report.helpline),
        ("Month", "", report.month.strftime("%Y-%m")),
        ("Counted to", "", last.isoformat()),
    ]
    answered = (report.median_answer_minutes, report.p90_answer_minutes)
    within_minutes = [None if m is None else m + 1 for m in answered]  # as within() says
    return [
        *named,
        ("Calls", "calls", report.calls),
        ("Calls in opening hours", "calls", report.calls_open),
        ("Calls out of hours", "calls", report.calls_closed),
        ("Callbacks asked for", "callbacks", report.asked),
        ("Callbacks reached", "callbacks", report.reached),
        ("Callbacks expired", "callbacks", report.expired),
        ("Median wait from asking to being called", "minutes", report.median_wait_minutes),
        ("90% were called within", "minutes", report.p90_wait_minutes),
        ("Callers who waited in the queue", "callers", report.queued),
        ("Answered by an advisor from the queue", "callers", report.answered),
        ("Swapped to a callback, keeping their place", "callers", report.swapped),
        ("Hung up while waiting", "callers", report.abandoned),
        ("Half of those answered were answered within", "minutes", within_minutes[0]),
        ("90% of those answered were answered within", "minutes", within_minutes[1]),
        *((f"Menu: {name}", "calls", n) for name, n in report.menu),
        *((f"Calls {hour_span(h)}", "calls", n) for h, n in enumerate(report.calls_by_hour)),
    ]


def as_csv(report: MonthReport) -> str:
    """Three rows: the figures' names, their units, the numbers (a month to a row, so months
    can be put one under another)."""
    table = measures(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _, _ in table])
    writer.writerow([unit for _, unit, _ in table])
    writer.writerow(["" if value is None else value for _, _, value in table])
    return out.getvalue()
