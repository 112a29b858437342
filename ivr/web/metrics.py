"""/metrics, and one structured log line per webhook request with its Twilio SID, route and
duration (never a number, never a body): the web's half of the metrics, whose counters and
collectors are in ops/metrics.py."""

from __future__ import annotations

import hmac
import logging
import os
import time

from flask import Flask, Request, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from ivr.ops.health import DependencyCollector
from ivr.ops.logs import write
from ivr.ops.metrics import (
    LATENCY,
    REQUESTS,
    WEBHOOK_PREFIXES,
    CallbackCollector,
    ContentCollector,
    PurgeCollector,
)
from ivr.web.context import asked, first, twilio_fields
from ivr.web.signatures import SIGNATURE_REFUSED

log = logging.getLogger("ivr.requests")


def note(detail: str) -> None:
    """What a webhook decided ("helpline open", "chose steps"), said once, in the request's
    own log line: one line per request, not one per decision. Outside a request (a kept
    text replayed in the background) it goes to the log as a line of its own."""
    state = asked()
    if state is not None:
        state.notes.append(detail)
    else:
        log.info("%s", detail)


def install(app: Flask) -> None:
    h = app.extensions["helpline"]
    # The label children of a route and status, looked up once each (labels() takes a lock
    # and checks its values on every call). Bounded: the app's routes (and "unmatched")
    # times the statuses it answers with.
    children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    def children_of(route: str, status: int) -> tuple[Counter, Histogram]:
        found = children.get((route, status))
        if found is None:
            found = children[route, status] = (
                REQUESTS.labels(route, str(status)),
                LATENCY.labels(route),
            )
        return found

    @app.after_request
    def observe(response: Response) -> Response:
        state = asked()
        if state is None or state.observed:  # (Flask runs this again after an error in it)
            return response
        state.observed = True
        seconds = time.perf_counter() - state.started
        # The object behind the proxy, looked up once (each proxy read is a lookup).
        here: Request = request._get_current_object()  # type: ignore[attr-defined]
        rule = here.url_rule
        route = rule.rule if rule else "unmatched"
        status = response.status_code  # (a property: worked out at each read)
        requests, latency = children_of(route, status)
        requests.inc()
        latency.observe(seconds)
        # A request refused for its signature is logged by the guard, which sums repeats up:
        # one line each here would let a flood of junk write as many lines as it sends.
        if here.path.startswith(WEBHOOK_PREFIXES) and not here.environ.get(SIGNATURE_REFUSED):
            sent = twilio_fields(here)  # read once for both SIDs
            fields: dict[str, object] = {
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
                "call_sid": first(sent, "CallSid")[:64],
                "message_sid": first(sent, "MessageSid")[:64],
            }
            notes = state.notes
            # What was decided goes in the message only: as an extra field too it was masked
            # a second time, and no formatter writes it. Written out once here, with nothing
            # left for logging to put in (the filter and the formatter each did it again).
            line = f"{here.method} {route} {status}"
            write(log, logging.INFO, f"{line}: {'; '.join(notes)}" if notes else line, fields)
        return response

    @app.route("/metrics")
    def metrics() -> Response:
        token = h.settings.metrics_token
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            return Response("Not found\n", status=404, mimetype="text/plain")
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = CollectorRegistry()
            for collector in list(REGISTRY._collector_to_names):  # this process's metrics
                registry.register(collector)
        registry.register(CallbackCollector(h))
        registry.register(PurgeCollector(h, h.clock))
        registry.register(DependencyCollector(h.redis))
        registry.register(ContentCollector(h.content))
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
