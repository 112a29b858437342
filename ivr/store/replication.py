"""Writes a promise rests on, held by a replica before the promise is made (Redis WAIT).

With replicas (Sentinel, or REDIS_WAIT_REPLICAS), a write that a person is told about (a
callback taken, a safe time, a STOP) is followed by `WAIT n timeout` on the same
connection, so it is answered only once n replicas have the write in memory. If they don't
in time, the caller gets NotReplicated, a store error: a text then goes to the durable spool
on the web host's disk (spool.py), as when Redis is down, and the person gets the same reply.
What WAIT does not cover is in the README ("Replicated Redis").

The write and its WAIT go in one pipeline: redis-py sends a pipeline down one connection,
and a retry after a failover sends the whole of it again to the new primary (each script is
safe to run twice), so the WAIT always counts the server that took the write.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.commands.core import Script
from redis.typing import EncodableT, KeyT

from ivr.config import Settings


class NotReplicated(redis.RedisError):
    """The primary took a write but too few replicas acknowledged it in time. `result` is
    the write's own answer (it did happen on the primary, and may yet be lost)."""

    def __init__(self, acknowledged: int, wanted: int, result: Any) -> None:
        super().__init__(f"{acknowledged} of {wanted} replicas acknowledged a write in time")
        self.result = result


@dataclass(frozen=True)
class Replicas:
    """How many replicas must acknowledge a write, and how long to wait for them (0: none,
    the write is answered as soon as the primary has it). With `healthy` (Sentinel), every
    replica the sentinels see up must acknowledge, never fewer than `count`: in a
    SENTINEL FAILOVER the old primary keeps taking writes for a moment after a replica was
    promoted, and the replica still following it would acknowledge writes the promoted one
    never gets; the sentinels still count the promoted one then, so such writes are not
    confirmed."""

    count: int = 0
    timeout_ms: int = 200
    healthy: Callable[[], int] | None = None

    @classmethod
    def of(cls, settings: Settings, client: redis.Redis | None = None) -> Replicas:
        count = settings.wait_replicas
        if count and settings.redis_sentinels and client is not None:
            return cls(count, settings.redis_wait_milliseconds, HealthyReplicas(client))
        return cls(count, settings.redis_wait_milliseconds)

    def wanted(self) -> int:
        if self.count <= 0:
            return 0
        return max(self.count, self.healthy() if self.healthy else 0)


class HealthyReplicas:
    """How many replicas of the primary the sentinels see up (not down), asked at most once
    a second. While none can be asked (redis-py then finds no replicas) the last answer
    stands: with no replica up, no count lets a write through anyway."""

    def __init__(self, client: redis.Redis, seconds: float = 1.0) -> None:
        pool = client.connection_pool
        self.sentinels = getattr(pool, "sentinel_manager", None)
        self.service = getattr(pool, "service_name", "")
        self.seconds = seconds
        self.known, self.asked = 0, -seconds

    def __call__(self) -> int:
        if self.sentinels is None:
            return 0
        now = time.monotonic()
        if now - self.asked >= self.seconds:
            self.asked = now  # meanwhile, other requests use the last answer
            with contextlib.suppress(redis.RedisError):
                found = self.sentinels.discover_slaves(self.service)
                if found:
                    self.known = len(found)
        return self.known


def acknowledged(
    client: redis.Redis,
    replicas: Replicas,
    script: Script,
    keys: Sequence[KeyT] = (),
    args: Sequence[EncodableT] = (),
) -> Any:
    """Run a write script; with replicas, WAIT for them on the same connection and raise
    NotReplicated if too few acknowledge in time."""
    wanted = replicas.wanted()
    if wanted <= 0:
        return script(keys=keys, args=args)
    pipe = client.pipeline(transaction=False)
    script(keys=keys, args=args, client=pipe)
    pipe.wait(wanted, replicas.timeout_ms)
    result, acks = pipe.execute()
    if int(acks) < wanted:
        raise NotReplicated(int(acks), wanted, result)
    return result
