"""Advisors take from one list (issue 13): live callers and callbacks in the one order, taken
atomically, so two advisors taking next at once never get the same caller or callback, a
caller who hangs up as they are taken is not bridged to anyone, and a caller who swapped to
a callback is called back before everyone who joined after them. The console rings the
advisor through Twilio's REST API (Prism checks each request against Twilio's spec); what
follows the advisor's 1 is in test_take_by_callsid.py. Real Redis, real threads."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import redis

from ivr.config import Settings
from ivr.core.livequeue import BY_WAIT, LIVE_FIRST, ON_CALL
from ivr.core.promise import Placement
from ivr.core.safetime import ANYTIME
from ivr.store.connection import connect
from ivr.store.keys import DEFAULT
from ivr.store.live import BRIDGED, LEFT, LiveQueue
from ivr.store.onelist import Taken, take_next
from ivr.store.queue import CallbackQueue
from tests.common import (
    OPEN_AT,
    SEALER,
    add_advisor,
    flashes,
    london,
    post_form,
    signed_in,
    spoken,
    twilio_client,
    twiml,
)

NOW = london(OPEN_AT)
TZ = NOW.tzinfo
CLOSE = london("2026-11-25T16:00")
NUMBERS = [f"+4474001234{n:02d}" for n in range(40)]
ROUNDS = 200


def callback(q: CallbackQueue, number: str, asked, swapped: bool = False) -> str:
    """A callback asked for at `asked`, due now, in today's slot."""
    place = Placement("due", asked, CLOSE)
    return q.request(number, "voice", asked, place, ANYTIME, swapped=swapped).callback_id


def take(q: CallbackQueue, live: LiveQueue, who: str, order: str = LIVE_FIRST) -> Taken | None:
    return take_next(q, live, who, NOW, order, 5, TZ)


def ref(taken: Taken | None) -> str | None:
    if taken is None:
        return None
    return taken.caller.call_sid if taken.caller else taken.callback.id


def clients(store_settings, n: int) -> list[redis.Redis]:
    """Connections of their own, as two web workers would have."""
    return [connect(Settings().override(store_settings)) for _ in range(n)]


def at_once(*work) -> list:
    """Run each function in its own thread, released together; their results in order."""
    barrier = threading.Barrier(len(work))
    results: list = [None] * len(work)

    def run(i, fn):
        barrier.wait()
        results[i] = fn()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(work)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# ------------------------------------------------------------------ races


def test_two_advisors_taking_next_at_once_never_get_the_same_one(store, store_settings) -> None:
    a, b = clients(store_settings, 2)
    qa, qb, la, lb = CallbackQueue(a, SEALER), CallbackQueue(b, SEALER), LiveQueue(a), LiveQueue(b)
    taken: list[str] = []
    for n in range(ROUNDS):
        live_sid = f"CA{n:032d}"
        la.join(live_sid, NOW - timedelta(minutes=1), "+44 7400 •••000")
        cb = callback(qa, NUMBERS[n % len(NUMBERS)], NOW - timedelta(minutes=2))
        first, second = at_once(lambda: take(qa, la, "alex"), lambda: take(qb, lb, "sam"))
        got = {ref(first), ref(second)}
        assert got == {live_sid, cb}, (n, got)
        taken += [ref(first), ref(second)]
        qa.finish(cb, "*", "reached", "done", NOW)
        la.end(live_sid, BRIDGED, NOW)
    assert len(taken) == len(set(taken)) == 2 * ROUNDS


def test_with_one_waiting_only_one_of_two_advisors_gets_them(store, store_settings) -> None:
    a, b = clients(store_settings, 2)
    la, lb = LiveQueue(a), LiveQueue(b)
    for n in range(ROUNDS):
        sid = f"CA{n:032d}"
        la.join(sid, NOW, "+44 7400 •••000")
        results = at_once(
            lambda: take(CallbackQueue(a, SEALER), la, "alex"),
            lambda: take(CallbackQueue(b, SEALER), lb, "sam"),
        )
        assert sorted(map(ref, results), key=lambda r: r is None) == [sid, None]
        la.end(sid, BRIDGED, NOW)


