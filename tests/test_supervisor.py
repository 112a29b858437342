"""A supervisor's pages: closing the line now (callers hear the message, texts are told when
it opens), reopening it, managing advisors and their duty, the day's numbers as charts, and
an audit trail, none of which ever shows a caller's number."""

from __future__ import annotations

import re
import time
from datetime import time as clock_time
from datetime import timedelta
from xml.etree import ElementTree

import pytest
import redis
from flask import Flask

from ivr.core.expiry import Count
from ivr.core.hours import Override
from ivr.core.livequeue import BY_WAIT, FREE, LIVE_FIRST, ON_CALL, RINGING, WRAP_UP
from ivr.core.safetime import Window
from ivr.simulate import TwilioLikeClient
from ivr.store import audit, stats
from ivr.store.accounts import Accounts
from ivr.store.closures import OverrideWatch, close_line, read_override, reopen_line
from ivr.store.queue import CallbackQueue
from tests.common import (
    ADVISOR_PHONE,
    OPEN_AT,
    SEALER,
    SUPERVISOR_PHONE,
    Clock,
    add_advisor,
    assert_hears,
    assert_not_hears,
    empty,
    flashes,
    london,
    post_form,
    request_callback,
    signed_in,
    twiml,
)

SUPERVISOR_PAGE = "/console/supervisor/"
MESSAGE = "We are closed this afternoon for staff training."
TEXTER = "+447400123499"
CALLER = "+447400123456"
# Any UK number written in full, international or national.
FULL_NUMBER = re.compile(r"\+44\s?\d{4}\s?\d{6}|\b0\d{4}\s?\d{6}\b|\b44\d{10}\b")


@pytest.fixture
def supervisor_app(make_app):
    def factory(at: str = OPEN_AT, **settings: object) -> Flask:
        return make_app(at=at, cookie_secure=False, **settings)

    return factory


def as_supervisor(app: Flask, store: redis.Redis):
    add_advisor(store, "Sam", SUPERVISOR_PHONE, supervisor=True)
    return signed_in(app, "Sam")


def supervise(client, url: str, data: dict[str, str] | None = None):
    return post_form(client, url, data, page=SUPERVISOR_PAGE)


def call(app: Flask, url: str = "/voice", **params: str) -> ElementTree.Element:
    return twiml(
        TwilioLikeClient(
            app, {"CallSid": "CA" + "e" * 32, "From": CALLER, "To": "+441234567890", **params}
        ).post(url)
    )


def menu_of(root: ElementTree.Element) -> str:
    """Which menu the call is in: the menu= of its Gather's action."""
    action = root.find("Gather").get("action")
    return re.search(r"menu=(\w+)", action).group(1)


def text_reply(app: Flask, body: str = "hello") -> str:
    response = TwilioLikeClient(
        app,
        {
            "MessageSid": "SM" + "f" * 32,
            "From": TEXTER,
            "To": "+441234567890",
            "Body": body,
            "NumMedia": "0",
        },
    ).post("/sms")
    assert response.status_code == 200
    root = ElementTree.fromstring(response.get_data(as_text=True))
    return " ".join(m.text or "" for m in root.iter("Message"))


# ------------------------------------------------------------------ closing the line


def test_closing_the_line_now_is_heard_by_callers(supervisor_app, store):
    app = supervisor_app()
    assert menu_of(call(app)) == "open"
    client = as_supervisor(app, store)
    assert supervise(client, "/console/supervisor/close", {"message": MESSAGE}).status_code == 302
    assert "The line is closed: callers now hear your message." in flashes(client, SUPERVISOR_PAGE)
    root = call(app)
    assert_hears(root, MESSAGE)
    assert_hears(root, "We open again")
    assert menu_of(root) == "closed"
    override = read_override(store)
    assert (override.message, override.until) == (MESSAGE, None)
    assert MESSAGE in client.get(SUPERVISOR_PAGE).get_data(as_text=True)


