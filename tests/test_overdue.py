"""No callback dropped unattempted (issue 19 §4): a callback nobody has tried to call never
expires. Past the expiry period it is overdue: first in Take next, counted on the supervisor's
page and in the advisors' opening text; after a further period a supervisor decides (keep it,
close it quietly, or close it with a discreet text), and nothing closes without that decision.
Expiry applies once someone has tried. A held callback (waiting for a safe time) ends after
its own opening days without an answer, by default without a text. The record's missed days
are the days the log names.

The scheduler's jobs run as the scheduler runs them (Jobs, on the real test Redis); the
console is driven as a browser would, signed in, with its CSRF token.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
import redis
from flask import Flask

from ivr.config import Settings
from ivr.content.flows import DEFAULT_DIR
from ivr.core.callbacks import after_outcome
from ivr.core.clock import fixed_clock
from ivr.core.expiry import Count
from ivr.core.phone import mask
from ivr.core.promise import Placement
from ivr.jobs.tasks import Jobs
from ivr.services import build_services
from ivr.simulate import TwilioLikeClient
from ivr.store import audit
from ivr.store.live import LiveQueue
from ivr.store.onelist import take_next
from ivr.store.queue import CallbackQueue
from tests.common import (
    ACCOUNT_SID,
    SEALER,
    SUPERVISOR_PHONE,
    TOKEN,
    add_advisor,
    flashes,
    london,
    post_form,
    request_callback,
    shipped_hours,
    signed_in,
)

ME = "+447400123456"
OTHER = "+447400123498"
HELPLINE = "+441234567890"
BASE = "https://helpline.example.org"
SUPERVISOR_PAGE = "/console/supervisor/"


def text(app: Flask, body: str, sid: str, number: str = ME) -> list[str]:
    client = TwilioLikeClient(app, {"From": number, "To": HELPLINE, "AccountSid": "AC" + "0" * 32})
    response = client.post("/sms", {"Body": body, "MessageSid": sid})
    assert response.status_code == 200
    return [m.text or "" for m in ElementTree.fromstring(response.get_data(as_text=True))]


@pytest.fixture
def jobs(store, store_settings):
    """jobs(**settings): the scheduler's jobs on the test Redis (no Twilio unless given)."""

    def make(send: bool = True, twilio: bool = False, flows: Path | None = None, **more) -> Jobs:
        settings = Settings().override(
            {
                **store_settings,
                **(
                    {
                        "twilio_account_sid": ACCOUNT_SID,
                        "twilio_auth_token": TOKEN,
                        "helpline_number": HELPLINE,
                        "public_base_url": BASE,
                        # a text sent by mistake goes nowhere
                        "twilio_api_base_url": "http://127.0.0.1:9",
                    }
                    if twilio
                    else {}
                ),
                **({"flows_dir": flows} if flows else {}),
                **more,
            }
        )
        services = build_services(settings, fixed_clock(london("2026-11-25T02:30")), upgrade=False)
        assert (services.twilio is not None) is twilio
        return Jobs(services, send=send)

    return make


def days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def live_through(run: Jobs, first: str, last: str) -> list[str]:
    """Every day from `first` to `last` as the scheduler lives it, nobody taking a call:
    the opening releases what is due, the day's slot ends at closing, the night counts.
    Every line the jobs reported."""
    lines: list[str] = []
    for day in days(first, last):
        if shipped_hours().day(day).session is not None:
            lines += run.opening(london(f"{day}T10:00")).lines
            lines += run.tick(london(f"{day}T16:00")).lines
        lines += run.nightly(london(f"{day + timedelta(days=1)}T02:30")).lines
    return lines


# ------------------------------------------------------------------ nobody has tried


