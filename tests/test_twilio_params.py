"""What Twilio says is read from what Twilio sent: a POST's form body, never its query string.
The query string is the URL we gave Twilio (our own state: tries, part, lang); a signed
`POST /voice?HelplineVerify=1` or `?From=...` must not speak over the form, where Twilio puts
a POST's parameters (https://www.twilio.com/docs/messaging/guides/webhook-request)."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from ivr.simulate import TwilioLikeClient
from ivr.store import stats
from ivr.twilio.verify import VERIFY_FIELD
from tests.common import (
    ADVISORS,
    CALLER,
    HELPLINE,
    SENDER,
    assert_999_first,
    new_sid,
    path,
    redirect_of,
    replies,
    spoken,
    twilio_client,
    twiml,
)

TODAY = date(2026, 11, 25)  # OPEN_AT's day, make_app's default
OTHER = "+447700900999"


def calls_counted(store) -> int:
    stats.flush()
    counts, _ = stats.day(store, TODAY)
    return counts.get("calls", 0)


def test_a_go_live_mark_in_the_query_does_not_uncount_a_real_call(make_app, store) -> None:
    """The finding: signed `POST /voice?HelplineVerify=1` was taken as `helpline twilio
    verify`'s check, a real call left out of the figures."""
    app = make_app()
    response = twilio_client(app).post(f"/voice?{VERIFY_FIELD}=1")
    assert response.status_code == 200
    assert calls_counted(store) == 1


def test_the_go_live_mark_in_the_form_is_still_the_check(make_app, store) -> None:
    app = make_app()
    response = twilio_client(app).post("/voice", {VERIFY_FIELD: "1"})
    assert response.status_code == 200
    assert calls_counted(store) == 0


def test_a_from_in_the_query_does_not_replace_the_callers(make_app, caplog) -> None:
    app = make_app()
    with caplog.at_level(logging.INFO):
        root = twiml(twilio_client(app).post(f"/voice?From=%2B{OTHER[1:]}"))
    assert f"***{CALLER[-3:]}" in caplog.text
    assert f"***{OTHER[-3:]}" not in caplog.text
    assert_999_first(root, app.extensions["helpline"].flows.voice.safety)


def test_a_from_in_the_query_does_not_replace_the_texters(make_app) -> None:
    """A named sender (not a phone) gets no reply: a query naming one must not silence a
    real texter."""
    app = make_app()
    texter = TwilioLikeClient(app, {"AccountSid": "AC" + "0" * 32, "From": SENDER, "To": HELPLINE})
    response = texter.post("/sms?From=BANK", {"MessageSid": new_sid(), "Body": "hello"})
    assert replies(response)


def test_a_get_still_reads_twilios_parameters_from_its_query(make_app, store) -> None:
    """A URL set to GET gets Twilio's parameters in its query string."""
    app = make_app()
    client = twilio_client(app)
    url = "http://localhost/voice?CallSid=CA" + "b" * 32 + f"&From=%2B{CALLER[1:]}&To=%2B44"
    signature = client.validator.compute_signature(url, {})
    response = app.test_client().get(url, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    assert calls_counted(store) == 1


@pytest.mark.parametrize("n", ["%FF", "%C2%B2", "1" * 5000, "-1", "%EF%BC%91"])
def test_a_bad_rung_in_the_advisor_result_url_gets_the_closed_options_not_an_error(
    make_app, caplog, n: str
) -> None:
    """The finding: signed `POST /voice/advisor/result?n=%FF` raised ValueError (int(rung)),
    logged as ERROR with a traceback. Bad input gets a plain answer."""
    app = make_app(advisor_numbers=ADVISORS)
    with caplog.at_level(logging.INFO):
        response = twilio_client(app).post(
            f"/voice/advisor/result?n={n}", {"DialCallStatus": "no-answer"}
        )
    root = twiml(response)
    assert spoken(root) == [app.extensions["helpline"].flows.voice.advisor["unavailable"]]
    assert path(redirect_of(root)) == "/voice/menu"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
