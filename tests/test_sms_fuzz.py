"""Property-based tests of /sms: whatever arrives (any text, any size, any sender, repeated
MessageSids, junk media counts), Twilio gets a 200 with TwiML, every reply is plain GSM-7,
and no number ever has more than one open callback.

The app is built once per test; the flood limit is set high so quiet mode stays out of the way.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.content.flows import MAX_STEP_SEGMENTS
from ivr.core.callbacks import OPEN_STATUSES, callable_number
from ivr.core.gsm7 import non_gsm7, segments
from ivr.core.keywords import interpret
from tests.common import empty, examples, replies, texter

UK_MOBILES = ("+447400123456", "+447400123457", "+447400123458", "+442079460001")
FUZZ = settings(
    max_examples=examples(80),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

keywords = st.sampled_from(
    [
        "STOP",
        "stop.",
        "START",
        "HELP",
        "info",
        "STEPS",
        "SEND STEPS",
        "ANYTIME",
        "any time",
        "UNSTOP",
        "Cancel",
        "quit!",
    ]
)
times = st.sampled_from(
    [
        "2pm",
        "after 1",
        "14:30",
        "tomorrow 11am",
        "after 6pm",
        "9am",
        "noon",
        "25:99",
        "after lunch o'clock",
        "13pm",
        "2 p.m.",
        "after 8",
        "evenings only",
        "before 11am",
        "not Monday",
        "Tuesday after 2",
    ]
)
bodies = st.one_of(
    st.text(max_size=80),
    st.text(min_size=1500, max_size=5000),
    st.text(alphabet="😀🙏🏽❤️ \u200d\u202eé中ع", max_size=50),
    keywords,
    times,
    st.builds(lambda k, t: f"{k} {t}", keywords, times),
)
senders = st.one_of(
    st.sampled_from(UK_MOBILES),
    st.text(max_size=20),
    st.from_regex(r"\+[0-9]{1,16}", fullmatch=True),
    st.sampled_from(["80085", "ACME", "anonymous", "+33612345678", "+447700900123", ""]),
)
message_sids = st.one_of(
    st.uuids().map(lambda u: "SM" + u.hex),
    st.sampled_from(["SM" + "1" * 32, "SM" + "2" * 32, "", "not-a-sid"]),  # retries and junk
)
media_counts = st.sampled_from(["", "0", "1", "2", "10", "99", "-3", "abc"])


@pytest.fixture
def app(make_app):
    return make_app(at="2026-11-25T19:00", sms_rate_limit=1_000_000)


def post(app, body: str, sender: str, sid: str, num_media: str) -> list[str]:
    fields = {"Body": body, "MessageSid": sid, "NumMedia": num_media}
    if num_media == "1":
        fields["MediaUrl0"] = f"https://api.twilio.com/Media/ME{'e' * 32}"
    response = texter(app, sender).post("/sms", fields)
    assert response.status_code < 500
    return replies(response)  # and so a 200 holding <Response> of <Message>s


def assert_one_open_callback_at_most(app) -> None:
    queue = app.extensions["helpline"].queue
    open_now = [c for c in queue.all(OPEN_STATUSES)]
    per_number = Counter(c.number for c in open_now)
    assert all(count == 1 for count in per_number.values()), per_number
    for callback in open_now:
        assert callable_number(callback.number) == callback.number  # only UK E.164 numbers
        assert queue.open_for(callback.number) == callback
    for number in UK_MOBILES:
        found = queue.open_for(number)
        assert found is None or (found.number == number and found.status in OPEN_STATUSES)


@FUZZ
@given(body=bodies, sender=senders, sid=message_sids, num_media=media_counts)
def test_any_text_gets_a_plain_reply_and_never_a_second_callback(app, body, sender, sid, num_media):
    for text in post(app, body, sender, sid, num_media):
        assert non_gsm7(text) == []
        assert segments(text) <= MAX_STEP_SEGMENTS
    assert_one_open_callback_at_most(app)


conversation = st.lists(
    st.tuples(st.sampled_from(UK_MOBILES[:2]), st.one_of(keywords, times, st.text(max_size=30))),
    min_size=1,
    max_size=12,
)


@FUZZ
@given(texts=conversation)
def test_a_conversation_leaves_exactly_the_callbacks_it_asked_for(app, store, texts):
    empty(store)
    waiting = dict.fromkeys(UK_MOBILES, False)
    for i, (sender, body) in enumerate(texts):
        post(app, body, sender, f"SM{i:032x}", "0")
        kind = interpret(
            body, (lambda had=waiting[sender]: had), date(2026, 11, 25), (time(10), time(16))
        ).kind
        if kind == "opt_out":
            waiting[sender] = False
        elif kind in ("request", "plan", "ambiguous", "anytime", "ask_time"):
            waiting[sender] = True  # a plan we can't place is held: still waiting
    queue = app.extensions["helpline"].queue
    for number, expected in waiting.items():
        assert (queue.open_for(number) is not None) == expected, number
    assert_one_open_callback_at_most(app)
