"""Welsh in the in-hours queue (issue 14, item 2): a Welsh caller waits in a Twilio queue of
their own (an advisor's <Dial><Queue> takes whoever is at the front of the queue it names),
their language is kept (sealed) and shown to advisors, Welsh-speaking advisors take them
first and are left them while on duty, and a Welsh caller hears Welsh, never English in a
Welsh voice: being put through, and the error fallback with its 999 line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from ivr.content.flows import DEFAULT_DIR, WELSH_VOICE, Flows, load_flows
from ivr.store.live import LiveQueue
from ivr.store.onelist import take_next
from ivr.store.queue import CallbackQueue
from ivr.store.sealing import looks_sealed
from ivr.twilio.rest import call_advisor_for_caller
from tests.common import (
    ACCOUNT_SID,
    OPEN_AT,
    SEALER,
    add_advisor,
    flashes,
    london,
    post_form,
    query,
    signed_in,
    spoken,
    twilio_client,
    twiml,
)
from tests.twilio_queues import TwilioDouble, heard

NOW = london(OPEN_AT)
WELSH_SID, ENGLISH_SID = "CA" + "c" * 32, "CA" + "e" * 32


@pytest.fixture(scope="module")
def shipped() -> Flows:
    return load_flows(DEFAULT_DIR, NOW)


@pytest.fixture
def app(make_app, welsh_on: Path) -> Flask:
    return make_app(OPEN_AT, flows_dir=welsh_on, cookie_secure=False)


def join(app: Flask, sid: str, welsh: bool, caller: str = "+447400123456"):
    url = "/voice/queue/join" + ("?lang=cy" if welsh else "")
    return twiml(twilio_client(app, caller).post(url, {"CallSid": sid}))


# ------------------------------------------------------------------ one queue per language


def test_a_welsh_caller_waits_in_the_welsh_queue(app: Flask, shipped: Flows, store) -> None:
    welsh, english = join(app, WELSH_SID, True), join(app, ENGLISH_SID, False)
    assert welsh.find("Enqueue").text == "helpline-main-cy"
    assert english.find("Enqueue").text == "helpline-main"
    assert shipped.welsh.voice.queue["joining"] in spoken(welsh)
    assert query(welsh.find("Enqueue").get("waitUrl"))["lang"] == "cy"
    live = app.extensions["helpline"].live
    assert (live.caller(WELSH_SID).language, live.caller(ENGLISH_SID).language) == ("cy", "en")
    kept = str(store.hget(f"hl:main:live:caller:{WELSH_SID}", "language"))
    assert looks_sealed(kept)  # the language a person chose is personal data


def test_advisors_see_the_language_of_each_caller_on_the_line(app: Flask, store) -> None:
    join(app, ENGLISH_SID, False)
    join(app, WELSH_SID, True, "+447400123457")
    add_advisor(store, "Alex", "+447400000111", on_duty=True)
    client = signed_in(app, "Alex")
    live = client.get("/console/queue.json").get_json()["live"]
    assert {row["number"]: row["language"] for row in live} == {
        "***456": "English",
        "***457": "Cymraeg (Welsh)",
    }
    assert "Cymraeg (Welsh)" in client.get("/console/").get_data(as_text=True)


def test_the_advisor_takes_a_welsh_caller_from_the_welsh_queue_who_hears_welsh(
    make_app, welsh_on: Path, shipped: Flows, store
) -> None:
    """Taken by CallSid from the Welsh queue (the Members API, against the Twilio double):
    the advisor's leg is in English, the caller hears they are put through in Welsh."""
    add_advisor(store, "Alex", "+447400000111", on_duty=True)
    app = make_app(
        OPEN_AT,
        flows_dir=welsh_on,
        twilio_account_sid=ACCOUNT_SID,
        helpline_number="+441234567890",
        public_base_url="https://helpline.example.org",
    )
    h = app.extensions["helpline"]
    twilio = TwilioDouble(app)
    h.twilio.http_client = twilio
    caller = twilio.caller()
    twilio.run(caller, "/voice/queue/join?lang=cy")
    assert twilio.members("helpline-main-cy") == [caller.sid]
    assert h.live.take(caller.sid, "alex", NOW)
    sid = call_advisor_for_caller(
        h.twilio, h.settings, "https://helpline.example.org", "+447400000111", caller.sid, "alex"
    )
    advisor = twilio.calls[sid]
    twilio.answer(advisor)
    assert "lang" not in query(advisor.gather)  # the advisor's: English
    caller.heard.clear()
    twilio.press(advisor, "1")
    assert twilio.talking(advisor) == {caller.sid}
    assert heard(caller) == [shipped.welsh.voice.queue["connecting"]]


