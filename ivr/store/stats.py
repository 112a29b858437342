"""Counters for the supervisor's picture of the day, kept in Redis without any numbers.

Each day's counters are kept 40 days; once a day is over, the nightly job adds it to its
month's counters (once: the month remembers the days it holds), kept 26 months so a
funders' report run long after is complete (core/report.py reads them).

Counting must never affect a call: counts are gathered in memory and written to Redis in
one pipeline about every second by a background thread (Redis fsyncs every write, which
would otherwise cost each call a disk flush), and every failure is swallowed. A crash can
lose the last second of counts; it never loses or delays a call."""

from __future__ import annotations

import atexit
import logging
import math
import os
import statistics
import threading
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import redis

from ivr.core.report import QUEUE, add, choice_name, with_waits
from ivr.store.keys import DEFAULT, Keys
from ivr.store.replies import table

log = logging.getLogger(__name__)
KEEP_DAYS = 40
KEEP_MONTHS = 26  # at least 24 months of monthly figures, and the month in progress
FLUSH_SECONDS = 1.0
_DAY = "day:"  # + ISO date: a field of the month's counters saying that day was added

# Add one day's counters, waits and times to answer to its month's, unless that day was
# added already; each list becomes counters of whole minutes (report.wait_counter).
# KEYS: the day's counters, its waits, its times to answer, the month's;
# ARGV: the day (ISO), the month's TTL.
_ADD_DAY_TO_MONTH = """
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[4], 'day:' .. ARGV[1], 1) == 0 then return 0 end
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do redis.call('HINCRBY', KEYS[4], fields[i], fields[i + 1]) end
for _, list in ipairs({{KEYS[2], 'wait:'}, {KEYS[3], 'answer:'}}) do
  for _, seconds in ipairs(redis.call('LRANGE', list[1], 0, -1)) do
    local minutes = math.floor(math.max(0, tonumber(seconds)) / 60)
    redis.call('HINCRBY', KEYS[4], list[2] .. minutes, 1)
  end
end
redis.call('EXPIRE', KEYS[4], ARGV[2])
return 1
"""