def test_a_caller_asking_for_an_advisor_is_not_put_through_while_closed(supervisor_app, store):
    app = supervisor_app(advisor_numbers=("+447400123001",))
    close_line(store, MESSAGE, None)
    root = call(app, "/voice/advisor")
    assert root.find("Dial") is None


def test_a_text_while_closed_until_reopened_is_told_we_call_when_we_reopen(supervisor_app, store):
    """Found: an open-ended closure still told people "tomorrow at 10am", a time nobody had
    set. The reply says so instead, with the supervisor's message."""
    app = supervisor_app()
    close_line(store, MESSAGE, None)
    reply = text_reply(app)
    assert reply.startswith(MESSAGE)
    assert "as soon as we reopen" in reply
    assert "tomorrow" not in reply
    assert "as soon as someone is free" not in reply


def test_closing_until_a_time_then_the_usual_hours_again(supervisor_app, store):
    client = as_supervisor(supervisor_app(), store)
    supervise(
        client, "/console/supervisor/close", {"message": MESSAGE, "until": "2026-11-25T14:00"}
    )
    assert read_override(store).until == london("2026-11-25T14:00")

    during = supervisor_app(at="2026-11-25T13:59")
    assert_hears(call(during), MESSAGE)
    assert menu_of(call(during)) == "closed"
    assert "We will call you today at 2pm" in text_reply(during)
    assert "until Wednesday 25 November 14:00" in client.get(SUPERVISOR_PAGE).get_data(as_text=True)

    after = supervisor_app(at="2026-11-25T14:00")
    assert menu_of(call(after)) == "open"
    assert_not_hears(call(after), MESSAGE)


def test_a_closure_until_a_time_after_hours_reopens_at_the_next_opening(supervisor_app, store):
    close_line(store, MESSAGE, london("2026-11-25T18:00"))
    reply = text_reply(supervisor_app(at="2026-11-25T12:00"))
    assert "tomorrow at 10am" in reply


def test_reopening_brings_back_the_usual_hours(supervisor_app, store):
    app = supervisor_app()
    client = as_supervisor(app, store)
    supervise(client, "/console/supervisor/close", {"message": MESSAGE})
    assert menu_of(call(app)) == "closed"
    assert supervise(client, "/console/supervisor/reopen").status_code == 302
    assert read_override(store) is None
    assert menu_of(call(app)) == "open"
    assert_not_hears(call(app), MESSAGE)
    assert "as soon as someone is free" in text_reply(app)
    assert "Open now." in client.get(SUPERVISOR_PAGE).get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"message": ""}, "Write the message callers will hear."),
        ({"message": MESSAGE, "until": "tomorrow lunchtime"}, "Write the time like"),
        ({"message": "x" * 301}, "Write the message callers will hear."),
    ],
)
def test_a_closure_that_cannot_be_understood_changes_nothing(supervisor_app, store, form, message):
    client = as_supervisor(supervisor_app(), store)
    supervise(client, "/console/supervisor/close", form)
    assert message in flashes(client, SUPERVISOR_PAGE)
    assert read_override(store) is None


def test_a_closure_until_a_time_already_past_is_refused(supervisor_app, store):
    app = supervisor_app()
    client = as_supervisor(app, store)
    supervise(
        client, "/console/supervisor/close", {"message": MESSAGE, "until": "2026-11-25T10:30"}
    )  # it is 11:00
    assert "That time has already passed: the line was not closed." in flashes(
        client, SUPERVISOR_PAGE
    )
    assert read_override(store) is None
    assert menu_of(call(app)) == "open"


def test_closing_and_reopening_are_in_the_audit_trail(supervisor_app, store):
    client = as_supervisor(supervisor_app(), store)
    supervise(
        client, "/console/supervisor/close", {"message": MESSAGE, "until": "2026-11-25T14:00"}
    )
    supervise(client, "/console/supervisor/reopen")
    page = client.get(SUPERVISOR_PAGE).get_data(as_text=True)
    assert "closed the line until Wed 25 Nov 14:00" in page
    assert "reopened the line" in page