def test_a_callback_nobody_tried_still_waits_after_20_opening_days(make_app, store, jobs):
    """Found: a callback nobody took for five opening days ended `expired`, attempts 0."""
    app = make_app(at="2026-11-24T19:00")
    text(app, "hello", "SM" + "1" * 32)
    queue = CallbackQueue(store, SEALER)
    callback = queue.open_for(ME)

    lines = live_through(jobs(), "2026-11-25", "2026-12-22")  # 20 opening days

    waiting = queue.get(callback.id)
    assert waiting.status in ("scheduled", "due"), waiting
    assert (waiting.attempts, waiting.count.missed) == (0, 20)
    assert queue.open_for(ME) is not None
    assert not any(line.startswith(f"expire {callback.id}") for line in lines)
    assert f"overdue {callback.id}: not reached on 5 opening days, nobody has tried" in lines
    assert f"ask a supervisor about {callback.id}: overdue for 5 more opening days" in lines


def test_a_callback_tried_once_expires_as_before_and_its_record_says_what_the_log_said(
    make_app, store, jobs, cli
):
    """Found: the record said missed_days 4 where the log said 5."""
    app = make_app(at="2026-11-24T19:00")
    text(app, "hello", "SM" + "2" * 32)
    queue = CallbackQueue(store, SEALER)
    callback_id = queue.open_for(ME).id
    run = jobs()
    run.opening(london("2026-11-25T10:00"))
    claimed = queue.claim("alex", london("2026-11-25T11:00"))
    assert claimed.id == callback_id
    status, place = after_outcome(
        "no_answer",
        0,
        3,
        london("2026-11-25T11:00"),
        shipped_hours(),
        timedelta(hours=2),
        claimed.plan,
    )
    queue.finish(callback_id, "alex", "no_answer", status, london("2026-11-25T11:00"), place)
    run.tick(london("2026-11-25T13:00"))

    lines = live_through(run, "2026-11-25", "2026-12-02")

    ended = queue.get(callback_id)
    assert (ended.status, ended.attempts) == ("expired", 1)
    [said] = [line for line in lines if line.startswith(f"expire {callback_id}")]
    assert said.endswith(f"not reached on {ended.count.missed} opening days")
    assert ended.count.missed == 5
    listed = json.loads(cli("callbacks", "list", "--status", "expired", "--json").output)
    assert [(c["id"], c["missed_days"]) for c in listed] == [(callback_id, 5)]


# ------------------------------------------------------------------ held for a safe time


def held(store: redis.Redis, at: str, number: str = ME) -> str:
    return request_callback(
        CallbackQueue(store, SEALER), number, "sms", london(at), london(at), plan=None
    ).callback_id


def test_a_held_callback_ends_five_opening_days_after_we_asked_without_a_text(store, jobs):
    callback_id = held(store, "2026-11-24T19:00")
    queue = CallbackQueue(store, SEALER)
    run = jobs(twilio=True, send=False)  # a text would show as "would text"

    lines = live_through(run, "2026-11-25", "2026-11-30")  # 25, 26, 27, 30: four days
    assert queue.get(callback_id).status == "held"
    lines += live_through(run, "2026-12-01", "2026-12-01")  # the fifth

    ended = queue.get(callback_id)
    assert (ended.status, ended.outcome, ended.count.missed) == ("expired", "no_safe_time", 5)
    assert (
        f"end {callback_id} ({mask(ME)}): held, no safe time given on 5 opening days after "
        "we asked; no text (flows/sms.toml [ended] held is empty)"
    ) in lines
    assert not any(line.startswith("would text") for line in lines)


def test_a_held_callback_counts_from_when_we_last_asked_for_a_time(store, jobs):
    """Held later (the person gave a time we could not meet): the days before count no more."""
    queue = CallbackQueue(store, SEALER)
    callback_id = request_callback(
        queue, ME, "sms", london("2026-11-24T19:00"), london("2026-11-25T10:00")
    ).callback_id
    run = jobs()
    live_through(run, "2026-11-25", "2026-11-27")
    assert queue.get(callback_id).count.missed == 3
    asked = london("2026-11-28T12:00")  # a Saturday text: "after 7pm"
    assert queue.replan(callback_id, None, Placement("held", asked, None)) == "moved"
    assert queue.get(callback_id).count.missed == 0

    live_through(run, "2026-11-28", "2026-12-03")  # 30 Nov to 3 Dec: four opening days
    assert queue.get(callback_id).status == "held"
    live_through(run, "2026-12-04", "2026-12-04")
    assert queue.get(callback_id).status == "expired"


