"""Health: /healthz for liveness, /healthz/dependencies for monitoring.

A process that can still answer callers (with the fallback, if need be) must stay in a load
balancer's rotation, so /healthz is 200 whenever the app answers at all. Monitoring gets the
truth separately: /healthz/dependencies is 503, with the reason, while Redis or the
scheduler is down (point an uptime monitor at it), and /metrics carries
helpline_dependency_up for alerts.
"""

from __future__ import annotations

from datetime import datetime

import redis
from flask import Blueprint, jsonify
from prometheus_client.core import GaugeMetricFamily
from werkzeug.wrappers import Response

from ivr import __version__
from ivr.core.clock import system_clock
from ivr.jobs.scheduler import HEARTBEAT_KEY, HEARTBEAT_STALE_SECONDS
from ivr.store.replies import maybe_text
from ivr.web.app import helpline

bp = Blueprint("health", __name__)


def dependencies(client: redis.Redis) -> dict[str, str]:
    """ "ok", or why not, for Redis and the scheduler (whose heartbeat is in Redis)."""
    try:
        client.ping()
        beat = maybe_text(client.get(HEARTBEAT_KEY))
    except redis.RedisError as exc:
        return {"redis": f"unreachable: {type(exc).__name__}", "scheduler": "unknown"}
    if beat is None:
        return {"redis": "ok", "scheduler": "not running"}
    age = (system_clock() - datetime.fromisoformat(beat)).total_seconds()
    return {
        "redis": "ok",
        "scheduler": "ok" if age < HEARTBEAT_STALE_SECONDS else f"silent for {int(age)} s",
    }


@bp.route("/healthz")
def healthz() -> Response:
    """Liveness: 200 whenever this process answers (calls still work without Redis)."""
    return jsonify({"status": "ok", "version": __version__, **dependencies(helpline().redis)})


@bp.route("/healthz/dependencies")
def healthz_dependencies() -> tuple[Response, int]:
    """For monitoring: 503 with the reason while Redis or the scheduler is down."""
    found = dependencies(helpline().redis)
    down = {name: state for name, state in found.items() if state != "ok"}
    body = {"status": "ok" if not down else "degraded", **found}
    return jsonify(body), 503 if down else 200


class DependencyCollector:
    """helpline_dependency_up{dependency="redis"|"scheduler"}: 1 or 0, read at scrape time."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def collect(self):  # noqa: ANN201 - prometheus-client's collector protocol
        family = GaugeMetricFamily(
            "helpline_dependency_up",
            "1 when a dependency answers, 0 when it is down",
            labels=["dependency"],
        )
        for name, state in dependencies(self.client).items():
            family.add_metric([name], 1 if state == "ok" else 0)
        yield family
