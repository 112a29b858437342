"""Take next takes exactly the caller the console showed (issue 20), against a Twilio double
that does what Twilio documents (tests/twilio_queues.py): <Dial><Queue> takes the front of
the queue only, the Queue Members API takes a caller by CallSid. Whatever order advisors
press 1 in, each is put through to their own caller; an advisor who leaves before the
bridge gives the caller their place back; a caller our list dropped while Twilio still
holds them is found again in the queue's members, never stranded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from ivr.config import Settings
from ivr.store.live import BRIDGED, WAITING
from ivr.twilio.rest import (
    call_advisor_for_caller,
    dequeue_member,
    queue_members,
    redirect_call,
    rest_client,
)
from ivr.web.voice_queue import room_name
from tests.common import (
    ACCOUNT_SID,
    OPEN_AT,
    TOKEN,
    Clock,
    add_advisor,
    london,
    post_form,
    signed_in,
)
from tests.twilio_queues import Call, TwilioDouble, heard

ROUNDS = 200
BASE = "https://helpline.example.org"
QUEUE = "helpline-main"
PHONES = {"alex": "+447400000111", "sam": "+447400000222"}


@pytest.fixture
def clock() -> Clock:
    return Clock(london(OPEN_AT))


@pytest.fixture
def app(make_app, clock, store) -> Flask:
    """Open, Alex and Sam on duty."""
    add_advisor(store, "Alex", PHONES["alex"], on_duty=True)
    add_advisor(store, "Sam", PHONES["sam"], on_duty=True)
    return make_app(
        clock=clock,
        cookie_secure=False,
        helpline_number="+441234567890",
        public_base_url=BASE,
        twilio_account_sid=ACCOUNT_SID,
    )


@pytest.fixture
def twilio(app: Flask) -> TwilioDouble:
    double = TwilioDouble(app)
    app.extensions["helpline"].twilio.http_client = double
    return double


def ring(app: Flask, twilio: TwilioDouble, advisor: str, caller: Call) -> Call:
    """The console took `caller` for `advisor` and rings their phone, a leg of its own."""
    h = app.extensions["helpline"]
    assert h.live.take(caller.sid, advisor, h.clock())
    leg = call_advisor_for_caller(h.twilio, h.settings, BASE, PHONES[advisor], caller.sid, advisor)
    twilio.settle()
    return twilio.calls[leg]


def the_advisor_is_rung(twilio: TwilioDouble, before: set[str]) -> Call:
    new = [c for sid, c in twilio.calls.items() if sid not in before and c.url]
    assert len(new) == 1, new
    return new[0]


def test_two_advisors_pressing_1_in_either_order_each_get_their_own_caller(app, twilio) -> None:
    """Found: <Dial><Queue> always bridges the front of the queue, so with X then Y
    waiting, taken by Alex and Sam, Sam pressing 1 first was put through to X."""
    live = app.extensions["helpline"].live
    twilio.wait_pages = False  # the wait is tested elsewhere: 200 rounds stay quick
    for n in range(ROUNDS):
        x, y = twilio.join(), twilio.join()
        alex, sam = ring(app, twilio, "alex", x), ring(app, twilio, "sam", y)
        order = [(alex, sam), (sam, alex)][n % 2]
        if n % 4 >= 2:  # both answer before either presses
            for leg in order:
                twilio.answer(leg)
            for leg in order:
                twilio.press(leg, "1")
        else:
            for leg in order:
                twilio.answer(leg)
                twilio.press(leg, "1")
        assert twilio.talking(alex) == {x.sid} and twilio.talking(sam) == {y.sid}, n
        assert (live.caller(x.sid).state, live.caller(y.sid).state) == (BRIDGED, BRIDGED)
        assert twilio.members(QUEUE) == []


def test_the_caller_hears_they_are_put_through_and_the_advisor_is_told_when_it_ends(
    app, twilio
) -> None:
    x = twilio.join()
    alex = ring(app, twilio, "alex", x)
    twilio.answer(alex)
    twilio.press(alex, "1")
    voice = app.extensions["helpline"].flows.voice
    assert heard(x)[-1] == voice.queue["connecting"]
    assert x.room == alex.room == room_name(x.sid)
    twilio.hang_up(x)
    assert heard(alex)[-1] == voice.queue_advisor["ended"]
    assert not alex.live


def test_a_second_advisor_for_the_same_caller_hears_it_is_taken(app, twilio) -> None:
    """Rung for one caller nobody has taken yet (several advisors rung at once): the first
    to press 1 is put through; the other hears so and is hung up."""
    h = app.extensions["helpline"]
    x = twilio.join()
    legs = []
    for who in ("alex", "sam"):
        sid = call_advisor_for_caller(h.twilio, h.settings, BASE, PHONES[who], x.sid, who)
        legs.append(twilio.calls[sid])
    alex, sam = legs
    for leg in (sam, alex):
        twilio.answer(leg)
    twilio.press(sam, "1")
    twilio.press(alex, "1")
    assert twilio.talking(sam) == {x.sid}
    assert heard(alex)[-1] == h.flows.voice.queue_advisor["taken"] and not alex.live


def test_an_advisor_who_leaves_before_the_bridge_gives_the_caller_their_place_back(
    app, twilio, clock
) -> None:
    """Alex presses 1 and hangs up before the caller is in the room: the caller is moved
    back into the queue (the Calls API), keeping the place they joined in."""
    live = app.extensions["helpline"].live
    x = twilio.join()
    clock.advance(10)
    y = twilio.join()
    alex = ring(app, twilio, "alex", x)
    twilio.answer(alex)
    twilio.press(alex, "1", settle=False)  # the caller is on their way to the room
    twilio.hang_up(alex)
    assert live.caller(x.sid).state == WAITING
    assert live.position(x.sid) == 1 and live.position(y.sid) == 2
    assert twilio.members(QUEUE) == [y.sid, x.sid]  # Twilio's own order no longer counts
    back = app.extensions["helpline"].flows.voice.queue["back"]
    assert back in heard(x) and not twilio.talking(x)
    # and the next advisor gets them
    sam = ring(app, twilio, "sam", x)
    twilio.answer(sam)
    twilio.press(sam, "1")
    assert twilio.talking(sam) == {x.sid}


def test_an_advisor_whose_phone_rings_out_leaves_the_caller_waiting(app, twilio) -> None:
    live = app.extensions["helpline"].live
    x = twilio.join()
    alex = ring(app, twilio, "alex", x)
    twilio.ring_out(alex)
    assert live.caller(x.sid).state == WAITING and twilio.members(QUEUE) == [x.sid]


def test_a_caller_who_hung_up_as_they_were_taken_is_not_put_through(app, twilio) -> None:
    x = twilio.join()
    alex = ring(app, twilio, "alex", x)
    twilio.answer(alex)
    twilio.hang_up(x)
    twilio.press(alex, "1")
    voice = app.extensions["helpline"].flows.voice
    assert heard(alex)[-1] == voice.queue_advisor["gone"] and not alex.live


def test_a_caller_dropped_from_our_list_but_held_by_twilio_is_taken_in_their_place(
    app, twilio, clock
) -> None:
    """Found: a caller whose wait page stopped asking for 3 minutes (SEEN_STALE) left our
    list but stayed at the front of Twilio's queue: Take next took the caller after them,
    and <Dial><Queue> put the advisor through to the dropped one. Now Take next reads the
    queue's members first: the dropped caller is back in their place, and taken."""
    live = app.extensions["helpline"].live
    x = twilio.join()
    clock.advance(60)
    y = twilio.join()
    clock.advance(200)
    twilio.run(y, y.wait_url)  # only Y's wait page asked since: X is stale
    assert [c.call_sid for c in live.waiting(clock())] == [y.sid]
    before = set(twilio.calls)
    post_form(signed_in(app, "Sam"), "/console/call-next")
    twilio.settle()
    assert live.caller(x.sid).taken_by == "sam" and live.position(x.sid) == 1
    sam = the_advisor_is_rung(twilio, before)
    twilio.answer(sam)
    twilio.press(sam, "1")
    assert twilio.talking(sam) == {x.sid}