def flows_with_held_text(folder: Path) -> Path:
    shutil.copytree(DEFAULT_DIR, folder, dirs_exist_ok=True)
    sms = folder / "sms.toml"
    source = sms.read_text(encoding="utf-8")
    assert '\nheld = ""\n' in source
    sms.write_text(
        source.replace('\nheld = ""\n', '\nheld = "Please text us again when you can."\n'),
        encoding="utf-8",
    )
    return folder


def test_a_helpline_may_switch_on_a_text_when_a_held_callback_ends(store, jobs, tmp_path):
    callback_id = held(store, "2026-11-24T19:00")
    run = jobs(twilio=True, send=False, flows=flows_with_held_text(tmp_path / "flows"))
    lines = live_through(run, "2026-11-25", "2026-12-01")
    assert CallbackQueue(store, SEALER).get(callback_id).status == "expired"
    assert f"would text {mask(ME)}: Please text us again when you can." in lines


# ------------------------------------------------------------------ overdue, counted and first


def overdue_callbacks(
    store: redis.Redis, missed: int = 5, count: int = 2, first: int = 0
) -> list[str]:
    """`count` callbacks due today that nobody has tried, past the expiry period (numbers
    from the `first`th on)."""
    queue = CallbackQueue(store, SEALER)
    ids = []
    for n in range(count):
        callback_id = request_callback(
            queue,
            f"+4474001234{70 + first + n}",
            "sms",
            london("2026-11-25T10:00"),  # released at the opening: due
            london("2026-11-25T10:00"),
        ).callback_id
        queue.set_count(callback_id, Count(missed, date(2026, 11, 24)))
        ids.append(callback_id)
    return ids


def test_the_opening_text_counts_the_overdue_apart_from_the_last_day(store, jobs):
    add_advisor(store, "Alex", "+447400000111", on_duty=True)
    overdue_callbacks(store)
    queue = CallbackQueue(store, SEALER)
    last = request_callback(
        queue, ME, "sms", london("2026-11-17T19:00"), london("2026-11-25T10:00")
    ).callback_id
    queue.set_count(last, Count(4, date(2026, 11, 24)))
    request_callback(queue, OTHER, "sms", london("2026-11-24T19:00"), london("2026-11-25T10:00"))

    report = jobs(twilio=True, send=False).opening(london("2026-11-25T10:00"))

    assert (
        f"would text {mask('+447400000111')}: Good morning. 4 waiting for a call back, "
        f"1 for the last day, 2 overdue: {BASE}/console/"
    ) in report.lines


def test_take_next_serves_an_overdue_callback_before_live_callers_and_others(store):
    queue = CallbackQueue(store, SEALER)
    at = london("2026-11-25T09:30")  # waiting longer than the overdue one, due too
    older = request_callback(queue, OTHER, "sms", at, at).callback_id
    [overdue] = overdue_callbacks(store, count=1)
    live = LiveQueue(store)
    live.join("CA" + "1" * 32, london("2026-11-25T09:00"), "+44 7400 •••000")
    now = london("2026-11-25T11:00")
    taken = take_next(queue, live, "alex", now, "live_first", 5, shipped_hours().timezone)
    assert taken.callback is not None and taken.callback.id == overdue
    assert queue.get(older).status == "due"


# ------------------------------------------------------------------ the supervisor decides


@pytest.fixture
def supervisor(make_app, store):
    """supervisor(**settings): a console client with Sam, a supervisor, signed in."""

    def sign_in(**settings: object):
        app = make_app(at="2026-11-25T11:00", cookie_secure=False, **settings)
        add_advisor(store, "Sam", SUPERVISOR_PHONE, supervisor=True)
        return signed_in(app, "Sam")

    return sign_in


def decide(client, callback_id: str, decision: str):
    return post_form(
        client,
        f"/console/supervisor/callbacks/{callback_id}/overdue",
        {"decision": decision},
        page=SUPERVISOR_PAGE,
    )