def test_if_redis_cannot_be_read_the_usual_hours_apply(make_app):
    dead = redis.Redis.from_url(
        "redis://127.0.0.1:9", socket_connect_timeout=0.5, socket_timeout=0.5, decode_responses=True
    )
    assert read_override(dead) is None
    app = make_app(redis_url="redis://127.0.0.1:9")
    assert menu_of(call(app)) == "open"


def test_a_stored_closure_with_an_end_in_the_past_is_over(supervisor_app, store):
    close_line(store, MESSAGE, london("2026-11-25T10:30"))
    assert menu_of(call(supervisor_app())) == "open"


# ------------------------------------------------------------------ advisors


NEW_ADVISOR = {
    "name": "Robin Lee",
    "phone": "+44 7400 123460",
    "password": "a long enough password",
}


def test_a_supervisor_adds_an_advisor_who_can_then_sign_in(supervisor_app, store):
    app = supervisor_app()
    client = as_supervisor(app, store)
    supervise(client, "/console/supervisor/advisors", NEW_ADVISOR)
    assert "Added Robin Lee." in flashes(client, SUPERVISOR_PAGE)
    robin = Accounts(store, SEALER).get("robin-lee")
    assert (robin.name, robin.phone, robin.supervisor, robin.on_duty) == (
        "Robin Lee",
        "+447400123460",
        False,
        False,
    )
    assert (
        signed_in(app, "Robin Lee", NEW_ADVISOR["password"]).get(SUPERVISOR_PAGE).status_code == 403
    )


def test_a_supervisor_can_add_another_supervisor(supervisor_app, store):
    client = as_supervisor(supervisor_app(), store)
    supervise(client, "/console/supervisor/advisors", {**NEW_ADVISOR, "supervisor": "y"})
    assert Accounts(store, SEALER).get("robin-lee").supervisor


def test_a_supervisor_adds_an_advisor_who_speaks_welsh_and_sees_it(supervisor_app, store):
    """Issue 14: Welsh speakers take Welsh callers first; nobody speaks it unless ticked."""
    client = as_supervisor(supervisor_app(), store)
    supervise(client, "/console/supervisor/advisors", {**NEW_ADVISOR, "welsh": "y"})
    supervise(client, "/console/supervisor/advisors", {**NEW_ADVISOR, "name": "Alex"})
    accounts = Accounts(store, SEALER)
    assert accounts.get("robin-lee").welsh and not accounts.get("alex").welsh
    page = client.get(SUPERVISOR_PAGE).get_data(as_text=True)
    assert "Speaks Welsh" in page  # the form's box
    assert page.count(">speaks Welsh</td>") == 1  # the advisors table: Robin only


@pytest.mark.parametrize("written", ["07400 123460", "07400123460", "+44 (0)7400 123460"])
def test_a_supervisor_writes_a_phone_as_people_do(supervisor_app, store, written):
    client = as_supervisor(supervisor_app(), store)
    supervise(client, "/console/supervisor/advisors", {**NEW_ADVISOR, "phone": written})
    assert "Added Robin Lee." in flashes(client, SUPERVISOR_PAGE)
    assert Accounts(store, SEALER).get("robin-lee").phone == "+447400123460"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"phone": "999"}, "999 is an emergency or police number"),
        ({"phone": "07400 12346"}, "07400 12346 is not a valid phone number"),
        ({"phone": "+447700900123"}, "+447700900123 is not a valid phone number"),
        ({"password": "short"}, "a password of at least 10 characters"),
        ({"name": "Sam"}, "there is already an advisor called sam"),
    ],
)
def test_an_advisor_that_cannot_be_added_is_not(supervisor_app, store, change, message):
    client = as_supervisor(supervisor_app(), store)
    supervise(client, "/console/supervisor/advisors", {**NEW_ADVISOR, **change})
    assert message in flashes(client, SUPERVISOR_PAGE)
    assert [a.username for a in Accounts(store, SEALER).all()] == ["sam"]
    assert Accounts(store, SEALER).get("sam").phone == SUPERVISOR_PHONE


