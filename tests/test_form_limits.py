"""Junk is refused for almost nothing, and a genuine request costs one form parse and one HMAC:
a form with more fields than any Twilio request holds is refused with 400 before it is
parsed or any signature computed; the form is parsed once, from the body already read; the
signature is one hmac.digest over the URL as received, identical to twilio's own validator,
which is asked only for the URL with and without its port."""

from __future__ import annotations

import hmac
import json
import string
import urllib.parse
from collections.abc import Iterator

import pytest
import werkzeug.formparser
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from twilio.request_validator import HMAC_SHA1, HMAC_SHA256, RequestValidator
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

import ivr.web.limits
from ivr.web.limits import (
    FORM,
    FORM_BODY,
    MAX_FIELDS,
    TWILIO_MAX_BODY,
    FormOnce,
    form_items,
    is_form,
)
from ivr.web.signatures import signature, signed_text
from tests.common import HELPLINE, TOKEN, examples, heard

LOCAL = "http://localhost"
CALL = {
    "CallSid": "CA" + "a" * 32,
    "AccountSid": "AC" + "0" * 32,
    "From": "+447700900123",
    "To": HELPLINE,
    "CallStatus": "ringing",
}
# An incoming call as Twilio documents its request, every optional field there
# (https://www.twilio.com/docs/voice/twiml#request-parameters), SHAKEN/STIR's verdict, and
# the results of Add-ons as one JSON document (https://www.twilio.com/docs/add-ons/how-to-use).
ADD_ONS = {
    "status": "successful",
    "results": {
        f"addon_{n}": {"status": "successful", "result": {"notes": "x" * 2000, "score": n}}
        for n in range(8)
    },
}
PLACES = {
    f"{who}{what}": value
    for who in ("From", "To", "Caller", "Called")
    for what, value in (("City", "LONDON"), ("State", ""), ("Zip", ""), ("Country", "GB"))
}
TWILIO_SHAPED_CALL = {
    **CALL,
    **PLACES,
    "ApiVersion": "2010-04-01",
    "Direction": "inbound",
    "Caller": "+447700900123",
    "Called": HELPLINE,
    "CallerName": "",
    "ForwardedFrom": "",
    "CallToken": "%7B%22parentCallInfoToken%22%3A%22" + "e" * 600 + "%22%7D",
    "StirVerstat": "TN-Validation-Passed-A",
    "AddOns": json.dumps(ADD_ONS),
    # and fields Twilio may add without notice, whatever they are called
    **{f"NewField{n}": f"value {n}" for n in range(120)},
}


def short_name(n: int) -> str:
    letters = string.ascii_letters
    name = letters[n % 52]
    while n := n // 52:
        name += letters[n % 52]
    return name


def junk_form(fields: int, size: int) -> bytes:
    """`fields` empty fields, the last padded so the body is `size` bytes."""
    body = b"&".join(f"{short_name(n)}=".encode() for n in range(fields))
    assert len(body) <= size
    return body + b"x" * (size - len(body))


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


@pytest.fixture
def hmacs(monkeypatch) -> list[str]:
    """Every HMAC computed over a message: the app's (the key's HMAC updated with the signed
    text) or the twilio library's (hmac.new with the message). Setting up a key (hmac.new
    without one) hashes nothing of a request."""
    made: list[str] = []
    real_digest, real_new, real_update = hmac.digest, hmac.new, hmac.HMAC.update

    def digest(key, msg, name):
        made.append("digest")
        return real_digest(key, msg, name)

    def new(key, msg=None, digestmod=""):
        if msg is not None:
            made.append("new")
        return real_new(key, msg, digestmod)

    def update(self, msg):
        made.append("digest")
        return real_update(self, msg)

    monkeypatch.setattr(hmac, "digest", digest)
    monkeypatch.setattr(hmac, "new", new)
    monkeypatch.setattr(hmac.HMAC, "update", update)
    return made


