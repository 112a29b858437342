"""Operations: /healthz, /metrics behind its token, JSON log lines."""

from __future__ import annotations

import json
import logging

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from ivr.jobs.scheduler import HEARTBEAT_KEY, LOCK_SECONDS
from ivr.ops.health import HEARTBEAT_STALE_SECONDS
from ivr.ops.logs import JsonFormatter, MaskPhoneNumbers
from ivr.store.queue import CallbackQueue
from tests.common import OPEN_AT, SEALER, london, request_callback, twilio_client


def test_healthz_reports_version_redis_and_a_missing_scheduler(app):
    report = app.test_client().get("/healthz").get_json()
    assert report["status"] == "ok" and report["version"]
    assert report["redis"] == "ok"
    assert report["scheduler"] == "not running"


def test_healthz_sees_the_schedulers_heartbeat(app, store):
    store.set(HEARTBEAT_KEY, "2099-01-01T00:00:00+00:00")
    assert app.test_client().get("/healthz").get_json()["scheduler"] == "ok"


def test_healthz_answers_200_when_redis_is_down(make_app):
    app = make_app(redis_url="redis://127.0.0.1:9")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["redis"].startswith("unreachable")


def test_metrics_need_the_token(make_app):
    app = make_app(metrics_token="s3cret")
    client = app.test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert make_app().test_client().get("/metrics").status_code == 404  # no token: off


def metric(app: Flask, name: str, **labels: str) -> float | None:
    """One sample as /metrics shows it now (None: not there). Counters are the process's
    own, kept since it started, so tests compare a value before and after what they do."""
    response = app.test_client().get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def test_metrics_count_requests_by_route_and_callbacks_by_state(make_app, store):
    app = make_app(metrics_token="s3cret")
    request_callback(
        CallbackQueue(store, SEALER), "+447400123456", "sms", london(OPEN_AT), london(OPEN_AT)
    )
    voice_200 = {"route": "/voice", "status": "200"}
    before = metric(app, "helpline_requests_total", **voice_200) or 0.0
    twilio_client(app).post("/voice")
    assert metric(app, "helpline_requests_total", **voice_200) == before + 1
    assert metric(app, "helpline_callbacks", state="due") == 1  # read from this test's store
    assert metric(app, "helpline_callbacks", state="scheduled") == 0
    text = (
        app.test_client()
        .get("/metrics", headers={"Authorization": "Bearer s3cret"})
        .get_data(as_text=True)
    )
    assert "447400" not in text


def test_a_fallback_is_counted(make_app, monkeypatch):
    import ivr.web.voice

    app = make_app(metrics_token="s3cret")
    before = metric(app, "helpline_fallbacks_total", kind="voice") or 0.0
    monkeypatch.setattr(ivr.web.voice, "cached", lambda key, build: 1 / 0)
    twilio_client(app).post("/voice")
    assert metric(app, "helpline_fallbacks_total", kind="voice") == before + 1


def test_a_webhook_logs_one_json_line_with_sid_route_and_duration(app, caplog):
    caplog.set_level(logging.INFO, logger="ivr.requests")
    twilio_client(app).post("/voice")
    record = next(r for r in caplog.records if r.name == "ivr.requests")
    line = json.loads(JsonFormatter().format(record))
    assert line["route"] == "/voice" and line["status"] == 200
    assert line["call_sid"].startswith("CA") and line["duration_ms"] >= 0


def test_json_lines_are_masked_too():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "from %s", ("+447400123456",), None)
    MaskPhoneNumbers().filter(record)
    assert json.loads(JsonFormatter().format(record))["msg"] == "from ***456"


def test_monitoring_is_told_the_truth_while_liveness_stays_200(make_app, store):
    """Found: /healthz answered "ok" throughout a dead Redis. /healthz stays 200 (the process
    still answers callers, with the fallback if need be); /healthz/dependencies is for
    uptime monitors."""
    app = make_app(metrics_token="s3cret")
    client = app.test_client()
    store.set(HEARTBEAT_KEY, "2099-01-01T00:00:00+00:00")
    ok = client.get("/healthz/dependencies")
    assert (ok.status_code, ok.get_json()) == (
        200,
        {
            "status": "ok",
            "redis": "ok",
            "scheduler": "ok",
            "twilio_deletions": "ok",
            "content": "ok",
        },
    )
    store.delete(HEARTBEAT_KEY)
    down = client.get("/healthz/dependencies")
    assert down.status_code == 503
    assert down.get_json()["scheduler"] == "not running"
    assert client.get("/healthz").status_code == 200
    assert metric(app, "helpline_dependency_up", dependency="redis") == 1
    assert metric(app, "helpline_dependency_up", dependency="scheduler") == 0


def test_a_silent_scheduler_is_down_within_a_minute(app, store):
    """Found: /healthz said the scheduler was fine for two minutes after it died."""
    store.set(HEARTBEAT_KEY, "2000-01-01T00:00:00+00:00")
    response = app.test_client().get("/healthz/dependencies")
    assert response.status_code == 503
    assert response.get_json()["scheduler"].startswith("silent for")
    assert LOCK_SECONDS < HEARTBEAT_STALE_SECONDS <= 60  # a standby takes over first


def test_redis_down_is_503_for_monitoring(make_app, tmp_path):
    app = make_app(redis_url="redis://127.0.0.1:9", data_dir=tmp_path)
    response = app.test_client().get("/healthz/dependencies")
    assert response.status_code == 503
    assert response.get_json()["redis"].startswith("unreachable")
