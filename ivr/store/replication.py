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

from collections.abc import Sequence
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
    the write is answered as soon as the primary has it)."""

    count: int = 0
    timeout_ms: int = 200

    @classmethod
    def of(cls, settings: Settings) -> Replicas:
        return cls(settings.wait_replicas, settings.redis_wait_milliseconds)


def acknowledged(
    client: redis.Redis,
    replicas: Replicas,
    script: Script,
    keys: Sequence[KeyT] = (),
    args: Sequence[EncodableT] = (),
) -> Any:
    """Run a write script; with replicas, WAIT for them on the same connection and raise
    NotReplicated if too few acknowledge in time."""
    if replicas.count <= 0:
        return script(keys=keys, args=args)
    pipe = client.pipeline(transaction=False)
    script(keys=keys, args=args, client=pipe)
    pipe.wait(replicas.count, replicas.timeout_ms)
    result, acks = pipe.execute()
    if int(acks) < replicas.count:
        raise NotReplicated(int(acks), replicas.count, result)
    return result
