"""Counters for the supervisor's picture of the day, kept in Redis without any numbers.

Counting must never affect a call: counts are gathered in memory and written to Redis in
one pipeline about every second by a background thread (Redis fsyncs every write, which
would otherwise cost each call a disk flush), and every failure is swallowed. A crash can
lose the last second of counts; it never loses or delays a call."""

from __future__ import annotations

import atexit
import logging
import statistics
import threading
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import redis

from ivr.store.keys import DEFAULT, Keys
from ivr.store.replies import table

log = logging.getLogger(__name__)
KEEP_DAYS = 40
FLUSH_SECONDS = 1.0


class _Buffer:
    """Pending increments and waits, flushed to Redis by one daemon thread per process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.waits: defaultdict[str, list[int]] = defaultdict(list)
        self.client: redis.Redis | None = None
        self.thread: threading.Thread | None = None

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
        if self.thread is None or not self.thread.is_alive():  # also after a fork
            self.thread = threading.Thread(target=self._run, name="stats-flush", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        while True:
            threading.Event().wait(FLUSH_SECONDS)
            self.flush()

    def flush(self, quiet: bool = False) -> None:
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
    try:
        _buffer.wait(r, keys.stats(now.astimezone(tz).date()) + ":waits", int(seconds))
    except Exception as exc:  # noqa: BLE001
        log.warning("could not record a wait: %s", exc)


def queue_answer_recorded(
    r: redis.Redis, now: datetime, tz: ZoneInfo, seconds: float, keys: Keys = DEFAULT
) -> None:
    """How long a caller waited in the queue before an advisor took them."""
    try:
        _buffer.wait(r, keys.stats(now.astimezone(tz).date()) + ":answer", int(seconds))
    except Exception as exc:  # noqa: BLE001
        log.warning("could not record a time to answer: %s", exc)


def day(r: redis.Redis, when: date, keys: Keys = DEFAULT) -> tuple[dict[str, int], list[int]]:
    flush()
    counters = {k: int(v) for k, v in table(r.hgetall(keys.stats(when))).items()}
    waits = [int(w) for w in r.lrange(keys.stats(when) + ":waits", 0, -1)]
    return counters, waits


def summary(r: redis.Redis, today: date, days: int, keys: Keys = DEFAULT) -> dict[str, object]:
    """Totals over `days` days up to `today`: calls by hour in and out of hours, menu
    choices, callbacks asked / reached / expired, median wait in minutes, per-day series."""
    by_hour = {"open": [0] * 24, "closed": [0] * 24}
    menu: dict[str, int] = {}
    callbacks = {"asked": 0, "reached": 0, "expired": 0}
    waits: list[int] = []
    per_day = []
    for offset in range(days - 1, -1, -1):
        d = today - timedelta(days=offset)
        counters, day_waits = day(r, d, keys)
        waits += day_waits
        per_day.append((d, counters.get("calls", 0), counters.get("cb:asked", 0)))
        for name, value in counters.items():
            parts = name.split(":")
            if parts[0] == "calls" and len(parts) == 3:
                by_hour[parts[1]][int(parts[2])] += value
            elif parts[0] == "menu":
                menu[parts[1]] = menu.get(parts[1], 0) + value
            elif parts[0] == "cb" and parts[1] in callbacks:
                callbacks[parts[1]] += value
    median = round(statistics.median(waits) / 60) if waits else None
    return {
        "by_hour": by_hour,
        "menu": menu,
        "callbacks": callbacks,
        "median_wait_minutes": median,
        "per_day": per_day,
    }