def test_a_waiting_caller_not_in_our_list_is_put_back_by_their_wait_page(
    app, twilio, clock
) -> None:
    live = app.extensions["helpline"].live
    x = twilio.join()
    clock.advance(200)
    assert live.waiting(clock()) == []
    twilio.run(x, x.wait_url)
    assert [c.call_sid for c in live.waiting(clock())] == [x.sid]


def test_a_waiting_caller_twilio_no_longer_holds_is_not_taken(app, twilio, clock) -> None:
    """Hung up without Twilio telling us: not in the queue's members (and not just joined)."""
    live = app.extensions["helpline"].live
    gone = "CA" + "9" * 32
    live.join(gone, clock(), "***999")
    clock.advance(40)
    x = twilio.join()
    post_form(signed_in(app, "Alex"), "/console/call-next")
    twilio.settle()
    assert live.caller(gone).state == "dropped" and live.caller(x.sid).taken_by == "alex"


def test_a_caller_who_only_just_joined_is_not_ended_before_twilio_holds_them(app, clock) -> None:
    live = app.extensions["helpline"].live
    twilio = TwilioDouble(app)
    app.extensions["helpline"].twilio.http_client = twilio
    new = "CA" + "8" * 32
    live.join(new, clock(), "***888")  # Twilio has not run our <Enqueue> yet
    post_form(signed_in(app, "Alex"), "/console/call-next")
    assert live.caller(new).taken_by == "alex"


