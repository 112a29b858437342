"""Found (review, s3 #3): a text's conditions that are not times ("text first", "withhold
your number", "don't leave a voicemail") were dropped: the callback kept nothing of them and
the advisor called as if nothing had been said. They are kept as the person's words on the
callback (sealed, never logged, escaped where shown), shown to the advisor beside the safe
time, and never read as a time: a time said with them still stands; nothing becomes "any
time" the person did not say."""

from __future__ import annotations

import pytest
from flask import Flask

from ivr.core.callbacks import Callback
from ivr.core.safetime import ANYTIME
from ivr.web.console.common import plan_label
from tests.common import add_advisor, everything_stored, send, signed_in

ME = "+447400123456"
OPEN = "2026-11-25T11:00"


def the_callback(app: Flask) -> Callback:
    callback = app.extensions["helpline"].queue.open_for(ME)
    assert callback is not None
    return callback


CONDITIONS = [
    "Please call me back but text first",
    "can you text before you call",
    "call me back, withhold your number",
    "please call from a private number",
    "don't leave a voicemail",
    "call back but no voicemail please",
    "do not leave a message",
    "call me but don't say who you are",
]


@pytest.mark.parametrize("body", CONDITIONS)
def test_the_finding_a_condition_is_kept_as_their_words(make_app, body, caplog):
    app = make_app(at=OPEN)
    send(app, body)
    callback = the_callback(app)
    assert callback.words == (body,)
    assert callback.voicemail is False
    assert body not in caplog.text  # never logged


@pytest.mark.parametrize("body", CONDITIONS)
def test_a_condition_is_no_time_and_no_plan_of_theirs(make_app, body):
    app = make_app(at=OPEN)
    send(app, body)
    callback = the_callback(app)
    assert callback.plan == ANYTIME and callback.default_plan  # a later time replaces it
    assert callback.status == "due"


ON_CONDITIONS = "on their conditions: read their words"


@pytest.mark.parametrize(
    ("body", "earliest", "label"),
    [
        ("call me after 2pm, text first", "14:00", f"after 2pm, {ON_CONDITIONS}"),
        ("text me first please, after 1pm is fine", "13:00", f"after 1pm, {ON_CONDITIONS}"),
        ("call me after 2pm", "14:00", "after 2pm"),  # no condition: the time alone
    ],
)
def test_a_time_said_with_a_condition_still_stands(make_app, body, earliest, label):
    app = make_app(at=OPEN)
    send(app, body)
    callback = the_callback(app)
    assert callback.status == "scheduled"
    assert callback.plan is not None and callback.plan.earliest is not None
    assert callback.plan.earliest.strftime("%H:%M") == earliest
    assert callback.words == (body,)
    assert plan_label(callback) == label  # what the advisor reads as the safe time


def test_the_advisor_sees_the_condition_sealed_at_rest(make_app, store):
    app = make_app(at=OPEN, cookie_secure=False)
    send(app, "Quokka: text first please")
    assert "Quokka" not in " ".join(everything_stored(store))
    add_advisor(store, "Alex")
    page = signed_in(app, "Alex").get("/console/").get_data(as_text=True)
    assert "their words: &#34;Quokka: text first please&#34;" in page
    view = signed_in(app, "Alex").get("/console/queue.json").get_json()
    assert "Quokka: text first please" in view["due"][0]["words"]
    # Found: the label read "any time" beside it, as if nothing stood in the way of a call.
    assert view["due"][0]["plan"] == f"any time, {ON_CONDITIONS}"
    assert f"any time, {ON_CONDITIONS}" in page


def test_ordinary_words_are_not_kept(make_app):
    app = make_app(at=OPEN)
    send(app, "hello can someone call me back")
    assert the_callback(app).words == ()
