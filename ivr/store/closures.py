"""A supervisor's "close the line now": kept in Redis, read by the voice tree, SMS replies and
the scheduler. If Redis can't be read, the normal hours apply.

Every call asks whether the line is closed, so the web process keeps a local copy
(OverrideWatch): a change is announced on a Redis channel and the copy is dropped at once;
should a message be lost, the copy is re-read after a few seconds anyway.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from datetime import datetime

import redis

from ivr.core.hours import Override
from ivr.store.keys import DEFAULT, Keys
from ivr.store.replies import table

log = logging.getLogger(__name__)


def read_override(r: redis.Redis, keys: Keys = DEFAULT) -> Override | None:
    """The supervisor's closure; if the store can't be read, None (the normal hours apply:
    callers must still be answered)."""
    try:
        return load_override(r, keys)
    except redis.RedisError as exc:
        log.warning("cannot read a supervisor's closure (%s): the normal hours apply", exc)
        return None


def load_override(r: redis.Redis, keys: Keys = DEFAULT) -> Override | None:
    """The supervisor's closure, or None; a store error is raised (for commands that must
    say they could not read it)."""
    data = table(r.hgetall(keys.closure))
    if not data:
        return None
    until = datetime.fromisoformat(data["until"]) if data.get("until") else None
    return Override(data.get("message", ""), until, data.get("message_cy", ""))


def close_line(
    r: redis.Redis,
    message: str,
    until: datetime | None,
    keys: Keys = DEFAULT,
    message_cy: str = "",
) -> None:
    r.hset(
        keys.closure,
        mapping={
            "message": message,
            "until": until.isoformat() if until else "",
            "message_cy": message_cy,
        },
    )
    r.publish(keys.closure_changed, "closed")


def reopen_line(r: redis.Redis, keys: Keys = DEFAULT) -> None:
    r.delete(keys.closure)
    r.publish(keys.closure_changed, "reopened")


class OverrideWatch:
    """This process's copy of the supervisor's closure, for the call path: read from Redis at
    most once per `seconds`, and dropped as soon as a change is announced on the helpline's
    channel (a listener thread, started with the first read). `seconds` 0: always read."""

    def __init__(
        self,
        client: redis.Redis,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        keys: Keys = DEFAULT,
    ) -> None:
        self.client, self.seconds, self.clock, self.keys = client, seconds, clock, keys
        self._generation = 0
        # The copy and when it was read, as one pair: read without the lock by every call
        # (one reference read; under gevent the lock is Python code), set under it.
        self._kept: tuple[Override | None, float] | None = None
        self._listening = False
        self._lock = threading.Lock()

    def current(self) -> Override | None:
        if self.seconds <= 0:
            return read_override(self.client, self.keys)
        self._listen()
        kept = self._kept
        if kept is not None and self.clock() - kept[1] < self.seconds:
            return kept[0]
        with self._lock:
            generation = self._generation
        try:
            value = load_override(self.client, self.keys)
        except redis.RedisError as exc:
            log.warning("cannot read a supervisor's closure (%s): the normal hours apply", exc)
            return None  # not kept: the next call tries again
        with self._lock:
            if generation == self._generation:  # no change announced while we read
                self._kept = (value, self.clock())
        return value

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._kept = None

    def _listen(self) -> None:
        if self._listening:
            return
        self._listening = True
        threading.Thread(
            target=_listener, args=(weakref.ref(self),), name="override-watch", daemon=True
        ).start()


def _listener(watched: weakref.ref[OverrideWatch]) -> None:
    """Drop the copy on every announced change; after a lost connection, drop it too (a
    change may have been missed) and listen again. Ends with the watch it serves (an app no
    longer used), as the content watch does: the suite builds thousands of apps, and each
    thread holding its watch kept them all polling."""
    while (watch := watched()) is not None:
        client, channel = watch.client, watch.keys.closure_changed
        del watch
        try:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(channel)
            while watched() is not None:
                if pubsub.get_message(timeout=1.0) is not None and (watch := watched()):
                    watch.invalidate()
                    del watch
            pubsub.close()
        except Exception as exc:  # noqa: BLE001 - the watch must outlive any one error
            if not isinstance(exc, redis.RedisError):
                log.exception("while watching for a supervisor's closure")
            if watch := watched():
                watch.invalidate()  # a change may have been missed
                del watch
            time.sleep(1)
