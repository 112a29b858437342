"""The advisors' console in a real browser: headless Chromium (driven by Playwright) against the
real app served on 127.0.0.1, Twilio's REST API mocked by Prism.

A test that fails leaves screenshots of its pages, as they were, in test-artifacts/; a run that
passes writes nothing there.

Chromium is never downloaded: CHROMIUM_PATH, else /usr/bin/chromium, else chromium on the PATH
(`make test` installs Debian's when it is missing).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from ivr.simulate import simulate_call
from ivr.store import audit, stats
from ivr.store.queue import CallbackQueue
from tests.common import OPEN_AT, PASSWORD, Clock, add_advisor, request_callback
from tests.conftest import AppFactory

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
HELPLINE_NUMBER = "+441234567890"
CALLER = "+447400123456"
MASKED = "+44 7400 •••456"  # how the console shows CALLER
ADVISOR_PHONE, SUPERVISOR_PHONE = "+447912345678", "+447912345679"
POLL_MS = 10_000  # queue.js polls every 3 s: allow three polls
CLOSED_MESSAGE = "Closed today for staff training."


@dataclass
class Site:
    """The app served over real HTTP, and one browser page on it."""

    app: Flask
    url: str
    page: Page

    @property
    def queue(self) -> CallbackQueue:
        return self.app.extensions["helpline"].queue

    def go(self, path: str) -> None:
        self.page.goto(self.url + path)

    def sign_in(self, name: str, password: str = PASSWORD) -> None:
        self.go("/console/login")
        self.page.get_by_label("Name").fill(name)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page).to_have_url(self.url + "/console/")

    def has_no_sideways_scroll(self) -> bool:
        return self.page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=True)
        return path


OpenSite = Callable[..., Site]


def safe_name(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node_name)


@pytest.fixture
def open_site(
    make_app: AppFactory,
    twilio_api: dict[str, object],
    browser: Browser,
    request: pytest.FixtureRequest,
) -> Iterator[OpenSite]:
    """open_site(viewport=..., **settings): the app (clock stopped in hours, REST calls to
    Prism) behind a real server on a free loopback port, and a fresh browser page on it.
    When the test fails, the page as it was, then the queue and numbers pages, are saved."""
    started: list[tuple[Site, object, threading.Thread]] = []

    def start(viewport: dict[str, int] = LAPTOP, at: str = OPEN_AT, **settings: object) -> Site:
        served: dict[str, Flask] = {}
        server = make_server(
            "127.0.0.1", 0, lambda env, reply: served["app"](env, reply), threaded=True
        )
        url = f"http://127.0.0.1:{server.server_port}"
        served["app"] = app = make_app(
            at=at,
            **{
                "cookie_secure": False,
                "helpline_number": HELPLINE_NUMBER,
                "public_base_url": url,
                **twilio_api,
                **settings,
            },
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        context = browser.new_context(viewport=viewport, locale="en-GB")
        context.set_default_timeout(POLL_MS)
        site = Site(app, url, context.new_page())
        started.append((site, server, thread))
        return site

    yield start

    stats.flush()  # counts are buffered in memory: none may land in the next test's store
    report = getattr(request.node, "rep_call", None)
    for number, (site, server, thread) in enumerate(started):
        try:
            if report is not None and report.failed:
                save_failure_screenshots(site, f"{safe_name(request.node.name)}-{number}")
        finally:
            site.page.context.close()
            server.shutdown()
            thread.join(timeout=10)


def save_failure_screenshots(site: Site, stem: str) -> None:
    """Best effort: a failing test's own error must not be hidden by a screenshot's."""
    for suffix, path in (
        ("failed", None),
        ("queue", "/console/"),
        ("stats", "/console/supervisor/stats"),
    ):
        try:
            if path:
                site.go(path)
            site.screenshot(f"{stem}-{suffix}.png")
        except Exception as exc:  # noqa: BLE001
            print(f"could not save the {suffix} screenshot: {exc}")


# ------------------------------------------------------------------ scenarios


def test_an_advisor_calls_the_next_person_back_on_a_phone(
    open_site: OpenSite, store: redis.Redis
) -> None:
    site = open_site(viewport=PHONE)
    page = site.page
    add_advisor(store, "Sam Advisor", ADVISOR_PHONE)
    site.go("/console/")
    expect(page).to_have_url(re.compile(r"/console/login"))
    site.sign_in("Sam Advisor")

    page.click("#duty")
    expect(page.locator(".badge.on")).to_have_text("On duty")
    expect(page.locator("#line")).to_have_text("Open")
    expect(page.locator("#due tbody")).to_have_text("Nobody is waiting.")

    # A callback arrives while the page is open: the poll shows it, without a reload.
    page.evaluate("window.stillTheSamePage = true")
    now = site.app.extensions["helpline"].clock()
    callback_id = request_callback(site.queue, CALLER, "sms", now, now).callback_id
    expect(page.locator("#due tbody tr td").first).to_have_text(MASKED, timeout=POLL_MS)
    expect(page.locator("#due-count")).to_have_text("1")
    assert page.evaluate("window.stillTheSamePage === true"), "the page reloaded"
    assert site.has_no_sideways_scroll(), "the queue page scrolls sideways on a phone"

    # Call next: the app claims it and rings the advisor through the REST API (Prism).
    page.click("#call-next")
    expect(page.locator(".flash")).to_contain_text("Ringing your phone")
    expect(page.locator("#mine")).to_be_visible()
    expect(page.locator("#mine-number")).to_have_text(MASKED)
    expect(page.locator("#call-state")).to_have_text("Ringing your phone")
    expect(page.locator("#due tbody")).to_have_text("Nobody is waiting.")
    claimed = site.queue.get(callback_id)
    assert claimed is not None and claimed.status == "claimed"
    assert claimed.claimed_by == "sam-advisor"
    actions = [e["action"] for e in audit.recent(store, 10)]
    assert "called" in actions, f"the advisor's phone was not rung: {actions}"

    # Twilio's status callbacks move the call on; the poll shows it.
    page.evaluate("window.stillTheSamePage = true")
    site.queue.set_call_state(callback_id, "connected", caller_connected=True)
    expect(page.locator("#call-state")).to_have_text("Connected", timeout=POLL_MS)
    assert page.evaluate("window.stillTheSamePage === true"), "the page reloaded"
    assert site.has_no_sideways_scroll(), "the page with a call scrolls sideways on a phone"

    page.get_by_label("Reached", exact=True).check()
    page.click("#record-outcome")
    expect(page.locator(".flash")).to_have_text("Recorded: Reached.")
    expect(page.locator("#mine")).to_be_hidden()
    done = site.queue.get(callback_id)
    assert done is not None and done.status == "done" and done.outcome == "reached"


def test_an_idle_console_signs_out_by_itself(
    open_site: OpenSite, store: redis.Redis, clock: Clock
) -> None:
    site = open_site(console_idle_seconds=60, clock=clock)
    page = site.page
    add_advisor(store, "Sam Advisor", ADVISOR_PHONE)
    site.sign_in("Sam Advisor")
    expect(page.locator("#duty")).to_be_visible()

    # Nobody touches the page: after the idle time, the next poll gets 401 and the page goes
    # to the sign-in form, saying why.
    clock.advance(61)
    page.wait_for_url(re.compile(r"/console/login$"), timeout=POLL_MS)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Name")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()
    expect(page.locator(".flash")).to_contain_text("signed out after a while without activity")

    # Still signed out: the queue sends you back to sign in.
    site.go("/console/")
    expect(page).to_have_url(re.compile(r"/console/login"))
    expect(page.locator("#duty")).to_have_count(0)


def test_a_supervisor_closes_and_reopens_the_line(open_site: OpenSite, store: redis.Redis) -> None:
    site = open_site()
    page = site.page
    voice = site.app.extensions["helpline"].flows.voice
    add_advisor(store, "Pat Supervisor", SUPERVISOR_PHONE, supervisor=True)
    site.sign_in("Pat Supervisor")
    before = simulate_call(site.app, [], caller=CALLER).heard()
    assert voice.open_options[0].prompt in before

    page.get_by_role("link", name="Supervisor").click()
    expect(page.get_by_role("heading", name="The line")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Open now.")
    page.get_by_label("What callers hear and read").fill(CLOSED_MESSAGE)
    page.click("#close-line")
    expect(page.locator(".flash")).to_contain_text("The line is closed")
    expect(page.locator("#reopen")).to_be_visible()
    expect(page.locator("main")).to_contain_text(CLOSED_MESSAGE)

    heard = simulate_call(site.app, [], caller=CALLER).heard()
    assert any(CLOSED_MESSAGE in line for line in heard), heard
    assert voice.closed_options[0].prompt in heard
    assert voice.open_options[0].prompt not in heard
    site.go("/console/")
    expect(page.locator("#line")).to_have_text("Closed")

    page.get_by_role("link", name="Supervisor").click()
    page.click("#reopen")
    expect(page.locator(".flash")).to_contain_text("usual hours again")
    expect(page.locator("#reopen")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Open now.")

    heard = simulate_call(site.app, [], caller=CALLER).heard()
    assert not any(CLOSED_MESSAGE in line for line in heard), heard
    assert all(line in heard for line in voice.open_say)
    assert voice.open_options[0].prompt in heard


def test_the_numbers_page_draws_the_day_on_a_phone(open_site: OpenSite, store: redis.Redis) -> None:
    site = open_site(viewport=PHONE)
    page = site.page
    add_advisor(store, "Pat Supervisor", SUPERVISOR_PHONE, supervisor=True)
    stats.flush()  # counts buffered by an earlier test go to the store now, and are removed
    for key in store.scan_iter("hl:main:stats:*"):
        store.delete(key)
    for presses in ([], ["2"], ["3"], ["3"], ["4"]):
        simulate_call(site.app, presses, caller=CALLER)
    site.sign_in("Pat Supervisor")

    page.get_by_role("link", name="Numbers").click()
    expect(page.get_by_role("heading", name="Numbers", exact=True)).to_be_visible()
    charts = page.locator("svg.chart")
    # Today: open and closed by hour; the last 30 days: the same, and calls and requests a day.
    expect(charts).to_have_count(6)
    today = page.locator("section.stats").first
    # Five calls at 11:00, in hours: the open chart's bar for 11h is the tallest there is.
    bar = today.locator("svg.chart").first.locator("rect").nth(11)
    assert float(bar.get_attribute("height")) > 0
    expect(bar.locator("title")).to_have_text("11: 5")
    expect(today.locator("table")).to_contain_text("police")
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 50, box
    assert site.has_no_sideways_scroll(), "the numbers page scrolls sideways on a phone"


def test_a_supervisor_signs_an_advisor_out_everywhere(
    open_site: OpenSite, store: redis.Redis, browser: Browser
) -> None:
    site = open_site()
    add_advisor(store, "Sam Advisor", ADVISOR_PHONE)
    add_advisor(store, "Pat Supervisor", SUPERVISOR_PHONE, supervisor=True)
    site.sign_in("Sam Advisor")
    expect(site.page.locator("#duty")).to_be_visible()
    copied = site.page.context.cookies()  # as if lifted from this browser

    others = [browser.new_context(viewport=LAPTOP, locale="en-GB") for _ in range(2)]
    try:
        for context in others:
            context.set_default_timeout(POLL_MS)
        boss = Site(site.app, site.url, others[0].new_page())
        boss.sign_in("Pat Supervisor")
        boss.page.get_by_role("link", name="Supervisor").click()
        boss.page.get_by_role("button", name="Sign Sam Advisor out everywhere").click()
        expect(boss.page.locator(".flash")).to_contain_text(
            "sam-advisor is signed out on every device"
        )

        # The advisor's open queue page finds out at its next poll.
        site.page.wait_for_url(re.compile(r"/console/login$"), timeout=POLL_MS)
        expect(site.page.get_by_role("heading", name="Sign in")).to_be_visible()

        # The copied cookies, in another browser, open nothing either.
        others[1].add_cookies(copied)
        thief = others[1].new_page()
        thief.goto(site.url + "/console/")
        expect(thief).to_have_url(re.compile(r"/console/login"))
        expect(thief.locator("#duty")).to_have_count(0)
    finally:
        for context in others:
            context.close()