@pytest.fixture
def parses(monkeypatch) -> Iterator[list[str]]:
    """Every form parse: the app's own from the body in memory, and werkzeug's stream one."""
    seen: list[str] = []
    real_parse_qsl, real_parse = urllib.parse.parse_qsl, werkzeug.formparser.FormDataParser.parse

    def parse_qsl(text, *args, **kwargs):
        seen.append("parse_qsl")
        return real_parse_qsl(text, *args, **kwargs)

    def parse(self, *args, **kwargs):
        seen.append("werkzeug stream parser")
        return real_parse(self, *args, **kwargs)

    real_items = ivr.web.limits.form_items

    def form_items(text):
        seen.append("parse_qsl")
        return real_items(text)

    monkeypatch.setattr(ivr.web.limits, "form_items", form_items)
    monkeypatch.setattr(werkzeug.formparser, "parse_qsl", parse_qsl)
    monkeypatch.setattr(werkzeug.formparser.FormDataParser, "parse", parse)
    return seen


# ------------------------------------------------------------------ the field cap


def test_a_64_kb_form_of_12_000_empty_fields_is_refused_before_any_hmac(
    make_app, hmacs, parses
) -> None:
    """The finding: 65 000 bytes holding 12 000 empty fields and a fake signature cost a
    worker 69-98 ms (the form parsed, two HMACs over every field) before its 403."""
    app = make_app()
    hmacs.clear(), parses.clear()  # start-up's own (the store's keyed lookups)
    body = junk_form(12_000, 65_000)
    response = app.test_client().post(
        "/voice",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
    )
    assert response.status_code == 400
    assert response.headers["Connection"] == "close"
    assert hmacs == []
    assert parses == []
    assert not app.extensions["helpline"].guard.recent  # the signature was never looked at


@pytest.mark.parametrize(
    ("where", "url", "body"),
    [
        ("body, one over the cap", "/sms", junk_form(MAX_FIELDS + 1, 2_000)),
        ("query string", "/voice?" + "&".join(f"q{n}=" for n in range(MAX_FIELDS + 1)), b""),
        ("a name of 300 bytes", "/voice", b"CallSid=CA1&" + b"N" * 300 + b"=1"),
        ("console form", "/console/login", junk_form(1_000, 8_000)),
    ],
)
def test_too_many_fields_or_too_long_a_name_is_refused_unparsed(
    make_app, hmacs, parses, where: str, url: str, body: bytes
) -> None:
    app = make_app()
    hmacs.clear(), parses.clear()
    response = app.test_client().post(
        url, data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400, where
    assert hmacs == [] and parses == [], where


def test_a_twilio_shaped_call_with_many_extra_fields_is_answered(make_app, hmacs) -> None:
    app = make_app()
    fields = TWILIO_SHAPED_CALL
    body = urllib.parse.urlencode(fields).encode()
    assert len(fields) >= 150 and 16_000 < len(body) < TWILIO_MAX_BODY
    headers = {"X-Twilio-Signature": sign(LOCAL + "/voice", fields)}
    hmacs.clear()  # start-up's and the test's own
    response = app.test_client().post(
        "/voice", data=body, content_type="application/x-www-form-urlencoded", headers=headers
    )
    assert response.status_code == 200
    assert app.extensions["helpline"].flows.voice.safety in heard(response)
    assert hmacs == ["digest"]


def test_a_form_at_the_cap_is_checked_and_answered(make_app) -> None:
    app = make_app()
    fields = {**CALL, **{f"X{n}": "" for n in range(MAX_FIELDS - len(CALL))}}
    assert len(fields) == MAX_FIELDS
    response = app.test_client().post(
        "/voice", data=fields, headers={"X-Twilio-Signature": sign(LOCAL + "/voice", fields)}
    )
    assert response.status_code == 200


# ------------------------------------------------------------------ forms only, on Twilio's routes


def multipart_junk(parts: int = 250) -> bytes:
    """A 64 KB-ish multipart/form-data body of `parts` parts (boundary XyZ)."""
    body = b"".join(
        b'--XyZ\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n%s\r\n' % (i, b"x" * 200)
        for i in range(parts)
    )
    return body + b"--XyZ--\r\n"


@pytest.mark.parametrize("url", ["/voice", "/voice/menu", "/sms", "/voice/queue/wait"])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=XyZ", multipart_junk()),
        ("application/json", json.dumps({"CallSid": "CA1", "From": "+447700900123"}).encode()),
        ("text/plain", b"x" * 60_000),
        ("", b"CallSid=CA1&From=%2B447700900123"),
    ],
)
def test_a_body_that_is_not_a_urlencoded_form_is_refused_unparsed_on_twilios_routes(
    make_app, hmacs, monkeypatch, url: str, content_type: str, body: bytes
) -> None:
    """The finding: a 64 KB multipart/form-data body of 250 parts with a fake signature was
    parsed in full by werkzeug (~7 ms) before the 403; 80 connections of it took signed
    calls to max 1.2 s. Twilio's requests are always application/x-www-form-urlencoded."""
    parsed: list[str] = []
    real = werkzeug.formparser.MultiPartParser.parse

    def parse(self, *args, **kwargs):
        parsed.append("multipart")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(werkzeug.formparser.MultiPartParser, "parse", parse)
    app = make_app()
    hmacs.clear()
    headers = {"X-Twilio-Signature": "Zm9v"}
    if content_type:
        headers["Content-Type"] = content_type
    response = app.test_client().post(url, data=body, headers=headers)
    assert response.status_code == 415
    assert response.headers["Connection"] == "close"
    assert parsed == [] and hmacs == []
    assert not app.extensions["helpline"].guard.recent  # the signature was never looked at


