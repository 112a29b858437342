"""The console's rough edges, as staff found them: plain pages with what to do when something
is wrong (the store out of reach, an unknown address), a page title a screen reader can read,
signing out that asks about duty, the same name for a person in every message, no setting
names in front of staff, and times in UK local words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from xml.etree import ElementTree

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from ivr.store import audit, stats
from ivr.store.accounts import Accounts
from tests.common import (
    LONDON,
    SEALER,
    SUPERVISOR_PHONE,
    add_advisor,
    flashes,
    london,
    post_form,
    signed_in,
)

SUPERVISOR_PAGE = "/console/supervisor/"
TITLE = re.compile(r"<title>(.*?)</title>", re.S)


@pytest.fixture
def console(make_app) -> Flask:
    return make_app(cookie_secure=False)


def supervisor(app: Flask, store: redis.Redis) -> FlaskClient:
    add_advisor(store, "Sam", SUPERVISOR_PHONE, supervisor=True)
    return signed_in(app, "Sam")


def title_of(html: str) -> str:
    found = TITLE.search(html)
    assert found, "no <title>"
    return found.group(1)


# ------------------------------------------------------------------ when something is wrong


@contextmanager
def store_paused(store: redis.Redis, seconds: float = 1.5) -> Iterator[None]:
    """Redis stops answering anyone (CLIENT PAUSE), as a stuck or failing-over store does;
    afterwards the test waits until it answers again."""
    store.execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")
    try:
        yield
    finally:
        store.ping()  # waits out the pause


@pytest.mark.parametrize("page", ["/console/", SUPERVISOR_PAGE])
def test_a_store_out_of_reach_gives_a_plain_page_that_says_what_to_do(console, store, page):
    """Found: with Redis paused, both console pages answered a bare "Internal error" (500)."""
    client = supervisor(console, store)
    with store_paused(store):
        response = client.get(page)
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    assert "Internal error" not in html
    assert "<h1>The console can&#39;t reach its data</h1>" in html
    assert "Calls are still answered" in html
    assert "Try again in a minute" in html
    assert title_of(html) == "The console can&#39;t reach its data · Helpline console"


def test_an_error_in_the_console_gives_a_plain_page_not_internal_error(console, store):
    console.view_functions["console.queue"] = lambda: 1 / 0  # a bug, wherever it may be
    client = supervisor(console, store)
    response = client.get("/console/")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Internal error" not in html
    assert "<h1>Something went wrong in the console</h1>" in html
    assert "Calls are still answered" in html
    assert "it happened at Wed 25 Nov 11:00" in html  # for whoever reads the log


@pytest.mark.parametrize("path", ["/console/no-such-page", "/no-such-page", "/"])
def test_an_unknown_address_gets_the_consoles_not_found_page(console, store, path):
    """Found: unknown URLs gave Flask's default 404 text."""
    for client in (console.test_client(), supervisor(console, store)):
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 404
        assert "<h1>There is no such page</h1>" in html
        assert "The requested URL was not found" not in html
        assert title_of(html) == "There is no such page · Helpline console"


def test_a_form_address_opened_as_a_page_says_what_to_do(console, store):
    response = supervisor(console, store).get("/console/call-next")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    assert "<h1>That page can&#39;t be opened like this</h1>" in response.get_data(as_text=True)


def test_an_unknown_voice_address_still_answers_twilio_with_the_safe_fallback(console):
    """The console's pages stop at the console: a call never gets a web page."""
    from tests.common import twilio_client

    response = twilio_client(console).post("/voice/no-such-step")
    assert response.status_code == 200
    assert response.mimetype == "text/xml"


# ------------------------------------------------------------------ titles


@pytest.mark.parametrize(
    ("page", "title"),
    [
        ("/console/", "Queue · Helpline console"),
        (SUPERVISOR_PAGE, "Supervisor · Helpline console"),
        ("/console/supervisor/stats", "Numbers · Helpline console"),
        ("/console/logout", "Sign out · Helpline console"),
    ],
)
def test_every_page_has_a_plain_title(console, store, page, title):
    """Found: the supervisor tab's title was `Supervisor · Helpline console<script src=...`."""
    html = supervisor(console, store).get(page).get_data(as_text=True)
    assert title_of(html) == title


