"""The serving layer's guard in front of the app: a size limit and a deadline on every request
body, and a cap on the number and size of its form fields, applied before the signature check
or Flask reads a byte of it; then the form parsed once, from the bytes already read.

gunicorn runs the app on its gevent worker (gunicorn.conf.py): each connection is a greenlet,
so a slow client holds a greenlet, not a whole worker. The worker bounds the wait for a
request's headers (HEADER_SECONDS there); this middleware bounds its body, in size and time,
and hands the app the body already in memory, so nothing after it can block on a client.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from typing import BinaryIO
from urllib.parse import unquote
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import gevent
from flask import Flask, Request
from werkzeug.wsgi import get_content_length

from ivr.ops.logs import Summarised
from ivr.ops.metrics import count_rejected, route_group

log = logging.getLogger(__name__)
REFUSALS = Summarised(log)  # the first of each kind at once, then one line a minute

# Twilio's webhooks are forms of a few KiB (a 1 600-character text, percent-encoded, plus
# up to ten media URLs stays far below this): 64 KiB is ample.
TWILIO_MAX_BODY = 64 * 1024
# The console's largest form (a supervisor's closure message of at most 120 characters, or a
# new advisor's name, phone and password) is well under 1 KiB with its CSRF token; 16 KiB
# leaves room for a long passphrase, percent-encoded, without inviting large posts.
CONSOLE_MAX_BODY = 16 * 1024
# From the end of the headers to the end of the body. Twilio sends a webhook's body with its
# headers; a client still sending after this is not Twilio, and its connection is closed.
# A gevent.Timeout: it fires while the read waits on gevent's loop, as under the gevent
# worker; a server without that loop (werkzeug's, in tests) gets the size limits only.
BODY_SECONDS = 5.0
# Set on a request refused unread; gunicorn.conf.py's post_request hook then closes the
# connection instead of letting gunicorn read and discard the rest of the body.
CLOSE_CONNECTION = "helpline.close_connection"
READ_SIZE = 16 * 1024
# A urlencoded body as read here, for FormOnce to parse without reading it again.
FORM_BODY = "helpline.form_body"
FORM = "application/x-www-form-urlencoded"

# Fields per form (the body's, and the query string's): parsing them and the signature's HMAC
# over them cost per field, so 12 000 empty fields in 64 KiB cost a worker 70-100 ms before
# the 403. Twilio signs every field it sends, and adds fields without notice ("Twilio will
# occasionally add new parameters without advance notice",
# https://www.twilio.com/docs/messaging/guides/webhook-request), so the cap does not name
# fields, it counts them. The largest documented requests hold about 70: a text's ~20 fields
# plus MediaUrl0-9 and MediaContentType0-9, the From*/To* place fields and WhatsApp's
# Referral*/Button* fields (same page); a call's ~25 with the Caller*/Called* and From*/To*
# place fields, StirVerstat (SHAKEN/STIR, https://www.twilio.com/en-us/changelog/twilio-performs-
# shaken-stir-verification-on-incoming-calls-to-yo) and the Gather, Dial and Queue results
# (https://www.twilio.com/docs/voice/twiml#request-parameters). 256 is over three times that.
MAX_FIELDS = 256
# A field's name, as sent (percent-escapes and all): Twilio's are under 40 characters. A
# value is bounded only by the body limit: AddOns carries every installed Add-on's results
# as one JSON document (https://www.twilio.com/docs/add-ons/how-to-use), of no stated size.
MAX_NAME_BYTES = 256
# Twilio's webhooks are always forms: "Twilio makes HTTP requests to your application in the
# application/x-www-form-urlencoded format"
# (https://www.twilio.com/docs/messaging/guides/webhook-request; calls and their callbacks
# are the same forms, signed over their fields). A body of any other type on their routes
# (multipart/form-data, which werkzeug parses part by part, 7 ms for 64 KiB) is refused with
# 415, unread. The console's forms (Flask-WTF) are urlencoded too and it takes no uploads;
# it keeps werkzeug's parser, under max_form_parts.
TWILIO_GROUPS = frozenset({"voice", "sms"})


class BodyTooSlow(Exception):
    """The body did not arrive within BODY_SECONDS."""


def body_limit(path: str) -> int:
    """The most bytes of body a request to `path` may carry."""
    console = path == "/console" or path.startswith("/console/")
    return CONSOLE_MAX_BODY if console else TWILIO_MAX_BODY


def is_form(content_type: str) -> bool:
    """Whether a Content-Type is a urlencoded form, as werkzeug's Request.mimetype reads it:
    what stands before any ";", without spaces and tabs around it (parse_options_header
    strips those alone), in any case."""
    return content_type.partition(";")[0].strip(" \t").lower() == FORM


def read_up_to(stream: BinaryIO, size: int) -> bytes:
    """At most `size` bytes, fewer if the stream ends first, never more in memory."""
    chunks, got = [], 0
    while got < size:
        chunk = stream.read(min(READ_SIZE, size - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def fields_refusal(form: bytes) -> str | None:
    """Why a urlencoded form (a body, or a query string) is refused unparsed, or None: more
    than MAX_FIELDS fields, or a name over MAX_NAME_BYTES. Counting "&" costs microseconds
    on 64 KiB; the names are looked at only once the count is known to be small."""
    if form.count(b"&") >= MAX_FIELDS:
        return "too_many_fields"
    if len(form) > MAX_NAME_BYTES and any(
        len(part.partition(b"=")[0]) > MAX_NAME_BYTES for part in form.split(b"&")
    ):
        return "field_too_large"
    return None


class RequestLimits:
    """WSGI middleware: 413 for a body over its path's limit (by Content-Length, before
    reading any of it; a chunked body counted as it is read and cut off at the limit), 408 for
    a body slower than `body_seconds`, 400 for a body cut short, 415 for a body on Twilio's
    routes that is not a urlencoded form (TWILIO_GROUPS), and 400 for a form (the body
    or the query string) with too many fields or too long a name (fields_refusal). Otherwise
    the app gets the whole body in memory, and FormOnce parses it from there.

    On /voice these are plain HTTP errors, not TwiML: Twilio's requests are a few KiB sent at
    once, so whoever gets one is not Twilio, or is a request no answer would have reached."""

    def __init__(self, app: WSGIApplication, body_seconds: float = BODY_SECONDS) -> None:
        self.app = app
        self.body_seconds = body_seconds

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        limit = body_limit(environ.get("PATH_INFO", ""))
        length = get_content_length(environ)
        if length is not None and length > limit:
            return refuse(environ, start_response, "413 Content Too Large", "too_large")
        form = is_form(environ.get("CONTENT_TYPE", ""))
        has_body = bool(length) or (
            length is None and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        )
        if has_body and not form and route_group(environ.get("PATH_INFO", "")) in TWILIO_GROUPS:
            return refuse(environ, start_response, "415 Unsupported Media Type", "not_a_form")
        query = environ.get("QUERY_STRING", "")
        refusal = query and fields_refusal(query.encode("latin-1", "replace"))
        if refusal:
            return refuse(environ, start_response, "400 Bad Request", refusal)
        # Without a length, a body the server ends for us (chunked, under gunicorn) is read to
        # one byte over the limit, to tell "at the limit" from "over it".
        size = (
            length
            if length is not None
            else (limit + 1 if environ.get("wsgi.input_terminated") else 0)
        )
        if not size:
            return self.app(environ, start_response)
        try:
            with gevent.Timeout(self.body_seconds, BodyTooSlow):
                body = read_up_to(environ["wsgi.input"], size)
        except BodyTooSlow:
            return refuse(environ, start_response, "408 Request Timeout", "too_slow")
        if len(body) > limit:
            return refuse(environ, start_response, "413 Content Too Large", "too_large")
        if length is not None and len(body) < length:
            return refuse(environ, start_response, "400 Bad Request", "cut_short")
        if form:
            refusal = fields_refusal(body)
            if refusal:
                return refuse(environ, start_response, "400 Bad Request", refusal)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        if form:
            environ[FORM_BODY] = body
        return self.app(environ, start_response)


class FormOnce(Request):
    """Flask's request, with a urlencoded form parsed straight from the bytes RequestLimits
    read: werkzeug would read them again through its stream wrappers first (79 of the 139 µs
    the signature check cost a call). The same parse as werkzeug's (its
    FormDataParser._parse_urlencoded: parse_qsl, blank values kept, undecodable escapes
    re-quoted, a body that is not UTF-8 an empty form); anything else (multipart, no body
    read here) is werkzeug's, with no more parts than a urlencoded form may have fields."""

    max_form_parts = MAX_FIELDS

    def _load_form_data(self) -> None:
        body = self.environ.get(FORM_BODY)  # (a form by is_form, as werkzeug's mimetype says)
        if "form" in self.__dict__ or body is None:
            super()._load_form_data()
            return
        try:
            items = form_items(body.decode())
        except ValueError:  # not UTF-8: werkzeug's parser (silent) gives an empty form too
            items = []
        self.__dict__["form"] = self.parameter_storage_class(items)
        self.__dict__["files"] = self.parameter_storage_class()