def test_a_refused_content_type_is_counted(make_app) -> None:
    labels = {"group": "voice", "reason": "not_a_form"}
    before = REGISTRY.get_sample_value("helpline_rejected_requests_total", labels) or 0.0
    make_app().test_client().post(
        "/voice", data=multipart_junk(3), content_type="multipart/form-data; boundary=XyZ"
    )
    assert REGISTRY.get_sample_value("helpline_rejected_requests_total", labels) == before + 1


@pytest.mark.parametrize("url", ["/voice", "/sms"])
def test_a_bodiless_get_and_a_urlencoded_form_with_a_charset_still_reach_the_app(
    make_app, url: str
) -> None:
    """Only a body in another format is refused: a GET has none, and a form may name its
    charset."""
    client = make_app().test_client()
    assert client.get(url).status_code != 415
    response = client.post(
        url, data=b"CallSid=CA1", content_type="application/x-www-form-urlencoded; charset=utf-8"
    )
    assert response.status_code == 403  # reached the signature check


# What a Content-Type may hold around the form's type: werkzeug strips spaces and tabs only.
TYPE_PIECES = st.sampled_from(
    ["application/x-www-form-urlencoded", "Application/X-WWW-Form-URLencoded", " ", "\t",
     "\xa0", "\x0b", "\x85", "\x1c", ";", "charset=utf-8", "text/plain", "multipart/form-data"]
)  # fmt: skip


@settings(max_examples=examples(1000), deadline=None)
@given(st.lists(TYPE_PIECES, max_size=5).map("".join))
def test_a_body_is_a_form_exactly_when_werkzeug_says_so(content_type: str) -> None:
    """Found in review: "application/x-www-form-urlencoded\xa0" was a form to the limits
    (str.strip) but not to werkzeug, whose reading the form's parse used to follow."""
    environ = EnvironBuilder(method="POST", data=b"", content_type=content_type).get_environ()
    assert is_form(content_type) is (Request(environ).mimetype == FORM)


# ------------------------------------------------------------------ one parse, one HMAC


def test_a_signed_call_costs_one_form_parse_and_one_hmac(make_app, hmacs, parses) -> None:
    """The form is parsed from the bytes RequestLimits read (not read again through
    werkzeug's stream parser), once for the signature, the call tree and the log line."""
    app = make_app()
    headers = {"X-Twilio-Signature": sign(LOCAL + "/voice", CALL)}
    hmacs.clear(), parses.clear()  # start-up's and the test's own
    response = app.test_client().post("/voice", data=CALL, headers=headers)
    assert response.status_code == 200
    assert parses == ["parse_qsl"]
    assert hmacs == ["digest"]