# ------------------------------------------------------------------ signing out


@pytest.mark.parametrize(
    ("chosen", "on_duty_after"),
    [(None, False), ("off", False), ("stay", True), ("anything else", False)],
)
def test_signing_out_takes_an_advisor_off_duty_unless_they_choose_to_stay(
    console, store, chosen, on_duty_after
):
    """Found: signing out left the advisor on duty ("Free"): callers were put through to
    the phone of someone who had gone home."""
    add_advisor(store, "Alex", on_duty=True)
    client = signed_in(console, "Alex")
    post_form(client, "/console/logout", {"duty": chosen} if chosen else {})
    assert Accounts(store, SEALER).get("alex").on_duty is on_duty_after
    said = "You have signed out" + ("" if on_duty_after else " and are off duty")
    assert said in flashes(client, "/console/login")


def test_an_advisor_on_duty_is_asked_on_signing_out_with_off_duty_chosen(console, store):
    add_advisor(store, "Alex", on_duty=True)
    client = signed_in(console, "Alex")
    queue = client.get("/console/").get_data(as_text=True)
    assert '<form method="get" action="/console/logout"' in queue  # the question first
    asked = client.get("/console/logout").get_data(as_text=True)
    assert "<h1>Sign out</h1>" in asked
    assert re.search(r'<input type="radio" name="duty" value="off"[^>]* checked', asked)
    assert re.search(r'<input type="radio" name="duty" value="stay"(?![^>]*checked)', asked)
    assert Accounts(store, SEALER).get("alex").on_duty  # asking changes nothing


def test_an_advisor_off_duty_signs_out_at_once(console, store):
    add_advisor(store, "Alex")
    client = signed_in(console, "Alex")
    queue = client.get("/console/").get_data(as_text=True)
    assert '<form method="post" action="/console/logout"' in queue


# ------------------------------------------------------------------ names and settings


def test_a_person_is_named_the_same_way_in_every_message(console, store):
    """Found: "Added Alex Test." but "Removed alex-test."."""
    client = supervisor(console, store)
    new = {"name": "Alex Test", "phone": "+44 7400 123460", "password": "a long enough password"}
    post_form(client, "/console/supervisor/advisors", new, page=SUPERVISOR_PAGE)
    assert "Added Alex Test." in flashes(client, SUPERVISOR_PAGE)
    post_form(client, "/console/supervisor/advisors/alex-test/sign-out", page=SUPERVISOR_PAGE)
    assert "Alex Test is signed out on every device." in flashes(client, SUPERVISOR_PAGE)
    link = post_form(client, "/console/supervisor/advisors/alex-test/trust", page=SUPERVISOR_PAGE)
    assert "A link for Alex Test's new device" in link.get_data(as_text=True)
    post_form(client, "/console/supervisor/advisors/alex-test/remove", page=SUPERVISOR_PAGE)
    page = flashes(client, SUPERVISOR_PAGE)
    assert "Removed Alex Test." in page
    assert "alex-test" not in re.sub(r'action="[^"]*"', "", page)  # the audit trail too
    trail = page.split("<h2>Audit trail")[1]
    assert '<td data-label="Who">Sam</td>' in trail
    assert "added advisor Alex Test" in trail and "removed advisor Alex Test" in trail


@pytest.mark.parametrize("missing", ["twilio_account_sid", "twilio_auth_token", "helpline_number"])
def test_the_supervisor_is_told_calls_cant_be_made_without_setting_names(
    make_app, store, caplog, missing
):
    """Found: the supervisor page told staff "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and
    HELPLINE_NUMBER are not set". The names are for whoever runs the app: the log has them."""
    calls = {"twilio_account_sid": "AC" + "1" * 32, "helpline_number": "+441234567890"}
    app = make_app(cookie_secure=False, **{**calls, missing: ""})
    with caplog.at_level("WARNING", logger="ivr.web.console"):
        page = supervisor(app, store).get(SUPERVISOR_PAGE).get_data(as_text=True)
    assert "Calls can't be made</h2>" in page
    assert "Advisors can&#39;t make calls from the console" in page
    assert "Connecting a Twilio number, step by step" in page  # the README's section
    assert not re.search(r"\b[A-Z]+_[A-Z_]+\b", page), "a setting's name shown to staff"
    assert missing.upper() in caplog.text