def test_a_caller_hanging_up_while_being_taken_is_never_bridged(
    make_app, store, store_settings
) -> None:
    """The take and Twilio's hang-up race; whatever wins, the caller ends up gone, and the
    advisor who presses 1 is told so instead of being put through to nobody."""
    app = make_app()
    a, b = clients(store_settings, 2)
    la, lb = LiveQueue(a), LiveQueue(b)
    for n in range(ROUNDS):
        sid = f"CA{n:032d}"
        la.join(sid, NOW, "+44 7400 •••000")
        took, ended = at_once(
            lambda sid=sid: la.take(sid, "alex", NOW), lambda sid=sid: lb.end(sid, LEFT, NOW)
        )
        caller = la.caller(sid)
        assert caller.state == LEFT and ended in ("waiting", "taken")
        assert (ended == "taken") is took
        assert la.take(sid, "sam", NOW) is False
    root = twiml(
        twilio_client(app).post(
            "/voice/queue/connect?sid=" + f"CA{0:032d}" + "&adv=alex", {"Digits": "1"}
        )
    )
    assert root.find("Dial") is None
    assert spoken(root) == [app.extensions["helpline"].flows.voice.queue_advisor["gone"]]


# ------------------------------------------------------------------ the one list's order


@pytest.mark.parametrize("order", [LIVE_FIRST, BY_WAIT])
def test_a_caller_who_swaps_is_called_back_before_everyone_who_joined_after(store, order) -> None:
    q, live = CallbackQueue(store, SEALER), LiveQueue(store)
    joined = NOW - timedelta(minutes=6)
    live.join("CA" + "b" * 32, NOW - timedelta(minutes=5), "b")
    live.join("CA" + "c" * 32, NOW - timedelta(minutes=4), "c")
    swapped = callback(q, NUMBERS[0], joined, swapped=True)  # asked from the queue at 6 min
    callback(q, NUMBERS[1], NOW - timedelta(minutes=3))  # a text after they joined
    assert ref(take(q, live, "alex", order)) == swapped


def test_live_first_or_by_waiting_time(store) -> None:
    q, live = CallbackQueue(store, SEALER), LiveQueue(store)
    old = callback(q, NUMBERS[0], NOW - timedelta(hours=2))
    live.join("CA" + "d" * 32, NOW - timedelta(minutes=1), "d")
    assert ref(take(q, live, "alex", BY_WAIT)) == old
    assert ref(take(q, live, "sam", LIVE_FIRST)) == "CA" + "d" * 32


def test_a_caller_whose_wait_page_stopped_asking_is_not_taken(store) -> None:
    live = LiveQueue(store)
    live.join("CA" + "e" * 32, NOW - timedelta(minutes=10), "e")  # and never seen since
    assert take(CallbackQueue(store, SEALER), live, "alex") is None
    assert live.size() == 0


# ------------------------------------------------------------------ the console and Twilio


@pytest.fixture
def taking_app(make_app, twilio_proxy):
    settings, recorder = twilio_proxy()
    app = make_app(
        cookie_secure=False,
        helpline_number="+441234567890",
        public_base_url="https://helpline.example.org",
        **settings,
    )
    return app, recorder


def test_take_next_rings_the_advisor_for_the_caller_on_the_line(taking_app, store) -> None:
    app, recorder = taking_app
    add_advisor(store, "Alex", "+447400000111", on_duty=True)
    client = signed_in(app, "Alex")
    twiml(twilio_client(app).post("/voice/queue/join", {}))
    post_form(client, "/console/call-next")
    assert "press 1 when you answer to take the caller" in flashes(client)
    posts = [s for s in recorder.seen if s.method == "POST" and s.path.endswith("/Calls.json")]
    assert posts and all(s.status < 300 for s in posts)  # Prism: valid per Twilio's spec
    queues = [s for s in recorder.seen if s.path.endswith("/Queues.json")]
    assert queues and all(s.status < 300 for s in queues)
    caller = app.extensions["helpline"].live.caller("CA" + "a" * 32)
    assert caller.state == "taken" and caller.taken_by == "alex"


def test_an_advisor_who_does_not_press_1_gives_the_caller_back(make_app, store) -> None:
    app = make_app()
    client = twilio_client(app)
    twiml(client.post("/voice/queue/join", {}))
    live = app.extensions["helpline"].live
    live.take("CA" + "a" * 32, "alex", NOW)
    twiml(client.post("/voice/queue/connect?sid=CA" + "a" * 32 + "&adv=alex", {"Digits": ""}))
    assert live.caller("CA" + "a" * 32).state == "waiting"