def test_a_url_with_its_port_costs_one_hmac(make_app, hmacs) -> None:
    """The URL as received is tried first: a tunnel's http://host:8080 is one HMAC, not the
    port-less guess and then the URL itself."""
    app = make_app()
    base = "http://localhost:8080"
    headers = {"X-Twilio-Signature": sign(base + "/voice", CALL)}
    hmacs.clear()  # start-up's and the test's own
    response = app.test_client().post("/voice", data=CALL, base_url=base, headers=headers)
    assert response.status_code == 200
    assert hmacs == ["digest"]


@pytest.mark.parametrize(
    ("received_at", "signed_for"),
    [
        ("http://localhost", "http://localhost:80"),
        ("http://localhost:80", "http://localhost"),
        ("https://localhost", "https://localhost:443"),
        ("https://localhost:443", "https://localhost"),
    ],
)
def test_twilio_signing_with_or_without_the_port_is_still_accepted(
    make_app, received_at: str, signed_for: str
) -> None:
    app = make_app()
    url = "/voice/choice?menu=open&tries=0"
    fields = {**CALL, "Digits": "3"}
    client = app.test_client()
    response = client.post(
        url,
        data=fields,
        base_url=received_at,
        headers={"X-Twilio-Signature": sign(signed_for + url, fields)},
    )
    assert response.status_code == 200
    forged = client.post(
        url,
        data=fields,
        base_url=received_at,
        headers={"X-Twilio-Signature": sign(signed_for + url, fields, "f" * 32)},
    )
    assert forged.status_code == 403


# ------------------------------------------------------------------ the same as the library's

FIELD_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
# What a form body is made of: separators, escapes (good, bad, cut short), pluses.
FORM_PIECES = st.sampled_from(
    ["&", "=", "+", "%", "%2B", "%2b", "%25", "2B", "%20", "%zz", "%e2%82", "%E2%82%AC", "a", "é"]
)


@settings(max_examples=examples(2000), deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(FORM_PIECES, max_size=20).map("".join)))
def test_the_form_is_read_as_werkzeug_reads_it(text: str) -> None:
    werkzeugs = urllib.parse.parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
    assert form_items(text) == werkzeugs


@settings(max_examples=examples(400), deadline=None)
@given(
    url=FIELD_TEXT.map(lambda tail: "https://helpline.example.org/voice" + tail),
    items=st.lists(st.tuples(FIELD_TEXT, FIELD_TEXT), max_size=12),
    algorithm=st.sampled_from([HMAC_SHA1, HMAC_SHA256, "hmac_sha256"]),
    key=st.text(min_size=1, max_size=40).filter(lambda k: "\x00" not in k),
)
def test_the_signature_is_the_twilio_librarys_on_any_form(
    url: str, items: list[tuple[str, str]], algorithm: str, key: str
) -> None:
    form = MultiDict(items)  # repeated names too, as a form may hold them
    library = RequestValidator(key).compute_signature(url, form, algorithm)
    assert signature(key.encode(), signed_text(url, form), algorithm).decode() == library
    plain = dict(items)
    library = RequestValidator(key).compute_signature(url, plain, algorithm)
    assert signature(key.encode(), signed_text(url, plain), algorithm).decode() == library


@settings(max_examples=examples(300), deadline=None)
@given(
    body=st.one_of(
        st.lists(st.tuples(FIELD_TEXT, FIELD_TEXT), max_size=12).map(
            lambda items: urllib.parse.urlencode(items).encode()
        ),
        st.binary(max_size=60),  # anything at all: bad escapes, bytes that are not UTF-8
        st.lists(st.sampled_from(["a", "=", "&", "%", "%zz", "%C3", "%A9", "+", ";", "é"])).map(
            lambda parts: "".join(parts).encode()
        ),
    )
)
def test_the_form_is_parsed_as_werkzeug_parses_it(body: bytes) -> None:
    environ = EnvironBuilder(
        method="POST", data=body, content_type="application/x-www-form-urlencoded"
    ).get_environ()
    ours = FormOnce({**environ, FORM_BODY: body})
    theirs = Request(environ)
    assert list(ours.form.items(multi=True)) == list(theirs.form.items(multi=True))
