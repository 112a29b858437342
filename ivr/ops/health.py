"""What monitoring is told about the parts a call does not need but the helpline does: Redis
and the scheduler (whose heartbeat is in Redis). The web's /healthz routes (web/health.py)
and /metrics (metrics.py) both read it from here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import redis
from prometheus_client.core import GaugeMetricFamily

from ivr.core.clock import system_clock
from ivr.store.keys import SCHEDULER_HEARTBEAT
from ivr.store.replies import maybe_text

# The leader beats every few seconds and holds its lock for 30 s (jobs/scheduler.py); a
# standby has taken over well within this. Silent longer, there is no scheduler.
HEARTBEAT_STALE_SECONDS = 45


def dependencies(client: redis.Redis) -> dict[str, str]:
    """ "ok", or why not, for Redis and the scheduler (whose heartbeat is in Redis)."""
    try:
        client.ping()
        beat = maybe_text(client.get(SCHEDULER_HEARTBEAT))
    except redis.RedisError as exc:
        return {"redis": f"unreachable: {type(exc).__name__}", "scheduler": "unknown"}
    if beat is None:
        return {"redis": "ok", "scheduler": "not running"}
    age = (system_clock() - datetime.fromisoformat(beat)).total_seconds()
    return {
        "redis": "ok",
        "scheduler": "ok" if age < HEARTBEAT_STALE_SECONDS else f"silent for {int(age)} s",
    }


class DependencyCollector:
    """helpline_dependency_up{dependency="redis"|"scheduler"}: 1 or 0, read at scrape time."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "helpline_dependency_up",
            "1 when a dependency answers, 0 when it is down",
            labels=["dependency"],
        )
        for name, state in dependencies(self.client).items():
            family.add_metric([name], 1 if state == "ok" else 0)
        yield family
