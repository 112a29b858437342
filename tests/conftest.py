"""Shared fixtures, after Flask's tutorial (flaskr): an app factory fixture, a client that
signs requests exactly as Twilio does, and a clock set to any instant."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from ivr import create_app
from ivr.clock import fixed_clock
from ivr.simulate import TwilioLikeClient

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


@pytest.fixture
def make_app() -> AppFactory:
    """make_app(at=..., **settings): the real app, signatures on, the clock stopped at `at`."""

    def factory(at: str = OPEN_AT, **settings: object) -> Flask:
        config = {"twilio_auth_token": TOKEN, "advisor_numbers": ADVISORS, **settings}
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
