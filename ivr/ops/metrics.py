"""Prometheus metrics at /metrics (prometheus-client; multiprocess mode under gunicorn when
PROMETHEUS_MULTIPROC_DIR is set, see gunicorn.conf.py), and one structured log line per
webhook request with its Twilio SID, route and duration. Never a number, never a body."""

from __future__ import annotations

import functools
import hmac
import logging
import os
import time
from typing import TYPE_CHECKING

from flask import Flask, Response, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from ivr.content.published import SHORT
from ivr.core.clock import Clock
from ivr.ops.health import DependencyCollector
from ivr.store import Unavailable, purges
from ivr.store.published import ContentWatch
from ivr.twilio import webhooks

if TYPE_CHECKING:
    from ivr.services import Services

log = logging.getLogger("ivr.requests")

REQUESTS = Counter("helpline_requests_total", "Requests by route and status", ["route", "status"])
LATENCY = Histogram(
    "helpline_request_seconds",
    "Time to answer, by route",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
FALLBACKS = Counter(
    "helpline_fallbacks_total",
    "Callers who got the safe fallback answer (signed requests only)",
    ["kind"],
)
REJECTED = Counter(
    "helpline_rejected_requests_total",
    "Requests refused: unsigned or not signed by Twilio (webhooks), or a body "
    "too large, too slow or cut short, or a form with too many fields (any path)",
    ["group", "reason"],
)
WEBHOOK_PREFIXES = (webhooks.path(webhooks.VOICE), webhooks.path(webhooks.SMS))


class CallbackCollector:
    """Callbacks by state, read from Redis at scrape time (so every process agrees)."""

    def __init__(self, services: Services) -> None:
        self.client, self.keys = services.redis, services.keys

    def collect(self):
        family = GaugeMetricFamily("helpline_callbacks", "Callbacks by state", labels=["state"])
        try:
            for state in ("held", "scheduled", "due", "claimed", "ended"):
                family.add_metric([state], self.client.zcard(self.keys.place(state)))
        except Unavailable:
            return
        yield family


class PurgeCollector:
    """The backlog of inbound messages and media still to delete from Twilio, and how long
    the oldest has waited: read from Redis at scrape time (the scheduler deletes, the web
    serves /metrics). A backlog that keeps ageing means bodies stay in Twilio's log."""

    def __init__(self, services: Services, clock: Clock) -> None:
        self.client, self.clock = services.redis, clock

    def collect(self):
        try:
            backlog = purges.backlog(self.client, self.clock())
        except Unavailable:
            return
        yield GaugeMetricFamily(
            "helpline_twilio_purge_backlog",
            "Inbound messages whose body or media are still to be deleted from Twilio",
            value=backlog.size,
        )
        yield GaugeMetricFamily(
            "helpline_twilio_purge_oldest_seconds",
            "How long the oldest message still to be deleted from Twilio has waited",
            value=backlog.oldest_seconds,
        )


# The parts of the app a refused request can be counted against. Labels come only from this
# set, never from the request: each new label value is a new time series in every worker's
# files, so labels taken from the path let anyone grow /metrics without bound (and put their
# text, a phone number, in it).
ROUTE_GROUPS = frozenset({"voice", "sms", "console", "metrics", "healthz", "static"})


class ContentCollector:
    """The published words and hours this process serves (helpline_content_info, by
    version), and helpline_content_ok: 0 while flows/ has a mistake or a published copy was
    refused, the last good version serving meanwhile (store/published.py)."""

    def __init__(self, content: ContentWatch) -> None:
        self.content = content

    def collect(self):
        serving = self.content.serving
        info = GaugeMetricFamily(
            "helpline_content_info",
            "The words and hours served: their published version and time",
            labels=["version", "published"],
        )
        published = serving.published.published_at.isoformat() if serving.published else ""
        info.add_metric([serving.version[:SHORT], published], 1)
        yield info
        yield GaugeMetricFamily(
            "helpline_content_ok",
            "1 when flows/ loaded; 0 while a mistake leaves the last published version serving",
            value=0 if serving.problem else 1,
        )


def route_group(path: str) -> str:
    """ "voice", "sms", "console"…: the part of the app a refused request was aimed at, or
    "other" for anything else (a path no route of ours starts with)."""
    first = path.strip("/").split("/", 1)[0]
    return first if first in ROUTE_GROUPS else "other"


def count_rejected(path: str, reason: str) -> None:
    """One more refusal in helpline_rejected_requests_total, by route group and reason."""
    _rejected(route_group(path), reason).inc()


@functools.cache  # bounded: ROUTE_GROUPS and "other", times the reasons in the code
def _rejected(group: str, reason: str) -> Counter:
    """The label child, looked up once (labels() takes a lock and checks its values)."""
    return REJECTED.labels(group, reason)


def note(detail: str) -> None:
    """What a webhook decided ("helpline open", "chose steps"), said once, in the request's
    own log line: one line per request, not one per decision. Outside a request (a kept
    text replayed in the background) it goes to the log as a line of its own."""
    if has_request_context():
        g.setdefault("notes", []).append(detail)
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

    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def observe(response: Response) -> Response:
        started = g.pop("started", None)
        if started is None:
            return response
        seconds = time.perf_counter() - started
        route = request.url_rule.rule if request.url_rule else "unmatched"
        requests, latency = children_of(route, response.status_code)
        requests.inc()
        latency.observe(seconds)
        # A request refused for its signature is logged by the guard, which sums repeats up:
        # one line each here would let a flood of junk write as many lines as it sends.
        if request.path.startswith(WEBHOOK_PREFIXES) and not g.get("signature_rejected"):
            fields: dict[str, object] = {
                "route": route,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 1),
            }
            fields["call_sid"] = request.values.get("CallSid", "")[:64]
            fields["message_sid"] = request.values.get("MessageSid", "")[:64]
            notes = g.pop("notes", None)
            # What was decided goes in the message only: as an extra field too it was masked
            # a second time, and no formatter writes it.
            log.info(
                "%s %s %d%s",
                request.method,
                route,
                response.status_code,
                f": {'; '.join(notes)}" if notes else "",
                extra=fields,
            )
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
