"""The front door under abuse: oversized and slow bodies, and what reaches the app.

In-process: the body limits and deadline (ivr/serving.py) on fake input streams, and through
the real app. Timings are asserted in seconds, against Twilio's 15 s, never in milliseconds."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import gevent
import pytest
from werkzeug.test import create_environ

from ivr.serving import (
    BODY_SECONDS,
    CLOSE_CONNECTION,
    CONSOLE_MAX_BODY,
    TWILIO_MAX_BODY,
    RequestLimits,
)
from tests.conftest import parse_twiml

ANSWERED_WITHIN = 5  # seconds: well inside Twilio's 15


# ------------------------------------------------------------------ in-process: the middleware


class Stream:
    """A request body: `data`, then (if `endless`) zeros forever; each read can wait
    cooperatively first, as a gevent socket waits for a slow client."""

    def __init__(self, data: bytes = b"", endless: bool = False, wait: float = 0) -> None:
        self.data = io.BytesIO(data)
        self.endless = endless
        self.wait = wait
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        if self.wait:
            gevent.sleep(self.wait)
        chunk = self.data.read(size) or (b"\0" * size if self.endless else b"")
        self.read_bytes += len(chunk)
        return chunk


@dataclass
class Seen:
    """What the wrapped app was given."""

    called: bool = False
    body: bytes = b""


def call(path: str, stream: Stream, length: int | None, body_seconds: float = BODY_SECONDS,
         chunked: bool = False) -> tuple[str, Seen, dict]:
    """POST `path` through RequestLimits; its status, what the app saw, and the environ."""
    seen = Seen()

    def app(environ, start_response):
        seen.called = True
        seen.body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    environ = create_environ(path, method="POST")
    environ["wsgi.input"] = stream
    environ.pop("CONTENT_LENGTH", None)
    if length is not None:
        environ["CONTENT_LENGTH"] = str(length)
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True  # as gunicorn says of a chunked body
    statuses = []
    b"".join(RequestLimits(app, body_seconds)(environ, lambda s, h: statuses.append(s)))
    return statuses[0], seen, environ


def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body():
    stream = Stream(b"x" * 1024, endless=True)
    status, seen, environ = call("/voice", stream, length=400 * 1024 * 1024)

    assert status.startswith("413")
    assert stream.read_bytes == 0
    assert not seen.called
    assert environ[CLOSE_CONNECTION]


def test_a_chunked_body_is_counted_and_cut_off_at_the_limit():
    stream = Stream(endless=True)
    status, seen, _ = call("/sms", stream, length=None, chunked=True)

    assert status.startswith("413")
    assert stream.read_bytes == TWILIO_MAX_BODY + 1  # one byte over, never more
    assert not seen.called


def test_a_chunked_body_at_the_limit_reaches_the_app_whole():
    body = b"a" * TWILIO_MAX_BODY
    status, seen, _ = call("/sms", Stream(body), length=None, chunked=True)

    assert status.startswith("200")
    assert seen.body == body


def test_a_body_at_its_declared_length_reaches_the_app_whole():
    body = urlencode({"CallSid": "CA" + "a" * 32, "Digits": "1"}).encode()
    status, seen, _ = call("/voice/choice", Stream(body), length=len(body))

    assert status.startswith("200")
    assert seen.body == body


def test_a_slow_body_gets_408_at_the_deadline():
    began = time.monotonic()
    status, seen, environ = call("/voice", Stream(b"CallSid=CA", wait=30), length=1000,
                                 body_seconds=0.5)

    assert status.startswith("408")
    assert time.monotonic() - began < ANSWERED_WITHIN  # not the 30 s the client would take
    assert not seen.called
    assert environ[CLOSE_CONNECTION]


def test_a_body_cut_short_is_refused():
    status, seen, _ = call("/sms", Stream(b"Body=hel"), length=1000)

    assert status.startswith("400")
    assert not seen.called


@pytest.mark.parametrize("path", ["/console/login", "/console", "/console/supervisor/close"])
def test_console_forms_have_their_own_smaller_limit(path):
    size = CONSOLE_MAX_BODY + 1
    assert call(path, Stream(b"a" * size), length=size)[0].startswith("413")
    assert call(path, Stream(b"a" * CONSOLE_MAX_BODY),
                length=CONSOLE_MAX_BODY)[0].startswith("200")
    assert call(path, Stream(endless=True), length=None,
                chunked=True)[1].called is False


@pytest.mark.parametrize("path", ["/sms", "/voice", "/consoles", "/healthz"])
def test_other_paths_have_the_webhooks_limit(path):
    size = CONSOLE_MAX_BODY + 1  # over the console's limit, well under Twilio's
    assert call(path, Stream(b"a" * size), length=size)[0].startswith("200")


# ------------------------------------------------------------------ in-process: the real app


def test_the_app_refuses_an_oversized_body_before_the_signature_check(app, twilio):
    guard = app.extensions["helpline"].guard
    response = app.test_client().post("/voice", data=b"a" * (TWILIO_MAX_BODY + 1),
                                      content_type="application/x-www-form-urlencoded")

    assert response.status_code == 413
    assert not guard.failures  # the signature was never checked, the form never parsed
    assert app.config["MAX_CONTENT_LENGTH"] == TWILIO_MAX_BODY
    parse_twiml(twilio.post("/voice"))  # and Twilio's requests still get their TwiML


def test_the_app_refuses_a_large_console_form(app):
    response = app.test_client().post("/console/login", data={"name": "a" * CONSOLE_MAX_BODY})
    assert response.status_code == 413
