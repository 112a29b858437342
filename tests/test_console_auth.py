"""The advisors' console lets nobody in without an account: every page asks for sign-in,
supervisor pages refuse advisors, failed sign-ins slow down, a forgotten console signs itself
out, and the session cookie cannot be read by scripts or sent from other sites."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator
from xml.etree import ElementTree

import pytest
from argon2 import extract_parameters, profiles
from flask import Flask
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from ivr.config import Settings
from ivr.simulate import TwilioLikeClient
from ivr.store import keys
from ivr.store.accounts import PRODUCTION, Accounts
from ivr.store.closures import read_override
from ivr.store.throttle import ACCOUNT_CAP, ADDRESS_CAP, FREE_TRIES, backoff
from ivr.web.console import PUBLIC_ENDPOINTS
from tests.common import (
    ADVISOR_PHONE,
    LOGIN,
    PASSWORD,
    SEALER,
    SUPERVISOR_PHONE,
    add_advisor,
    csrf_token,
    post_form,
    redirects_to_login,
    sign_in_attempt,
    signed_in,
    twilio_client,
)


def console_rules(app: Flask) -> Iterator[tuple[Rule, str, str]]:
    """(rule, URL with dummy values, method) for every method of every console route."""
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console."):
            continue
        url = rule.build({name: "dummy" for name in rule.arguments}, append_unknown=False)[1]
        for method in sorted(rule.methods - {"OPTIONS"}):
            yield rule, url, method


# ------------------------------------------------------------------ nobody gets in unsigned


def test_every_console_route_asks_for_sign_in(console_app):
    client = console_app.test_client()
    token = csrf_token(client, LOGIN)  # a real token: what stops them must be the sign-in
    checked = 0
    for rule, url, method in console_rules(console_app):
        if rule.endpoint in PUBLIC_ENDPOINTS:  # signing in, and a supervisor's device link
            continue
        response = client.open(url, method=method, data={"csrf_token": token})
        body = response.get_data(as_text=True)
        assert redirects_to_login(response) or response.status_code in (401, 403), (
            method,
            url,
            response.status_code,
        )
        assert "csrf_token" not in body and "<table" not in body, (method, url)
        checked += 1
    assert checked >= 12  # queue, json, duty, call-next, outcome, logout, supervisor pages…


def test_without_a_session_the_queue_poll_says_signed_out(console_app):
    response = console_app.test_client().get("/console/queue.json")
    assert response.status_code == 401
    assert response.get_json() == {"error": "signed out"}


def test_an_advisor_gets_403_on_every_supervisor_route(console_app, store):
    add_advisor(store, "Alex")
    add_advisor(store, "Sam", SUPERVISOR_PHONE, supervisor=True)
    client = signed_in(console_app, "Alex")
    token = csrf_token(client)
    supervisor_routes = [
        (url, method)
        for rule, url, method in console_rules(console_app)
        if "/supervisor" in rule.rule
    ]
    assert len(supervisor_routes) >= 7
    for url, method in supervisor_routes:
        response = client.open(
            url.replace("dummy", "sam"),
            method=method,
            data={"csrf_token": token, "on_duty": "0", "message": "x"},
        )
        assert response.status_code == 403, (method, url)
        if method != "HEAD":
            assert "This page is for supervisors" in response.get_data(as_text=True), url
    sam = Accounts(store, SEALER).get("sam")
    assert sam is not None and not sam.on_duty  # nothing the advisor sent changed anything
    assert read_override(store) is None


@pytest.mark.parametrize(
    ("url", "method", "status", "heading"),
    [
        ("/console/supervisor/advisors/nobody/trust", "POST", 404, "There is no such page"),
        ("/console/duty", "POST", 400, "That form was out of date"),  # no CSRF token
    ],
)
def test_a_refused_console_page_says_what_happened_in_the_console(
    console_app, store, url, method, status, heading
):
    add_advisor(store, "Sam", SUPERVISOR_PHONE, supervisor=True)
    client = signed_in(console_app, "Sam")
    data = {"csrf_token": csrf_token(client)} if status != 400 else {}
    response = client.open(url, method=method, data=data)
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert f"<h1>{heading}</h1>" in page and '<html lang="en-GB">' in page


def test_the_same_routes_open_for_a_supervisor(console_app, store):
    add_advisor(store, "Sam", SUPERVISOR_PHONE, supervisor=True)
    client = signed_in(console_app, "Sam")
    assert client.get("/console/supervisor/").status_code == 200
    assert client.get("/console/supervisor/stats").status_code == 200


# ------------------------------------------------------------------ signing in


def test_a_wrong_password_says_so_plainly_with_401(console_app, advisor):
    response = sign_in_attempt(console_app.test_client(), "Alex", "not the password")
    assert response.status_code == 401
    assert "That name and password don&#39;t match" in response.get_data(as_text=True)


def test_an_unknown_name_gets_the_same_answer_as_a_wrong_password(console_app, advisor):
    response = sign_in_attempt(console_app.test_client(), "Nobody", PASSWORD)
    assert response.status_code == 401
    assert "That name and password don&#39;t match" in response.get_data(as_text=True)


def test_the_right_password_opens_the_queue(console_app, store):
    add_advisor(store, "Alex Smith")
    client = signed_in(console_app, "alex  SMITH")  # the name as typed, any case or spacing
    page = client.get("/console/")
    assert page.status_code == 200
    assert "Take next" in page.get_data(as_text=True)


def test_signing_out_ends_the_session(advisor_client):
    client = advisor_client
    response = post_form(client, "/console/logout")
    assert redirects_to_login(response)
    assert redirects_to_login(client.get("/console/"))


@pytest.mark.parametrize(
    ("failures", "account_wait", "address_wait"),
    [
        (0, 0, 0),
        (FREE_TRIES - 1, 0, 0),
        (FREE_TRIES, 1, 1),
        (FREE_TRIES + 1, 2, 2),
        (FREE_TRIES + 2, 4, 4),
        (FREE_TRIES + 4, 16, 16),
        (FREE_TRIES + 5, ACCOUNT_CAP, 32),
        (FREE_TRIES + 9, ACCOUNT_CAP, 512),
        (FREE_TRIES + 40, ACCOUNT_CAP, ADDRESS_CAP),
    ],
)
def test_delays_grow_with_failures_and_the_account_delay_stays_short(
    failures, account_wait, address_wait
):
    assert backoff(failures, ACCOUNT_CAP) == account_wait
    assert backoff(failures, ADDRESS_CAP) == address_wait


def test_the_caps_let_an_advisor_back_in_soon_but_hold_an_address_long():
    assert ACCOUNT_CAP <= 60
    assert ADDRESS_CAP > 10 * ACCOUNT_CAP


def test_after_the_free_tries_even_the_right_password_must_wait(console_app, advisor):
    client = console_app.test_client()
    for _ in range(FREE_TRIES):
        assert sign_in_attempt(client, "Alex", "wrong password").status_code == 401
    response = sign_in_attempt(client, "Alex", PASSWORD)
    assert response.status_code == 429
    assert re.search(r"Please wait \d+ seconds", response.get_data(as_text=True))
    assert redirects_to_login(client.get("/console/"))  # not signed in


def test_a_stranger_cannot_hold_an_advisor_out_of_a_device_she_signed_in_from(console_app, store):
    add_advisor(store, "Alex")
    desk = signed_in(console_app, "Alex")
    desk.post("/console/logout", data={"csrf_token": csrf_token(desk)})  # keeps its cookie
    for n in range(FREE_TRIES + 6):  # a stranger, from many addresses
        sign_in_attempt(
            console_app.test_client(),
            "Alex",
            "guess",
            environ_base={"REMOTE_ADDR": f"198.51.100.{n}"},
        )
    stranger = sign_in_attempt(
        console_app.test_client(), "Alex", PASSWORD, environ_base={"REMOTE_ADDR": "203.0.113.50"}
    )
    assert stranger.status_code == 429  # a new browser waits (a short, capped delay)
    assert sign_in_attempt(desk, "Alex", PASSWORD).status_code == 302  # her desk does not


def test_an_address_is_slowed_across_accounts_over_http(console_app, advisor):
    client = console_app.test_client()
    for n in range(FREE_TRIES):
        sign_in_attempt(
            client, f"guess{n}", "wrong password", environ_base={"REMOTE_ADDR": "198.51.100.20"}
        )
    blocked = sign_in_attempt(
        client, "Alex", PASSWORD, environ_base={"REMOTE_ADDR": "198.51.100.20"}
    )
    assert blocked.status_code == 429
    other = sign_in_attempt(
        console_app.test_client(), "Alex", PASSWORD, environ_base={"REMOTE_ADDR": "203.0.113.20"}
    )
    assert other.status_code == 302  # Alex, at her own desk, is not held by it


# ------------------------------------------------------------------ CSRF and cookies


def test_a_form_without_its_csrf_token_is_refused(console_app, advisor, store):
    client = console_app.test_client()
    assert client.post(LOGIN, data={"name": "Alex", "password": PASSWORD}).status_code == 400
    client = signed_in(console_app)
    assert client.post("/console/duty", data={"on_duty": "1"}).status_code == 400
    assert not Accounts(store, SEALER).get("alex").on_duty


CONSOLE_LIBRARIES = ("flask_wtf", "flask_login")  # the CSRF check, the sign-in cookie


def library_hooks_run(app: Flask, send: Callable[[], TestResponse]) -> tuple[TestResponse, list]:
    """What `send` answered, and which request hooks of the console's libraries ran for it."""
    ran = []

    def recorded(hook):
        @functools.wraps(hook)
        def run(*args, **kwargs):
            ran.append(hook)
            return hook(*args, **kwargs)

        return run

    for registry in (app.before_request_funcs, app.after_request_funcs):
        for scope, hooks in registry.items():
            registry[scope] = [recorded(hook) for hook in hooks]
    response = send()
    return response, [h for h in ran if h.__module__.startswith(CONSOLE_LIBRARIES)]


