"""Sign-in limits hold both ways: a stranger gets only a few guesses an hour at an account,
however many addresses they use, and cannot keep its advisor out: her known devices still
sign in, and a supervisor can trust a new one. Forwarded addresses are believed only from
the configured proxies."""

from __future__ import annotations

import re

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from ivr.config import Settings
from ivr.store import audit
from ivr.store.accounts import DEVICE_LINK_SECONDS, Accounts, _link_key
from ivr.store.throttle import (
    ACCOUNT_CAP,
    FREE_TRIES,
    HOUR,
    NEW_DEVICE_CAP,
    Attempt,
    SignInThrottle,
    Verdict,
    address_key,
    verdict,
)
from ivr.web.signatures import proxy_networks
from tests.common import (
    PASSWORD,
    SEALER,
    SUPERVISOR_PHONE,
    Clock,
    add_advisor,
    csrf_token,
    post_form,
    sign_in_attempt,
    signed_in,
)

STRANGER_PASSWORD = "a wrong guess"
NEW_DEVICE_REFUSED = "can only be signed in to from a device it has been used on before"


@pytest.fixture
def console(make_app, store: redis.Redis, clock: Clock) -> Flask:
    add_advisor(store, "Alex")
    add_advisor(store, "Sam", SUPERVISOR_PHONE, supervisor=True)
    return make_app(cookie_secure=False, clock=clock)


def from_address(address: str, **headers: str) -> dict[str, object]:
    return {"environ_base": {"REMOTE_ADDR": address}, "headers": headers}


def sign_out(client: FlaskClient) -> None:
    """Sign out, keeping the browser's known-device cookie (as a browser does)."""
    client.post("/console/logout", data={"csrf_token": csrf_token(client)})


# ------------------------------------------------------------------ the rules, on plain data


@pytest.mark.parametrize(
    ("address", "account", "known", "now", "expected"),
    [
        ([], [], False, 100, Verdict()),
        ([10, 20], [10, 20], False, 21, Verdict()),  # within the free tries
        ([10, 20, 30], [], False, 30.5, Verdict(1)),  # the address's 4th try waits 1 s
        ([10, 20, 30], [], False, 31, Verdict()),
        ([], [10, 20, 30, 40], False, 40, Verdict(2)),  # the account's 5th waits 2 s
        ([], [float(t) for t in range(0, 100, 10)], True, 95, Verdict(ACCOUNT_CAP - 5)),  # capped
        # Past the hourly cap, unknown devices are refused until the oldest counted failure ages
        # out; the same failures in a known device's own bucket only delay it.
        ([], [0, 60, 120, 180, 240], False, 300, Verdict(HOUR - 300, new_devices_refused=True)),
        ([], [0, 60, 120, 180, 240], True, 300, Verdict()),
        (
            [],
            [60, 120, 180, 240, 300, 360],
            False,
            400,
            Verdict(HOUR + 120 - 400, new_devices_refused=True),
        ),
    ],
)
def test_the_verdict_on_a_try(address, account, known, now, expected) -> None:
    assert verdict(address, account, known, now) == expected


