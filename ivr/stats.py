"""Counters for the supervisor's picture of the day, kept in Redis without any numbers.

Counting must never affect a call: every function here swallows its own failures."""

from __future__ import annotations

import logging
import statistics
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import redis

log = logging.getLogger(__name__)
KEEP_DAYS = 40


def _key(day: date) -> str:
    return f"hl:stats:{day.isoformat()}"


def count(r: redis.Redis, now: datetime, tz: ZoneInfo, *fields: str) -> None:
    """Add one to each field of the day's counters; never raises."""
    try:
        key = _key(now.astimezone(tz).date())
        pipe = r.pipeline(transaction=False)
        for name in fields:
            pipe.hincrby(key, name, 1)
        pipe.expire(key, KEEP_DAYS * 24 * 3600)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001 - counting must never break a call
        log.warning("could not count %s: %s", fields, exc)


def call_started(r: redis.Redis, now: datetime, tz: ZoneInfo, is_open: bool) -> None:
    hour = now.astimezone(tz).hour
    count(r, now, tz, "calls", f"calls:{'open' if is_open else 'closed'}:{hour}")


def wait_recorded(r: redis.Redis, now: datetime, tz: ZoneInfo, seconds: float) -> None:
    """How long a person waited from asking to being called (for the median)."""
    try:
        key = _key(now.astimezone(tz).date()) + ":waits"
        r.rpush(key, int(seconds))
        r.expire(key, KEEP_DAYS * 24 * 3600)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not record a wait: %s", exc)


def day(r: redis.Redis, when: date) -> tuple[dict[str, int], list[int]]:
    counters = {k: int(v) for k, v in r.hgetall(_key(when)).items()}
    waits = [int(w) for w in r.lrange(_key(when) + ":waits", 0, -1)]
    return counters, waits


def summary(r: redis.Redis, today: date, days: int) -> dict[str, object]:
    """Totals over `days` days up to `today`: calls by hour in and out of hours, menu
    choices, callbacks asked / reached / expired, median wait in minutes, per-day series."""
    by_hour = {"open": [0] * 24, "closed": [0] * 24}
    menu: dict[str, int] = {}
    callbacks = {"asked": 0, "reached": 0, "expired": 0}
    waits: list[int] = []
    per_day = []
    for offset in range(days - 1, -1, -1):
        d = today - timedelta(days=offset)
        counters, day_waits = day(r, d)
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
    return {"by_hour": by_hour, "menu": menu, "callbacks": callbacks,
            "median_wait_minutes": median, "per_day": per_day}