def test_a_supervisor_removes_an_advisor_but_not_themselves(supervisor_app, store):
    client = as_supervisor(supervisor_app(), store)
    add_advisor(store, "Alex")
    supervise(client, "/console/supervisor/advisors/alex/remove")
    assert "Removed Alex." in flashes(client, SUPERVISOR_PAGE)
    assert Accounts(store, SEALER).get("alex") is None
    supervise(client, "/console/supervisor/advisors/sam/remove")
    assert "You can&#39;t remove yourself." in flashes(client, SUPERVISOR_PAGE)
    assert Accounts(store, SEALER).get("sam") is not None


def test_a_removed_advisors_session_ends(supervisor_app, store):
    app = supervisor_app()
    add_advisor(store, "Alex")
    alex = signed_in(app, "Alex")
    supervise(as_supervisor(app, store), "/console/supervisor/advisors/alex/remove")
    assert alex.get("/console/").status_code == 302


def test_a_supervisor_puts_others_on_and_off_duty(supervisor_app, store):
    client = as_supervisor(supervisor_app(), store)
    add_advisor(store, "Alex")
    supervise(client, "/console/supervisor/advisors/alex/duty", {"on_duty": "1"})
    assert Accounts(store, SEALER).get("alex").on_duty
    assert "On duty: set off" in client.get(SUPERVISOR_PAGE).get_data(as_text=True)
    supervise(client, "/console/supervisor/advisors/alex/duty", {"on_duty": "0"})
    assert not Accounts(store, SEALER).get("alex").on_duty
    page = client.get(SUPERVISOR_PAGE).get_data(as_text=True)
    assert "put Alex on duty" in page and "put Alex off duty" in page


def test_the_supervisor_page_shows_no_advisors_phone(supervisor_app, store):
    client = as_supervisor(supervisor_app(), store)
    add_advisor(store, "Alex", ADVISOR_PHONE)
    page = client.get(SUPERVISOR_PAGE).get_data(as_text=True)
    assert "Alex" in page
    assert not FULL_NUMBER.search(page), FULL_NUMBER.search(page)


# ------------------------------------------------------------------ the day's numbers

STATS_DAY = "2026-06-17T13:00"  # a Wednesday no other test uses: its counters are ours


def test_the_numbers_page_draws_what_calls_recorded(supervisor_app, store):
    empty(store)
    app = supervisor_app(at=STATS_DAY)
    steps = next(
        o for o in app.extensions["helpline"].flows.voice.open_options if o.action == "steps"
    )
    for _ in range(3):
        call(app)
    for _ in range(2):
        call(app, "/voice/choice?menu=open", Digits=steps.key)
    client = as_supervisor(app, store)
    response = client.get("/console/supervisor/stats")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count("<svg") >= 4
    assert "<title>13: 3</title>" in page  # three calls in the 13:00 hour, in hours
    # Found: no scales, no counts without hovering, no dates, "Wednesday 17 June" as "17 June".
    assert 'class="count">3</text>' in page  # the count, written above its bar
    assert 'class="tick y">3</text>' in page  # the scale: 0 to the largest count
    assert 'class="tick">12</text>' in page  # hours under the bars
    assert "Today, Wednesday 17 June" in page
    assert 'class="tick">17 Jun</text>' in page or 'class="tick">19 May</text>' in page  # dates
    assert re.search(r"<td>The five steps</td><td>2</td>", page)  # plain names, not "steps"
    assert not FULL_NUMBER.search(page)
    assert CALLER[-6:] not in page


def test_the_numbers_page_is_drawn_with_no_calls_at_all(supervisor_app, store):
    client = as_supervisor(supervisor_app(at="2026-06-18T11:00"), store)
    page = client.get("/console/supervisor/stats").get_data(as_text=True)
    assert "<svg" in page
    assert "None yet." in page
    assert "Nobody waited in the queue." in page


