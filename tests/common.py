"""What the test files share that is not a fixture: the test instants and numbers, the helpers
that sign requests and read answers, and one vocabulary for what a caller hears and a texter
reads, with the assertions the tests keep making (after python-holidays' tests/common.py,
whose assertHoliday every country's tests speak).

Fixtures are in conftest.py. Test modules import from here and from conftest.py, never from
each other (tests/test_test_suite.py checks)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
import redis
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ivr.content.flows import DEFAULT_DIR, load_hours
from ivr.content.tomlfile import read_toml
from ivr.core.hours import HoursConfig, OpeningHours
from ivr.core.phrases import usual_hours
from ivr.core.promise import Placement
from ivr.core.safetime import ANYTIME, Window
from ivr.simulate import TwilioLikeClient
from ivr.store import keys as store_keys
from ivr.store import stats
from ivr.store.accounts import Accounts, Advisor
from ivr.store.keys import Keys
from ivr.store.queue import CallbackQueue, Requested
from ivr.store.sealing import Sealer

# ------------------------------------------------------------------ instants and numbers

LONDON = ZoneInfo("Europe/London")
# A Wednesday in hours, and a Wednesday evening.
OPEN_AT = "2026-11-25T11:00"
CLOSED_AT = "2026-11-25T19:00"

TOKEN = "0123456789abcdef0123456789abcdef"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
SECRET_KEY = "test-only console key, never used outside the tests"
# The keys every test store is sealed with (as DATA_KEY and LOOKUP_KEY); SEALER, for tests
# that read or write the store themselves. Generated keys: tests/test_sealed_at_rest.py.
DATA_KEY = "dGVzdC1vbmx5IGRhdGEga2V5LCBuZXZlciB1c2VkISE"  # 32 bytes, base64
LOOKUP_KEY = "test-only lookup key, never used outside the tests"
SEALER = Sealer((DATA_KEY,), LOOKUP_KEY)
HELPLINE = "+441234567890"  # the helpline's own number, the To of every webhook
ADVISORS = ("+447400000001", "+447400000002")  # valid UK mobiles (07700 900xxx is not)
CALLER = "+447700900123"  # who calls in twilio_client() (withheld-looking: a drama number)
SENDER = "+447400123456"  # who texts in send()
# Numbers that must never be dialled, however they are written (digits after +44 or 0).
EMERGENCY = frozenset({"999", "112", "101", "911"})

# The console.
PASSWORD = "correct horse battery"
ADVISOR_PHONE = "+447400123456"
SUPERVISOR_PHONE = "+447400123457"
LOGIN = "/console/login"

# `make fast` sets FAST_SAMPLE=k and runs about one case in k of each big table
# (conftest.keep_sample); a property test runs about one in k of its examples too, at least
# MIN_EXAMPLES. `make test` runs every example.
FAST_SAMPLE = int(os.environ.get("FAST_SAMPLE") or 1)
MIN_EXAMPLES = 20


def examples(n: int) -> int:
    """A property test's max_examples: `n` in `make test`, about n/k in `make fast`."""
    return n if FAST_SAMPLE <= 1 else max(MIN_EXAMPLES, n // FAST_SAMPLE)


# How often a test's own HTTP server looks for its shutdown: at the standard library's 0.5 s,
# each test that stops one waited half a second for nothing.
SERVER_POLL_SECONDS = 0.01


def empty(r: redis.Redis) -> None:
    """Empty the store, after writing out counts still buffered in memory: else the flush
    thread can write them a moment later, into a store the test expects empty (seen in CI:
    a restore refused as "the store is not empty (1 keys)")."""
    stats.flush()
    r.flushdb()


def london(text: str) -> datetime:
    """An ISO-8601 instant; without an offset, UK local time."""
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=LONDON)