def test_twilios_webhooks_run_none_of_the_consoles_hooks(console_app, advisor):
    """Found (issue 24): Flask-WTF's CSRF check and Flask-Login's cookie hook ran before and
    after every Twilio webhook (21 µs each), though only the console signs in or posts a form.
    A signed /voice runs neither and sets no cookie."""
    response, ran = library_hooks_run(
        console_app, lambda: twilio_client(console_app).post("/voice")
    )
    assert response.status_code == 200 and ran == []
    assert response.headers.getlist("Set-Cookie") == []


def test_the_console_still_checks_csrf(console_app, advisor):
    client = signed_in(console_app)
    response, ran = library_hooks_run(
        console_app, lambda: client.post("/console/duty", data={"on_duty": "1"})
    )
    assert response.status_code == 400 and ran != []
    assert "That form was out of date" in response.get_data(as_text=True)


def test_a_form_with_a_forged_csrf_token_is_refused(advisor_client, store):
    client = advisor_client
    response = client.post("/console/duty", data={"on_duty": "1", "csrf_token": "forged"})
    assert response.status_code == 400
    assert not Accounts(store, SEALER).get("alex").on_duty


def session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def test_the_session_cookie_is_http_only_same_site_lax_and_secure(make_app, store):
    add_advisor(store, "Alex")
    app = make_app()  # cookie_secure defaults to True
    cookie = session_cookie(sign_in_attempt(app.test_client(), "Alex", PASSWORD))
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "secure" in attributes