class _Buffer:
    """Pending increments and waits, flushed to Redis by one daemon thread per process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # Held for a whole flush, writing included: a flush() returns only once counts an
        # earlier one took are in Redis (else a test emptying the store after flush() could
        # have them land in the next test's store, as it did twice under load).
        self.writing = threading.Lock()
        self.counts: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.waits: defaultdict[str, list[int]] = defaultdict(list)
        self.client: redis.Redis | None = None
        self.pid: int | None = None  # the process whose flushing thread is started

    def add(self, client: redis.Redis, key: str, fields: tuple[str, ...]) -> None:
        with self.lock:
            self.client = client
            for name in fields:
                self.counts[(key, name)] += 1
            self._start()

    def wait(self, client: redis.Redis, key: str, seconds: int) -> None:
        with self.lock:
            self.client = client
            self.waits[key].append(seconds)
            self._start()

    def _start(self) -> None:
        """The flushing thread, started in this process (a forked worker has none of its
        parent's threads) if not yet: asked with each count, so by the process id, not by
        Thread.is_alive (three calls into threading). A thread that could not start is
        asked for again with the next count."""
        if self.pid != os.getpid():
            threading.Thread(target=self._run, name="stats-flush", daemon=True).start()
            self.pid = os.getpid()

    def _run(self) -> None:
        """Flush every FLUSH_SECONDS for as long as the process lives: no error ends it."""
        while True:
            threading.Event().wait(FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the next flush may well succeed
                log.exception("could not write the day's counts")

    def forked(self) -> None:
        """In a forked child (a gunicorn worker): none of its parent's threads, so locks a
        thread of the parent held at the fork are new, and counts the parent holds are the
        parent's to write, not written twice."""
        self.lock, self.writing = threading.Lock(), threading.Lock()
        self.counts, self.waits = defaultdict(int), defaultdict(list)
        self.pid = None

    def flush(self, quiet: bool = False) -> None:
        with self.writing:
            self._flush(quiet)

    def _flush(self, quiet: bool) -> None:
        with self.lock:
            counts, waits, client = self.counts, self.waits, self.client
            self.counts, self.waits = defaultdict(int), defaultdict(list)
        if client is None or not (counts or waits):
            return
        try:
            pipe = client.pipeline(transaction=False)
            keys = {key for key, _ in counts} | set(waits)
            for (key, name), n in counts.items():
                pipe.hincrby(key, name, n)
            for key, values in waits.items():
                pipe.rpush(key, *values)
            for key in keys:
                pipe.expire(key, KEEP_DAYS * 24 * 3600)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001 - counting must never break anything
            (log.debug if quiet else log.warning)(
                "could not write %d counters: %s", len(counts), exc
            )


_buffer = _Buffer()
atexit.register(_buffer.flush, quiet=True)
os.register_at_fork(after_in_child=_buffer.forked)


def flush() -> None:
    """Write pending counts now (before reading them back)."""
    _buffer.flush()


def count(r: redis.Redis, now: datetime, tz: ZoneInfo, *fields: str, keys: Keys = DEFAULT) -> None:
    """Add one to each field of the day's counters; never raises, never waits on Redis."""
    try:
        _buffer.add(r, keys.stats(now.astimezone(tz).date()), fields)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not count %s: %s", fields, exc)


def call_started(
    r: redis.Redis, now: datetime, tz: ZoneInfo, is_open: bool, keys: Keys = DEFAULT
) -> None:
    hour = now.astimezone(tz).hour
    count(r, now, tz, "calls", f"calls:{'open' if is_open else 'closed'}:{hour}", keys=keys)


def wait_recorded(
    r: redis.Redis, now: datetime, tz: ZoneInfo, seconds: float, keys: Keys = DEFAULT
) -> None:
    """How long a person waited from asking to being called (for the median)."""
    _seconds(r, keys.stats_waits(now.astimezone(tz).date()), seconds)


def queue_answer_recorded(
    r: redis.Redis, now: datetime, tz: ZoneInfo, seconds: float, keys: Keys = DEFAULT
) -> None:
    """How long a caller waited in the queue before an advisor took them."""
    _seconds(r, keys.stats_answers(now.astimezone(tz).date()), seconds)


def _seconds(r: redis.Redis, key: str, seconds: float) -> None:
    """One duration into the day's list `key`; never raises, never waits on Redis."""
    try:
        _buffer.wait(r, key, int(seconds))
    except Exception as exc:  # noqa: BLE001 - counting must never break anything
        log.warning("could not record %s: %s", key.rsplit(":", 1)[-1], exc)


def day(r: redis.Redis, when: date, keys: Keys = DEFAULT) -> tuple[dict[str, int], list[int]]:
    flush()
    counters = {k: int(v) for k, v in table(r.hgetall(keys.stats(when))).items()}
    waits = [int(w) for w in r.lrange(keys.stats_waits(when), 0, -1)]
    return counters, waits


def answer_times(r: redis.Redis, when: date, keys: Keys = DEFAULT) -> list[int]:
    """The day's times to answer from the queue, in seconds."""
    flush()
    return [int(s) for s in r.lrange(keys.stats_answers(when), 0, -1)]


def add_day_to_month(r: redis.Redis, when: date, keys: Keys = DEFAULT) -> bool:
    """Add a finished day to its month's counters; False if it was added before (or holds
    nothing). Atomic, so a repeated nightly run, or two, add each day once."""
    flush()
    day_key = keys.stats(when)
    added = r.eval(
        _ADD_DAY_TO_MONTH,
        4,
        day_key,
        keys.stats_waits(when),
        keys.stats_answers(when),
        keys.stats_month(when.strftime("%Y-%m")),
        when.isoformat(),
        KEEP_MONTHS * 31 * 24 * 3600,
    )
    return bool(added)


def days_to_add(today: date) -> list[date]:
    """The finished days whose counters may still be kept (the nightly job adds each)."""
    return [today - timedelta(days=n) for n in range(KEEP_DAYS, 0, -1)]


def month(r: redis.Redis, first: date, today: date, keys: Keys = DEFAULT) -> dict[str, int]:
    """The counters of the month starting on `first`, complete up to now: what was added to
    the month, and the days not added yet (today, or yesterday before the nightly job)."""
    flush()
    stored = table(r.hgetall(keys.stats_month(first.strftime("%Y-%m"))))
    total = {name: int(v) for name, v in stored.items() if not name.startswith(_DAY)}
    when = first
    while when.month == first.month and when <= today:
        if _DAY + when.isoformat() not in stored:
            counters, waits = day(r, when, keys)
            add(total, with_waits(counters, waits, answer_times(r, when, keys)))
        when += timedelta(days=1)
    return total


def nearest_rank(values: list[int], fraction: float) -> int | None:
    """The nearest-rank percentile of `values` (None if there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def summary(r: redis.Redis, today: date, days: int, keys: Keys = DEFAULT) -> dict[str, object]:
    """Totals over `days` days up to `today`: calls by hour in and out of hours, menu
    choices, callbacks asked / reached / expired, median wait in minutes, the in-hours queue
    (callers queued / answered / swapped to a callback / abandoned, and the median and 90th
    percentile time to answer, in seconds), per-day series."""
    by_hour = {"open": [0] * 24, "closed": [0] * 24}
    menu: dict[str, int] = {}
    callbacks = {"asked": 0, "reached": 0, "expired": 0}
    queue = dict.fromkeys((name.removeprefix("q:") for name in QUEUE), 0)
    waits: list[int] = []
    answers: list[int] = []
    per_day = []
    for offset in range(days - 1, -1, -1):
        d = today - timedelta(days=offset)
        counters, day_waits = day(r, d, keys)
        waits += day_waits
        answers += answer_times(r, d, keys)
        per_day.append((d, counters.get("calls", 0), counters.get("cb:asked", 0)))
        for name, value in counters.items():
            parts = name.split(":")
            if parts[0] == "calls" and len(parts) == 3:
                by_hour[parts[1]][int(parts[2])] += value
            elif parts[0] == "menu":
                name = choice_name(parts[1])  # as people call it, not the action's name
                menu[name] = menu.get(name, 0) + value
            elif parts[0] == "cb" and parts[1] in callbacks:
                callbacks[parts[1]] += value
            elif parts[0] == "q" and parts[1] in queue:
                queue[parts[1]] += value
    median = round(statistics.median(waits) / 60) if waits else None
    return {
        "by_hour": by_hour,
        "menu": menu,
        "callbacks": callbacks,
        "median_wait_minutes": median,
        "queue": queue,
        "median_answer_seconds": nearest_rank(answers, 0.5),
        "p90_answer_seconds": nearest_rank(answers, 0.9),
        "per_day": per_day,
    }