class Clock:
    """A clock the test sets and moves on (the app reads it at each request): the `clock`
    fixture, or make_app(clock=Clock(...))."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@cache
def shipped_config() -> HoursConfig:
    """flows/hours.toml as shipped, read once."""
    config, _ = load_hours(read_toml(DEFAULT_DIR / "hours.toml"), london(OPEN_AT))
    return config


@cache
def shipped_hours() -> OpeningHours:
    """The opening hours of the shipped flows/hours.toml, read once."""
    return OpeningHours(shipped_config())


def hours_with(**changes: object) -> OpeningHours:
    """The shipped hours with some settings replaced, e.g. hours_with(subdivision="SCT")."""
    return OpeningHours(replace(shipped_config(), **changes))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ the store


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


def flows_with(folder: Path, hours_extra: str) -> Path:
    """A copy of the shipped flows/ in `folder`, with `hours_extra` added to hours.toml."""
    for file in DEFAULT_DIR.glob("*.toml"):
        shutil.copy(file, folder / file.name)
    with (folder / "hours.toml").open("a", encoding="utf-8") as f:
        f.write("\n" + hours_extra)
    return folder


def everything_stored(r: redis.Redis, pattern: str = "*") -> list[str]:
    """Every key, and every value, field, member and score, in the whole store."""
    found = []
    for key in r.keys(pattern):
        found.append(key)
        kind = r.type(key)
        if kind == "string":
            found.append(r.get(key))
        elif kind == "hash":
            for field, value in r.hgetall(key).items():
                found += [field, value]
        elif kind == "list":
            found += r.lrange(key, 0, -1)
        elif kind == "set":
            found += r.smembers(key)
        elif kind == "zset":
            for member, score in r.zrange(key, 0, -1, withscores=True):
                found += [member, str(score)]
        else:
            raise AssertionError(f"{key} is a {kind}: teach this test to read it")
    return found


def stored_anywhere(r: redis.Redis, text: str) -> list[str]:
    """Whatever in the store (key, value, field, member, score) contains `text`, the
    published content aside (the helpline's own words, flows/, kept there to serve)."""
    return [
        item
        for key in r.keys("*")
        if key != store_keys.CONTENT
        for item in everything_stored(r, key)
        if text in item
    ]


def number_forms(number: str) -> list[str]:
    """How a UK number could be written down: +447400123456, 447400123456, 07400123456."""
    national = number.removeprefix("+44")
    return [number, number[1:], "0" + national]


# ------------------------------------------------------------------ calls: what a caller hears


def twilio_client(app: Flask, caller: str = CALLER) -> TwilioLikeClient:
    """Posts to the app as Twilio would for one call from `caller`, signed with TOKEN."""
    return TwilioLikeClient(
        app,
        {
            "CallSid": "CA" + "a" * 32,
            "AccountSid": "AC" + "0" * 32,
            "From": caller,
            "To": HELPLINE,
            "CallStatus": "in-progress",
        },
    )


def twiml(response: TestResponse) -> ElementTree.Element:
    """The parsed TwiML of a response that must be a 200 with root <Response>."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    root = ElementTree.fromstring(response.get_data(as_text=True))
    assert root.tag == "Response"
    return root


def spoken(root: ElementTree.Element) -> list[str]:
    """What a caller hears, in order: the text of every <Say>, those inside a <Gather> too."""
    return [say.text or "" for say in root.iter("Say")]


def heard(response: TestResponse) -> list[str]:
    """What a caller hears from a webhook's response (a 200 of TwiML)."""
    return spoken(twiml(response))


def path(url: str) -> str:
    return urlsplit(url).path


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def redirect_of(root: ElementTree.Element) -> str:
    """The URL of the answer's one <Redirect>."""
    redirects = [r.text or "" for r in root.iter("Redirect")]
    assert len(redirects) == 1, ElementTree.tostring(root)
    return redirects[0]


def cli_lines(result: Result) -> list[str]:
    """`helpline simulate call`'s transcript, one line per event, without the heading."""
    return [line.strip() for line in result.stdout.splitlines()[1:]]


def cli_heard(result: Result) -> list[str]:
    """What the caller hears in `helpline simulate call`'s transcript, in order."""
    return [
        line.removeprefix("HEARS: ") for line in cli_lines(result) if line.startswith("HEARS: ")
    ]


# ------------------------------------------------------------------ texts: what a texter reads


def new_sid(prefix: str = "SM") -> str:
    return prefix + uuid.uuid4().hex


def texter(app: Flask, sender: str | None = SENDER) -> TwilioLikeClient:
    """Posts to /sms as Twilio would for texts from `sender` (None: no From at all)."""
    params = {"AccountSid": ACCOUNT_SID, "To": HELPLINE}
    if sender is not None:
        params["From"] = sender
    return TwilioLikeClient(app, params)


def replies(response: TestResponse) -> list[str]:
    """The texts of a reply, which must be a 200 holding TwiML <Response> of <Message>s."""
    root = twiml(response)
    assert all(child.tag == "Message" for child in root), ElementTree.tostring(root)
    return [child.text or "" for child in root]


def send(
    app: Flask, body: str | None, sender: str | None = SENDER, sid: str | None = None, **extra: str
) -> list[str]:
    """Text `body` from `sender` (None: leave the field out); the texts of the reply."""
    fields = {"MessageSid": new_sid() if sid is None else sid, **extra}
    if body is not None:
        fields["Body"] = body
    return replies(texter(app, sender).post("/sms", fields))


def only(texts: list[str]) -> str:
    """The one text of a reply."""
    assert len(texts) == 1, texts
    return texts[0]


def stop_following(app: Flask) -> None:
    """The app's helplines stop following published words and hours (a test done with it)."""
    for line in app.extensions["helplines"].values():
        line.content.stop()


def reply_text(app: Flask, name: str, **fields: object) -> str:
    """A reply from flows/sms.toml, filled in as the app fills it."""
    flows = app.extensions["helpline"].flows
    fields.setdefault("usual_hours", usual_hours(flows.hours_config.weekly, flows.phrases))
    return flows.sms.replies[name].format(**fields)


# ------------------------------------------------------------------ logs

# Any +44 or 07 number, with or without spaces: every number in the tests is a UK one.
FULL_NUMBER = re.compile(r"(?:\+|%2B)44\s?\d{4}\s?\d{6}|\b07\d{3}\s?\d{6}\b", re.IGNORECASE)


def phone_numbers_in(text: str) -> list[str]:
    """The full UK phone numbers in `text` (a log, as production writes it)."""
    return FULL_NUMBER.findall(text)


# ------------------------------------------------------------------ the advisors' console

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def add_advisor(
    store: redis.Redis,
    name: str = "Alex",
    phone: str = ADVISOR_PHONE,
    supervisor: bool = False,
    on_duty: bool = False,
    password: str = PASSWORD,
    welsh: bool = False,
) -> Advisor:
    """An advisor account, as `helpline advisors add` makes it."""
    accounts = Accounts(store, SEALER)
    advisor = accounts.add(name, phone, password, supervisor, welsh=welsh)
    if on_duty:
        accounts.set_on_duty(advisor.username, True)
    found = accounts.get(advisor.username)
    assert found is not None
    return found


def csrf_token(client: FlaskClient, page: str = "/console/") -> str:
    """The hidden csrf_token of a rendered console page (the session's token)."""
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    found = _CSRF.search(response.get_data(as_text=True))
    assert found, f"no csrf_token on {page}"
    return found.group(1)


def sign_in_attempt(
    client: FlaskClient, name: str, password: str, **kwargs: object
) -> TestResponse:
    return client.post(
        LOGIN,
        data={"name": name, "password": password, "csrf_token": csrf_token(client, LOGIN)},
        **kwargs,
    )


def signed_in(app: Flask, name: str = "Alex", password: str = PASSWORD) -> FlaskClient:
    """A test client with a console session (the app needs cookie_secure=False)."""
    client = app.test_client()
    response = sign_in_attempt(client, name, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert urlsplit(response.headers["Location"]).path == "/console/"
    return client


def post_form(
    client: FlaskClient,
    url: str,
    data: dict[str, str] | None = None,
    page: str = "/console/",
    **kwargs: object,
) -> TestResponse:
    """POST a console form as the browser would: with the page's CSRF token."""
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(client, page)}, **kwargs)


