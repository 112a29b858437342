"""What monitoring is told about the parts a call does not need but the helpline does: Redis,
the scheduler (whose heartbeat is in Redis) and the deletion of handled texts from Twilio's
log (a message Twilio has refused to delete for a day: core/deletion.py). The web's /healthz
routes (web/health.py) and /metrics (metrics.py) all read it from here."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily

from ivr.core.clock import system_clock
from ivr.core.deletion import ALARM_SECONDS
from ivr.store import Unavailable, purges
from ivr.store.connection import Store, ping
from ivr.store.leader import Heartbeat

# The leader beats every few seconds and holds its lock for 30 s (jobs/scheduler.py); a
# standby has taken over well within this. Silent longer, there is no scheduler.
HEARTBEAT_STALE_SECONDS = 45


def dependencies(client: Store) -> dict[str, str]:
    """ "ok", or why not, for Redis, the scheduler (whose heartbeat is in Redis) and the
    deletions from Twilio ("twilio_deletions": not ok once the oldest has waited a day)."""
    now = system_clock()
    try:
        ping(client)
        beat = Heartbeat(client).last()
        backlog = purges.backlog(client, now)
    except Unavailable as exc:
        return {
            "redis": f"unreachable: {type(exc).__name__}",
            "scheduler": "unknown",
            "twilio_deletions": "unknown",
        }
    if beat is None:
        scheduler = "not running"
    else:
        age = (now - beat).total_seconds()
        scheduler = "ok" if age < HEARTBEAT_STALE_SECONDS else f"silent for {int(age)} s"
    return {"redis": "ok", "scheduler": scheduler, "twilio_deletions": deletions(backlog)}


def deletions(backlog: purges.Backlog) -> str:
    """ "ok" until the oldest text still to delete from Twilio has waited ALARM_SECONDS."""
    if backlog.oldest_seconds < ALARM_SECONDS:
        return "ok"
    return (
        f"{backlog.size} texts not yet deleted from Twilio, the oldest for "
        f"{int(backlog.oldest_seconds // 3600)} h: see the scheduler's log"
    )


class DependencyCollector:
    """helpline_dependency_up{dependency="redis"|"scheduler"|"twilio_deletions"}: 1 or 0,
    read at scrape time."""

    def __init__(self, client: Store) -> None:
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
