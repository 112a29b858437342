"""The front door under abuse: slow clients, oversized bodies, and what reaches the app.

In-process: the body limits and deadline (ivr/serving.py) on fake input streams, and through
the real app. Against the real server: gunicorn with gunicorn.conf.py (gevent workers), as
the Procfile runs it, on loopback, every process stopped when its test ends. Durations are
bounded; timings are asserted in seconds, against Twilio's 15 s, never in milliseconds."""

from __future__ import annotations

import asyncio
import io
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode
from xml.etree import ElementTree

import gevent
import psutil
import pytest
from prometheus_client import REGISTRY
from twilio.request_validator import RequestValidator
from werkzeug.test import create_environ

from bench.slow import slow_clients
from ivr.web.limits import (
    BODY_SECONDS,
    CLOSE_CONNECTION,
    CONSOLE_MAX_BODY,
    TWILIO_MAX_BODY,
    RequestLimits,
)
from tests.common import DATA_KEY, LOOKUP_KEY, TOKEN, free_port, twiml

PROJECT = Path(__file__).resolve().parent.parent
TWILIO_LIMIT_SECONDS = 15
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


def form_of(size: int) -> bytes:
    """A urlencoded body of exactly `size` bytes: one short field (the field cap passes it)."""
    return b"a=" + b"b" * (size - 2)


@dataclass
class Seen:
    """What the wrapped app was given."""

    called: bool = False
    body: bytes = b""


def call(
    path: str,
    stream: Stream,
    length: int | None,
    body_seconds: float = BODY_SECONDS,
    chunked: bool = False,
) -> tuple[str, Seen, dict]:
    """POST `path` through RequestLimits; its status, what the app saw, and the environ."""
    seen = Seen()

    def app(environ, start_response):
        seen.called = True
        seen.body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    environ = create_environ(path, method="POST")
    environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"  # as Twilio sends
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
    body = form_of(TWILIO_MAX_BODY)
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
    status, seen, environ = call(
        "/voice", Stream(b"CallSid=CA", wait=30), length=1000, body_seconds=0.5
    )

    assert status.startswith("408")
    assert time.monotonic() - began < ANSWERED_WITHIN  # not the 30 s the client would take
    assert not seen.called
    assert environ[CLOSE_CONNECTION]


def test_a_body_cut_short_is_refused():
    status, seen, _ = call("/sms", Stream(b"Body=hel"), length=1000)

    assert status.startswith("400")
    assert not seen.called


@pytest.mark.parametrize(
    ("path", "stream", "length", "reason"),
    [
        ("/voice", Stream(endless=True), 400 * 1024 * 1024, "too_large"),
        ("/sms", Stream(b"Body=hel", wait=30), 1000, "too_slow"),
        ("/sms", Stream(b"Body=hel"), 1000, "cut_short"),
        ("/console/login", Stream(endless=True), CONSOLE_MAX_BODY + 1, "too_large"),
    ],
)
def test_each_refusal_is_counted_for_monitoring(path, stream, length, reason):
    """Found in review: these refusals were logged but never counted, so an attack on the
    front door showed nowhere on the dashboard."""
    group = path.strip("/").split("/")[0]
    labels = {"group": group, "reason": reason}
    before = REGISTRY.get_sample_value("helpline_rejected_requests_total", labels) or 0.0
    call(path, stream, length=length, body_seconds=0.2)
    assert REGISTRY.get_sample_value("helpline_rejected_requests_total", labels) == before + 1


@pytest.mark.parametrize("path", ["/console/login", "/console", "/console/supervisor/close"])
def test_console_forms_have_their_own_smaller_limit(path):
    size = CONSOLE_MAX_BODY + 1
    assert call(path, Stream(form_of(size)), length=size)[0].startswith("413")
    whole = form_of(CONSOLE_MAX_BODY)
    assert call(path, Stream(whole), length=CONSOLE_MAX_BODY)[0].startswith("200")
    assert call(path, Stream(endless=True), length=None, chunked=True)[1].called is False