@pytest.mark.parametrize("ended", ["no-answer", "busy", "failed", "canceled", "completed"])
def test_a_caller_whose_advisor_never_took_them_waits_on_in_their_place(make_app, store, ended):
    """Found: when the advisor rung for a caller didn't answer (rang out, busy, voicemail),
    the caller stayed "being taken": take next could not reach them and they lost their place."""
    app = make_app()
    first, second = "CA" + "a" * 32, "CA" + "b" * 32
    for n, sid in enumerate((first, second)):
        twiml(twilio_client(app, NUMBERS[n]).post("/voice/queue/join", {"CallSid": sid}))
    live = app.extensions["helpline"].live
    assert live.take(first, "alex", NOW)
    leg = f"/voice/queue/advisor-status?sid={first}&adv=alex"
    for status in ("ringing", ended):
        twiml(twilio_client(app).post(leg, {"CallStatus": status}))
    assert live.caller(first).state == "waiting"
    assert live.position(first) == 1  # still ahead of the caller who joined after them


def test_a_caller_put_through_is_not_given_back_when_the_advisor_hangs_up(make_app, store):
    app = make_app()
    sid = "CA" + "a" * 32
    twiml(twilio_client(app).post("/voice/queue/join", {}))
    live = app.extensions["helpline"].live
    assert live.take(sid, "alex", NOW)
    live.end(sid, BRIDGED, NOW, "alex")
    leg = f"/voice/queue/advisor-status?sid={sid}&adv=alex"
    twiml(twilio_client(app).post(leg, {"CallStatus": "completed"}))
    assert live.caller(sid) is None or live.caller(sid).state != "waiting"


@pytest.mark.parametrize(
    ("statuses", "state"),
    [
        (["ringing"], "ringing"),
        (["ringing", "in-progress"], "on_call"),
        (["ringing", "in-progress", "completed"], "wrap_up"),
        (["ringing", "no-answer"], "free"),
    ],
)
def test_the_advisors_state_follows_signed_status_callbacks(make_app, store, statuses, state):
    app = make_app()
    client = twilio_client(app)
    for status in statuses:
        twiml(client.post("/voice/queue/advisor-status?adv=alex", {"CallStatus": status}))
    assert app.extensions["helpline"].advisor_states.now_in("alex", NOW) == state


def test_an_unsigned_status_callback_changes_nothing(make_app, store) -> None:
    app = make_app()
    response = app.test_client().post(
        "/voice/queue/advisor-status?adv=alex", data={"CallStatus": "in-progress"}
    )
    assert response.status_code == 403
    assert app.extensions["helpline"].advisor_states.now_in("alex", NOW) == "free"


def test_a_finished_call_feeds_the_estimate(make_app, store) -> None:
    app = make_app()
    h = app.extensions["helpline"]
    h.advisor_states.set("alex", ON_CALL, NOW - timedelta(minutes=4))
    h.advisor_states.follow("alex", "completed", NOW)
    assert h.live.handled() == [240.0]


def test_simulated_callers_wait_apart_from_real_ones(store) -> None:
    LiveQueue(store, DEFAULT.simulation).join("CA" + "9" * 32, NOW, "x")
    assert LiveQueue(store).size() == 0


def test_the_console_shows_callers_on_the_line_masked(make_app, store) -> None:
    app = make_app(cookie_secure=False)
    add_advisor(store, "Alex", "+447400000111", on_duty=True)
    twilio_client(app, "+447400123456").post("/voice/queue/join", {})
    client = signed_in(app, "Alex")
    page = client.get("/console/").get_data(as_text=True)
    assert "On the line now" in page and "***456" in page
    assert "7400123456" not in page
    assert ">Take next</button>" in page  # a caller on the line or a callback: the list's head
    # the page's poll redraws the callers on the line
    assert client.get("/console/queue.json").get_json()["live"] == [
        {
            "place": 1,
            "number": "***456",
            "waited": "0 min",
            "now": "waiting",
            "language": "English",
        }
    ]
