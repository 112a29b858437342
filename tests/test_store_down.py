"""When Redis is unreachable, nobody hears an error: a text is kept on disk and the person
is told honestly that we have it (with the hours and 999; test_spool.py follows it into the
queue), every voice route still answers valid TwiML, and asking for a callback on a call says
it can't be taken now and offers the text route instead.

The store is redis://127.0.0.1:9, where nothing listens: each request fails fast. Each test
has a data folder of its own, for the texts kept on disk.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from flask import Flask

from ivr.content.flows import MAX_REPLY_SEGMENTS
from ivr.core.gsm7 import non_gsm7, segments
from ivr.simulate import TwilioLikeClient, simulate_call
from tests.common import (
    ACCOUNT_SID,
    assert_hears,
    assert_not_hears,
    reply_text,
    send,
    spoken,
    twiml,
)

NOWHERE = "redis://127.0.0.1:9"
ME = "+447400123456"
OPEN, EVENING = "2026-11-25T11:00", "2026-11-25T19:00"
KEYS = list("0123456789*#")


@pytest.fixture(params=[OPEN, EVENING], ids=["open", "closed"])
def app(request, make_app, tmp_path) -> Flask:
    return make_app(at=request.param, redis_url=NOWHERE, data_dir=tmp_path)


def call(app: Flask, caller: str = ME) -> TwilioLikeClient:
    return TwilioLikeClient(
        app,
        {
            "CallSid": "CA" + uuid.uuid4().hex,
            "AccountSid": ACCOUNT_SID,
            "From": caller,
            "To": "+441234567890",
            "CallStatus": "in-progress",
        },
    )


def answer(app: Flask, url: str, caller: str = ME, **fields: str) -> ElementTree.Element:
    """The TwiML a route answers: a 200 with <Response>, and not the error fallback."""
    root = twiml(call(app, caller).post(url, fields))
    fallback = app.extensions["helpline"].flows.voice.fallback
    assert_not_hears(root, fallback[0])  # the route fell back to the error answer
    return root


def next_paths(root: ElementTree.Element) -> set[str]:
    urls = [r.text or "" for r in root.iter("Redirect")]
    urls += [g.get("action") or "" for g in root.iter("Gather")]
    return {urlsplit(url).path for url in urls}


def unavailable(app: Flask) -> str:
    return app.extensions["helpline"].flows.voice.callback["unavailable"]


# ------------------------------------------------------------------ texts


@pytest.mark.parametrize("body", ["hello", "2pm", "ANYTIME", ""])
def test_a_text_is_kept_and_the_reply_says_we_have_it(app, body):
    """Found: texters were told "Sorry, try again later" (1 611 of them in one run)."""
    assert send(app, body) == [reply_text(app, "spooled")]
    assert app.extensions["helpline"].spool.waiting()


@pytest.mark.parametrize(
    ("body", "first", "name", "fields"),
    [
        ("after 8", "held_new", "ambiguous", {"hour": 8}),
        ("after 6pm", "held_new", "outside_hours", {}),
        ("Don't call before 2", "", "ask_time", {}),
        ("25:99", "", "ask_time", {}),
    ],
)
def test_a_time_we_cannot_call_in_gets_the_same_question_as_when_the_store_is_up(
    app, body, first, name, fields
):
    """Found in review: these were told "we have it, we will call" and then held in silence.
    The words are the live path's to a first text ("held_new" and the question: the copy for
    texts kept on disk had dropped the first sentence)."""
    said = reply_text(app, name, **fields)
    assert send(app, body) == [f"{reply_text(app, first)} {said}" if first else said]


def test_stop_is_kept_and_answered_by_twilio_alone(app):
    assert send(app, "STOP") == []
    assert app.extensions["helpline"].spool.waiting()


@pytest.mark.parametrize(("body", "name"), [("HELP", "help")])
def test_help_needs_no_store(app, body, name):
    closed = not app.extensions["helpline"].call_status().open  # the crisis text first
    assert send(app, body) == [reply_text(app, "crisis")] * closed + [reply_text(app, name)]


def test_when_the_disk_fails_too_the_person_is_asked_to_try_again(make_app, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # the spool can't be made under a file
    app = make_app(redis_url=NOWHERE, data_dir=blocked)
    assert send(app, "hello") == [reply_text(app, "unavailable")]


def test_the_kept_reply_gives_the_hours_and_999_plainly(app):
    reply = send(app, "hello")[0]
    assert "from 10am to 4pm, Monday to Friday" in reply
    assert "999" in reply
    assert non_gsm7(reply) == []
    assert segments(reply) <= MAX_REPLY_SEGMENTS


def test_a_text_with_media_and_credentials_still_gets_an_answer(make_app, twilio_api, tmp_path):
    app = make_app(redis_url=NOWHERE, data_dir=tmp_path, **twilio_api)
    sid, media = "MM" + uuid.uuid4().hex, "ME" + uuid.uuid4().hex
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media/{media}"
    assert send(app, "look", sid=sid, NumMedia="1", MediaUrl0=url) == [
        f"{reply_text(app, 'media')} {reply_text(app, 'spooled')}"
    ]


def test_a_text_from_abroad_still_gets_an_answer(app):
    assert send(app, "hello", sender="+33612345678") == [reply_text(app, "not_uk")]


# ------------------------------------------------------------------ the call tree


@pytest.mark.parametrize(
    "route",
    [
        "/voice",
        "/voice/menu",
        "/voice/menu?menu=open",
        "/voice/menu?menu=closed",
        "/voice/page/step1",
        "/voice/page/police",
        "/voice/page/support",
        "/voice/page/step1/choice",
        "/voice/advisor",
        "/voice/advisor/result",
        "/voice/screen",
        "/voice/screen/result",
        "/voice/queue/join",
        "/voice/queue/wait",
        "/voice/queue/key",
        "/voice/queue/left",
        "/voice/page/step1?q=1",
    ],
)
def test_every_voice_route_still_answers(app, route):
    root = answer(app, route)
    leaves = root.find("Leave") is not None  # the wait at closing: to the callback offer
    assert spoken(root) or next_paths(root) or leaves or route == "/voice/screen/result"


def test_a_caller_waiting_in_the_queue_waits_on_with_the_999_line(app):
    """Twilio keeps the queue: a wait page without the store never hangs up on them."""
    root = answer(app, "/voice/queue/wait", QueuePosition="2")
    assert root.find("Hangup") is None
    if root.find("Leave") is None:  # open: the wait goes on (closed: the callback offer)
        assert any("9 9 9" in line for line in spoken(root))
        assert "/voice/queue/wait" in next_paths(root)


@pytest.mark.parametrize("menu", ["", "open", "closed"])
@pytest.mark.parametrize("key", KEYS)
def test_every_key_at_the_menu_still_answers(app, menu, key):
    root = answer(app, f"/voice/choice?menu={menu}" if menu else "/voice/choice", Digits=key)
    assert next_paths(root)


def test_the_greeting_still_gives_the_safety_line_and_a_menu(app):
    root = answer(app, "/voice")
    voice = app.extensions["helpline"].flows.voice
    assert_hears(root, voice.safety)
    assert "/voice/choice" in next_paths(root)


# ------------------------------------------------------------------ asking for a callback


@pytest.mark.parametrize(
    ("route", "caller", "fields"),
    [
        ("/voice/callback", ME, {}),
        ("/voice/callback/check", "anonymous", {"Digits": "07400123456"}),
        ("/voice/callback/save", ME, {"Digits": "1"}),
        ("/voice/callback/save", ME, {"Digits": "2"}),
    ],
)
def test_steps_that_need_the_store_say_so_and_offer_the_text_route(app, route, caller, fields):
    root = answer(app, route, caller=caller, **fields)
    assert spoken(root) == [unavailable(app)]
    assert "text" in unavailable(app)
    assert next_paths(root) == {"/voice/menu"}


@pytest.mark.parametrize(
    ("route", "fields", "leads_to"),
    [
        ("/voice/callback/confirm", {"Digits": "1"}, "/voice/callback/voicemail"),
        ("/voice/callback/confirm", {"Digits": "2"}, "/voice/callback/number"),
        ("/voice/callback/number", {}, "/voice/callback/check"),
        ("/voice/callback/number/confirm", {"Digits": "1"}, "/voice/callback/voicemail"),
        ("/voice/callback/voicemail", {}, "/voice/callback/voicemail/answer"),
        ("/voice/callback/voicemail/answer", {"Digits": "1"}, "/voice/callback/safe-time"),
        ("/voice/callback/safe-time", {}, "/voice/callback/save"),
        ("/voice/callback/check", {"Digits": "09011234567"}, "/voice/callback/number"),
    ],
)
def test_steps_that_need_no_store_carry_on(app, route, fields, leads_to):
    assert leads_to in next_paths(answer(app, route, caller="anonymous", **fields))


@pytest.mark.parametrize(
    ("caller", "presses"),
    [
        (ME, ["5"]),  # told at once: the own number can't be held
        ("anonymous", ["5", "07400123456"]),  # told once the keyed number can't be held
    ],
)
def test_a_caller_asking_for_a_callback_hears_why_not_and_gets_the_menu_back(app, caller, presses):
    transcript = simulate_call(app, [*presses, "4"], caller=caller)
    assert [e for e in transcript.events if e["type"] == "error"] == []
    heard = transcript.heard()
    assert heard.count(unavailable(app)) == 1
    support = app.extensions["helpline"].flows.voice.support
    after = heard[heard.index(unavailable(app)) :]
    assert all(line in after for line in support)  # the menu still works afterwards