def test_cookie_secure_off_is_for_local_http_only(console_app, advisor):
    cookie = session_cookie(sign_in_attempt(console_app.test_client(), "Alex", PASSWORD))
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "secure" not in attributes
    assert "httponly" in attributes and "samesite=lax" in attributes


# ------------------------------------------------------------------ idle sign-out

IDLE_MESSAGE = "You were signed out after a while without activity"


def test_an_idle_console_signs_itself_out(make_app, store, clock):
    add_advisor(store, "Alex")
    client = signed_in(make_app(cookie_secure=False, console_idle_seconds=60, clock=clock))
    clock.advance(61)
    response = client.get("/console/")
    assert redirects_to_login(response)
    assert IDLE_MESSAGE in client.get(LOGIN).get_data(as_text=True)
    assert redirects_to_login(client.get("/console/"))  # and it stays signed out


def test_an_idle_consoles_poll_gets_401(make_app, store, clock):
    add_advisor(store, "Alex")
    client = signed_in(make_app(cookie_secure=False, console_idle_seconds=60, clock=clock))
    clock.advance(61)
    response = client.get("/console/queue.json")
    assert response.status_code == 401
    assert response.get_json() == {"error": "signed out"}


def test_polling_the_queue_is_not_activity(make_app, store, clock):
    add_advisor(store, "Alex")
    client = signed_in(make_app(cookie_secure=False, console_idle_seconds=60, clock=clock))
    clock.advance(40)
    assert client.get("/console/queue.json").status_code == 200
    clock.advance(30)  # 70 s since the last page, 30 s since the last poll
    assert client.get("/console/queue.json").status_code == 401


def test_a_page_view_is_activity(make_app, store, clock):
    add_advisor(store, "Alex")
    client = signed_in(make_app(cookie_secure=False, console_idle_seconds=60, clock=clock))
    clock.advance(40)
    assert client.get("/console/").status_code == 200
    clock.advance(40)  # 80 s since sign-in, 40 s since the last page
    assert client.get("/console/").status_code == 200


# ------------------------------------------------------------------ on duty, and who rings


