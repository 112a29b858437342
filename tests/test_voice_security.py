"""Only Twilio gets in, every caller gets through (withheld numbers too), and nothing that
identifies a caller reaches the logs."""

from __future__ import annotations

import logging
import sys
from xml.etree import ElementTree

import pytest
from flask import Flask
from twilio.request_validator import RequestValidator

import ivr.web.voice
from ivr.ops.logs import MaskPhoneNumbers
from ivr.simulate import TwilioLikeClient, simulate_call
from tests.common import OPEN_AT, TOKEN, heard, twilio_client

PUBLIC = "https://helpline.example.org"
CALL = {
    "CallSid": "CA" + "b" * 32,
    "AccountSid": "AC" + "0" * 32,
    "From": "+447700900123",
    "To": "+441234567890",
    "CallStatus": "ringing",
}
OTHER_TOKEN = "fedcba9876543210fedcba9876543210"


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def safety(app: Flask) -> str:
    return app.extensions["helpline"].flows.voice.safety


@pytest.fixture
def answered(monkeypatch) -> list[str]:
    """Records each time the call tree actually runs (it asks whether the line is open)."""
    runs: list[str] = []
    real = ivr.web.voice.now_status

    def spy():
        runs.append("ran")
        return real()

    monkeypatch.setattr(ivr.web.voice, "now_status", spy)
    return runs


# ------------------------------------------------------------------ signatures


def test_a_signed_request_is_answered(make_app, answered) -> None:
    app = make_app(OPEN_AT)
    response = twilio_client(app).post("/voice")
    assert response.status_code == 200
    assert safety(app) in heard(response)
    assert answered


