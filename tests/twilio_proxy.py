"""A recording proxy in front of the Prism mock of Twilio's REST API, for the tests.

Every request still goes to Prism, which checks it against Twilio's spec; the proxy keeps
what was asked and what Prism answered, and can do two things Prism can't:
- answer 429 (Too Many Requests) to the first few DELETEs, as Twilio does under load;
- refuse, as Twilio does, to delete a message (or its media) less than a minute old: error
  20009, "Cannot delete this resource before it is complete… please wait at least 1 minute
  to make your DELETE request" (https://www.twilio.com/docs/api/errors/20009). Twilio's page
  gives the error code, not the HTTP status: 400 here, and our rule (retry anything but a
  404) does not depend on it. Its clock is `Recorder.now`, set by the test;
- answer a DELETE of a given message with a status of the test's choosing (`answers`);
- filter like Twilio: Prism answers a Calls or Messages listing with the spec's example
  records whatever the From/To asked for, so the proxy gives each listed record the number
  asked for, and ends the listing after one page (the examples' next-page links point back
  at themselves, or carry query values Twilio's own spec rejects).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests

from tests.common import SERVER_POLL_SECONDS

LISTINGS = {"/Calls.json": "calls", "/Messages.json": "messages"}
MESSAGE_PATH = re.compile(r"/Messages/((?:SM|MM)[0-9a-fA-F]{32})(?:/Media/|\.json)")
COMPLETE_SECONDS = 60  # Twilio: "wait at least 1 minute" (errors/20009)
NOT_COMPLETE = {
    "code": 20009,
    "message": "Cannot delete this resource before it is complete",
    "more_info": "https://www.twilio.com/docs/errors/20009",
    "status": 400,
}
NOT_FOUND = {"code": 20404, "message": "The requested resource was not found", "status": 404}


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int  # what the caller got


@dataclass
class Recorder:
    upstream: str
    throttle_deletes: int = 0  # this many DELETEs get a 429 before any reaches Prism
    seen: list[Seen] = field(default_factory=list)
    # Messages Twilio received, by SID: when (epoch seconds, on the clock `now`). Deleting
    # one, or its media, within COMPLETE_SECONDS of it answers 20009.
    received: dict[str, float] = field(default_factory=dict)
    now: float = 0.0
    answers: dict[str, int] = field(default_factory=dict)  # message SID: DELETE's status
    lock: threading.Lock = field(default_factory=threading.Lock)

    def deletes(self, status: int | None = None) -> list[str]:
        return [
            s.path
            for s in self.seen
            if s.method == "DELETE" and (status is None or s.status == status)
        ]

    def refusal(self, method: str, path: str) -> tuple[int, dict[str, object]] | None:
        """What Twilio answers instead of Prism's 204 to a DELETE of a message or its media:
        the test's chosen status, or 20009 while the message is under a minute old."""
        found = MESSAGE_PATH.search(path) if method == "DELETE" else None
        if found is None:
            return None
        sid = found.group(1)
        status = self.answers.get(sid)
        if status == 404:
            return 404, NOT_FOUND
        if status is not None:
            return status, {"code": 20000 + status, "message": "chosen by a test", "status": status}
        if sid in self.received and self.now - self.received[sid] < COMPLETE_SECONDS:
            return 400, NOT_COMPLETE
        return None

    def listings(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "GET" and s.path.endswith(tuple(LISTINGS))]


def _as_twilio_filters(body: bytes, path: str, query: dict[str, list[str]]) -> bytes:
    data = json.loads(body)
    records = data.get(next(v for k, v in LISTINGS.items() if path.endswith(k)), [])
    for record in records:
        if "From" in query:
            record["from"] = query["From"][0]
        if "To" in query:
            record["to"] = query["To"][0]
    data["next_page_uri"] = None
    return json.dumps(data).encode()


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _forward(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with recorder.lock:
                throttled = self.command == "DELETE" and recorder.throttle_deletes > 0
                if throttled:
                    recorder.throttle_deletes -= 1
                refused = None if throttled else recorder.refusal(self.command, parts.path)
            if throttled:
                status = 429
                content = json.dumps({"code": 20429, "message": "Too Many Requests"}).encode()
                ctype = "application/json"
            elif refused is not None:
                status, ctype = refused[0], "application/json"
                content = json.dumps(refused[1]).encode()
            else:
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                answer = requests.request(
                    self.command,
                    recorder.upstream + self.path,
                    headers=headers,
                    data=body,
                    timeout=30,
                )
                status, content = answer.status_code, answer.content
                ctype = answer.headers.get("Content-Type", "application/json")
                if self.command == "GET" and status == 200 and parts.path.endswith(tuple(LISTINGS)):
                    content = _as_twilio_filters(content, parts.path, query)
            with recorder.lock:
                recorder.seen.append(Seen(self.command, parts.path, query, status))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_DELETE = _forward

    return Handler


@contextmanager
def recording_proxy(upstream: str, throttle_deletes: int = 0) -> Iterator[tuple[str, Recorder]]:
    """A proxy to `upstream` (Prism's base URL) on a free loopback port: (its URL, what it
    saw). Stopped on leaving."""
    recorder = Recorder(upstream.rstrip("/"), throttle_deletes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": SERVER_POLL_SECONDS}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