def flashes(client: FlaskClient, page: str = "/console/") -> str:
    """The page's text, where flashed messages show up after a redirect."""
    return client.get(page).get_data(as_text=True)


def redirects_to_login(response: TestResponse) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == LOGIN


# ------------------------------------------------------------------ assertions

Said = ElementTree.Element | Sequence[str]


def _lines(said: Said) -> list[str]:
    return spoken(said) if isinstance(said, ElementTree.Element) else list(said)


def assert_hears(said: Said, text: str) -> None:
    """The caller hears `text`: a whole <Say>, or part of one (`said` is TwiML or lines)."""
    lines = _lines(said)
    assert any(text in line for line in lines), f"{text!r} is not heard in {lines}"


def assert_not_hears(said: Said, text: str) -> None:
    """No <Say> holds `text`."""
    lines = _lines(said)
    assert not any(text in line for line in lines), f"{text!r} is heard in {lines}"


def assert_999_first(root: ElementTree.Element, safety: str) -> None:
    """The safety line (which gives 999) is said before the caller is asked anything: before
    the answer's first <Gather>, and it is the line that names 9 9 9."""
    assert "9 9 9" in safety, safety
    verbs = list(root)
    said_at = [i for i, v in enumerate(verbs) if v.tag == "Say" and v.text == safety]
    gathers_at = [i for i, v in enumerate(verbs) if v.tag == "Gather"]
    assert said_at, f"the safety line is not said: {spoken(root)}"
    assert gathers_at, "no question asked (no <Gather>)"
    assert said_at[0] < gathers_at[0], "a question comes before the safety line"


