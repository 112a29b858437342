"""Requests Twilio did not sign are refused wherever they are sent (known webhook URLs or not),
counted apart by route and reason, and raise the alarm; helpline_fallbacks_total counts only
callers who heard the fallback."""

from __future__ import annotations

import dataclasses
import itertools
import logging

import pytest
from prometheus_client import REGISTRY
from twilio.request_validator import RequestValidator

import ivr.web.voice
from ivr.ops.metrics import route_group
from ivr.web.signatures import ALARM_WINDOW_SECONDS, SignatureGuard, alarm_due
from tests.common import TOKEN, twilio_client

CALL = {"CallSid": "CA" + "c" * 32, "From": "+447700900123", "To": "+441234567890"}
FORGED = {
    "X-Twilio-Signature": RequestValidator("f" * 32).compute_signature(
        "http://localhost/voice", CALL
    )
}

# (method, path, headers): unsigned junk and forgeries, at known and unknown webhook URLs.
JUNK = [
    ("POST", "/voice", {}),
    ("GET", "/voice?From=%2B447700900123", {}),
    ("POST", "/voice/nowhere", {}),
    ("PUT", "/voice/choice?menu=open&tries=0", {}),
    ("POST", "/voice/outbound/nowhere", {}),
    ("POST", "/sms", {}),
    ("GET", "/sms/nowhere", {}),
    ("POST", "/voice", FORGED),
    ("POST", "/voice/nowhere", FORGED),
    ("POST", "/sms", FORGED),
]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def fallbacks() -> float:
    return sample("helpline_fallbacks_total", kind="voice") + sample(
        "helpline_fallbacks_total", kind="sms"
    )


def rejected(group: str | None = None, reason: str | None = None) -> float:
    return sum(
        sample("helpline_rejected_requests_total", group=g, reason=r)
        for g in ([group] if group else ["voice", "sms"])
        for r in ([reason] if reason else ["unsigned", "bad_signature"])
    )


def alarms(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR and "ALARM" in r.getMessage()]


def test_200_unsigned_or_forged_requests_are_refused_counted_apart_and_alarmed(
    make_app, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    app = make_app()
    client = app.test_client()
    before_fallbacks, before = fallbacks(), rejected()
    before_forged = rejected(reason="bad_signature")
    sent = list(itertools.islice(itertools.cycle(JUNK), 200))
    for method, path, headers in sent:
        response = client.open(path, method=method, data=CALL, headers=headers)
        assert response.status_code == 403, (method, path, response.status_code)
        assert b"<Response" not in response.data
    assert fallbacks() == before_fallbacks
    assert rejected() - before == 200
    assert rejected(reason="bad_signature") - before_forged == sum(
        1 for *_, headers in sent if headers
    )
    assert len(alarms(caplog)) == 1  # raised once, not once a request
    message = alarms(caplog)[0].getMessage()
    assert "unsigned" in message and "PUBLIC_BASE_URL" in message
    assert "TWILIO_AUTH_TOKEN" in message
    warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and "rejected a request" in r.getMessage()
    ]
    assert len(warnings) < 10  # while the alarm holds, refusals are counted, not each logged


def test_a_signed_request_to_an_unknown_voice_url_gets_the_fallback_and_counts_as_one(
    make_app,
) -> None:
    app = make_app()
    before_fallbacks, before = fallbacks(), rejected()
    response = twilio_client(app).post("/voice/nowhere")
    assert response.status_code == 200 and b"<Say" in response.data
    assert fallbacks() - before_fallbacks == 1
    assert rejected() == before


def test_a_signed_call_whose_answer_fails_counts_one_fallback(make_app, monkeypatch) -> None:
    app = make_app()
    monkeypatch.setattr(ivr.web.voice, "now_status", lambda: 1 / 0)
    before = fallbacks()
    assert twilio_client(app).post("/voice").status_code == 200
    assert fallbacks() - before == 1


def test_an_outbound_leg_that_fails_is_hung_up_not_counted_as_a_fallback(make_app) -> None:
    app = make_app()
    before = fallbacks()
    response = twilio_client(app).post("/voice/outbound/nowhere")
    assert response.status_code == 200 and b"<Hangup" in response.data
    assert fallbacks() == before


@pytest.mark.parametrize(
    ("path", "group"),
    [
        ("/voice", "voice"),
        ("/voice/outbound/x", "voice"),
        ("/sms", "sms"),
        ("/sms/x", "sms"),
        ("/", "other"),
    ],
)
def test_route_groups(path: str, group: str) -> None:
    assert route_group(path) == group


W = ALARM_WINDOW_SECONDS


@pytest.mark.parametrize(
    ("recent", "alarmed_at", "now", "due"),
    [
        ((), None, 0, False),
        ((0, 1), None, 1, False),  # two refusals: not yet
        ((0, 1, 2), None, 2, True),  # the third within the window
        ((0, 1, W + 1), None, W + 1, False),  # the first has left the window
        ((1, 2, W + 1), None, W + 1, True),
        ((10, 11, 12), 5, 12, False),  # it went off a moment ago: it holds
        ((10, 11, W + 5), 5, W + 5, True),  # a window later, it goes off again
    ],
)
def test_when_the_alarm_goes_off(recent, alarmed_at, now, due) -> None:
    assert alarm_due(recent, alarmed_at, now, 3, W) is due