def test_the_supervisor_page_counts_the_overdue_and_asks_only_about_those_due_a_decision(
    store, supervisor
):
    overdue_callbacks(store, missed=5)
    [asked] = overdue_callbacks(store, missed=10, count=1, first=5)
    page = supervisor().get(SUPERVISOR_PAGE).get_data(as_text=True)
    assert "3 overdue (nobody has tried to call them)" in page
    assert page.count('name="decision"') == 3  # keep, close quietly, close with a text
    assert f"/console/supervisor/callbacks/{asked}/overdue" in page


def test_keep_leaves_it_waiting_first_in_line_and_asks_again_a_period_later(store, supervisor):
    [callback_id] = overdue_callbacks(store, missed=10, count=1)
    client = supervisor()
    response = decide(client, callback_id, "keep")
    assert response.status_code == 302
    kept = CallbackQueue(store, SEALER).get(callback_id)
    assert (kept.status, kept.count.kept) == ("due", 10)
    assert "Kept: it stays first in line" in flashes(client, SUPERVISOR_PAGE)
    assert 'name="decision"' not in client.get(SUPERVISOR_PAGE).get_data(as_text=True)
    [entry] = [e for e in audit.recent(store) if e.get("callback") == callback_id]
    assert (entry["actor"], entry["action"]) == ("sam", "kept an overdue callback")


def test_close_quietly_ends_it_without_a_text_and_is_audited(store, supervisor):
    [callback_id] = overdue_callbacks(store, missed=10, count=1)
    client = supervisor()
    decide(client, callback_id, "close")
    closed = CallbackQueue(store, SEALER).get(callback_id)
    assert (closed.status, closed.outcome) == ("cancelled", "closed_unreached")
    assert "Closed, without a text." in flashes(client, SUPERVISOR_PAGE)
    [entry] = [e for e in audit.recent(store) if e.get("callback") == callback_id]
    assert entry["action"] == "closed an overdue callback without a text"
    assert ME not in entry.get("number", "") and entry.get("number")


def test_close_with_a_text_sends_the_discreet_text_and_is_audited(store, supervisor, twilio_proxy):
    api, recorder = twilio_proxy()
    [callback_id] = overdue_callbacks(store, missed=10, count=1)
    client = supervisor(helpline_number=HELPLINE, public_base_url=BASE, **api)
    decide(client, callback_id, "close_text")
    closed = CallbackQueue(store, SEALER).get(callback_id)
    assert (closed.status, closed.outcome) == ("cancelled", "closed_unreached_texted")
    sent = [s for s in recorder.seen if s.method == "POST" and s.path.endswith("/Messages.json")]
    assert [s.status for s in sent] == [201]
    assert "Closed, and a text was sent." in flashes(client, SUPERVISOR_PAGE)
    [entry] = [e for e in audit.recent(store) if e.get("callback") == callback_id]
    assert entry["action"] == "closed an overdue callback with a text"


@pytest.mark.parametrize("missed", [4, 5, 9])
def test_nothing_is_closed_before_the_supervisor_is_asked(store, supervisor, missed):
    [callback_id] = overdue_callbacks(store, missed=missed, count=1)
    client = supervisor()
    decide(client, callback_id, "close")
    assert CallbackQueue(store, SEALER).get(callback_id).status == "due"
    assert "not waiting for a decision" in flashes(client, SUPERVISOR_PAGE)


def test_an_advisor_who_is_not_a_supervisor_cannot_decide(store, make_app):
    [callback_id] = overdue_callbacks(store, missed=10, count=1)
    app = make_app(at="2026-11-25T11:00", cookie_secure=False)
    add_advisor(store, "Alex")
    client = signed_in(app, "Alex")
    response = post_form(
        client, f"/console/supervisor/callbacks/{callback_id}/overdue", {"decision": "close"}
    )
    assert response.status_code == 403
    assert CallbackQueue(store, SEALER).get(callback_id).status == "due"


def test_the_nightly_job_never_closes_one_waiting_for_a_decision(store, jobs):
    [callback_id] = overdue_callbacks(store, missed=30, count=1)
    live_through(jobs(), "2026-11-25", "2026-12-31")
    assert CallbackQueue(store, SEALER).get(callback_id).status in ("scheduled", "due")