def test_the_numbers_page_shows_the_queue(supervisor_app, store):
    """Issue 13: calls queued, answered from the queue, swapped to a callback, abandoned,
    and the time to answer, as a chart with its table."""
    empty(store)
    app = supervisor_app(at="2026-06-19T11:00")
    now = app.extensions["helpline"].clock()
    zone = app.extensions["helpline"].flows.hours.timezone
    for counted, times in (
        ("q:queued", 5),
        ("q:answered", 3),
        ("q:swapped", 1),
        ("q:abandoned", 1),
    ):
        for _ in range(times):
            stats.count(store, now, zone, counted)
    for seconds in (30, 45, 130):
        stats.queue_answer_recorded(store, now, zone, seconds)
    page = as_supervisor(app, store).get("/console/supervisor/stats").get_data(as_text=True)
    assert 'aria-label="Callers in the queue, Today, Friday 19 June' in page
    for label, n in (("Waited", 5), ("Answered", 3), ("Swapped", 1), ("Hung up", 1)):
        assert f"<title>{label}: {n}</title>" in page
    assert re.search(r"Answered by an advisor</th><td>3</td>", page)
    assert re.search(r"Half of those answered, within</th><td>45 s</td>", page)
    assert re.search(r"90% of those answered, within</th><td>2 min 10 s</td>", page)


# ------------------------------------------------------------------ the audit trail


def test_the_audit_trail_shows_masked_numbers_only(supervisor_app, store):
    app = supervisor_app()
    queue = CallbackQueue(store, SEALER)
    requested = london("2026-11-25T09:00")
    callback_id = request_callback(queue, CALLER, "sms", requested, requested).callback_id
    add_advisor(store, "Alex", on_duty=True)
    queue.claim("alex", london(OPEN_AT))
    alex = signed_in(app, "Alex")
    post_form(alex, f"/console/callbacks/{callback_id}/outcome", {"outcome": "reached"})

    page = as_supervisor(app, store).get(SUPERVISOR_PAGE).get_data(as_text=True)
    assert "outcome reached" in page
    assert (
        f'<td data-label="Callback">{callback_id}</td><td data-label="Number">***456</td>' in page
    )
    assert "signed in" in page
    assert not FULL_NUMBER.search(page)
    assert CALLER[-6:] not in page


# ------------------------------------------------------------------ keeping promises


def test_an_open_ended_closure_tells_callers_no_invented_time(supervisor_app, store):
    """Found: an open-ended closure still told callers "we open again tomorrow at 10am"."""
    app = supervisor_app()
    close_line(store, MESSAGE, None)
    said = call(app)
    content = app.extensions["helpline"].flows.voice
    assert_hears(said, f"We open again {content.closed_when_unknown}.")
    assert_not_hears(said, "tomorrow")


def test_a_closure_until_a_time_tells_callers_that_time(supervisor_app, store):
    app = supervisor_app()
    close_line(store, MESSAGE, london("2026-11-25T14:00"))
    assert_hears(call(app), "We open again today at 2pm.")


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ("We are closed for training \u2014 back soon.", "characters a text message"),
        ("We are closed today \U0001f622", "characters a text message"),
        ("Closed: the police are visiting.", "'police'"),
        ("x" * 121, "121 characters long"),
    ],
)
def test_a_closure_message_that_cannot_go_in_a_text_is_refused(supervisor_app, store, message, why):
    """The message reaches texts too, so it is checked where it is written."""
    client = as_supervisor(supervisor_app(), store)
    supervise(client, "/console/supervisor/close", {"message": message})
    said = flashes(client, SUPERVISOR_PAGE)
    assert "The line was not closed" in said
    assert why.replace("'", "&#39;") in said
    assert read_override(store) is None


