"""Once-only marks of the scheduler's jobs (an opening's texts, a night's expiry): whoever
sets the mark first does the work, once, also across a failover.

A mark is taken by a script that sets it unless someone else holds it, so a retry of the
same take (its connection broke, a failover) finds its own mark and still counts as taken.
With replicas, the work is done only once a replica holds the mark: a mark only the lost
primary held would let the next leader do the work again. A mark no replica acknowledged
in time is taken back (the work is tried again on the next tick).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

import redis

from ivr.store.replication import NotReplicated, Replicas, acknowledged

log = logging.getLogger(__name__)

_TAKE = """
-- KEYS: the mark; ARGV: this taker's value, seconds
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""

_GIVE_BACK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Marks:
    def __init__(self, client: redis.Redis, replicas: Replicas) -> None:
        self.r, self.replicas = client, replicas
        self._take = client.register_script(_TAKE)
        self._give_back = client.register_script(_GIVE_BACK)

    def held(self, key: str) -> bool:
        """Whether someone has taken the mark (a dry run only looks)."""
        return bool(self.r.exists(key))

    def take(self, key: str, now: datetime, seconds: int) -> bool:
        """Whether this caller got the mark (and is to do the work)."""
        value = f"{now.isoformat()} {secrets.token_hex(6)}"
        try:
            return bool(acknowledged(self.r, self.replicas, self._take, [key], [value, seconds]))
        except NotReplicated as exc:
            log.warning("a job's once-only mark is not on a replica: trying again later (%s)", exc)
            if exc.result:
                self._give_back(keys=[key], args=[value])
            return False