@pytest.mark.parametrize(
    ("remote", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # the same subscriber's network
        ("", "unknown"),
        (None, "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_the_address_a_try_counts_under(remote, key) -> None:
    assert address_key(remote) == key


def test_tries_made_at_the_same_moment_see_each_other(store: redis.Redis) -> None:
    throttle = SignInThrottle(store)
    verdicts = [
        throttle.begin(Attempt("alex", f"198.51.100.{n}"), 1000.0)[0] for n in range(10)
    ]  # none has finished checking its password yet
    assert [v.refused for v in verdicts] == [False] * FREE_TRIES + [True] * (10 - FREE_TRIES)


def test_a_cancelled_try_is_no_guess(store: redis.Redis) -> None:
    throttle = SignInThrottle(store)
    attempt = Attempt("alex", "198.51.100.1")
    for _ in range(20):
        _, ticket = throttle.begin(attempt, 1000.0)
        throttle.cancel(attempt, ticket)  # e.g. the password pool was busy
    assert not throttle.begin(attempt, 1000.0)[0].refused


# ------------------------------------------------------------------ both ways, over HTTP


def test_a_stranger_from_fresh_addresses_gets_a_few_guesses_an_hour_and_alex_still_gets_in(
    console: Flask, store: redis.Redis, clock: Clock
) -> None:
    desk = signed_in(console, "Alex")  # her desk: a known device from now on
    sign_out(desk)
    start = clock()
    guesses: list[float] = []
    for n in range(240):  # one wrong password every 30 s, two hours, each from a new address
        response = sign_in_attempt(
            console.test_client(),
            "Alex",
            STRANGER_PASSWORD,
            **from_address(f"198.51.{n // 250}.{n % 250}"),
        )
        assert response.status_code in (401, 429)
        if response.status_code == 401:  # the password was checked: a guess
            guesses.append((clock() - start).total_seconds())
        if n % 20 == 0:  # every 10 minutes, Alex signs in at her desk
            response = sign_in_attempt(desk, "Alex", PASSWORD, **from_address("203.0.113.10"))
            assert response.status_code == 302, (n, response.get_data(as_text=True))
            sign_out(desk)
        clock.advance(30)
    for at in guesses:  # in any hour, at most NEW_DEVICE_CAP guesses
        assert sum(1 for t in guesses if at - HOUR < t <= at) <= NEW_DEVICE_CAP
    assert NEW_DEVICE_CAP <= len(guesses) <= 2 * NEW_DEVICE_CAP

    # While the stranger keeps the account's new-device guesses used up, Alex on a new phone
    # is held too, and told what to do.
    sign_in_attempt(
        console.test_client(), "Alex", STRANGER_PASSWORD, **from_address("198.51.200.1")
    )
    phone = console.test_client()
    refused = sign_in_attempt(phone, "Alex", PASSWORD, **from_address("203.0.113.11"))
    assert refused.status_code == 429
    assert NEW_DEVICE_REFUSED in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0

    # A supervisor trusts it: a one-time link, opened and confirmed on the phone.
    link = device_link(signed_in(console, "Sam"), "alex")
    trust(phone, link)
    assert (
        sign_in_attempt(phone, "Alex", PASSWORD, **from_address("203.0.113.11")).status_code == 302
    )
    actions = [(e["actor"], e["action"]) for e in audit.recent(store, 20)]
    assert ("sam", "made a device link for Alex") in actions
    assert ("alex", "trusted a new device with a supervisor's link") in actions


def test_a_known_device_is_slowed_by_its_own_mistakes_only(console: Flask, clock: Clock) -> None:
    desk = signed_in(console, "Alex")
    sign_out(desk)
    for _ in range(FREE_TRIES):
        assert sign_in_attempt(desk, "Alex", "typo typo").status_code == 401
    assert sign_in_attempt(desk, "Alex", PASSWORD).status_code == 429  # a short wait
    clock.advance(2)
    assert sign_in_attempt(desk, "Alex", PASSWORD).status_code == 302


def device_link(supervisor: FlaskClient, username: str) -> str:
    page = post_form(
        supervisor, f"/console/supervisor/advisors/{username}/trust", page="/console/supervisor/"
    )
    assert page.status_code == 200
    found = re.search(
        r'<code id="device-link">http://localhost(/console/trust/[^<]+)</code>',
        page.get_data(as_text=True),
    )
    assert found, page.get_data(as_text=True)
    return found.group(1)


def trust(client: FlaskClient, link: str, expected: int = 302):
    response = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert response.status_code == expected
    return response


def test_a_device_link_works_once_for_one_account_and_expires(
    console: Flask, store: redis.Redis
) -> None:
    add_advisor(store, "Bea", "+447400123458")
    link = device_link(signed_in(console, "Sam"), "alex")
    code = link.rsplit("/", 1)[1]
    assert 0 < store.ttl(_link_key(code)) <= DEVICE_LINK_SECONDS
    phone = console.test_client()
    assert phone.get(link).status_code == 200  # a link preview opening it trusts nothing
    assert phone.get(link).status_code == 200
    trust(phone, link)
    other = console.test_client()
    assert other.get(link).status_code == 410  # used
    assert (
        other.post(link, data={"csrf_token": csrf_token(other, "/console/login")}).status_code
        == 410
    )
    assert "expired or has already been used" in other.get(link).get_data(as_text=True)
    # It made the phone known to alex only.
    for n in range(NEW_DEVICE_CAP):
        sign_in_attempt(
            console.test_client(), "Bea", STRANGER_PASSWORD, **from_address(f"198.51.100.{n}")
        )
        sign_in_attempt(
            console.test_client(), "Alex", STRANGER_PASSWORD, **from_address(f"198.51.101.{n}")
        )
    assert sign_in_attempt(phone, "Bea", PASSWORD).status_code == 429
    assert sign_in_attempt(phone, "Alex", PASSWORD).status_code == 302


def test_a_device_link_never_stored_as_given(console: Flask, store: redis.Redis) -> None:
    code = device_link(signed_in(console, "Sam"), "alex").rsplit("/", 1)[1]
    assert not [k for k in store.scan_iter("*") if code in k]
    assert code not in str([store.get(k) for k in store.scan_iter("hl:signin:trust:*")])


@pytest.mark.parametrize("code", ["nonsense", "x" * 30, "y" * 5000])
def test_a_bad_device_link_says_so(console: Flask, code: str) -> None:
    client = console.test_client()
    response = client.get(f"/console/trust/{code}")
    assert response.status_code == 410
    assert "csrf_token" not in response.get_data(as_text=True)


def test_only_a_supervisor_makes_device_links(console: Flask, store: redis.Redis) -> None:
    add_advisor(store, "Bea", "+447400123458")
    bea = signed_in(console, "Bea")
    assert post_form(bea, "/console/supervisor/advisors/alex/trust").status_code == 403
    sam = signed_in(console, "Sam")
    assert (
        post_form(
            sam, "/console/supervisor/advisors/nobody/trust", page="/console/supervisor/"
        ).status_code
        == 404
    )


def test_the_command_line_makes_a_device_link_too(cli, store: redis.Redis) -> None:
    add_advisor(store, "Alex")
    result = cli("advisors", "trust-device", "alex")
    assert result.exit_code == 0, result.output
    code = re.search(r"/console/trust/(\S+)", result.output).group(1)
    assert Accounts(store, SEALER).device_link_account(code) == "alex"
    assert "once" in result.output and "15 minutes" in result.output
    assert ("command line", "made a device link for alex") in [
        (e["actor"], e["action"]) for e in audit.recent(store, 5)
    ]
    assert cli("advisors", "trust-device", "nobody").exit_code != 0


# ------------------------------------------------------------------ forwarded addresses


def rotating(console: Flask, peer: str) -> list[int]:
    """Wrong passwords for ever-new accounts, each naming a new X-Forwarded-For address."""
    return [
        sign_in_attempt(
            console.test_client(),
            f"guess{n}",
            STRANGER_PASSWORD,
            **from_address(peer, **{"X-Forwarded-For": f"198.51.100.{n}"}),
        ).status_code
        for n in range(FREE_TRIES + 5)
    ]


@pytest.fixture
def behind_a_proxy(make_app, store: redis.Redis) -> Flask:
    return make_app(cookie_secure=False, trusted_proxies=1, trusted_proxy_addresses=("10.0.0.0/8",))


def test_a_direct_peer_naming_other_addresses_is_limited_as_itself(behind_a_proxy) -> None:
    statuses = rotating(behind_a_proxy, "203.0.113.66")  # reached the port directly
    assert statuses[:FREE_TRIES] == [401] * FREE_TRIES
    assert set(statuses[FREE_TRIES:]) == {429}


def test_through_a_configured_proxy_the_forwarded_address_counts(behind_a_proxy) -> None:
    assert rotating(behind_a_proxy, "10.1.2.3") == [401] * (FREE_TRIES + 5)


def test_without_trusted_proxies_forwarded_addresses_are_never_believed(make_app, store) -> None:
    app = make_app(cookie_secure=False)
    assert set(rotating(app, "127.0.0.1")[FREE_TRIES:]) == {429}


def test_the_proxies_default_to_this_machine_and_a_mistake_names_the_setting(make_app) -> None:
    assert Settings.from_env({}).trusted_proxy_addresses == ("127.0.0.0/8", "::1")
    assert Settings.from_env(
        {"TRUSTED_PROXY_ADDRESSES": "10.0.0.0/8, 192.0.2.7"}
    ).trusted_proxy_addresses == ("10.0.0.0/8", "192.0.2.7")
    with pytest.raises(ValueError, match="TRUSTED_PROXY_ADDRESSES"):
        proxy_networks(("10.0.0.0/33",))
    with pytest.raises(ValueError, match="TRUSTED_PROXY_ADDRESSES: 'proxy.local'"):
        make_app(trusted_proxies=1, trusted_proxy_addresses=("proxy.local",))
