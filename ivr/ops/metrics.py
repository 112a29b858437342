"""Prometheus metrics (prometheus-client; multiprocess mode under gunicorn when
PROMETHEUS_MULTIPROC_DIR is set, see gunicorn.conf.py): the counters and the collectors that
read the store. The web serves them and writes the request line (web/metrics.py). Label
values come from fixed sets, never from a request."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from prometheus_client import (
    Counter,
    Histogram,
)
from prometheus_client.core import GaugeMetricFamily

from ivr.content.published import SHORT
from ivr.core.clock import Clock
from ivr.store import Unavailable, purges
from ivr.store.published import ContentWatch
from ivr.twilio import webhooks

if TYPE_CHECKING:
    from ivr.services import Services


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
    "too large, too slow or cut short, or a form with too many fields (any path), "
    "a body that is not a form (webhooks), or a request gunicorn refused (invalid_http)",
    ["group", "reason"],
)
WEBHOOK_PREFIXES = (webhooks.path(webhooks.VOICE), webhooks.path(webhooks.SMS))


class CallbackCollector:
    """Callbacks by state, read from Redis at scrape time (so every process agrees)."""

    def __init__(self, services: Services) -> None:
        self.queue = services.queue

    def collect(self):
        family = GaugeMetricFamily("helpline_callbacks", "Callbacks by state", labels=["state"])
        try:
            counts = self.queue.counts()
        except Unavailable:
            return
        for state, count in counts.items():
            family.add_metric([state], count)
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
