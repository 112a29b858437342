"""Found (review, s3 #4): STEPS sent the five steps at once, and they name what the helpline
is about; someone else may read the phone. Texts are discreet: STEPS is answered with a
warning and a question (the steps say what they are about; reply SEND STEPS if that is
safe), and only SEND STEPS sends them. The same while the store is down, and in Welsh."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from ivr.content.flows import (
    DEFAULT_DIR,
    MAX_REPLY_SEGMENTS,
    WELSH_REPLY_SEGMENTS,
    load_flows,
    revealing_words,
    text_segments,
)
from tests.common import CLOSED_AT, OPEN_AT, london, only, reply_text, send

ME = "+447400123456"


def steps(app: Flask) -> list[str]:
    return list(app.extensions["helpline"].flows.sms.steps)


@pytest.mark.parametrize("word", ["STEPS", "steps", "Steps.", "advice"])
@pytest.mark.parametrize("at", [OPEN_AT, CLOSED_AT])
def test_the_finding_steps_warns_and_asks_before_sending_them(make_app, word, at):
    app = make_app(at=at)
    reply = only(send(app, word, sender=ME))
    assert reply == reply_text(app, "steps_ask")
    assert not set(steps(app)) & set(send(app, word, sender=ME))
    assert "SEND STEPS" in reply and "999" in reply


@pytest.mark.parametrize("word", ["SEND STEPS", "send steps", "Steps yes"])
def test_send_steps_sends_the_five(make_app, word):
    app = make_app()
    assert send(app, word, sender=ME) == steps(app)


def test_the_warning_is_itself_discreet_and_short():
    shipped = load_flows(DEFAULT_DIR, london(OPEN_AT))
    assert shipped.welsh is not None
    for flows, welsh in ((shipped, False), (shipped.welsh, True)):
        ask = flows.sms.replies["steps_ask"]
        assert not revealing_words(ask, welsh)
        assert text_segments(ask) <= (WELSH_REPLY_SEGMENTS if welsh else MAX_REPLY_SEGMENTS)


def test_the_first_reply_offers_steps_as_a_word_only(make_app):
    app = make_app()
    reply = only(send(app, "hello", sender=ME))
    assert not set(steps(app)) & {reply}
    assert "STEPS" in reply


def test_camau_asks_in_welsh_and_anfon_camau_sends(make_app, welsh_on: Path):
    app = make_app(CLOSED_AT, flows_dir=welsh_on)
    send(app, "CYMRAEG", sender=ME)
    welsh = app.extensions["helpline"].flows.speaking("cy")
    assert only(send(app, "CAMAU", sender=ME)) == welsh.sms.replies["steps_ask"]
    assert send(app, "ANFON CAMAU", sender=ME) == list(welsh.sms.steps)
