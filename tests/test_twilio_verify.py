"""`helpline twilio verify`, the go-live check: the number's configuration read from Twilio
(Prism answers as Twilio's spec says), one signed request to the app through its public URL
that is counted nowhere, the checklist of what only a real call confirms, and with --call
one real call to an advisor's stored phone."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
import requests
from click.testing import CliRunner
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from ivr.cli import main
from ivr.store import stats
from ivr.twilio.setup import Wanted
from ivr.twilio.verify import LIVE_ONLY, VERIFY_FIELD, number_findings, signed_check
from tests.common import (
    ACCOUNT_SID,
    HELPLINE,
    OPEN_AT,
    SERVER_POLL_SECONDS,
    TOKEN,
    add_advisor,
    free_port,
)

TODAY = date(2026, 11, 25)  # OPEN_AT's day


@contextmanager
def served(app) -> Iterator[str]:
    """`app` on a real local HTTP port, as the public URL would reach it."""
    port = int(app.extensions["helpline"].settings.public_base_url.rsplit(":", 1)[1])
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": SERVER_POLL_SECONDS}, daemon=True
    )
    thread.start()
    try:
        yield app.extensions["helpline"].settings.public_base_url
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture
def public_app(make_app):
    return make_app(OPEN_AT, public_base_url=f"http://127.0.0.1:{free_port()}")


@pytest.fixture
def verify(cli_env, twilio_api, monkeypatch):
    """verify(*args): `helpline twilio verify --number HELPLINE *args` with real-looking
    credentials, Twilio's REST API answered by Prism, PUBLIC_BASE_URL as given."""

    def run(base_url: str, *args: str):
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
        monkeypatch.setenv("TWILIO_API_BASE_URL", str(twilio_api["twilio_api_base_url"]))
        monkeypatch.setenv("PUBLIC_BASE_URL", base_url)
        monkeypatch.setenv("HELPLINE_NUMBER", HELPLINE)
        return CliRunner().invoke(main, ["twilio", "verify", "--number", HELPLINE, *args])

    return run


def calls_counted(store) -> int:
    stats.flush()
    counts, _ = stats.day(store, TODAY)
    return counts.get("calls", 0)


def test_verify_reads_the_number_asks_the_app_and_lists_what_only_a_real_call_shows(
    public_app, verify, store
) -> None:
    with served(public_app) as base:
        result = verify(base)
    # Prism's example number is not pointed at this app: said, and the check fails.
    assert f"BAD voice_url: (not set) (wanted {base}/voice)" in result.output
    assert "sms_fallback_url: (not set)" in result.output
    assert result.exit_code == 1
    assert "ok  the answer is TwiML (<Response>)" in result.output
    assert "ok  the answer says the 999 line" in result.output
    for item in LIVE_ONLY:
        assert f"[ ] {item}" in result.output
    assert calls_counted(store) == 0  # not in the figures, so not in the report


def test_the_check_is_counted_nowhere_but_a_real_call_is(public_app, store) -> None:
    with served(public_app) as base:
        url, fields, headers = signed_check(base, TOKEN, HELPLINE)
        assert requests.post(url, data=fields, headers=headers, timeout=10).status_code == 200
        assert calls_counted(store) == 0
        real = {k: v for k, v in fields.items() if k != VERIFY_FIELD}
        signed = {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, real)}
        assert requests.post(url, data=real, headers=signed, timeout=10).status_code == 200
        assert calls_counted(store) == 1


def test_the_mark_without_the_signature_is_refused(public_app, store) -> None:
    with served(public_app) as base:
        url, fields, _ = signed_check(base, TOKEN, HELPLINE)
        forged = signed_check(base, "not the auth token" + "0" * 14, HELPLINE)[2]
        assert requests.post(url, data=fields, headers=forged, timeout=10).status_code == 403
        assert requests.post(url, data=fields, timeout=10).status_code == 403


def test_verify_needs_the_public_url(verify) -> None:
    result = verify("")
    assert result.exit_code == 1
    assert "set PUBLIC_BASE_URL" in result.output


def test_an_app_that_does_not_answer_fails_the_check(verify) -> None:
    result = verify(f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 1
    assert "BAD the app did not answer at" in result.output


def test_call_rings_the_advisors_stored_phone_with_the_greeting(public_app, verify, store):
    alex = add_advisor(store, "Alex")
    with served(public_app) as base:
        result = verify(base, "--call", alex.username)
    assert f"Ringing {alex.username} on ***{alex.phone[-3:]} with the greeting" in result.output
    assert alex.phone not in result.output  # masked, as everywhere
    assert "(call CA" in result.output


@pytest.mark.parametrize("who", ["+447400999999", "07400999999", "nobody"])
def test_call_never_rings_a_typed_number(public_app, verify, store, who):
    with served(public_app) as base:
        result = verify(base, "--call", who)
    assert result.exit_code == 1
    assert f"no advisor {who!r}" in result.output
    assert "Ringing" not in result.output
    assert "The number" not in result.output  # refused before anything was asked


class Record:
    voice_url = "https://line.example.org/voice?x=1"
    voice_method = "GET"
    sms_url = "https://line.example.org/sms"
    sms_method = "POST"
    voice_fallback_url = "https://files.example.org/voice.xml"
    sms_fallback_url = ""
    status_callback = "https://line.example.org/voice/callback/call-ended"


def test_query_strings_get_methods_and_missing_fallbacks_are_each_named() -> None:
    wanted = Wanted.for_base("https://line.example.org", None)
    bad = [f.what for f in number_findings(Record(), wanted) if not f.ok]
    assert bad == [
        "voice_url: https://line.example.org/voice?x=1 (wanted https://line.example.org/voice)",
        "voice_url has a query string: remove it",
        "voice_method: GET (wanted POST)",
        "sms_fallback_url: (not set): helpline twilio configure --fallback-url",
    ]


def test_a_number_without_the_call_status_callback_is_named() -> None:
    """Without it, a callback asked for by a caller who hangs up mid-way is lost."""
    wanted = Wanted.for_base("https://line.example.org", None)
    record = Record()
    record.status_callback = ""
    bad = [f.what for f in number_findings(record, wanted) if not f.ok]
    assert (
        "status_callback: (not set) (wanted https://line.example.org/voice/callback/call-ended):"
        " helpline twilio configure"
    ) in bad


class InAService(Record):
    messaging_service_sid = "MG" + "0" * 32


@pytest.mark.parametrize(("record", "warned"), [(Record(), True), (InAService(), False)])
def test_default_keyword_handling_is_a_warning_not_a_failure(record: object, warned: bool) -> None:
    """Twilio answers HELP itself on a number in no Messaging Service: two replies."""
    wanted = Wanted.for_base("https://line.example.org", None)
    warnings = [f for f in number_findings(record, wanted) if f.warning]
    assert bool(warnings) is warned
    assert all(f.ok for f in warnings)
    assert all("Advanced Opt-Out" in f.what for f in warnings)