def test_when_twilio_cannot_be_asked_our_list_stands(app, twilio, clock) -> None:
    live = app.extensions["helpline"].live
    x = twilio.join()
    clock.advance(40)
    twilio.down = True
    post_form(signed_in(app, "Alex"), "/console/call-next")  # and the phone can't be rung
    assert live.caller(x.sid).state == WAITING and live.position(x.sid) == 1


def test_the_place_a_caller_hears_is_ours_not_twilios(app, twilio, clock) -> None:
    """Twilio's QueuePosition counts a caller given back behind those who joined after."""
    x = twilio.join()
    clock.advance(10)
    twilio.join()
    alex = ring(app, twilio, "alex", x)
    twilio.answer(alex)
    twilio.press(alex, "1", settle=False)
    twilio.hang_up(alex)  # X back in Twilio's queue behind Y
    voice = app.extensions["helpline"].flows.voice
    x.heard.clear()
    twilio.run(x, x.wait_url, {"QueuePosition": "2"})
    assert voice.queue["next"] in heard(x)


def test_take_next_rings_for_the_caller_at_the_head_of_our_list(app, twilio) -> None:
    x = twilio.join()
    before = set(twilio.calls)
    post_form(signed_in(app, "Alex"), "/console/call-next")
    twilio.settle()
    leg = the_advisor_is_rung(twilio, before)
    assert leg.url.startswith(f"{BASE}/voice/queue/advisor?sid={x.sid}&adv=alex")
    assert ("GET", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Queues.json") in twilio.requests
    assert app.extensions["helpline"].live.caller(x.sid).taken_by == "alex"
    clock_now = app.extensions["helpline"].clock()
    assert clock_now - app.extensions["helpline"].live.caller(x.sid).joined < timedelta(1)


# ------------------------------------------------------------------ ringing advisors (item 8)


def asks_for_an_advisor(twilio: TwilioDouble) -> tuple[Call, list[Call]]:
    """A caller asks for an advisor; the advisors' phones rung for them."""
    before = set(twilio.calls)
    caller = twilio.caller()
    twilio.run(caller, "/voice/advisor")
    twilio.settle()
    legs = [c for sid, c in twilio.calls.items() if sid not in before and c.url]
    return caller, legs


def test_free_advisors_ring_on_legs_of_their_own_and_a_voicemail_ends_only_its_own(
    app, twilio
) -> None:
    """Whether Twilio hangs up the other legs of a <Dial> when one screened leg is answered
    or when it accepts is not documented: each advisor's phone rings on its own leg, the
    caller waiting in the queue with the 999 line, and the first to press 1 takes them."""
    voice = app.extensions["helpline"].flows.voice
    caller, legs = asks_for_an_advisor(twilio)
    assert sorted(leg.client.params["To"] for leg in legs) == sorted(PHONES.values())
    assert voice.advisor["connecting"] in heard(caller) and twilio.members(QUEUE) == [caller.sid]
    assert voice.safety in heard(caller)  # the wait page, while the phones ring
    alex, sam = sorted(legs, key=lambda leg: leg.client.params["To"])
    twilio.answer(alex)  # Alex's voicemail picks up first, hears the screen, hangs up
    twilio.hang_up(alex)
    assert sam.status == "ringing"
    twilio.answer(sam)
    twilio.press(sam, "1")
    assert twilio.talking(sam) == {caller.sid}


def test_the_second_advisor_to_press_1_hears_the_caller_is_taken(app, twilio) -> None:
    voice = app.extensions["helpline"].flows.voice
    caller, legs = asks_for_an_advisor(twilio)
    for leg in legs:
        twilio.answer(leg)
    first, second = legs[::-1]
    twilio.press(first, "1")
    twilio.press(second, "1")
    assert twilio.talking(first) == {caller.sid}
    assert heard(second)[-1] == voice.queue_advisor["taken"] and not second.live


def test_an_advisor_answering_after_the_caller_was_taken_is_not_told_they_wait(app, twilio) -> None:
    voice = app.extensions["helpline"].flows.voice
    caller, (first, second) = asks_for_an_advisor(twilio)
    twilio.answer(first)
    twilio.press(first, "1")
    twilio.answer(second)
    twilio.press(second, "")  # the screen timed out: no key
    assert heard(second)[-1] == voice.queue_advisor["taken"]


def test_nobody_answering_leaves_the_caller_waiting_in_their_place(app, twilio) -> None:
    live = app.extensions["helpline"].live
    caller, legs = asks_for_an_advisor(twilio)
    for leg in legs:
        twilio.ring_out(leg)
    assert live.caller(caller.sid).state == WAITING and twilio.members(QUEUE) == [caller.sid]
    assert app.extensions["helpline"].advisor_states.now_in("alex", live_now(app)) == "free"


def live_now(app: Flask):
    return app.extensions["helpline"].clock()


# ------------------------------------------------------------------ the requests, per Twilio's spec

PRISM_QUEUE = "0.361280134646222"  # the queue in the spec's example listing


def test_taking_by_callsid_reading_members_and_moving_a_call_are_requests_twilio_accepts(
    twilio_proxy,
) -> None:
    """Checked by Prism against Twilio's OpenAPI spec (the double checks the same fields)."""
    settings, recorder = twilio_proxy()
    client = rest_client(Settings(twilio_auth_token=TOKEN).override(settings))
    sid = "CA" + "a" * 32
    assert dequeue_member(client, PRISM_QUEUE, sid, f"{BASE}/voice/queue/bridge") is True
    assert isinstance(queue_members(client, PRISM_QUEUE), dict)
    assert redirect_call(client, sid, f"{BASE}/voice/queue/back") is True
    assert dequeue_member(client, "no-such-queue", sid, f"{BASE}/voice/queue/bridge") is None
    assert queue_members(client, "no-such-queue") is None  # not found: our list stands
    posts = [s for s in recorder.seen if s.method == "POST"]
    assert [s.path.rsplit("/", 2)[-2] for s in posts] == ["Members", "Calls"]
    assert all(s.status < 300 for s in recorder.seen)
