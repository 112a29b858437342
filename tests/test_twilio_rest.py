"""Our REST requests to Twilio, checked by a Prism mock built from Twilio's own OpenAPI spec
(it answers 422 to anything the real API would refuse): ringing an advisor, texting, setting
up the number, the opening text to advisors on duty, and the static fallback files."""

from __future__ import annotations

from dataclasses import replace
from datetime import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ivr.cli import main
from ivr.config import Settings
from ivr.content.flows import DEFAULT_DIR, load_flows
from ivr.core.clock import fixed_clock
from ivr.core.expiry import Count
from ivr.core.gsm7 import non_gsm7, segments
from ivr.core.phone import mask
from ivr.core.safetime import Window
from ivr.jobs.tasks import Jobs
from ivr.services import build_services
from ivr.store.queue import CallbackQueue
from ivr.twilio.rest import STATUS_EVENTS, call_advisor, rest_client, send_sms
from ivr.twilio.setup import Wanted, compare, configure
from tests.common import (
    ACCOUNT_SID,
    OPEN_AT,
    SEALER,
    TOKEN,
    add_advisor,
    empty,
    london,
    request_callback,
)

HELPLINE = "+441234567890"
BASE = "https://helpline.example.org"
FALLBACK = "https://static.example.org/helpline"
ADVISOR = "+447400123456"