def test_a_flood_raises_the_alarm_once_a_window_with_the_count(make_app, caplog) -> None:
    caplog.set_level(logging.WARNING)
    now = [0.0]
    guard = SignatureGuard(TOKEN, "", alarm_after=3, clock=lambda: now[0])
    app = make_app()
    app.extensions["helpline"] = dataclasses.replace(app.extensions["helpline"], guard=guard)
    client = app.test_client()
    for second in range(120):
        now[0] = second * 10.0  # 120 refusals over 20 minutes
        assert client.post("/voice", data=CALL).status_code == 403
    raised = alarms(caplog)
    assert len(raised) == 2  # at the third refusal (20 s), and a window later (620 s)
    assert raised[0].getMessage().startswith("ALARM: 3 webhook requests refused since start-up")
    assert (
        raised[1]
        .getMessage()
        .startswith("ALARM: 60 webhook requests refused since the last alarm 10 minutes ago")
    )


# ------------------------------------------------------------------ shared-key webhook rules
# Under a Twilio Webhook Rule, Twilio signs with the rule's SharedKey and its algorithm, and
# says so in X-Twilio-Webhooks-Signature-Settings (https://www.twilio.com/docs/usage/webhooks/
# webhook-shared-keys; twilio-node examples/WebhookSignatureValidation.md).

SHARED, OLD_SHARED = "sharedkey-secret-" + "a" * 24, "sharedkey-secret-" + "b" * 24
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"


def signed_with(secret: str, algorithm: str, rule: bool = True) -> dict[str, str]:
    """The headers Twilio sends for CALL to /voice, signed with `secret`."""
    headers = {
        "X-Twilio-Signature": RequestValidator(secret).compute_signature(
            "http://localhost/voice", CALL, algorithm
        )
    }
    if rule:
        headers[SETTINGS_HEADER] = f"key=webhooks_sharedkey_0123,algorithm={algorithm}"
    return headers


@pytest.mark.parametrize(
    "headers",
    [
        signed_with(SHARED, "HMAC_SHA256"),
        signed_with(SHARED, "HMAC_SHA1"),
        signed_with(OLD_SHARED, "HMAC_SHA256"),  # the key being rotated out still works
        signed_with(TOKEN, "HMAC_SHA1", rule=False),  # URLs under no rule: the auth token
    ],
    ids=["sha256", "sha1", "rotated", "auth-token"],
)
def test_a_request_signed_under_a_shared_key_rule_is_answered(make_app, headers) -> None:
    """Found: the app read the algorithm header but always keyed with the auth token, so
    every request under a shared-key rule was refused."""
    app = make_app(twilio_webhook_shared_keys=(SHARED, OLD_SHARED))
    response = app.test_client().post("/voice", data=CALL, headers=headers)
    assert response.status_code == 200 and b"<Response" in response.data


@pytest.mark.parametrize(
    ("keys", "headers", "reason", "said"),
    [
        (
            (),
            signed_with(SHARED, "HMAC_SHA256"),
            "shared_key_not_set",
            "TWILIO_WEBHOOK_SHARED_KEYS",
        ),
        (
            (OLD_SHARED,),
            signed_with(SHARED, "HMAC_SHA256"),
            "bad_signature",
            "checked with HMAC_SHA256 and TWILIO_WEBHOOK_SHARED_KEYS",
        ),
        (
            (SHARED,),
            signed_with(SHARED, "HMAC_SHA256", rule=False),  # a shared key without the header
            "bad_signature",
            "checked with HMAC_SHA1 and TWILIO_AUTH_TOKEN",
        ),
        (
            (SHARED,),
            {**signed_with(SHARED, "HMAC_SHA256"), SETTINGS_HEADER: "algorithm=MD5"},
            "unknown_algorithm",
            "HMAC_SHA1 and HMAC_SHA256",
        ),
    ],
    ids=["no-key-set", "wrong-key", "no-header", "unknown-algorithm"],
)
def test_a_refused_request_is_logged_with_its_reason_never_the_number(
    make_app, caplog, keys, headers, reason, said
) -> None:
    caplog.set_level(logging.WARNING)
    app = make_app(twilio_webhook_shared_keys=keys)
    before = sample("helpline_rejected_requests_total", group="voice", reason=reason)
    assert app.test_client().post("/voice", data=CALL, headers=headers).status_code == 403
    assert sample("helpline_rejected_requests_total", group="voice", reason=reason) == before + 1
    [line] = [r.getMessage() for r in caplog.records if "rejected a request" in r.getMessage()]
    assert line.startswith("rejected a request to /voice: ") and said in line
    assert "900123" not in caplog.text


def test_a_new_reason_is_logged_even_while_the_alarm_holds(make_app, caplog) -> None:
    """While the alarm holds, repeated refusals are only counted; a refusal for a reason not
    seen since the alarm still gets its line, so a genuine request is never refused
    silently."""
    caplog.set_level(logging.WARNING)
    app = make_app()
    client = app.test_client()
    for _ in range(5):
        assert client.post("/voice", data=CALL).status_code == 403
    assert len(alarms(caplog)) == 1
    caplog.clear()
    assert client.post("/voice", data=CALL).status_code == 403  # counted only
    assert (
        client.post("/voice", data=CALL, headers=signed_with(SHARED, "HMAC_SHA256")).status_code
        == 403
    )
    lines = [r.getMessage() for r in caplog.records if "rejected a request" in r.getMessage()]
    assert len(lines) == 1 and "TWILIO_WEBHOOK_SHARED_KEYS is not set" in lines[0]
