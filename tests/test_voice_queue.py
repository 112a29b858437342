"""The in-hours queue on the phone (issue 13): a caller nobody free can take waits with their
place, an honest estimate and the 999 line, can hear the steps and the police guidance
without leaving, and can swap to a callback that keeps their place; the max wait and closing
offer the callback, never a silent drop; hanging up asks for nothing. Expected words come
from the loaded flows."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree

import pytest
import redis
from flask import Flask

from ivr.content.flows import VoiceContent
from ivr.core.livequeue import FREE, ON_CALL, SWAP
from ivr.simulate import SILENCE, Speech, simulate_call
from ivr.store import stats
from ivr.store.live import LEFT
from tests.common import (
    ADVISORS,
    CALLER,
    OPEN_AT,
    Clock,
    add_advisor,
    assert_hears,
    assert_not_hears,
    london,
    path,
    query,
    redirect_of,
    spoken,
    twilio_client,
    twiml,
)

SID = "CA" + "a" * 32  # twilio_client's CallSid
ME = "+447400123456"  # a number we may call back (CALLER is a drama number)


def voice(app: Flask) -> VoiceContent:
    return app.extensions["helpline"].flows.voice


def post(app: Flask, url: str, caller: str = CALLER, **fields: str) -> ElementTree.Element:
    return twiml(twilio_client(app, caller).post(url, fields))


def on_duty(app: Flask, store: redis.Redis, state: str, name: str = "Alex", phone: str = ""):
    """A console advisor on duty, in `state` since now."""
    advisor = add_advisor(store, name, phone or ADVISORS[0], on_duty=True)
    h = app.extensions["helpline"]
    h.advisor_states.set(advisor.username, state, h.clock())
    return advisor


@pytest.fixture
def clock() -> Clock:
    return Clock(london(OPEN_AT))


@pytest.fixture
def busy(make_app, store, clock) -> Flask:
    """Open, one console advisor on duty and on a call."""
    app = make_app(clock=clock)
    on_duty(app, store, ON_CALL)
    return app


def waits(app: Flask, caller: str = CALLER) -> ElementTree.Element:
    """The caller asks for an advisor and joins the queue; the <Enqueue>."""
    assert path(redirect_of(post(app, "/voice/advisor", caller))) == "/voice/queue/join"
    root = post(app, "/voice/queue/join", caller)
    enqueue = root.find("Enqueue")
    assert enqueue is not None
    return enqueue


# ------------------------------------------------------------------ who is rung, who waits


def test_a_free_advisor_is_rung_screened_and_their_state_followed(make_app, store) -> None:
    app = make_app()
    on_duty(app, store, FREE)
    root = post(app, "/voice/advisor")
    number = root.find("Dial/Number")
    assert number is not None and number.text == ADVISORS[0]
    assert path(number.get("url")) == "/voice/screen"
    assert path(number.get("statusCallback")) == "/voice/queue/advisor-status"
    assert query(number.get("statusCallback")) == {"adv": "alex"}
    assert app.extensions["helpline"].advisor_states.now_in("alex", london(OPEN_AT)) == "ringing"


def test_nobody_accepting_leads_to_the_queue_not_the_other_options(make_app, store) -> None:
    app = make_app()
    on_duty(app, store, FREE)
    dial = post(app, "/voice/advisor").find("Dial")
    root = post(app, dial.get("action"), DialCallStatus="no-answer")
    assert path(redirect_of(root)) == "/voice/queue/join"


def test_an_advisor_on_a_call_is_not_rung_the_caller_queues(busy) -> None:
    enqueue = waits(busy)
    assert not list(post(busy, "/voice/advisor").iter("Number"))
    assert path(enqueue.get("waitUrl")) == "/voice/queue/wait"
    assert path(enqueue.get("action")) == "/voice/queue/left"
    assert enqueue.text == "helpline-main"


def test_two_callers_at_once_ring_a_free_advisor_once(make_app, store) -> None:
    app = make_app()
    on_duty(app, store, FREE)
    first, second = post(app, "/voice/advisor"), post(app, "/voice/advisor")
    assert [n.text for n in first.iter("Number")] == [ADVISORS[0]]
    assert path(redirect_of(second)) == "/voice/queue/join"


def test_without_the_rest_api_only_the_first_free_advisor_is_rung(make_app, store) -> None:
    """Never two screened numbers in one <Dial> (docs/take-next.md, "Ringing advisors")."""
    app = make_app()
    on_duty(app, store, FREE)
    on_duty(app, store, FREE, name="Sam", phone=ADVISORS[1])
    root = post(app, "/voice/advisor")
    assert len(list(root.iter("Number"))) == 1
    states = app.extensions["helpline"].advisor_states
    now = london(OPEN_AT)
    assert sorted(states.now_in(who, now) for who in ("alex", "sam")) == ["free", "ringing"]


def test_with_only_advisor_numbers_it_rings_then_offers_a_callback_as_before(make_app) -> None:
    app = make_app(advisor_numbers=ADVISORS)
    root = post(app, "/voice/advisor")
    assert [n.text for n in root.iter("Number")] == [ADVISORS[0]]  # one at a time
    second = post(app, root.find("Dial").get("action"), DialCallStatus="no-answer")
    assert [n.text for n in second.iter("Number")] == [ADVISORS[1]]
    after = post(app, second.find("Dial").get("action"), DialCallStatus="no-answer")
    assert spoken(after) == [voice(app).advisor["unavailable"]]
    assert path(redirect_of(after)) == "/voice/menu"


def test_joining_is_counted_and_keeps_the_time_joined(busy, clock) -> None:
    waits(busy)
    caller = busy.extensions["helpline"].live.caller(SID)
    assert caller is not None and caller.joined == clock.at
    # Found: "+44 7400 •••123" kept in clear (7 of 10 digits: a thousand candidates), in the
    # store and in the audit trail. Only the last 3 digits are kept, as in the logs.
    assert caller.masked == "***123"
    store = busy.extensions["helpline"].redis
    kept = " ".join(f"{key} {store.dump(key)!r}" for key in store.scan_iter("hl:*"))
    assert "7400" not in kept.replace(" ", "")
    stats.flush()
    counters, _ = stats.day(busy.extensions["helpline"].redis, clock.at.date())
    assert counters["q:queued"] == 1


# ------------------------------------------------------------------ the wait page


def wait_page(app: Flask, **fields: str) -> ElementTree.Element:
    return post(app, "/voice/queue/wait", **fields)


def ahead(app: Flask, callers: int) -> None:
    """`callers` who joined the queue before now, each a minute apart."""
    h = app.extensions["helpline"]
    for n in range(callers):
        h.live.join(f"CA{n:032d}", h.clock() - timedelta(minutes=10 - n), "x")


@pytest.mark.parametrize(
    ("position", "said"),
    [("1", "next"), ("2", "position"), ("7", "position")],
)
def test_the_wait_says_the_place_the_999_line_and_the_swap(busy, position, said) -> None:
    """The place is our list's (Twilio's QueuePosition stops meaning "your turn" once
    advisors take callers by CallSid): callers who joined before are ahead."""
    ahead(busy, int(position) - 1)
    waits(busy)
    root = wait_page(busy, QueuePosition="1")
    content = voice(busy)
    heard = spoken(root)
    assert heard[0] == content.queue[said].format(position=position)
    assert content.safety in heard and "9 9 9" in content.safety
    assert_hears(root, content.queue_options[0].prompt)  # press 1: you keep your place
    assert heard[1] == content.queue["no_estimate"]  # too few calls to go on: no number


@pytest.mark.parametrize("position", ["1", "4", ""])
def test_every_loop_of_the_wait_says_the_999_and_samaritans_lines(busy, position) -> None:
    """Issue 19: a caller waiting hears Samaritans (116 123) in every loop, after 999."""
    waits(busy)
    heard = spoken(wait_page(busy, QueuePosition=position))
    content = voice(busy)
    assert heard.index(content.safety) < heard.index(content.queue["samaritans"])
    assert "1 1 6, 1 2 3" in content.queue["samaritans"]


def test_despair_in_the_wait_gets_samaritans_and_the_wait_goes_on(busy) -> None:
    """No advisor is offered there: the caller is waiting for one, in their place."""
    root = key(busy, SpeechResult="um I don't want to be here any more")
    assert spoken(root) == list(voice(busy).despair)
    assert path(redirect_of(root)) == "/voice/queue/wait"
    assert root.find("Gather") is None and root.find("Leave") is None


def test_the_estimate_comes_from_recent_handling_times(busy) -> None:
    ahead(busy, 2)
    waits(busy)
    live = busy.extensions["helpline"].live
    for _ in range(5):
        live.record_handled(240)
    root = wait_page(busy)
    assert_hears(root, voice(busy).queue["estimate"].format(minutes=12))


def test_everything_in_the_wait_can_be_interrupted_by_a_key(busy) -> None:
    """All of it inside the <Gather>, the quiet hold too: a key works at any moment."""
    waits(busy)
    root = wait_page(busy, QueuePosition="2")
    g = root.find("Gather")
    assert [v.tag for v in root] == ["Gather", "Redirect"]
    assert g.get("input") == "dtmf"
    assert spoken(g) == spoken(root)
    assert g[-1].tag == "Pause" and g[-1].get("length") == "40"
    assert path(redirect_of(root)) == "/voice/queue/wait"


def test_the_hold_audio_is_configurable(make_app, store) -> None:
    app = make_app(queue_hold_audio="https://example.org/quiet.mp3")
    on_duty(app, store, ON_CALL)
    waits(app)
    assert wait_page(app).find("Gather/Play").text == "https://example.org/quiet.mp3"


def test_without_twilios_position_the_stored_place_is_said(busy) -> None:
    waits(busy)
    assert spoken(wait_page(busy))[0] == voice(busy).queue["next"]


def test_nothing_is_ever_recorded(busy) -> None:
    waits(busy)
    for root in (post(busy, "/voice/queue/join"), wait_page(busy)):
        assert root.find(".//Record") is None


# ------------------------------------------------------------------ keys in the wait


def key(app: Flask, **fields: str) -> ElementTree.Element:
    return post(app, "/voice/queue/key", **fields)


def test_pressing_1_leaves_the_queue_for_the_callback(busy) -> None:
    waits(busy)
    root = key(busy, Digits="1")
    assert [v.tag for v in root] == ["Leave"]
    assert busy.extensions["helpline"].live.caller(SID).why == SWAP


@pytest.mark.parametrize(
    ("fields", "page"),
    [({"Digits": "2"}, "/voice/page/step1"), ({"SpeechResult": "police"}, "/voice/page/police")],
)
def test_the_steps_and_police_are_heard_without_leaving(busy, fields, page) -> None:
    waits(busy)
    url = redirect_of(key(busy, **fields))
    assert path(url) == page and query(url)["q"] == "1"
    assert busy.extensions["helpline"].live.caller(SID).state == "waiting"


@pytest.mark.parametrize("digits", ["0", "9"])
def test_0_and_9_say_the_wait_again(busy, digits) -> None:
    assert path(redirect_of(key(busy, Digits=digits))) == "/voice/queue/wait"


def test_emergency_at_any_moment_gives_the_999_lines_and_the_wait_goes_on(busy) -> None:
    root = key(busy, SpeechResult="this is an emergency")
    assert spoken(root) == list(voice(busy).danger)
    assert path(redirect_of(root)) == "/voice/queue/wait"
    assert root.find("Leave") is None


def test_a_wrong_key_says_so_and_the_wait_goes_on(busy) -> None:
    root = key(busy, Digits="7")
    assert spoken(root) == [voice(busy).invalid]
    assert path(redirect_of(root)) == "/voice/queue/wait"


# ------------------------------------------------------------------ pages heard in the queue


def test_on_a_page_in_the_queue_0_returns_to_the_wait(busy) -> None:
    content = voice(busy)
    root = post(busy, "/voice/page/police?part=2&q=1")
    assert_hears(root, content.queue["back_prompt"])
    assert_not_hears(root, content.navigation["menu"].prompt)
    assert_not_hears(root, content.queue_options[0].prompt)  # the swap only on the wait page
    action = root.find("Gather").get("action")
    back = redirect_of(post(busy, action, Digits="0"))
    assert path(back) == "/voice/queue/wait" and query(back)["back"] == "1"
    assert spoken(post(busy, back))[0] == content.queue["back"]


def test_on_a_step_in_the_queue_1_is_still_step_1(busy) -> None:
    root = post(busy, "/voice/page/step3?part=1&q=1")
    url = redirect_of(post(busy, root.find("Gather").get("action"), Digits="1"))
    assert path(url) == "/voice/page/step1" and query(url)["q"] == "1"


def test_the_last_step_returns_to_the_wait_and_silence_never_ends_the_call(busy) -> None:
    root = post(busy, "/voice/page/step5?part=1&q=1")
    after = post(busy, root.find("Gather").get("action"), Digits="8")
    assert path(redirect_of(after)) == "/voice/queue/wait"
    gave_up = post(busy, "/voice/page/step5?part=1&q=1&tries=3")
    assert gave_up.find("Hangup") is None
    assert path(redirect_of(gave_up)) == "/voice/queue/wait"


# ------------------------------------------------------------------ leaving the queue


def left(app: Flask, result: str, caller: str = CALLER) -> ElementTree.Element:
    return post(app, "/voice/queue/left", caller, QueueResult=result, QueueTime="120")


def answer_questions(app: Flask, url: str, presses: list[str], caller: str = ME) -> list[str]:
    """Follow the callback questions from `url`, pressing `presses` in turn; what is heard."""
    heard: list[str] = []
    fields: dict[str, str] = {}
    for _ in range(20):
        root = post(app, url, caller, **fields)
        heard += spoken(root)
        if root.find("Hangup") is not None:
            return heard
        gather = root.find("Gather")
        if gather is not None:
            url, fields = gather.get("action"), {"Digits": presses.pop(0)}
        else:
            url, fields = redirect_of(root), {}
    raise AssertionError(f"the questions never ended: {heard}")


def test_a_swap_keeps_the_place_and_ends_with_the_999_line(busy, clock) -> None:
    joined = clock.at
    waits(busy, ME)
    clock.advance(240)
    key(busy, Digits="1")
    root = left(busy, "leave", ME)
    content = voice(busy)
    assert spoken(root) == [content.queue_leave["swap"]]
    heard = answer_questions(busy, redirect_of(root), ["1", "2", "1"])  # mine, no voicemail, any
    assert heard[-2:] == [content.safety, *content.goodbye]
    callback = busy.extensions["helpline"].queue.open_for(ME)
    assert callback is not None and callback.requested_at == joined and callback.swapped
    assert callback.status == "due"


def test_the_whole_swap_through_the_simulator(busy, clock) -> None:
    joined = clock.at
    transcript = simulate_call(busy, ["1", SILENCE, "1", "1", "2", "1"], caller=ME)
    heard = transcript.heard()
    content = voice(busy)
    assert content.queue["joining"] in heard and content.queue_leave["swap"] in heard
    assert heard[-2:] == [content.safety, *content.goodbye]
    assert transcript.lines()[-1] == "CALL ENDS"
    callback = busy.extensions["helpline"].queue.open_for(ME)
    assert callback.requested_at == joined and callback.swapped


def test_hanging_up_while_waiting_asks_for_nothing(busy, clock) -> None:
    waits(busy, ME)
    root = left(busy, "hangup", ME)
    assert list(root) == []
    assert busy.extensions["helpline"].queue.open_for(ME) is None
    assert busy.extensions["helpline"].live.caller(SID).state == LEFT
    stats.flush()
    counters, _ = stats.day(busy.extensions["helpline"].redis, clock.at.date())
    assert counters["q:abandoned"] == 1


def test_hanging_up_in_the_simulator_tells_the_queue(busy) -> None:
    simulate_call(busy, [Speech("advisor")], caller=ME)  # then silence: hangs up waiting
    assert busy.extensions["helpline"].queue.open_for(ME) is None
    assert busy.extensions["helpline"].live.size() == 0


def test_after_talking_to_an_advisor_the_call_ends_with_the_999_line(busy) -> None:
    waits(busy)
    root = left(busy, "bridged")
    assert spoken(root) == [voice(busy).safety, *voice(busy).goodbye]
    assert root.find("Hangup") is not None


@pytest.mark.parametrize("result", ["queue-full", "error", "system-error"])
def test_when_twilios_queue_fails_the_callback_is_offered(busy, result) -> None:
    waits(busy)
    root = left(busy, result)
    assert spoken(root) == [voice(busy).queue_leave["no_advisors"]]
    assert path(redirect_of(root)) == "/voice/callback"


@pytest.mark.parametrize(
    ("minutes", "max_wait", "leaves"), [(9, 10, False), (10, 10, True), (5, 5, True)]
)
def test_the_max_wait_offers_the_callback(
    make_app, store, clock, minutes, max_wait, leaves
) -> None:
    app = make_app(clock=clock, queue_max_wait_minutes=max_wait)
    on_duty(app, store, ON_CALL)
    waits(app)
    clock.advance(minutes * 60)
    root = wait_page(app)
    assert (root.find("Leave") is not None) is leaves
    if leaves:
        assert spoken(left(app, "leave")) == [voice(app).queue_leave["max_wait"]]


def test_at_closing_the_callback_is_for_the_next_opening_and_they_are_told(busy, clock) -> None:
    waits(busy, ME)
    clock.at = london("2026-11-25T16:00")
    assert [v.tag for v in wait_page(busy)] == ["Leave"]
    root = left(busy, "leave", ME)
    content = voice(busy)
    assert spoken(root) == [content.queue_leave["closing"]]
    heard = answer_questions(busy, redirect_of(root), ["1", "2", "1"])
    assert_hears(heard, content.callback["done_new"].format(when="tomorrow at 10am"))
    callback = busy.extensions["helpline"].queue.open_for(ME)
    assert callback.status == "scheduled" and callback.requested_at == london(OPEN_AT)


def test_when_nobody_is_on_duty_any_more_the_callback_is_offered(busy, store) -> None:
    waits(busy)
    busy.extensions["helpline"].redis.hset("hl:adv:alex", "on_duty", 0)
    assert [v.tag for v in wait_page(busy)] == ["Leave"]
    assert spoken(left(busy, "leave")) == [voice(busy).queue_leave["no_advisors"]]


def test_a_caller_the_store_forgot_still_waits_and_is_back_in_our_list(busy) -> None:
    """Twilio asks for their wait page, so it holds them: they are put back in our list
    (as of when Twilio says they joined), within reach of Take next."""
    root = wait_page(busy, QueuePosition="4", QueueTime="120")
    assert root.find("Leave") is None and root.find("Hangup") is None
    assert spoken(root)[0] == voice(busy).queue["next"]  # our list's place, not Twilio's
    h = busy.extensions["helpline"]
    assert h.live.caller(SID).joined == h.clock() - timedelta(minutes=2)


def test_the_wait_never_errors_into_a_hang_up(busy, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("ivr.web.voice_queue.where_they_are", broken)
    root = wait_page(busy)
    assert root.find("Hangup") is None and voice(busy).safety in spoken(root)
    assert path(redirect_of(root)) == "/voice/queue/wait"


def test_every_wait_page_listens_for_keys_only_with_the_999_line(busy, monkeypatch) -> None:
    """Found: wait pages asked for <Gather input="dtmf speech">, while Twilio's <Enqueue>
    page says that in a waitUrl document "the valid values for the <Gather> input attribute
    are dtmf and speech" (https://www.twilio.com/docs/voice/twiml/enqueue). A refused value
    ends the wait with QueueResult "error", which pushed every caller out on the first loop.
    Keys only there; the 999 line is said in every loop, also when the wait page fails."""
    waits(busy)
    pages = [wait_page(busy, QueuePosition="3"), post(busy, "/voice/queue/wait?back=1")]
    monkeypatch.setattr("ivr.web.voice_queue.where_they_are", lambda *a, **k: 1 / 0)
    pages.append(wait_page(busy))  # the wait with no store or an error: keep_waiting
    for root in pages:
        [g] = root.findall(".//Gather")
        assert g.get("input") == "dtmf"
        assert g.get("hints") is None and g.get("speechTimeout") is None
        assert voice(busy).safety in spoken(g)
        assert not [line for line in spoken(g) if "or say" in line]  # keys only: "press"


def test_the_simulator_can_pretend_advisors_without_touching_the_store(make_app, store) -> None:
    app = make_app(advisor_numbers=())
    busy_call = simulate_call(app, ["1", SILENCE], caller=ME, advisors="busy").lines()
    assert "JOINS THE QUEUE: helpline-simulated" in busy_call
    assert "HOLDS: quiet for 40 seconds" in busy_call
    free_call = simulate_call(app, ["1"], caller=ME, advisors="free").lines()
    assert any(line.startswith("RINGS") for line in free_call)
    assert not store.keys("hl:advstate:*") and not store.keys("hl:adv:*")
    assert not store.keys("hl:main:live:*")  # the real queue never saw the simulated caller
    assert store.keys("hl:main:sim:live:*")  # it waited among the simulated records