def form_items(text: str) -> list[tuple[str, str]]:
    """parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote"), as werkzeug
    calls it, with its unquoting only for the fields that need it: a call's fields are mostly
    plain (CallSid=CA..., CallStatus=ringing), and parse_qsl unquotes each name and value
    (tests/test_form_limits.py compares the two)."""
    items = []
    for part in text.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in name or "+" in name:
            name = _unquoted(name)
        if "%" in value or "+" in value:
            value = _unquoted(value)
        items.append((name, value))
    return items


def _unquoted(text: str) -> str:
    """What parse_qsl makes of a name or value: "+" a space, each escape its character. The
    one escape of a phone number (From=%2B447…, and To, Caller, Called) is replaced alone."""
    spaced = text.replace("+", " ")
    plus = spaced.replace("%2B", "+")
    if "%" not in plus:
        return plus
    return unquote(spaced, errors="werkzeug.url_quote")


def refuse(
    environ: WSGIEnvironment, start_response: StartResponse, status: str, reason: str
) -> list[bytes]:
    """A short plain answer, and the connection closed after it (its body is left unread);
    counted in helpline_rejected_requests_total, as an unsigned request is."""
    path = environ.get("PATH_INFO", "")
    REFUSALS.note(
        reason,
        "refused %s %s: %s",
        environ.get("REQUEST_METHOD", "")[:10],
        path[:100],
        reason.replace("_", " "),
    )
    count_rejected(path, reason)
    environ[CLOSE_CONNECTION] = True
    text = status.split(" ", 1)[1].encode() + b"\n"
    start_response(
        status,
        [
            ("Content-Type", "text/plain"),
            ("Content-Length", str(len(text))),
            ("Connection", "close"),
        ],
    )
    return [text]


def limit_requests(app: Flask) -> None:
    """Put the limits in front of everything, with Flask's own limit as a second line, and
    have the app's requests parse their form from the body the limits read."""
    app.config["MAX_CONTENT_LENGTH"] = max(TWILIO_MAX_BODY, CONSOLE_MAX_BODY)
    app.request_class = FormOnce
    app.wsgi_app = RequestLimits(app.wsgi_app)  # type: ignore[method-assign]  # Flask's documented way to wrap WSGI middleware
