"""Which scheduler leads, and whether one is alive: the scheduler's lock (one scheduler runs
jobs, any other waits as a standby), its heartbeat (what monitoring reads, ops/health.py) and
APScheduler's job store, all in the store (jobs/scheduler.py runs them)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import redis
from apscheduler.jobstores.redis import RedisJobStore
from redis.typing import EncodableT

from ivr.config import Settings
from ivr.store import keys
from ivr.store.connection import connect
from ivr.store.replication import NotReplicated, Replicas, acknowledged
from ivr.store.replies import maybe_text

log = logging.getLogger(__name__)

LOCK_SECONDS = 30

# Taking it again is fine (a retry after a broken connection finds its own token).
_ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
return redis.call('DEL', KEYS[1]) else return 0 end
"""


class Leader:
    """A Redis lock with an expiry (keys.SCHEDULER_LOCK): one scheduler runs jobs, any other
    waits as a standby.

    With replicas, a lock counts as taken only once a replica holds it: a lock only the
    lost primary held would let a standby lead beside it after a failover. Even so, a lock
    can be lost in a failover (a replica acknowledged it, another one was promoted); two
    leaders then overlap until the first one's renewal finds the lock gone, and nothing is
    done twice meanwhile: each release is one script that finds its callbacks moved, and
    each once-only job holds a mark of its own (store/marks.py)."""

    def __init__(
        self, r: redis.Redis, seconds: float = LOCK_SECONDS, replicas: Replicas | None = None
    ) -> None:
        self.r, self.seconds = r, seconds
        self.replicas = replicas or Replicas()
        self.token = secrets.token_hex(8)
        self._acquire = r.register_script(_ACQUIRE)
        self._renew = r.register_script(_RENEW)
        self._release = r.register_script(_RELEASE)

    def acquire(self) -> bool:
        args: list[EncodableT] = [self.token, self._milliseconds]
        try:
            return bool(
                acknowledged(self.r, self.replicas, self._acquire, [keys.SCHEDULER_LOCK], args)
            )
        except NotReplicated as exc:
            log.warning("the scheduler lock is not on a replica: not leading yet (%s)", exc)
            self.release()
            return False

    def renew(self) -> bool:
        return bool(self._renew(keys=[keys.SCHEDULER_LOCK], args=[self.token, self._milliseconds]))

    def release(self) -> None:
        self._release(keys=[keys.SCHEDULER_LOCK], args=[self.token])

    @property
    def _milliseconds(self) -> int:
        return max(1, round(self.seconds * 1000))


class Heartbeat:
    """The leader's heartbeat (keys.SCHEDULER_HEARTBEAT), in wall-clock time whatever the
    helpline's clock: it lasts a few lock periods, so a dead scheduler falls silent."""

    def __init__(self, r: redis.Redis) -> None:
        self.r = r

    def beat(self) -> None:
        self.r.set(keys.SCHEDULER_HEARTBEAT, datetime.now(UTC).isoformat(), ex=LOCK_SECONDS * 4)

    def stop(self) -> None:
        """Stopped: say so at once, not when the beat expires."""
        self.r.delete(keys.SCHEDULER_HEARTBEAT)

    def last(self) -> datetime | None:
        """When the leader last beat (None: no scheduler is running)."""
        beat = maybe_text(self.r.get(keys.SCHEDULER_HEARTBEAT))
        return datetime.fromisoformat(beat) if beat else None


class JobStore(RedisJobStore):  # type: ignore[misc]  # APScheduler 3 ships no types
    """APScheduler's jobs in the same store, through a connection pool of our own making
    (bytes: they are pickled), so they follow a Sentinel failover like everything else.

    APScheduler keeps a job as a textual reference to a function; a job read back runs as
    `run[reference]` instead (the leading scheduler's own method), so no module variable
    has to hold the scheduler for those functions to find."""

    def __init__(self, settings: Settings, run: Mapping[str, Callable[[], object]]) -> None:
        super().__init__(
            jobs_key=keys.APSCHEDULER_JOBS,
            run_times_key=keys.APSCHEDULER_RUN_TIMES,
            connection_pool=connect(settings, decode=False).connection_pool,
        )
        self.run = run

    def _reconstitute_job(self, job_state: bytes) -> Any:
        job = super()._reconstitute_job(job_state)
        job.func = self.run.get(job.func_ref, job.func)
        return job
