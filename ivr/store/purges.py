"""Inbound messages and media waiting to be deleted from Twilio: a list in Redis, oldest
first. An entry stays in its place until it is deleted (or Twilio says it is gone), also
while it waits for its next try, so the head is the oldest waiting and its age is the
backlog's age (ops/metrics.py, ops/health.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import redis

from ivr.store.keys import PURGE
from ivr.store.replies import maybe_text, texts


@dataclass(frozen=True)
class Purge:
    """An inbound message to remove from Twilio: its media, and the message itself (so its
    body does not stay in Twilio's log). `queued_at` (epoch seconds) is when it joined the
    backlog; 0 for an entry queued before entries carried it. `tries` counts the attempts
    Twilio did not accept, and `retry_at` (epoch seconds) is the earliest next one."""

    message_sid: str
    media_sids: tuple[str, ...] = field(default_factory=tuple)
    delete_message: bool = True
    queued_at: float = field(default=0.0, compare=False)
    tries: int = field(default=0, compare=False)
    retry_at: float = field(default=0.0, compare=False)

    def dumps(self) -> str:
        data: dict[str, object] = {
            "m": self.message_sid,
            "media": list(self.media_sids),
            "del": self.delete_message,
            "at": self.queued_at,
        }
        if self.tries:
            data |= {"tries": self.tries, "retry": self.retry_at}
        return json.dumps(data)

    @classmethod
    def loads(cls, text: str) -> Purge:
        data = json.loads(text)
        return cls(
            data["m"],
            tuple(data["media"]),
            bool(data["del"]),
            float(data.get("at", 0)),
            int(data.get("tries", 0)),
            float(data.get("retry", 0)),
        )


@dataclass(frozen=True)
class Backlog:
    size: int
    oldest_seconds: float  # age of the oldest entry (0 when empty)


def enqueue(r: redis.Redis, purge: Purge) -> None:
    r.rpush(PURGE, purge.dumps())


def window(r: redis.Redis, start: int, count: int) -> list[str]:
    """Entries `start`… from the head, as stored (pass them back to `remove`)."""
    return texts(r.lrange(PURGE, start, start + count - 1))


def remove(r: redis.Redis, entries: list[str]) -> None:
    """Entries done with (deleted, or never deletable), in one round trip."""
    if not entries:
        return
    pipe = r.pipeline(transaction=False)
    for entry in entries:
        pipe.lrem(PURGE, 1, entry)
    pipe.execute()


def replace(r: redis.Redis, changed: list[tuple[str, str]]) -> None:
    """(entry as stored, its new form) pairs: each new form takes the old one's place, so
    an entry waiting for its next try keeps its place (and its age) in the backlog."""
    if not changed:
        return
    pipe = r.pipeline(transaction=False)
    for old, new in changed:
        pipe.linsert(PURGE, "BEFORE", old, new)
        pipe.lrem(PURGE, 1, old)
    pipe.execute()


def backlog(r: redis.Redis, now: datetime) -> Backlog:
    size = r.llen(PURGE)
    head = maybe_text(r.lindex(PURGE, 0))
    queued_at = Purge.loads(head).queued_at if head else 0.0
    return Backlog(size, max(0.0, now.timestamp() - queued_at) if queued_at else 0.0)
