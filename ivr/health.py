"""GET /healthz: 200 with the version whenever the app can answer calls; says whether Redis
and the scheduler are alive without failing the voice path (calls work without them)."""

from __future__ import annotations

from datetime import datetime

import redis
from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

from ivr import __version__, helpline
from ivr.clock import system_clock
from ivr.scheduler import HEARTBEAT_KEY

bp = Blueprint("health", __name__)
STALE_SECONDS = 180


@bp.route("/healthz")
def healthz() -> Response:
    h = helpline()
    report: dict[str, object] = {"status": "ok", "version": __version__}
    try:
        h.redis.ping()
        report["redis"] = "ok"
        beat = h.redis.get(HEARTBEAT_KEY)
        if beat is None:
            report["scheduler"] = "not running"
        else:
            age = (system_clock() - datetime.fromisoformat(beat)).total_seconds()
            report["scheduler"] = "ok" if age < STALE_SECONDS else f"silent for {int(age)} s"
    except redis.RedisError as exc:
        report["redis"] = f"unreachable: {type(exc).__name__}"
        report["scheduler"] = "unknown"
    return jsonify(report)