def dialled(root: ElementTree.Element) -> list[str]:
    """Every number an answer dials: a <Dial>'s own text and every <Number>."""
    numbers = [(dial.text or "").strip() for dial in root.iter("Dial")]
    numbers += [(number.text or "").strip() for number in root.iter("Number")]
    return [number for number in numbers if number]


def assert_no_dial_to_emergency(root: ElementTree.Element) -> None:
    """The answer dials no emergency or police number, in any form (+44999, 0101, 112…)."""
    for number in dialled(root):
        digits = re.sub(r"\D", "", number).removeprefix("44").lstrip("0")
        assert digits not in EMERGENCY, f"dials {number!r}: {ElementTree.tostring(root)!r}"


# ------------------------------------------------------------------ the browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str:
    """The Chromium to drive; the test fails (never skips) when there is none."""
    configured = os.environ.get("CHROMIUM_PATH", "")
    if configured:
        if not os.access(configured, os.X_OK):
            pytest.fail(f"CHROMIUM_PATH={configured} is not an executable Chromium")
        return configured
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail(
            "No Chromium found for the browser tests: install one (on Debian, "
            "`apt-get install chromium`, which `make test` does when run as root) or "
            "set CHROMIUM_PATH to a Chromium executable. Playwright's own browser "
            "download is not used."
        )
    return found


# ------------------------------------------------------------------ stores of earlier versions


def unkeyed_hash(number: str) -> str:
    """How versions 1 to 3 named a number's keys."""
    return hashlib.sha256(number.encode()).hexdigest()[:24]


def write_v3(r: redis.Redis, callback_id: str, number: str, status: str = "scheduled") -> None:
    """A callback as version 3 stored it: the number in clear, keys named by its unkeyed
    hash."""
    h = unkeyed_hash(number)
    due = london("2026-11-25T14:00").timestamp()
    r.hset(
        Keys().callback(callback_id),
        mapping={
            "number": number,
            "source": "sms",
            "requested_at": london("2026-11-24T19:00").timestamp(),
            "due_at": due,
            "slot_end": london("2026-11-25T16:00").timestamp(),
            "plan": ANYTIME.dumps(),
            "voicemail": 0,
            "attempts": 0,
            "status": status,
            "h": h,
            "claimable_on": "",
            "missed": 0,
        },
    )
    if status == "scheduled":
        r.zadd(Keys().place("scheduled"), {callback_id: due})
        r.zadd(Keys().place("slots"), {callback_id: london("2026-11-25T16:00").timestamp()})
        r.set(Keys().open(h), callback_id)
    else:
        r.zadd(Keys().place("ended"), {callback_id: due})
    r.sadd(Keys().numbers(h), callback_id)