def dial_numbers(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    root = ElementTree.fromstring(response.get_data(as_text=True))
    return [n.text or "" for n in root.iter("Number")]


def ask_for_an_advisor(app: Flask):
    return TwilioLikeClient(
        app, {"CallSid": "CA" + "b" * 32, "From": "+447400000111", "To": "+441234567890"}
    ).post("/voice/advisor")


def test_the_duty_button_toggles(advisor_client, store):
    client = advisor_client
    assert client.get("/console/queue.json").get_json()["on_duty"] is False
    assert post_form(client, "/console/duty", {"on_duty": "1"}).status_code == 302
    assert Accounts(store, SEALER).get("alex").on_duty
    assert client.get("/console/queue.json").get_json()["on_duty"] is True
    assert "Go off duty" in client.get("/console/").get_data(as_text=True)
    post_form(client, "/console/duty", {"on_duty": "0"})
    assert not Accounts(store, SEALER).get("alex").on_duty


def test_in_hours_a_caller_asking_for_an_advisor_rings_those_on_duty(make_app, store):
    app = make_app(cookie_secure=False, advisor_numbers=("+447400123001",))
    add_advisor(store, "Alex", "+447400123456")
    add_advisor(store, "Bea", "+447400123458")
    add_advisor(store, "Cal", "+447400123459")
    for name in ("Alex", "Cal"):
        post_form(signed_in(app, name), "/console/duty", {"on_duty": "1"})
    # Without Twilio's REST API (no account here) one free advisor on duty is rung, never an
    # advisor off duty (docs/take-next.md: each advisor's leg is rung on a call of its own)
    assert dial_numbers(ask_for_an_advisor(app))[0] in ("+447400123456", "+447400123459")
    assert "+447400123458" not in dial_numbers(ask_for_an_advisor(app))


def test_with_nobody_on_duty_advisor_numbers_ring(make_app, store):
    app = make_app(advisor_numbers=("+447400123001", "+447400123002"))
    add_advisor(store, "Alex")  # signed up but off duty
    # rung one at a time, the first first (docs/take-next.md)
    assert dial_numbers(ask_for_an_advisor(app)) == ["+447400123001"]


def test_going_off_duty_stops_the_ringing(make_app, store):
    app = make_app(cookie_secure=False, advisor_numbers=("+447400123001",))
    add_advisor(store, "Alex")
    client = signed_in(app)
    post_form(client, "/console/duty", {"on_duty": "1"})
    assert dial_numbers(ask_for_an_advisor(app)) == [ADVISOR_PHONE]
    post_form(client, "/console/duty", {"on_duty": "0"})
    assert dial_numbers(ask_for_an_advisor(app)) == ["+447400123001"]


# ------------------------------------------------------------------ the cost of a password


def hash_of(store, username: str = "alex") -> str:
    return store.hget(keys.advisor(username), "hash")


def test_passwords_are_hashed_and_checked_at_argon2s_production_cost(
    make_app, store, production_passwords
):
    """The other tests hash cheaply (PASSWORD_HASH_COST=test); this is what production does:
    argon2id at RFC 9106's low-memory parameters, 64 MiB and 3 passes, in one lane."""
    app = make_app(cookie_secure=False, password_hash_cost=production_passwords)
    add_advisor(store, "Alex")
    parameters = extract_parameters(hash_of(store))
    assert parameters == PRODUCTION
    assert (parameters.memory_cost, parameters.time_cost) == (64 * 1024, 3)
    assert redirects_to_login(post_form(signed_in(app), "/console/logout"))  # a real check
    wrong = sign_in_attempt(app.test_client(), "Alex", "not the password")
    assert wrong.status_code == 401


def test_a_cheap_hash_is_rehashed_at_the_production_cost_when_its_advisor_signs_in(make_app, store):
    add_advisor(store, "Alex")  # at the tests' cost
    assert extract_parameters(hash_of(store)) == profiles.CHEAPEST
    app = make_app(cookie_secure=False, password_hash_cost="production")
    signed_in(app)
    assert extract_parameters(hash_of(store)) == PRODUCTION
    assert signed_in(app)  # and the new hash opens the console too


def test_the_tests_only_cost_is_warned_about_at_start_up(make_app, caplog):
    caplog.set_level(logging.WARNING)
    make_app(password_hash_cost="test")
    warned = [r for r in caplog.records if "PASSWORD_HASH_COST" in r.getMessage()]
    assert [r.levelno for r in warned] == [logging.WARNING]
    assert "never in production" in warned[0].getMessage()
    caplog.clear()
    make_app(password_hash_cost="production")
    assert not [r for r in caplog.records if "PASSWORD_HASH_COST" in r.getMessage()]


def test_the_password_cost_setting_takes_only_its_two_values(make_app):
    assert Settings.from_env({}).password_hash_cost == "production"
    assert Settings.from_env({"PASSWORD_HASH_COST": "TEST"}).password_hash_cost == "test"
    with pytest.raises(ValueError, match="PASSWORD_HASH_COST"):
        Settings.from_env({"PASSWORD_HASH_COST": "cheap"})
    with pytest.raises(ValueError, match="PASSWORD_HASH_COST"):
        make_app(password_hash_cost="cheap")
