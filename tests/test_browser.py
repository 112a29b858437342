"""The advisors' console in a real browser: headless Chromium (driven by Playwright) against the
real app served on 127.0.0.1, Twilio's REST API mocked by Prism.

A test that fails leaves screenshots of its pages, as they were, in test-artifacts/; a run that
passes writes nothing there.

Every console page, signed out, as an advisor and as a supervisor, is audited at 320 and
1280 px: axe-core (npm, injected into the page) for WCAG 2.2 AA, and every control there at
1280 px must be there, inside the screen and big enough to touch at 320 px.

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
from playwright.sync_api import Browser, Locator, Page, expect
from werkzeug.serving import make_server

from ivr.core.livequeue import ON_CALL, WRAP_UP
from ivr.simulate import TwilioLikeClient, simulate_call
from ivr.store import audit, stats
from ivr.store.accounts import Accounts
from ivr.store.queue import CallbackQueue
from tests.common import (
    OPEN_AT,
    PASSWORD,
    SEALER,
    SERVER_POLL_SECONDS,
    Clock,
    add_advisor,
    request_callback,
)
from tests.conftest import AppFactory

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}
NARROW = {"width": 320, "height": 640}  # the narrowest phone WCAG asks for (reflow, 1.4.10)
LAPTOP = {"width": 1280, "height": 800}
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # npm's axe-core (package.json)
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]  # WCAG 2.2 AA
TARGET_PX = 24  # WCAG 2.2's smallest target (2.5.8), for every control, not only where needed
CONTROLS = "a[href], button, input:not([type=hidden]), select, textarea, summary"
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
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": SERVER_POLL_SECONDS}, daemon=True
        )
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
    expect(today.locator("table.menu")).to_contain_text("police")
    # Each chart has a name, and its numbers are in a table too (no mouse needed).
    expect(
        today.get_by_role("img", name=re.compile("^Calls by hour of day while open"))
    ).to_be_visible()
    today.get_by_text("Calls by hour as a table").click()
    hours = today.get_by_role("table", name=re.compile("^Calls by hour of day"))
    expect(hours.get_by_role("row", name=re.compile("^11:00"))).to_have_text(
        re.compile(r"11:00\s*5\s*0")
    )
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 50, box
    assert site.has_no_sideways_scroll(), "the numbers page scrolls sideways on a phone"


def test_an_open_queue_page_says_when_it_cant_reach_its_data(
    open_site: OpenSite, store: redis.Redis
) -> None:
    """The page's poll used to fail in silence, leaving an out-of-date queue on screen."""
    site = open_site(viewport=NARROW)
    add_advisor(store, "Sam Advisor", ADVISOR_PHONE)
    site.sign_in("Sam Advisor")
    stale = site.page.get_by_role("alert")
    store.execute_command("CLIENT", "PAUSE", 7000, "ALL")  # no Redis call until it ends
    expect(stale).to_contain_text("can't reach its data", timeout=7000)
    expect(stale).to_contain_text("Calls are still answered")
    assert not axe_violations(site.page)
    assert site.has_no_sideways_scroll()
    expect(stale).to_have_count(0, timeout=POLL_MS)  # answered again: the notice goes
    store.ping()


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
        boss.page.get_by_role("button", name="Sign out everywhere: Sam Advisor").click()
        expect(boss.page.locator(".flash")).to_contain_text(
            "Sam Advisor is signed out on every device"
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


# ------------------------------------------------------------------ every page, every width


def axe_violations(page: Page) -> list[str]:
    """WCAG 2.2 AA violations axe-core finds on the page as it is now, one line each."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make test` (it runs npm ci)")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """tags => axe.run(document, {runOnly: {type: "tag", values: tags},
                                      resultTypes: ["violations"]})
                 .then(r => r.violations.map(v => v.id + ": " + v.help + " at "
                                             + v.nodes.map(n => n.target.join(" ")).join(", ")))""",
        AXE_TAGS,
    )
    return list(found)


MARK_CONTROLS = """selector => {
  const shown = [...document.querySelectorAll(selector)].filter(
    e => e.checkVisibility({checkVisibilityCSS: true}) && e.getClientRects().length);
  shown.forEach((e, i) => { e.dataset.reach = String(i); });
  return shown.length;
}"""
# Each control marked at 1280 px, as it is now: where it is, and what it is called.
UNREACHABLE = """([limit, least]) => {
  const name = e => `${e.tagName.toLowerCase()} "${(e.getAttribute("aria-label") || e.textContent
      || e.getAttribute("name") || e.value || "").trim().slice(0, 40)}"`;
  const problems = [];
  for (const e of document.querySelectorAll("[data-reach]")) {
    const r = e.getBoundingClientRect();
    if (!e.checkVisibility({checkVisibilityCSS: true}) || !r.width || !r.height) {
      problems.push(`${name(e)} is hidden`);
    } else if (r.left < -0.5 || r.right > limit + 0.5) {
      problems.push(`${name(e)} reaches past the screen (${r.left}..${r.right} px)`);
    } else if (r.width < least || r.height < least) {
      problems.push(`${name(e)} is ${r.width}x${r.height} px`);
    }
  }
  const root = document.documentElement;
  if (root.scrollWidth > limit) problems.push(`the page is ${root.scrollWidth} px wide`);
  return problems;
}"""
# Every cell of a card table names its column, also in rows the poll draws.
UNLABELLED = """() => [...document.querySelectorAll("table.cards tbody tr:not(.empty) td")]
  .filter(td => td.dataset.label !==
          td.closest("table").querySelectorAll("thead th")[td.cellIndex].textContent.trim())
  .map(td => `${td.closest("table").id} cell ${td.cellIndex}: "${td.textContent.trim()}"`)"""


def listed(found: dict[str, list[str]]) -> str:
    """Problems by page, one a line: a failure shows them all, untruncated."""
    return "\n" + "\n".join(f"{page}: {problem}" for page, ps in found.items() for problem in ps)


def unreachable_at_narrow_width(page: Page) -> list[str]:
    """What can be used at 1280 px but not at 320: hidden, off the side, or too small to touch
    (each control at least 24x24 px), and any sideways scroll; the page is left at 1280 px."""
    page.set_viewport_size(LAPTOP)
    assert page.evaluate(MARK_CONTROLS, CONTROLS) > 0
    problems = [f"unlabelled {cell}" for cell in page.evaluate(UNLABELLED)]
    page.set_viewport_size(NARROW)
    problems += page.evaluate(UNREACHABLE, [NARROW["width"], TARGET_PX])
    problems += [f"unlabelled {cell}" for cell in page.evaluate(UNLABELLED)]
    page.set_viewport_size(LAPTOP)
    return problems


def join_the_queue(site: Site, call_sid: str, caller: str) -> None:
    """A caller nobody free could take waits on the line, as Twilio asks for it."""
    params = {"CallSid": call_sid, "From": caller, "To": HELPLINE_NUMBER}
    response = TwilioLikeClient(site.app, params).post("/voice/queue/join")
    assert "<Enqueue" in response.get_data(as_text=True)


def every_console_page(site: Site, store: redis.Redis) -> Iterator[str]:
    """Puts the page in each state the console has, signed out, as an advisor and as a
    supervisor, each showing every kind of control it can; yields its name there."""
    page = site.page
    helpline = site.app.extensions["helpline"]
    now = helpline.clock()
    add_advisor(store, "Sam Advisor", ADVISOR_PHONE)
    add_advisor(store, "Pat Supervisor", SUPERVISOR_PHONE, supervisor=True)
    add_advisor(store, "Robin Advisor", "+447912345670")
    request_callback(site.queue, CALLER, "sms", now, now, voicemail=True)
    request_callback(site.queue, "+447400123457", "voice", now, now)
    request_callback(site.queue, "+447400123458", "sms", now, now, plan=None)
    for presses in ([], ["2"], ["3"]):
        simulate_call(site.app, presses, caller="+447400123459")
    # Callers waiting on the line, one being put through to Robin; the queue in the numbers.
    for digit in "12":
        join_the_queue(site, "CA" + digit * 32, f"+44740012345{digit}")
    assert helpline.live.take("CA" + "1" * 32, "robin-advisor", now)
    helpline.advisor_states.set("robin-advisor", ON_CALL, now)
    helpline.advisor_states.set("pat-supervisor", WRAP_UP, now)
    zone = helpline.flows.hours.timezone
    stats.count(store, now, zone, "q:answered", "q:swapped", "q:abandoned")
    stats.queue_answer_recorded(store, now, zone, 95)
    code = Accounts(store, SEALER).device_link("sam-advisor")

    site.go("/console/login")
    yield "sign-in"
    page.get_by_label("Name").fill("Sam Advisor")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("don't match")
    yield "sign-in, refused"
    site.go(f"/console/trust/{code}")
    yield "trust this device"
    site.go("/console/trust/expired-or-made-up")
    yield "trust link expired"

    site.sign_in("Sam Advisor")
    yield "queue, advisor off duty"
    page.click("#duty")
    assert site.queue.claim("sam-advisor", now) is not None
    site.go("/console/")
    expect(page.locator("#mine")).to_be_visible()
    yield "queue, advisor with a call to record"
    page.click("#call-next")
    expect(page.get_by_role("alert")).to_contain_text("Record the outcome")
    yield "queue, advisor refused"
    site.go("/console/supervisor/")
    expect(page.get_by_role("heading", name="This page is for supervisors")).to_be_visible()
    yield "supervisor page, refused to an advisor"
    page.get_by_role("button", name="Sign out").click()  # on duty: asked first
    expect(page.get_by_role("radio", name=re.compile("^Go off duty"))).to_be_checked()
    yield "sign out, asked about duty"
    page.get_by_role("button", name="Sign out now").click()
    expect(page.get_by_role("status")).to_contain_text("You have signed out and are off duty")
    yield "signed out"
    site.go("/console/no-such-page")
    expect(page.get_by_role("heading", name="There is no such page")).to_be_visible()
    yield "no such page"

    site.sign_in("Pat Supervisor")
    yield "queue, supervisor"
    page.get_by_role("link", name="Supervisor").click()
    page.get_by_label("What callers hear and read").fill(CLOSED_MESSAGE)
    page.click("#close-line")
    expect(page.locator("#reopen")).to_be_visible()
    yield "supervisor, line closed"
    rules = page.locator("#queue-rules")
    rules.evaluate("form => { form.noValidate = true; }")  # past the browser's own checks
    page.get_by_label(re.compile("^Longest wait on the line")).fill("0")
    page.click("#set-queue-rules")
    expect(page.get_by_role("alert")).to_contain_text("the queue rules were not changed")
    yield "supervisor, queue rules refused"
    page.get_by_label(re.compile("^Longest wait on the line")).fill("5")
    page.get_by_role("radio", name=re.compile("Strictly by waiting time")).check()
    page.click("#set-queue-rules")
    expect(page.get_by_role("status")).to_contain_text("Queue rules set")
    yield "supervisor, queue rules set"
    page.get_by_role("link", name="Numbers").click()
    yield "numbers"
    page.get_by_role("link", name=re.compile("^Report for funders")).click()
    expect(page.get_by_role("heading", name=re.compile("^Helpline report"))).to_be_visible()
    yield "report for funders"
    site.go("/console/supervisor/")
    page.get_by_role("button", name="Trust a new device for Sam Advisor").click()
    expect(page.locator("#device-link")).to_be_visible()
    yield "device link"
    store.execute_command("CLIENT", "PAUSE", 1500, "ALL")  # the store stops answering
    site.go("/console/")
    expect(page.get_by_role("heading", name="The console can't reach its data")).to_be_visible()
    store.ping()  # answers again once the pause is over; the page stays as it was drawn
    yield "store out of reach"


def test_every_console_page_passes_axe_at_320_and_1280_px(
    open_site: OpenSite, store: redis.Redis
) -> None:
    site = open_site()
    found: dict[str, list[str]] = {}
    pages = []
    for name in every_console_page(site, store):
        pages.append(name)
        for viewport in (NARROW, LAPTOP):
            site.page.set_viewport_size(viewport)
            violations = axe_violations(site.page)
            if violations:
                found[f"{name} at {viewport['width']} px"] = violations
    assert len(pages) == 19, pages
    assert not found, listed(found)


def test_every_action_at_1280_px_is_there_to_touch_at_320_px(
    open_site: OpenSite, store: redis.Redis
) -> None:
    site = open_site()
    found = {
        name: problems
        for name in every_console_page(site, store)
        if (problems := unreachable_at_narrow_width(site.page))
    }
    assert not found, listed(found)
    # The columns a rule once hid on phones: the advisor's Remove button, the queue's
    # Voicemail and By, the audit trail's Callback.
    site.page.set_viewport_size(NARROW)
    site.go("/console/supervisor/")
    remove = site.page.get_by_role("button", name="Remove Robin Advisor")
    remove.scroll_into_view_if_needed()
    expect(remove).to_be_in_viewport(ratio=1)
    expect(site.page.locator('#audit td[data-label="Callback"]').first).to_be_visible()
    site.page.click("#reopen")  # the tour closed the line: callers join the queue while open
    expect(site.page.get_by_role("status")).to_contain_text("usual hours again")
    site.go("/console/")
    for column in ("Voicemail", "By"):
        expect(site.page.locator(f'#due td[data-label="{column}"]').first).to_be_visible()
    # Rows the poll draws are labelled cards too.
    waiting = int(site.page.locator("#due-count").inner_text())
    now = site.app.extensions["helpline"].clock()
    request_callback(site.queue, "+447400123450", "voice", now, now)
    join_the_queue(site, "CA" + "3" * 32, "+447400123453")
    expect(site.page.locator("#due-count")).to_have_text(str(waiting + 1), timeout=POLL_MS)
    expect(site.page.locator("#live-count")).to_have_text("3", timeout=POLL_MS)
    expect(site.page.locator("#live tbody")).to_contain_text("***453")
    assert site.page.evaluate(UNLABELLED) == []
    # The supervisor's queue too: a caller who joins appears at the next poll, as a card.
    site.go("/console/supervisor/")
    expect(site.page.locator("#live tbody tr")).to_have_count(3)
    join_the_queue(site, "CA" + "4" * 32, "+447400123454")
    expect(site.page.locator("#live tbody tr")).to_have_count(4, timeout=POLL_MS)
    expect(site.page.locator("#live tbody tr").last).to_contain_text("***454")
    expect(site.page.locator("#advisor-states")).to_contain_text("On a call")
    assert site.page.evaluate(UNLABELLED) == []
    assert site.has_no_sideways_scroll()


# ------------------------------------------------------------------ keyboard only

FOCUS_SHOWN = """e => e === document.activeElement && e.matches(":focus-visible")
                 && getComputedStyle(e).outlineStyle !== "none" """


def tab_to(page: Page, control: Locator, presses: int = 30) -> None:
    """Press Tab until `control` has the focus, which it must show; fails if it never does."""
    for _ in range(presses):
        if control.evaluate("e => e === document.activeElement"):
            assert control.evaluate(FOCUS_SHOWN), "the focus is not shown"
            return
        page.keyboard.press("Tab")
    pytest.fail(f"{control} was not reached with Tab")


def test_an_advisor_works_the_queue_with_the_keyboard_alone(
    open_site: OpenSite, store: redis.Redis
) -> None:
    site = open_site(viewport=NARROW)
    page = site.page
    add_advisor(store, "Sam Advisor", ADVISOR_PHONE)
    now = site.app.extensions["helpline"].clock()
    callback_id = request_callback(site.queue, CALLER, "sms", now, now).callback_id

    site.go("/console/login")
    tab_to(page, page.get_by_label("Name"))
    page.keyboard.type("Sam Advisor")
    tab_to(page, page.get_by_label("Password"))
    page.keyboard.type(PASSWORD)
    tab_to(page, page.get_by_role("button", name="Sign in"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(site.url + "/console/")

    tab_to(page, page.get_by_role("button", name="Go on duty"))
    page.keyboard.press("Enter")
    expect(page.locator(".badge.on")).to_have_text("On duty")

    tab_to(page, page.get_by_role("button", name="Take next"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Ringing your phone")
    expect(page.locator("#mine-number")).to_have_text(MASKED)

    tab_to(page, page.get_by_role("radio", name="Reached"))
    page.keyboard.press("Space")
    expect(page.get_by_role("radio", name="Reached")).to_be_checked()
    tab_to(page, page.get_by_role("button", name="Record outcome"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Recorded: Reached.")
    done = site.queue.get(callback_id)
    assert done is not None and done.status == "done" and done.outcome == "reached"


# ------------------------------------------------------------------ errors in plain words


def test_calls_that_cant_be_made_are_an_alert_for_the_advisor_and_detail_for_the_supervisor(
    open_site: OpenSite, store: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Found: "Call next" without Twilio settings told the advisor "TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN and HELPLINE_NUMBER must be set", in the yellow box of good news."""
    site = open_site(viewport=NARROW, twilio_account_sid="")
    page = site.page
    add_advisor(store, "Sam Advisor", ADVISOR_PHONE)
    add_advisor(store, "Pat Supervisor", SUPERVISOR_PHONE, supervisor=True)
    now = site.app.extensions["helpline"].clock()
    request_callback(site.queue, CALLER, "sms", now, now)
    site.sign_in("Sam Advisor")
    page.click("#duty")

    with caplog.at_level("ERROR", logger="ivr.web.console"):
        page.click("#call-next")
        alert = page.get_by_role("alert")
        expect(alert).to_have_text("Calls can't be made right now: tell your supervisor.")
    expect(page.locator("main")).not_to_contain_text("TWILIO")
    assert "TWILIO_ACCOUNT_SID is not set" in caplog.text
    assert not axe_violations(page)
    error_look = alert.evaluate("e => getComputedStyle(e).backgroundColor")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign out now").click()  # on duty: asked first
    news_look = page.get_by_role("status").evaluate("e => getComputedStyle(e).backgroundColor")
    assert error_look != news_look, "an error looks like good news"

    site.sign_in("Pat Supervisor")
    page.get_by_role("link", name="Supervisor").click()
    problem = page.get_by_role("region", name="Calls can't be made")
    expect(problem).to_contain_text("Advisors can't make calls from the console")
    expect(problem).not_to_contain_text("TWILIO")  # the setting's name is for the log
    assert not axe_violations(page)
