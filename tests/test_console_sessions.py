"""Console sessions can be ended: signing out, a new password, removing the account and a
supervisor's "sign out everywhere" end every session of that account on every device at once,
a cookie copied before it included; other accounts' sessions go on."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from ivr.store import audit
from ivr.store.accounts import Accounts
from tests.common import (
    PASSWORD,
    SEALER,
    SUPERVISOR_PHONE,
    add_advisor,
    post_form,
    redirects_to_login,
    sign_in_attempt,
    signed_in,
)

NEW_PASSWORD = "a brand new passphrase"


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of `client`'s session cookie (e.g. lifted from it)."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def still_in(client: FlaskClient) -> bool:
    """Whether the client's session opens the queue page and its poll."""
    page, poll = client.get("/console/"), client.get("/console/queue.json")
    if page.status_code == 200 and poll.status_code == 200:
        return True
    assert redirects_to_login(page) and poll.status_code == 401, (page.status, poll.status)
    return False


def by_signing_out(app: Flask, store: redis.Redis, desk: FlaskClient) -> None:
    assert redirects_to_login(post_form(desk, "/console/logout"))


def by_a_new_password(app: Flask, store: redis.Redis, desk: FlaskClient) -> None:
    Accounts(store, SEALER).set_password(
        "alex", NEW_PASSWORD
    )  # as `helpline advisors set-password`


def by_removal(app: Flask, store: redis.Redis, desk: FlaskClient) -> None:
    post_form(
        signed_in(app, "Sam"),
        "/console/supervisor/advisors/alex/remove",
        page="/console/supervisor/",
    )
    assert Accounts(store, SEALER).get("alex") is None


def by_a_supervisor_everywhere(app: Flask, store: redis.Redis, desk: FlaskClient) -> None:
    sam = signed_in(app, "Sam")
    response = post_form(
        sam, "/console/supervisor/advisors/alex/sign-out", page="/console/supervisor/"
    )
    assert response.status_code == 302
    assert "Alex is signed out on every device" in sam.get("/console/supervisor/").get_data(
        as_text=True
    )
    assert "signed Alex out everywhere" in [e["action"] for e in audit.recent(store, 5)]


ENDINGS: dict[str, Callable[[Flask, redis.Redis, FlaskClient], None]] = {
    "sign-out": by_signing_out,
    "password change": by_a_new_password,
    "removal": by_removal,
    "sign out everywhere": by_a_supervisor_everywhere,
}


@pytest.fixture
def people(make_app, store: redis.Redis) -> Flask:
    add_advisor(store, "Alex")
    add_advisor(store, "Bea", "+447400123458")
    add_advisor(store, "Sam", SUPERVISOR_PHONE, supervisor=True)
    return make_app(cookie_secure=False)


@pytest.mark.parametrize("ending", ENDINGS)
def test_every_session_of_the_account_ends_copied_cookies_included(
    people: Flask, store: redis.Redis, ending: str
) -> None:
    desk, phone = signed_in(people, "Alex"), signed_in(people, "Alex")
    copied = copy_of(people, desk)
    bea = signed_in(people, "Bea")
    assert still_in(copied)  # the copy works, as any cookie does, until the account's end

    ENDINGS[ending](people, store, desk)

    assert not still_in(desk)
    assert not still_in(phone)
    assert not still_in(copied)
    assert still_in(bea)  # another account's sessions go on


@pytest.mark.parametrize("ending", ["sign-out", "password change", "sign out everywhere"])
def test_the_advisor_can_sign_in_again_afterwards(
    people: Flask, store: redis.Redis, ending: str
) -> None:
    desk = signed_in(people, "Alex")
    ENDINGS[ending](people, store, desk)
    password = NEW_PASSWORD if ending == "password change" else PASSWORD
    assert still_in(signed_in(people, "Alex", password))


def test_a_removed_account_added_again_does_not_revive_old_cookies(
    people: Flask, store: redis.Redis
) -> None:
    desk = signed_in(people, "Alex")
    copied = copy_of(people, desk)
    by_removal(people, store, desk)
    add_advisor(store, "Alex")  # the same name, a new account
    assert not still_in(copied)
    assert sign_in_attempt(people.test_client(), "Alex", PASSWORD).status_code == 302


def test_a_session_cookie_from_before_tokens_is_not_accepted(people: Flask) -> None:
    """A cookie naming only the account (as sessions did before tokens) is signed out."""
    client = people.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "alex"
        session["_fresh"] = True
    assert not still_in(client)


def test_signing_everyone_out_needs_a_supervisor(people: Flask, store: redis.Redis) -> None:
    alex, bea = signed_in(people, "Alex"), signed_in(people, "Bea")
    response = post_form(alex, "/console/supervisor/advisors/bea/sign-out")
    assert response.status_code == 403
    assert still_in(bea)