@pytest.mark.parametrize(
    ("case", "headers"),
    [
        ("unsigned", {}),
        ("empty signature", {"X-Twilio-Signature": ""}),
        ("garbage", {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}),
        (
            "another account's token",
            {"X-Twilio-Signature": sign("http://localhost/voice", CALL, OTHER_TOKEN)},
        ),
        (
            "signed for a different URL",
            {"X-Twilio-Signature": sign("http://localhost/voice/menu", CALL)},
        ),
        (
            "signed for a different query",
            {"X-Twilio-Signature": sign("http://localhost/voice?menu=open", CALL)},
        ),
        (
            "signed for other form fields",
            {"X-Twilio-Signature": sign("http://localhost/voice", {**CALL, "Digits": "1"})},
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_request_not_signed_by_twilio_is_refused_and_nothing_happens(
    make_app, answered, case: str, headers: dict[str, str]
) -> None:
    app = make_app(OPEN_AT)
    response = app.test_client().post("/voice", data=CALL, headers=headers)
    assert response.status_code == 403
    assert response.mimetype == "text/plain"
    assert "<Response" not in response.get_data(as_text=True)
    assert answered == []


@pytest.mark.parametrize(
    "url",
    [
        "/voice/choice?menu=open&tries=0",
        "/voice/advisor",
        "/voice/screen/result",
        "/voice/page/step1",
    ],
)
def test_every_voice_route_checks_the_signature(make_app, answered, url: str) -> None:
    app = make_app(OPEN_AT)
    response = app.test_client().post(url, data={**CALL, "Digits": "1"})
    assert response.status_code == 403
    assert answered == []


def test_tampering_with_a_signed_request_is_refused(make_app) -> None:
    app = make_app(OPEN_AT)
    fields = {**CALL, "Digits": "2"}
    signature = sign("http://localhost/voice/choice?menu=closed&tries=0", fields)
    client = app.test_client()
    ok = client.post(
        "/voice/choice?menu=closed&tries=0", data=fields, headers={"X-Twilio-Signature": signature}
    )
    assert ok.status_code == 200
    for url, data in [
        ("/voice/choice?menu=open&tries=0", fields),
        ("/voice/choice?menu=closed&tries=0", {**fields, "Digits": "1"}),
    ]:
        response = client.post(url, data=data, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 403


def test_a_signed_get_is_answered(make_app) -> None:
    app = make_app(OPEN_AT)
    url = "/voice/menu?menu=open&tries=1"
    response = app.test_client().get(
        url, headers={"X-Twilio-Signature": sign("http://localhost" + url, {})}
    )
    assert response.status_code == 200
    assert app.test_client().get(url).status_code == 403


def test_behind_a_public_base_url_the_public_address_is_what_counts(make_app) -> None:
    app = make_app(OPEN_AT, public_base_url=PUBLIC)
    response = TwilioLikeClient(app, CALL).post("/voice")
    assert response.status_code == 200
    root = ElementTree.fromstring(response.get_data(as_text=True))
    assert root.find("Gather").get("action").startswith(PUBLIC + "/voice/choice")
    local = app.test_client().post(
        "/voice", data=CALL, headers={"X-Twilio-Signature": sign("http://localhost/voice", CALL)}
    )
    assert local.status_code == 403


def test_behind_a_public_base_url_a_whole_call_goes_through(make_app) -> None:
    app = make_app(OPEN_AT, public_base_url=PUBLIC)
    transcript = simulate_call(app, ["2", "9", "9", "0", "3", "0"])
    assert not [e for e in transcript.events if e["type"] == "error"]
    assert transcript.events[-1]["type"] == "hangup"


PROXY_HEADERS = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "helpline.example.org",
    "X-Forwarded-For": "203.0.113.9",
}


@pytest.mark.parametrize(
    ("trusted_proxies", "peer", "status"),
    [
        (1, "127.0.0.1", 200),  # a tunnel or proxy on this machine (the default proxies)
        (0, "127.0.0.1", 403),
        (1, "203.0.113.5", 403),  # the port reached directly: its X-Forwarded-* are not believed
    ],
)
def test_behind_a_trusted_proxy_the_forwarded_address_is_what_counts(
    make_app, trusted_proxies: int, peer: str, status: int
) -> None:
    app = make_app(OPEN_AT, trusted_proxies=trusted_proxies)
    url = "/voice/choice?menu=open&tries=0"
    fields = {**CALL, "Digits": "3"}
    response = app.test_client().post(
        url,
        data=fields,
        environ_base={"REMOTE_ADDR": peer},
        headers={**PROXY_HEADERS, "X-Twilio-Signature": sign(PUBLIC + url, fields)},
    )
    assert response.status_code == status


def test_percent_escapes_in_a_signed_url_are_checked_as_sent(make_app) -> None:
    """Twilio signs the URL exactly as it calls it; the check must not decode it first."""
    for settings in ({}, {"public_base_url": PUBLIC}):
        app = make_app(OPEN_AT, **settings)
        client = twilio_client(app)
        for url in [
            "/voice/page/a%20b",
            "/voice/page/%C3%A9t%C3%A9",
            "/voice?note=%F0%9F%93%9E",
            "/voice/menu?menu=open&tries=%2D5",
        ]:
            assert client.post(url).status_code == 200, (settings, url)


def test_repeated_failures_raise_the_alarm(make_app, caplog) -> None:
    app = make_app(OPEN_AT)
    client = app.test_client()
    for _ in range(2):
        assert client.post("/voice", data=CALL).status_code == 403
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [
        r for r in caplog.records if r.levelno == logging.WARNING and "rejected" in r.getMessage()
    ]
    assert client.post("/voice", data=CALL).status_code == 403
    [alarm] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "PUBLIC_BASE_URL" in alarm.getMessage()
    assert "TWILIO_AUTH_TOKEN" in alarm.getMessage()


def test_without_a_token_requests_are_accepted_after_a_loud_warning(make_app, caplog) -> None:
    caplog.set_level(logging.WARNING)
    app = make_app(OPEN_AT, twilio_auth_token="")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("TWILIO_AUTH_TOKEN" in r.getMessage() for r in warnings)
    response = app.test_client().post("/voice", data=CALL)
    assert response.status_code == 200
    assert safety(app) in heard(response)


# ------------------------------------------------------------------ every caller gets through


WITHHELD = [
    "anonymous",
    "Anonymous",
    "restricted",
    "unknown",
    "+266696687",
    "+7378742833",
    "+86282452253",
    "+8656696",
    "+2562533",
    "",
    "80085",
    "+447700900123",
    "+12025550123",
    "not a number",
]


@pytest.mark.parametrize("caller", WITHHELD)
def test_withheld_and_odd_caller_ids_get_the_same_call(make_app, caplog, caller: str) -> None:
    app = make_app(OPEN_AT)
    response = twilio_client(app, caller=caller).post("/voice")
    assert response.status_code == 200
    assert safety(app) in heard(response)
    transcript = simulate_call(app, ["3", "0"], caller=caller)
    assert not [e for e in transcript.events if e["type"] == "error"]
    if sum(c.isdigit() for c in caller) >= 5:
        assert caller not in caplog.text


# ------------------------------------------------------------------ nothing personal in the logs


SECRET_SPEECH = "my secret words"


def test_logs_never_hold_a_callers_number_or_words(make_app, caplog, monkeypatch) -> None:
    app = make_app(OPEN_AT, log_level="DEBUG", advisor_numbers=("+442079460001", "+447700900999"))
    caplog.set_level(logging.DEBUG)
    client = twilio_client(app, caller="+447700900123")
    spoken = {"SpeechResult": SECRET_SPEECH, "Confidence": "0.9"}
    for url in [
        "/voice",
        "/voice/choice?menu=open&tries=0",
        "/voice/menu?menu=open&tries=1",
        "/voice/page/step1/choice?tries=0",
        "/voice/page/police/choice?tries=2",
        "/voice/advisor",
        "/voice/advisor/result",
        "/voice/screen/result",
    ]:
        assert client.post(url, spoken).status_code == 200
    # A refused request, and an error, are logged too.
    assert app.test_client().post("/voice", data={**CALL, **spoken}).status_code == 403

    def explode():
        raise ValueError("cannot route +447700900123")

    monkeypatch.setattr(ivr.web.voice, "now_status", explode)
    assert client.post("/voice", spoken).status_code == 200
    assert caplog.records, "nothing was logged: this test would prove nothing"
    assert "***123" in caplog.text
    assert any(r.exc_info for r in caplog.records)
    for text in [caplog.text, *(r.getMessage() for r in caplog.records)]:
        assert "447700900123" not in text
        assert "7700900999" not in text  # an advisor number that failed its check
        assert "secret" not in text


@pytest.mark.parametrize(
    ("message", "hidden"),
    [
        ("call from +44 7700 900123", "7700 900123"),
        ("call from +447700900123", "447700900123"),
        ("call from 07700 900123", "07700 900123"),
        ("call from 07700-900-123 again", "07700-900-123"),
        ("call from 447700900123", "447700900123"),
    ],
)
def test_the_log_filter_masks_phone_numbers(message: str, hidden: str) -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, message, None, None)
    assert MaskPhoneNumbers().filter(record) is True
    assert hidden not in record.getMessage()
    assert record.getMessage().endswith(("***123", "again")) and "***123" in record.getMessage()


@pytest.mark.parametrize(
    "message",
    [
        "call CA0123456789abcdef0123456789abcdef chose police",
        "call CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa from ***123: helpline open",
        "ringing 2 advisors at 11:00",
        "opened at 2026-11-26T10:00:00+00:00",
        "closed from 2026-12-24 to 2027-01-01",
    ],
)
def test_the_log_filter_leaves_other_text_alone(message: str) -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, message, None, None)
    MaskPhoneNumbers().filter(record)
    assert record.getMessage() == message


def test_the_log_filter_masks_numbers_in_arguments_and_tracebacks() -> None:
    try:
        raise ValueError("bad number +447700900123")
    except ValueError:
        record = logging.LogRecord(
            "t", logging.ERROR, __file__, 1, "from %s", ("+447700900123",), sys.exc_info()
        )
    MaskPhoneNumbers().filter(record)
    text = logging.Formatter().format(record)
    assert "447700900123" not in text
    assert "from ***123" in text and "bad number ***123" in text


def test_a_forged_signing_algorithm_is_refused_not_an_error(make_app) -> None:
    app = make_app()
    response = app.test_client().post(
        "/voice",
        data={"CallSid": "CA" + "a" * 32},
        headers={"X-Twilio-Signature": "abc", "X-Twilio-Signature-Settings": "algorithm=BOGUS"},
    )
    assert response.status_code == 403