def test_the_supervisor_sees_waiting_callbacks_with_their_safe_time_and_last_day(
    supervisor_app, store
):
    queue = CallbackQueue(store, SEALER)
    asked = london("2026-11-24T19:00")
    later = request_callback(
        queue, CALLER, "sms", asked, london("2026-11-26T14:00"), Window(earliest=clock_time(14))
    )
    held = request_callback(queue, TEXTER, "sms", asked, asked, plan=None)
    last = request_callback(queue, "+447400123477", "sms", asked, london(OPEN_AT))
    queue.set_count(last.callback_id, Count(4, london("2026-11-24T12:00").date()))
    page = as_supervisor(supervisor_app(), store).get(SUPERVISOR_PAGE).get_data(as_text=True)
    table = page[page.index('<table id="waiting"') :]
    rows = re.findall(
        r"<tr( class=\"last-day\")?><td[^>]*>([^<]*)</td>\s*<td[^>]*>([^<]*)"
        r"(?:<strong[^>]*>last day</strong>)?</td>\s*<td[^>]*>([^<]*)</td>",
        table[: table.index("</table>")],
    )
    assert [(flag != "", plan) for flag, _, _, plan in rows] == [
        (False, "waiting for a safe time"),
        (True, "any time"),
        (False, "after 2pm"),
    ]
    assert not FULL_NUMBER.search(page)
    assert later and held


def test_a_supervisor_changes_a_safe_time_on_the_persons_request(supervisor_app, store):
    queue = CallbackQueue(store, SEALER)
    asked = london("2026-11-24T19:00")
    callback_id = request_callback(queue, CALLER, "sms", asked, asked, plan=None).callback_id
    client = as_supervisor(supervisor_app(), store)

    supervise(
        client, f"/console/supervisor/callbacks/{callback_id}/plan", {"safe_time": "after 2pm"}
    )

    callback = queue.get(callback_id)
    assert (callback.status, callback.due_at, callback.plan) == (
        "scheduled",
        london("2026-11-25T14:00"),
        Window(earliest=clock_time(14)),
    )
    assert "Safe time set: after 2pm." in flashes(client, SUPERVISOR_PAGE)
    assert any(e["action"] == "changed the safe time" for e in audit.recent(store))


@pytest.mark.parametrize(
    ("words", "flash"),
    [
        ("after 6pm", "after 6pm is never inside opening hours"),
        ("whenever he is out", "Could not read"),
    ],
)
def test_a_safe_time_the_supervisor_cannot_use_changes_nothing(supervisor_app, store, words, flash):
    queue = CallbackQueue(store, SEALER)
    asked = london("2026-11-24T19:00")
    callback_id = request_callback(queue, CALLER, "sms", asked, london(OPEN_AT)).callback_id
    before = queue.get(callback_id)
    client = as_supervisor(supervisor_app(), store)
    supervise(client, f"/console/supervisor/callbacks/{callback_id}/plan", {"safe_time": words})
    assert flash in flashes(client, SUPERVISOR_PAGE)
    assert queue.get(callback_id) == before


# ------------------------------------------------------------------ the call path's copy


def hgetall_calls(store: redis.Redis) -> int:
    return int(store.info("commandstats").get("cmdstat_hgetall", {}).get("calls", 0))


def test_calls_read_the_closure_from_a_local_copy_dropped_as_soon_as_it_changes(store):
    """A call no longer waits on Redis to know whether the line is closed: the copy is read
    once, and a supervisor's change (from any process) is announced and drops it."""
    watch = OverrideWatch(store, seconds=60)
    assert watch.current() is None
    before = hgetall_calls(store)
    for _ in range(20):
        assert watch.current() is None
    assert hgetall_calls(store) == before  # answered from the copy

    other_process = redis.Redis(connection_pool=store.connection_pool)
    close_line(other_process, MESSAGE, None)
    deadline = time.monotonic() + 5
    while watch.current() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert watch.current() == Override(MESSAGE, None)

    reopen_line(other_process)
    deadline = time.monotonic() + 5
    while watch.current() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert watch.current() is None