class Recording(TwilioHttpClient):
    """Twilio's own HTTP client, noting each request and the status Prism answered."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, dict[str, object], int]] = []

    def request(
        self,
        method,
        url,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout=None,
        allow_redirects=False,
    ):
        response = super().request(
            method, url, params, data, headers, auth, timeout, allow_redirects
        )
        self.sent.append((method, url, dict(data or {}), response.status_code))
        return response


def settings_for(twilio_api: dict[str, object], **more: object) -> Settings:
    return Settings(
        twilio_auth_token=TOKEN, helpline_number=HELPLINE, public_base_url=BASE
    ).override({**twilio_api, **more})


def recorded_client(settings: Settings) -> tuple[Client, Recording]:
    client = rest_client(settings)
    assert client is not None
    recorder = Recording()
    client.http_client = recorder
    return client, recorder


# ------------------------------------------------------------------ calls and texts


def test_ringing_an_advisor_is_a_request_twilio_accepts(twilio_api):
    settings = settings_for(twilio_api)
    client, recorder = recorded_client(settings)
    sid = call_advisor(client, settings, BASE, ADVISOR, "0123456789abcdef")
    assert sid.startswith("CA") and len(sid) == 34
    [(method, url, data, status)] = recorder.sent
    assert (method, status) == ("POST", 201)
    assert url.endswith(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json")
    assert (data["To"], data["From"]) == (ADVISOR, HELPLINE)
    assert data["Url"] == f"{BASE}/voice/outbound/advisor?cb=0123456789abcdef"
    assert data["StatusCallback"] == f"{BASE}/voice/outbound/status?cb=0123456789abcdef"
    assert list(data["StatusCallbackEvent"]) == STATUS_EVENTS


def test_a_text_is_a_request_twilio_accepts(twilio_api):
    settings = settings_for(twilio_api)
    client, recorder = recorded_client(settings)
    sid = send_sms(client, settings, ADVISOR, "Good morning. 3 waiting for a call back.")
    assert sid.startswith("SM") and len(sid) == 34
    [(method, url, data, status)] = recorder.sent
    assert (method, status) == ("POST", 201)
    assert url.endswith("/Messages.json")
    assert (data["To"], data["From"]) == (ADVISOR, HELPLINE)


# ------------------------------------------------------------------ the number's set-up

WANTED = Wanted.for_base(BASE + "/", FALLBACK + "/")


def test_wanted_urls_are_built_from_the_base_and_fallback():
    assert (
        Wanted(
            f"{BASE}/voice",
            f"{BASE}/sms",
            f"{FALLBACK}/voice.xml",
            f"{FALLBACK}/sms.xml",
            f"{BASE}/voice/callback/call-ended",
        )
        == WANTED
    )
    assert Wanted.for_base(BASE, None).voice_fallback_url is None


def test_configure_sets_the_numbers_webhooks_through_the_api(twilio_api):
    client, recorder = recorded_client(settings_for(twilio_api))
    sid = configure(client, HELPLINE, WANTED)
    assert sid.startswith("PN") and len(sid) == 34
    (look_up, update) = recorder.sent
    assert look_up[0] == "GET" and look_up[3] == 200
    assert (update[0], update[3]) == ("POST", 200)
    assert update[1].endswith(f"/IncomingPhoneNumbers/{sid}.json")
    assert update[2] == {
        "VoiceUrl": f"{BASE}/voice",
        "VoiceMethod": "POST",
        "SmsUrl": f"{BASE}/sms",
        "SmsMethod": "POST",
        "StatusCallback": f"{BASE}/voice/callback/call-ended",
        "StatusCallbackMethod": "POST",
        "VoiceFallbackUrl": f"{FALLBACK}/voice.xml",
        "VoiceFallbackMethod": "GET",
        "SmsFallbackUrl": f"{FALLBACK}/sms.xml",
        "SmsFallbackMethod": "GET",
    }


def test_configure_without_fallbacks_leaves_them_alone(twilio_api):
    client, recorder = recorded_client(settings_for(twilio_api))
    configure(client, HELPLINE, Wanted.for_base(BASE, None))
    assert not any("Fallback" in key for key in recorder.sent[-1][2])


def test_compare_reports_each_setting_against_what_twilio_has(twilio_api):
    client, _ = recorded_client(settings_for(twilio_api))
    rows = compare(client, HELPLINE, WANTED)
    assert [(name, want) for name, want, _, _ in rows] == [
        ("voice_url", f"{BASE}/voice"),
        ("voice_method", "POST"),
        ("sms_url", f"{BASE}/sms"),
        ("sms_method", "POST"),
        ("status_callback", f"{BASE}/voice/callback/call-ended"),
        ("status_callback_method", "POST"),
        ("voice_fallback_url", f"{FALLBACK}/voice.xml"),
        ("sms_fallback_url", f"{FALLBACK}/sms.xml"),
    ]
    for _, want, have, ok in rows:
        assert ok == (want == have)
    # Prism's example number has methods set and no URLs: those are reported as wrong.
    assert {name: ok for name, _, _, ok in rows} == {
        "voice_url": False,
        "voice_method": True,
        "sms_url": False,
        "sms_method": True,
        "status_callback": False,
        "status_callback_method": True,
        "voice_fallback_url": False,
        "sms_fallback_url": False,
    }


def cli_env(twilio_api: dict[str, object]) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_API_BASE_URL": str(twilio_api["twilio_api_base_url"]),
        "PUBLIC_BASE_URL": "",
    }


def test_helpline_twilio_configure(twilio_api):
    result = CliRunner().invoke(
        main,
        [
            "twilio",
            "configure",
            "--number",
            HELPLINE,
            "--base-url",
            BASE,
            "--fallback-url",
            FALLBACK,
        ],
        env=cli_env(twilio_api),
    )
    assert result.exit_code == 0, result.output
    assert f"{HELPLINE} (PN" in result.output
    assert f"voice {BASE}/voice, messaging {BASE}/sms" in result.output
    assert f"fallbacks: {FALLBACK}/voice.xml, {FALLBACK}/sms.xml" in result.output


def test_helpline_twilio_configure_warns_without_a_fallback(twilio_api):
    result = CliRunner().invoke(
        main,
        ["twilio", "configure", "--number", HELPLINE, "--base-url", BASE],
        env=cli_env(twilio_api),
    )
    assert result.exit_code == 0, result.output
    assert "no fallback URLs" in result.output


def test_helpline_twilio_check_fails_when_the_number_does_not_match(twilio_api):
    result = CliRunner().invoke(
        main, ["twilio", "check", "--number", HELPLINE, "--base-url", BASE], env=cli_env(twilio_api)
    )
    assert result.exit_code == 1
    assert f"BAD voice_url: (not set) (should be {BASE}/voice)" in result.output
    assert "ok  voice_method: POST" in result.output


@pytest.mark.parametrize("command", ["configure", "check"])
def test_the_twilio_commands_need_credentials_and_a_base_url(twilio_api, command):
    without_credentials = CliRunner().invoke(
        main,
        ["twilio", command, "--number", HELPLINE, "--base-url", BASE],
        env={**cli_env(twilio_api), "TWILIO_ACCOUNT_SID": ""},
    )
    assert without_credentials.exit_code == 1
    assert "set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN first" in without_credentials.output
    without_base = CliRunner().invoke(
        main, ["twilio", command, "--number", HELPLINE], env=cli_env(twilio_api)
    )
    assert without_base.exit_code == 1
    assert "give --base-url (or set PUBLIC_BASE_URL)" in without_base.output


# ------------------------------------------------------------------ the opening text


@pytest.fixture
def jobs(store_settings, twilio_api):
    """jobs(client, **settings): the scheduler's jobs on the test Redis, at 11:00 on a
    Wednesday, sending through `client` (a recorded REST client, or None)."""

    def make(client: Client | None, send: bool = True, **settings: object) -> Jobs:
        now = london(OPEN_AT)
        services = build_services(
            settings_for(twilio_api, **store_settings, **settings), fixed_clock(now)
        )
        return Jobs(replace(services, twilio=client), send=send)

    return make


def waiting(store, count: int, before: str = "2026-11-25T09:00") -> None:
    """`count` people asked before the opening; they are released at it."""
    at = london(before)
    for i in range(count):
        request_callback(
            CallbackQueue(store, SEALER),
            f"+4474001234{90 + i}",
            "sms",
            at,
            london("2026-11-25T10:00"),
        )


def test_each_advisor_on_duty_gets_one_text_at_opening(store, twilio_api, jobs):
    add_advisor(store, "Alex", "+447400123456", on_duty=True)
    add_advisor(store, "Bea", "+447400123457", on_duty=True)
    add_advisor(store, "Cal", "+447400123458")  # off duty: not texted
    waiting(store, 4)
    client, recorder = recorded_client(settings_for(twilio_api))
    jobs(client).opening(london("2026-11-25T10:00"))
    assert sorted(data["To"] for _, _, data, _ in recorder.sent) == [
        "+447400123456",
        "+447400123457",
    ]
    assert all(status == 201 for *_, status in recorder.sent)  # Prism accepted each
    for _, url, data, _ in recorder.sent:
        assert url.endswith("/Messages.json")
        assert data["From"] == HELPLINE
        assert data["Body"] == (
            "Good morning. 4 waiting for a call back, 0 for the last day, 0 overdue: "
            f"{BASE}/console/"
        )


def test_the_opening_text_names_no_caller(store, twilio_api, jobs):
    add_advisor(store, "Alex", "+447400123456", on_duty=True)
    waiting(store, 1)
    client, recorder = recorded_client(settings_for(twilio_api))
    run = jobs(client)
    run.opening(london("2026-11-25T10:00"))
    [(_, _, data, _)] = recorder.sent
    assert data["Body"].startswith("Good morning. 1 waiting")
    assert "123490" not in data["Body"]
    run.opening(london("2026-11-25T10:01"))  # once per opening
    assert len(recorder.sent) == 1


def test_the_opening_text_counts_callbacks_on_their_last_day(store, twilio_api, jobs):
    add_advisor(store, "Alex", "+447400123456", on_duty=True)
    waiting(store, 3)
    queue = CallbackQueue(store, SEALER)
    last = queue.open_for("+447400123490")
    queue.set_count(last.id, Count(4, london("2026-11-24T10:00").date()))
    client, recorder = recorded_client(settings_for(twilio_api))
    jobs(client).opening(london("2026-11-25T10:00"))
    [(_, _, data, _)] = recorder.sent
    assert data["Body"].startswith("Good morning. 3 waiting for a call back, 1 for the last day")


def test_the_last_day_count_includes_callbacks_due_later_that_day(store, twilio_api, jobs):
    """Found in review: an "after 2pm" callback on its last day was not counted at 10am."""
    add_advisor(store, "Alex", "+447400123456", on_duty=True)
    queue = CallbackQueue(store, SEALER)
    afternoon = request_callback(
        queue,
        "+447400123490",
        "sms",
        london("2026-11-24T19:00"),
        london("2026-11-25T14:00"),
        Window(earliest=time(14)),
    )
    queue.set_count(afternoon.callback_id, Count(4, london("2026-11-24T10:00").date()))
    client, recorder = recorded_client(settings_for(twilio_api))
    jobs(client).opening(london("2026-11-25T10:00"))
    [(_, _, data, _)] = recorder.sent
    assert data["Body"].startswith("Good morning. 1 waiting for a call back, 1 for the last day")


def test_no_text_without_the_helplines_number_to_send_it_from(store, twilio_api, jobs):
    add_advisor(store, "Alex", "+447400123456", on_duty=True)
    client, recorder = recorded_client(settings_for(twilio_api))
    jobs(client, helpline_number="").opening(london("2026-11-25T10:00"))
    assert recorder.sent == []
    empty(store)
    add_advisor(store, "Alex", "+447400123456", on_duty=True)
    jobs(None).opening(london("2026-11-25T10:00"))  # no client: no error


def test_a_job_run_for_another_instant_sends_nothing(store, twilio_api, jobs):
    add_advisor(store, "Alex", "+447400123456", on_duty=True)
    waiting(store, 2)
    client, recorder = recorded_client(settings_for(twilio_api))
    run = jobs(client, send=False)
    report = run.opening(london("2026-11-25T10:00"))
    assert recorder.sent == []
    assert [line for line in report.lines if line.startswith("would text ")] == [
        "would text " + mask("+447400123456") + ": Good morning. 2 waiting for a call back, "
        f"0 for the last day, 0 overdue: {BASE}/console/"
    ]


# ------------------------------------------------------------------ the fallback files


def test_fallback_export_writes_valid_twiml_for_voice_and_text(tmp_path: Path):
    target = tmp_path / "fallback"
    result = CliRunner().invoke(main, ["fallback", "export", str(target)])
    assert result.exit_code == 0, result.output
    assert f"wrote {target / 'voice.xml'}" in result.output
    assert f"wrote {target / 'sms.xml'}" in result.output

    flows = load_flows(DEFAULT_DIR, london(OPEN_AT))
    voice = ElementTree.parse(target / "voice.xml").getroot()
    assert voice.tag == "Response"
    assert [child.tag for child in voice][-1] == "Hangup"
    assert {child.tag for child in voice} == {"Say", "Hangup"}  # nothing dialled, no webhook
    said = [say.text for say in voice.iter("Say")]
    assert any("9 9 9" in line for line in said)  # the safety line
    for line in flows.voice.support:
        assert line in said
    assert said[-1] == flows.voice.fallback[-1]  # goodbye, last
    assert all(
        say.get("voice") == "Polly.Amy" and say.get("language") == "en-GB"
        for say in voice.iter("Say")
    )

    sms = ElementTree.parse(target / "sms.xml").getroot()
    assert sms.tag == "Response"
    [message] = list(sms)
    assert message.tag == "Message"
    assert "999" in message.text
    assert "from 10am to 4pm, Monday to Friday" in message.text
    assert "{" not in message.text
    assert non_gsm7(message.text) == []
    assert segments(message.text) == 1