# ------------------------------------------------------------------ times


def test_the_audit_trail_gives_times_in_uk_local_words(make_app, store):
    """Found: the audit trail showed `2026-12-07T13:00:00+00:00`. In summer too: 14:00 in
    London is 13:00 UTC."""
    app = make_app(at="2026-07-01T11:00", cookie_secure=False)
    client = supervisor(app, store)
    post_form(
        client,
        "/console/supervisor/close",
        {"message": "Closed today for staff training.", "until": "2026-07-01T14:00"},
        page=SUPERVISOR_PAGE,
    )
    audit.record(
        store,
        london("2026-07-01T12:30"),
        "sam",
        "closed the line",
        detail="until 2026-12-07T13:00:00+00:00",
    )  # as older versions wrote it
    page = client.get(SUPERVISOR_PAGE).get_data(as_text=True)
    trail = page.split("<h2>Audit trail")[1]
    assert "closed the line until Wed 1 Jul 14:00" in trail
    assert "closed the line until Mon 7 Dec 13:00" in trail
    assert "Wed 1 Jul 12:30" in trail and "Wed 1 Jul 11:00" in trail
    assert not re.search(r"\d{4}-\d\d-\d\d", trail), "an ISO date in the audit trail"
    assert "until Wednesday 1 July 14:00" in page.split("<h2>The queue now")[0]


# ------------------------------------------------------------------ charts


def charts(html: str) -> dict[str, ElementTree.Element]:
    """The numbers page's charts, by their name (aria-label), as SVG elements."""
    found = {}
    for svg in re.findall(r"<svg .*?</svg>", html, re.S):
        root = ElementTree.fromstring(svg)
        found[root.get("aria-label", "")] = root
    return found


def test_each_days_bar_stands_over_its_own_day_with_a_scale_that_reads(make_app, store):
    """Found: the "Calls, by day" bar for Monday 7 December stood over the "6 Dec" tick, and
    the chart had no y-axis title."""
    app = make_app(at="2026-12-07T13:00", cookie_secure=False)
    for at, n in (("2026-12-07T11:00", 7), ("2026-11-30T11:00", 3)):
        for _ in range(n):
            stats.call_started(store, london(at), LONDON, True)
    stats.flush()
    html = supervisor(app, store).get("/console/supervisor/stats").get_data(as_text=True)
    chart = charts(html)["Calls per day, The last 30 days: the table below has the numbers"]
    bars = {r.find("title").text: r for r in chart.iter("rect")}
    ticks = {t.text: t for t in chart.iter("text") if t.get("class") == "tick"}
    for day, count in (("7 Dec", 7), ("30 Nov", 3)):  # today, and a week before
        bar = bars[f"{day}: {count}"]
        middle = float(bar.get("x")) + float(bar.get("width")) / 2
        assert day in ticks, f"no {day} tick: {sorted(ticks)}"
        assert abs(float(ticks[day].get("x")) - middle) < 0.01, f"{day}'s bar is off its tick"
    titles = [t.text for t in chart.iter("text") if t.get("class") == "axis-title"]
    assert titles == ["Calls"]
    scale = [t.text for t in chart.iter("text") if t.get("class") == "tick y"]
    assert scale == ["0", "2", "4", "6", "8"]
    top = next(r for r in chart.iter("rect") if r.find("title").text == "7 Dec: 7")
    assert float(top.get("height")) < 150 - 16 - 20  # 7 of 8: below the top of the scale


def test_helpline_check_names_the_settings_the_console_needs_to_make_calls(cli, monkeypatch):
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.setenv("HELPLINE_NUMBER", "+441234567890")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "0123456789abcdef" * 2)
    assert "warning: Advisors can't make calls from the console: TWILIO_ACCOUNT_SID is not set" in (
        cli("check").output
    )