def test_a_lost_announcement_costs_at_most_the_copys_lifetime(store):
    now = [0.0]
    watch = OverrideWatch(store, seconds=5, clock=lambda: now[0])
    assert watch.current() is None
    store.hset("hl:main:closure", mapping={"message": MESSAGE, "until": ""})  # no announcement
    now[0] = 4.9
    assert watch.current() is None
    now[0] = 5.1
    assert watch.current() == Override(MESSAGE, None)


def test_without_a_copy_every_call_reads_the_store(store):
    watch = OverrideWatch(store, seconds=0)
    before = hgetall_calls(store)
    watch.current()
    watch.current()
    assert hgetall_calls(store) == before + 2


# ------------------------------------------------------------------ the queue, live (issue 13)

SECOND_CALLER = "+447400123457"
TAKEN_BY_ALEX = "being put through to alex"


def join_queue(app: Flask, call_sid: str, caller: str) -> None:
    root = call(app, "/voice/queue/join", CallSid=call_sid, From=caller)
    assert root.find("Enqueue") is not None


def test_the_supervisor_sees_who_waits_on_the_line_and_each_advisors_state(supervisor_app, store):
    clock = Clock(london(OPEN_AT))
    app = supervisor_app(clock=clock)
    h = app.extensions["helpline"]
    join_queue(app, "CA" + "1" * 32, CALLER)
    clock.advance(100)  # the first waits on, seen 160 s ago (not yet stale)
    join_queue(app, "CA" + "2" * 32, SECOND_CALLER)
    clock.advance(60)
    for name, state, on_duty in (
        ("Alex", ON_CALL, True),
        ("Bea", RINGING, True),
        ("Cleo", WRAP_UP, True),
        ("Dee", FREE, True),
        ("Eli", FREE, False),
        ("Fay", ON_CALL, False),
    ):
        advisor = add_advisor(store, name, ADVISOR_PHONE, on_duty=on_duty)
        h.advisor_states.set(advisor.username, state, clock())
    assert h.live.take("CA" + "1" * 32, "alex", clock())
    client = as_supervisor(app, store)

    view = client.get("/console/supervisor/queue.json").get_json()
    assert view["live"] == [
        {
            "place": 1,
            "number": "***456",
            "waited": "2 min",
            "now": "being put through to alex",
            "language": "English",
        },
        {
            "place": 2,
            "number": "***457",
            "waited": "1 min",
            "now": "waiting",
            "language": "English",
        },
    ]
    assert {a["name"]: a["state"] for a in view["advisors"]} == {
        "Alex": "On a call",
        "Bea": "Ringing",
        "Cleo": "Wrap-up (recording the outcome)",
        "Dee": "Free",
        "Eli": "Off duty",
        "Fay": "On a call (off duty)",
        "Sam": "Off duty",
    }
    page = client.get(SUPERVISOR_PAGE).get_data(as_text=True)
    assert "***457" in page and "Wrap-up (recording the outcome)" in page
    assert not FULL_NUMBER.search(page) and not FULL_NUMBER.search(str(view))


def test_a_stale_state_shows_as_free(supervisor_app, store):
    clock = Clock(london(OPEN_AT))
    app = supervisor_app(clock=clock)
    add_advisor(store, "Alex", ADVISOR_PHONE, on_duty=True)
    app.extensions["helpline"].advisor_states.set("alex", RINGING, clock())
    clock.advance(10 * 60)  # no status callback came: a phone does not ring for minutes
    client = as_supervisor(app, store)
    advisors = client.get("/console/supervisor/queue.json").get_json()["advisors"]
    assert {"name": "Alex", "state": "Free"} in advisors


def test_the_live_queue_is_for_supervisors_only(supervisor_app, store):
    app = supervisor_app()
    add_advisor(store, "Alex", ADVISOR_PHONE)
    assert signed_in(app, "Alex").get("/console/supervisor/queue.json").status_code == 403
    assert app.test_client().get("/console/supervisor/queue.json").status_code == 401
    response = signed_in(app, "Alex").post(
        "/console/supervisor/queue-rules", data={"max_wait": "5", "order": BY_WAIT}
    )
    assert response.status_code == 400  # no CSRF token (and no supervisor either)