@pytest.mark.parametrize("path", ["/sms", "/voice", "/consoles", "/healthz"])
def test_other_paths_have_the_webhooks_limit(path):
    size = CONSOLE_MAX_BODY + 1  # over the console's limit, well under Twilio's
    assert call(path, Stream(form_of(size)), length=size)[0].startswith("200")


# ------------------------------------------------------------------ in-process: the real app


def test_the_app_refuses_an_oversized_body_before_the_signature_check(app, twilio):
    guard = app.extensions["helpline"].guard
    response = app.test_client().post(
        "/voice",
        data=b"a" * (TWILIO_MAX_BODY + 1),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 413
    assert not guard.recent  # the signature was never checked, the form never parsed
    assert app.config["MAX_CONTENT_LENGTH"] == TWILIO_MAX_BODY
    twiml(twilio.post("/voice"))  # and Twilio's requests still get their TwiML


def test_the_app_refuses_a_large_console_form(app):
    response = app.test_client().post("/console/login", data={"name": "a" * CONSOLE_MAX_BODY})
    assert response.status_code == 413


# ------------------------------------------------------------------ the real server


@dataclass
class Server:
    base: str
    port: int
    master: psutil.Process
    log: Path

    def workers(self) -> list[psutil.Process]:
        return self.master.children()


def gunicorn_settings(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """gunicorn.conf.py's settings (it sets PROMETHEUS_MULTIPROC_DIR only when unset)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "unused")
    return runpy.run_path(str(PROJECT / "gunicorn.conf.py"))


def health(base: str) -> int | None:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return response.status
    except OSError:
        return None


@pytest.fixture
def web(store, store_settings, tmp_path: Path) -> Iterator[Server]:
    """gunicorn with gunicorn.conf.py and its two workers, as the Procfile runs it, on the
    test Redis; stopped (SIGTERM, then SIGKILL) with every worker when the test ends."""
    env = {
        name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ
    }
    env.update(
        TWILIO_AUTH_TOKEN=TOKEN,
        LOG_FORMAT="text",
        PYTHONUNBUFFERED="1",
        WEB_CONCURRENCY="2",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
        DATA_KEY=DATA_KEY,
        LOOKUP_KEY=LOOKUP_KEY,
    )
    if store_settings.get("redis_url"):
        env["REDIS_URL"] = str(store_settings["redis_url"])
    else:
        env["HELPLINE_DATA_DIR"] = str(store_settings["data_dir"])
    port = free_port()
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "wsgi:app",
                "--bind",
                f"127.0.0.1:{port}",
            ],
            cwd=PROJECT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    master = psutil.Process(popen.pid)
    server = Server(f"http://127.0.0.1:{port}", port, master, log)
    started: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 30
        while health(server.base) != 200 or len(server.workers()) < 2:
            assert popen.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
            time.sleep(0.2)
        started = [master, *server.workers()]
        yield server
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGTERM)
        try:
            popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(timeout=10)
        _, alive = psutil.wait_procs(started, timeout=10)
        assert not alive, f"left running: {alive}"


def call_voice(base: str, i: int) -> tuple[int, str, float]:
    """A signed new call to /voice, as Twilio makes it: status, body and seconds taken."""
    url = f"{base}/voice"
    params = {
        "CallSid": f"CA{i:032x}",
        "AccountSid": "AC" + "0" * 32,
        "From": "+447400123456",
        "To": "+441234567890",
        "CallStatus": "ringing",
    }
    request = urllib.request.Request(
        url,
        data=urlencode(params).encode(),
        headers={"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, params)},
    )
    began = time.monotonic()
    with urllib.request.urlopen(request, timeout=TWILIO_LIMIT_SECONDS + 5) as response:
        return response.status, response.read().decode(), time.monotonic() - began


SLOW_SECONDS = 12  # long enough for every slow connection to meet its deadline at least once


def test_slow_clients_do_not_hold_up_calls_and_are_cut_off(web, monkeypatch):
    header_seconds = gunicorn_settings(monkeypatch)["HEADER_SECONDS"]
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(
            asyncio.run,
            slow_clients("127.0.0.1", web.port, headers=20, bodies=10, seconds=SLOW_SECONDS),
        )
        time.sleep(1)  # every slow connection is open
        calls, i = [], 0
        while not slow.done():
            calls.append(call_voice(web.base, i))
            i += 1
            time.sleep(0.25)
        cuts = slow.result()

    assert "Using worker: HelplineWorker" in web.log.read_text(errors="replace")
    assert len(calls) >= 10
    for status, body, seconds in calls:
        assert status == 200
        assert ElementTree.fromstring(body).tag == "Response"
        assert seconds < ANSWERED_WITHIN
    headers = [c for c in cuts if c.kind == "headers"]
    bodies = [c for c in cuts if c.kind == "body"]
    assert sum(c.by_server for c in headers) >= 20  # each cut off at least once
    assert sum(c.by_server for c in bodies) >= 10
    for cut in headers:  # never longer than the deadline; cut off once it has passed
        assert cut.held < header_seconds + 3
        if cut.by_server:
            assert cut.held > header_seconds - 1
            assert cut.answer == ""  # closed: an unfinished request gets no answer
    for cut in bodies:
        assert cut.held < header_seconds + BODY_SECONDS + 3
        if cut.by_server:
            assert cut.held > BODY_SECONDS - 1
            assert cut.answer.startswith("HTTP/1.1 408")


def test_an_oversized_body_is_refused_at_once_and_never_read_into_memory(web):
    for i in range(20):  # both workers warm: the app loaded, connections to Redis made
        assert call_voice(web.base, i)[0] == 200
    before = sum(w.memory_info().rss for w in web.workers())

    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", web.port), timeout=ANSWERED_WITHIN) as s:
        s.sendall(
            b"POST /voice HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 400000000\r\n\r\n" + b"a=" + b"b" * 4096
        )
        answer = b""
        while chunk := s.recv(65536):  # until the server closes the connection
            answer += chunk
    seconds = time.monotonic() - began
    after = sum(w.memory_info().rss for w in web.workers())

    assert answer.startswith(b"HTTP/1.1 413")
    assert seconds < ANSWERED_WITHIN
    assert after - before < 20 * 1024 * 1024  # 400 MB would show; a few MiB of noise won't
    assert call_voice(web.base, 99)[0] == 200


def raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWERED_WITHIN) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def test_gunicorns_own_lines_are_masked_and_refusals_summed_up(web):
    """gunicorn logs a malformed header before any of our code sees it: the number in it is
    masked all the same; a flood of oversized bodies writes a line or two, not one each."""
    answer = raw(web.port, b"GET /voice HTTP/1.1\r\nHost: x\r\nBad Header 07411222903\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    for _ in range(60):
        raw(
            web.port,
            b"POST /07411222903 HTTP/1.1\r\nHost: x\r\nContent-Length: 400000000\r\n\r\n",
        )
    time.sleep(0.5)  # the workers' lines reach the file
    log = web.log.read_text(errors="replace")
    assert "Invalid HTTP Header" in log or "Bad Header" in log
    assert "07411222903" not in log and "7411222903" not in log
    assert log.count("too large") <= 2 * len(web.workers())  # the first, per worker


def test_gunicorn_runs_the_gevent_worker_with_a_header_deadline(monkeypatch):
    settings = gunicorn_settings(monkeypatch)
    assert settings["worker_class"].__name__ == "HelplineWorker"
    assert settings["worker_class"].__mro__[1].__name__ == "GeventWorker"
    assert 0 < settings["HEADER_SECONDS"] < TWILIO_LIMIT_SECONDS / 2
    assert settings["keepalive"] > 0


def test_gunicorn_refuses_to_start_without_keepalive(tmp_path):
    env = {
        name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ
    }
    # No store that a worker could start: should one start, it leaves nothing behind.
    env.update(REDIS_URL="redis://127.0.0.1:1/0", PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    popen = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "wsgi:app",
            "--bind",
            f"127.0.0.1:{free_port()}",
            "--keep-alive",
            "0",
        ],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, errors = popen.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(popen.pid, signal.SIGKILL)
        popen.communicate()
        pytest.fail("gunicorn started without keepalive")

    assert popen.returncode != 0
    assert "keepalive must be above 0" in errors
