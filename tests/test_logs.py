"""No phone number reaches the logs. Every test is held to it as it runs (conftest.py's
production_log fails any test that logged one, whatever the order the tests run in); here, a
day's traffic of every kind is run at DEBUG and its whole log, as production writes it, is
read for numbers."""

from __future__ import annotations

import json
import logging

import pytest

from ivr.ops.logs import setup_logging
from ivr.simulate import simulate_call
from tests.common import (
    SENDER,
    add_advisor,
    phone_numbers_in,
    send,
    sign_in_attempt,
    signed_in,
    twilio_client,
)

CALLER = "+447400123456"
OTHER = "07400 123 999"


def test_a_days_traffic_logs_no_phone_number(make_app, store, production_log):
    app = make_app(cookie_secure=False, log_level="DEBUG")
    # A caller asks for a callback on another number, keyed in; one presses nothing.
    simulate_call(app, ["5", "2", "02079460001", "1", "2", "1"], caller=CALLER)
    simulate_call(app, [], caller="+447400123458")
    # Texts, with numbers in what they say; a STOP; a text from abroad.
    send(app, f"please call me on {OTHER} after 2pm", sender=SENDER)
    send(app, "STOP", sender="+447400123457")
    send(app, "hello", sender="+33612345678")
    # Requests not signed by Twilio, numbers in their query and body.
    app.test_client().post("/voice?From=%2B447400123456", data={"From": CALLER})
    app.test_client().post("/sms", data={"From": CALLER, "Body": OTHER})
    # The console: a sign-in, and a stranger trying a number as a name.
    add_advisor(store, "Alex", "+447400123459", on_duty=True)
    signed_in(app).get("/console/")
    sign_in_attempt(app.test_client(), CALLER, "not the password")
    twilio_client(app, caller=CALLER).post("/voice/advisor")

    records = [json.loads(line) for line in production_log.lines]
    loggers = {record["logger"] for record in records}
    # The traffic was logged: each request, the callbacks, the texts, the refusals.
    assert {
        "ivr.requests",
        "ivr.web.voice_callbacks",
        "ivr.actions.texts",
        "ivr.web.signatures",
    } <= loggers
    text = "\n".join(production_log.lines)
    assert phone_numbers_in(text) == []
    assert "***456" in text  # numbers were there, and masked


def test_the_log_is_read_as_production_writes_it(production_log):
    logging.getLogger("ivr.test").warning("a call from %s", CALLER)
    line = json.loads(production_log.lines[-1])
    assert line["msg"] == "a call from ***456"
    assert line["level"] == "WARNING" and line["logger"] == "ivr.test"


def test_every_way_the_tests_write_a_number_is_found():
    written = ["+447400123456", "+44 7400 123456", "%2B447400123456", "07400123456", "07400 123456"]
    for number in written:
        assert phone_numbers_in(f"from {number}.") == [number]
    assert phone_numbers_in("from ***456, call CA0123456789") == []


@pytest.mark.parametrize(
    ("log_level", "twilio_level"),
    [("INFO", logging.WARNING), ("WARNING", logging.WARNING), ("DEBUG", logging.DEBUG)],
)
def test_the_twilio_librarys_request_lines_only_at_debug(log_level, twilio_level):
    """Found: the twilio library logged ten lines per REST call."""
    root, noisy = logging.getLogger(), logging.getLogger("twilio.http_client")
    before = root.level, noisy.level
    try:
        setup_logging(log_level, "text")
        assert noisy.getEffectiveLevel() == twilio_level
    finally:
        root.setLevel(before[0])
        noisy.setLevel(before[1])
