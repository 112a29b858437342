"""Whatever Twilio (or anything that got hold of a signature) sends to any voice route, the
caller gets valid TwiML: never an error page, never a broken document."""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode, urljoin, urlsplit
from xml.etree import ElementTree

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from ivr import create_app
from ivr.config import Settings
from ivr.core import calltree
from ivr.core.clock import fixed_clock
from ivr.store.connection import connect
from tests.common import CLOSED_AT, OPEN_AT, TOKEN, empty, examples, london

ADVISORS = ("+442079460001", "+442079460002")
FUZZ = settings(
    max_examples=examples(60),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text a caller's phone or a mangled request could carry: any Unicode but NUL and surrogates.
unicode_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60
)
junk = st.one_of(
    unicode_text,
    st.sampled_from(
        [
            "",
            " ",
            "-5",
            "abc",
            "xyz",
            "0",
            "3",
            "99",
            "open",
            "closed",
            "1e9",
            "📞😀",
            "‮reversed",
            "<Say>hi</Say>",
            "&amp;",
            "%00",
            "\r\n",
            "9" * 5000,
        ]
    ),
    st.text(min_size=1000, max_size=1000, alphabet="x<&>\"'"),
)
digits = st.one_of(
    st.sampled_from(list("0123456789*#") + ["", "11", "1#", " 1", "-1", "٣"]), unicode_text
)
speech = st.one_of(
    st.none(),
    st.sampled_from(["advisor", "police", "next", "main menu", "I want to talk to an advisor"]),
    unicode_text,
)
caller = st.one_of(
    st.sampled_from(
        ["+447700900123", "anonymous", "restricted", "", "+266696687", "80085", "+8656696"]
    ),
    unicode_text,
)
query_names = st.one_of(
    st.sampled_from(["tries", "menu", "replay", "intro", "name"]), st.text(min_size=1, max_size=10)
)
page_names = st.one_of(
    st.sampled_from(calltree.PAGES + ("step0", "step6", "..", "%")), unicode_text.filter(bool)
)


@pytest.fixture(scope="module", params=[OPEN_AT, CLOSED_AT], ids=["open", "closed"])
def app(request, store_settings) -> Flask:
    """Built once per instant for the whole module, not per example."""
    empty(connect(Settings().override(store_settings)))  # nobody on duty, no callbacks
    app = create_app(
        {"twilio_auth_token": TOKEN, "advisor_numbers": ADVISORS, **store_settings},
        clock=fixed_clock(london(request.param)),
    )
    app.testing = True
    return app


def voice_routes(app: Flask) -> list[str]:
    """Every route under /voice, with {} where a page name goes."""
    rules = sorted(r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/voice"))
    return [re.sub(r"<[^>]+>", "{}", rule) for rule in rules]


# The routes the issue names; any newer /voice route is fuzzed as well.
NAMED_ROUTES = [
    "/voice",
    "/voice/menu",
    "/voice/choice",
    "/voice/page/{}",
    "/voice/page/{}/choice",
    "/voice/advisor",
    "/voice/advisor/result",
    "/voice/screen",
    "/voice/screen/result",
]


def test_the_named_routes_exist(app: Flask) -> None:
    assert set(NAMED_ROUTES) <= set(voice_routes(app))


def signed_request(
    app: Flask, method: str, route: str, name: str, query: dict[str, str], fields: dict[str, str]
):
    """A request signed exactly as Twilio signs: the full URL, plus the form for a POST.
    Like Twilio, it follows a redirect (werkzeug answers 308 to a path holding "//", as a
    page name holding "/" makes), re-signed for the new URL."""
    path = route.format(quote(name, safe=""))
    if method == "GET":
        query = {**query, **fields}
        fields = {}
    url = "http://localhost" + path + ("?" + urlencode(query) if query else "")
    client = app.test_client()
    for _ in range(3):
        headers = {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, fields)}
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        response = (
            client.get(target, headers=headers)
            if method == "GET"
            else client.post(target, data=fields, headers=headers)
        )
        if response.status_code not in (301, 302, 307, 308):
            return response
        url = urljoin(url, response.headers["Location"])
        assert urlsplit(url).netloc == "localhost" and urlsplit(url).path.startswith("/voice")
    return response


def check_twiml(response) -> ElementTree.Element:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/xml"
    root = ElementTree.fromstring(response.get_data(as_text=True))
    assert root.tag == "Response"
    for number in root.iter("Number"):
        assert number.text in ADVISORS
    return root


@pytest.mark.parametrize("route", NAMED_ROUTES + ["others"])
@FUZZ
@given(
    data=st.data(),
    name=page_names,
    method=st.sampled_from(["POST", "POST", "GET"]),
    query=st.dictionaries(query_names, junk, max_size=4),
    digits=digits,
    speech=speech,
    caller=caller,
    extra=st.dictionaries(st.text(min_size=1, max_size=12), junk, max_size=3),
)
def test_every_voice_route_always_answers_valid_twiml(
    app, route, data, name, method, query, digits, speech, caller, extra
) -> None:
    if route == "others":
        newer = sorted(set(voice_routes(app)) - set(NAMED_ROUTES))
        if not newer:
            return
        route = data.draw(st.sampled_from(newer), label="route")
    fields = {
        **extra,
        "CallSid": "CA" + "c" * 32,
        "From": caller,
        "To": "+441234567890",
        "Digits": digits,
    }
    if speech is not None:
        fields["SpeechResult"] = speech
    check_twiml(signed_request(app, method, route, name, query, fields))


@FUZZ
@given(name=page_names, digits=digits, tries=junk)
def test_advice_pages_never_dead_end(app, name, digits, tries) -> None:
    """Every page answer either speaks and listens, or moves the call on."""
    root = check_twiml(
        signed_request(
            app, "POST", "/voice/page/{}/choice", name, {"tries": tries}, {"Digits": digits}
        )
    )
    assert (
        root.find("Redirect") is not None
        or root.find("Gather") is not None
        or root.find("Hangup") is not None
    )