# ------------------------------------------------------------------ Welsh speakers first


def test_a_welsh_speaker_takes_the_welsh_caller_and_others_leave_them_to_one(store) -> None:
    q, live = CallbackQueue(store, SEALER), LiveQueue(store, sealer=SEALER)
    live.join(ENGLISH_SID, NOW - timedelta(minutes=2), "***456")
    live.join(WELSH_SID, NOW - timedelta(minutes=1), "***457", "cy")

    def take(who: str, speaks: bool, on_duty: bool):
        taken = take_next(q, live, who, NOW, "live_first", 5, NOW.tzinfo, speaks, on_duty)
        return taken.caller.call_sid if taken and taken.caller else None

    assert take("alex", False, True) == ENGLISH_SID  # the Welsh caller is left to Rhys
    assert take("sam", False, True) is None  # ...even with nobody else waiting
    assert take("rhys", True, True) == WELSH_SID


def test_take_next_in_the_console_prefers_matching_advisors(
    make_app, welsh_on: Path, twilio_proxy, store
) -> None:
    settings, _ = twilio_proxy()
    app = make_app(
        OPEN_AT,
        flows_dir=welsh_on,
        cookie_secure=False,
        helpline_number="+441234567890",
        public_base_url="https://helpline.example.org",
        **settings,
    )
    join(app, ENGLISH_SID, False)
    join(app, WELSH_SID, True, "+447400123457")
    add_advisor(store, "Alex", "+447400000111", on_duty=True)
    add_advisor(store, "Rhys", "+447400000112", on_duty=True, welsh=True)
    rhys = signed_in(app, "Rhys")
    post_form(rhys, "/console/call-next")
    assert "take the caller" in flashes(rhys)
    live = app.extensions["helpline"].live
    assert live.caller(WELSH_SID).taken_by == "rhys"  # joined after, but in Welsh
    assert live.caller(ENGLISH_SID).state == "waiting"


def test_with_no_welsh_speaker_on_duty_anyone_takes_a_welsh_caller(app: Flask, store) -> None:
    join(app, WELSH_SID, True)
    add_advisor(store, "Rhys", "+447400000112", on_duty=False, welsh=True)
    add_advisor(store, "Alex", "+447400000111", on_duty=True)
    h = app.extensions["helpline"]
    taken = take_next(h.queue, h.live, "alex", NOW, "live_first", 5, NOW.tzinfo, False, False)
    assert taken is not None and taken.caller.call_sid == WELSH_SID


# ------------------------------------------------------------------ the fallback in Welsh


@pytest.mark.parametrize("welsh", [True, False])
def test_the_error_fallback_is_in_the_callers_language_with_the_999_line(
    app: Flask, shipped: Flows, monkeypatch, welsh: bool
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("ivr.web.voice.start_in_language", broken)
    content = shipped.welsh if welsh else shipped
    lang = "?lang=cy" if welsh else ""
    for url in (f"/voice/chosen{lang}", f"/voice/nowhere{lang}"):
        root = twiml(twilio_client(app).post(url, {}))
        assert spoken(root) == content.fallback_lines()
        assert "9 9 9" in " ".join(spoken(root))
        voices = {say.get("voice") for say in root.iter("Say")}
        assert (voices == {WELSH_VOICE}) is welsh
        assert root.find("Hangup") is not None
