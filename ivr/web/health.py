"""Health: /healthz for liveness, /healthz/dependencies for monitoring.

A process that can still answer callers (with the fallback, if need be) must stay in a load
balancer's rotation, so /healthz is 200 whenever the app answers at all. Monitoring gets the
truth separately: /healthz/dependencies is 503, with the reason, while Redis or the
scheduler is down, flows/ has a mistake, or texts have waited a day to be deleted from
Twilio (point an uptime monitor at it), and /metrics carries helpline_dependency_up and
helpline_content_ok for alerts.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

from ivr import __version__
from ivr.ops.health import dependencies
from ivr.web.context import helpline

bp = Blueprint("health", __name__)


def _checked() -> dict[str, str]:
    """Redis, the scheduler, and the words and hours: "ok", or the file and line of a
    mistake while the last published version serves in its place."""
    serving = helpline().content.serving
    return {**dependencies(helpline().redis), "content": serving.problem or "ok"}


@bp.route("/healthz")
def healthz() -> Response:
    """Liveness: 200 whenever this process answers (calls still work without Redis)."""
    serving = helpline().content.serving
    return jsonify(
        {
            "status": "ok",
            "version": __version__,
            "content_version": serving.version[:12],
            **_checked(),
        }
    )


@bp.route("/healthz/dependencies")
def healthz_dependencies() -> tuple[Response, int]:
    """For monitoring: 503 with the reason while Redis or the scheduler is down, flows/ has
    a mistake (the last published words and hours serving meanwhile), or Twilio has refused
    a day long to delete a text."""
    found = _checked()
    down = {name: state for name, state in found.items() if state != "ok"}
    body = {"status": "ok" if not down else "degraded", **found}
    return jsonify(body), 503 if down else 200