def test_the_supervisor_sets_the_longest_wait_and_the_order(supervisor_app, store):
    app = supervisor_app()
    h = app.extensions["helpline"]
    client = as_supervisor(app, store)
    page = client.get(SUPERVISOR_PAGE).get_data(as_text=True)
    assert 'value="10"' in page  # QUEUE_MAX_WAIT_MINUTES until a supervisor sets one
    assert re.search(r'checked[^>]*value="live_first"|value="live_first"[^>]*checked', page)

    supervise(client, "/console/supervisor/queue-rules", {"max_wait": "4", "order": BY_WAIT})
    assert "Queue rules set: callers wait at most 4 min on the line; strictly by waiting time." in (
        flashes(client, SUPERVISOR_PAGE)
    )
    rules = h.live.rules(timedelta(minutes=10))
    assert (rules.max_wait, rules.order) == (timedelta(minutes=4), BY_WAIT)
    [entry] = [e for e in audit.recent(store, 10) if e["action"] == "set the queue rules"]
    assert (entry["actor"], entry["detail"]) == (
        "sam",
        "longest wait 4 min, strictly by waiting time",
    )
    page = client.get(SUPERVISOR_PAGE).get_data(as_text=True)
    assert 'value="4"' in page
    assert re.search(r'checked[^>]*value="by_wait"|value="by_wait"[^>]*checked', page)


@pytest.mark.parametrize(
    ("max_wait", "order", "said"),
    [
        ("0", LIVE_FIRST, "a whole number of minutes from 1 to 120"),
        ("121", LIVE_FIRST, "a whole number of minutes from 1 to 120"),
        ("ten", LIVE_FIRST, "a whole number of minutes from 1 to 120"),
        ("2.5", LIVE_FIRST, "a whole number of minutes from 1 to 120"),
        ("", LIVE_FIRST, "a whole number of minutes from 1 to 120"),
        ("-5", BY_WAIT, "a whole number of minutes from 1 to 120"),
        ("99999999999999999999999", BY_WAIT, "a whole number of minutes from 1 to 120"),
        ("5", "", "Choose who advisors take next"),
        ("5", "random", "Choose who advisors take next"),
    ],
)
def test_queue_rules_that_cant_be_used_are_refused_clearly(
    supervisor_app, store, max_wait, order, said
):
    app = supervisor_app()
    client = as_supervisor(app, store)
    supervise(client, "/console/supervisor/queue-rules", {"max_wait": max_wait, "order": order})
    page = flashes(client, SUPERVISOR_PAGE)
    assert said in page and "the queue rules were not changed" in page
    assert 'role="alert"' in page
    assert not store.exists("hl:main:live:settings")
    assert not [e for e in audit.recent(store, 10) if e["action"] == "set the queue rules"]


def test_the_longest_wait_a_supervisor_sets_is_the_one_callers_get(supervisor_app, store):
    clock = Clock(london(OPEN_AT))
    app = supervisor_app(clock=clock)
    add_advisor(store, "Alex", ADVISOR_PHONE, on_duty=True)
    app.extensions["helpline"].advisor_states.set("alex", ON_CALL, clock())
    supervise(
        as_supervisor(app, store),
        "/console/supervisor/queue-rules",
        {"max_wait": "4", "order": LIVE_FIRST},
    )
    sid = "CA" + "1" * 32
    join_queue(app, sid, CALLER)
    clock.advance(3 * 60)
    assert call(app, "/voice/queue/wait", CallSid=sid).find("Leave") is None
    clock.advance(60)  # 4 minutes, not the setting's 10: the callback is offered
    assert call(app, "/voice/queue/wait", CallSid=sid).find("Leave") is not None
