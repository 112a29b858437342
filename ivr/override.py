"""A supervisor's "close the line now": kept in Redis, read by the voice tree, SMS replies and
the scheduler. If Redis can't be read, the normal hours apply."""

from __future__ import annotations

import logging
from datetime import datetime

import redis

from ivr.hours import Override

log = logging.getLogger(__name__)
KEY = "hl:override"


def read_override(r: redis.Redis) -> Override | None:
    """The supervisor's closure; if the store can't be read, None (the normal hours apply:
    callers must still be answered)."""
    try:
        return load_override(r)
    except redis.RedisError as exc:
        log.warning("cannot read a supervisor's closure (%s): the normal hours apply", exc)
        return None


def load_override(r: redis.Redis) -> Override | None:
    """The supervisor's closure, or None; a store error is raised (for commands that must
    say they could not read it)."""
    data = r.hgetall(KEY)
    if not data:
        return None
    until = datetime.fromisoformat(data["until"]) if data.get("until") else None
    return Override(data.get("message", ""), until)


def close_line(r: redis.Redis, message: str, until: datetime | None) -> None:
    r.hset(KEY, mapping={"message": message, "until": until.isoformat() if until else ""})


def reopen_line(r: redis.Redis) -> None:
    r.delete(KEY)
