"""A text that asks us, in the person's own words, to stop ("please stop texting me", "STOP
please", "he found my phone"): Twilio blocks nothing (its opt-out is one keyword alone), so
the app hears it (flows/safety.toml's [stop], by phrase) and does what STOP does with what
it holds: the request cancelled, every record erased, nobody calls. One reply, which names
no time, says how to ask again and gives the 999 line (and the crisis line first when the
text also speaks of danger). Through signed /sms requests and through the action, live and
kept on disk while the store is down; the examples written beside the phrases as a table."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.actions.texts import Text, Words, apply_kept, receive
from ivr.config import Settings
from ivr.content.flows import DEFAULT_DIR, FlowFileError, load_flows, load_safety, revealing_words
from ivr.content.tomlfile import read_toml
from ivr.core.clock import fixed_clock
from ivr.core.crisis import Phrase
from ivr.core.stopping import STOP, StopWords, asks_to_stop
from ivr.services import Services, build_services
from tests.common import TOKEN, london, new_sid, only, reply_text, send
from tests.common import examples as property_examples

EVENING = "2026-12-08T20:00"  # a Tuesday, closed
IN_HOURS = "2026-12-08T11:00"
FLOWS = load_flows(DEFAULT_DIR, london(IN_HOURS))
WELSH = FLOWS.welsh or FLOWS
EXAMPLES = [*FLOWS.safety.stop_examples, *WELSH.safety.stop_examples]
SENDER = "+447400123456"

# The review's findings (s3), in the person's own words, each after "call me back after 2pm".
ASKED_TO_STOP = [
    "please stop texting me",
    "STOP please",
    "he found my phone stop",
    "stop calling me",
    "dont call me anymore",
]


def number(i: int) -> str:
    return f"+4474002{i:05d}"


@pytest.mark.parametrize("words", ASKED_TO_STOP)
def test_asking_to_stop_after_a_request_cancels_it_and_names_no_time(make_app, words):
    app = make_app(at=EVENING)
    queue = app.extensions["helpline"].queue
    send(app, "call me back after 2pm")
    assert queue.open_for(SENDER) is not None
    reply = only(send(app, words))
    assert "We will call you" not in reply and "could not read that time" not in reply
    assert reply.endswith(reply_text(app, "stopped"))
    assert queue.open_for(SENDER) is None


@pytest.mark.parametrize("words", ["please stop texting me", "STOP please"])
def test_asking_to_stop_in_a_first_text_stores_nothing(make_app, words):
    app = make_app(at=EVENING)
    assert only(send(app, words)) == reply_text(app, "stopped")
    assert app.extensions["helpline"].queue.open_for(SENDER) is None


def test_he_found_my_phone_is_danger_too_the_999_line_first_in_one_text(make_app):
    app = make_app(at=EVENING)
    send(app, "call me back after 2pm")
    reply = only(send(app, "he found my phone"))
    assert reply == f"{reply_text(app, 'crisis')} {reply_text(app, 'stopped')}"
    assert reply.index("999") < reply.index(reply_text(app, "stopped"))
    assert app.extensions["helpline"].queue.open_for(SENDER) is None


def test_the_keyword_alone_is_still_left_to_twilio(make_app):
    app = make_app(at=EVENING)
    send(app, "call me back after 2pm")
    assert send(app, "STOP") == []
    assert app.extensions["helpline"].queue.open_for(SENDER) is None


def test_someone_who_asked_us_to_stop_can_ask_again(make_app):
    app = make_app(at=EVENING)
    send(app, "please stop texting me")
    reply = only(send(app, "call me back after 2pm"))
    assert "We will call you tomorrow at 2pm" in reply
    assert app.extensions["helpline"].queue.open_for(SENDER) is not None


@pytest.mark.parametrize("flows", [FLOWS, WELSH], ids=["en", "cy"])
def test_the_reply_is_discreet_names_no_time_and_claims_no_block(flows):
    stopped = flows.sms.replies["stopped"]
    assert "999" in stopped
    assert "{" not in stopped  # no time, nothing filled in
    assert not revealing_words(stopped, welsh=flows is WELSH)
    for claim in ("block", "no longer receive", "twilio", "unstop", "START"):
        assert claim.lower() not in stopped.lower()


# ------------------------------------------------------------------ the table, as written


@pytest.mark.parametrize(("means", "says"), EXAMPLES, ids=[e[1] for e in EXAMPLES])
def test_every_stop_example_is_read_as_written(means, says):
    assert asks_to_stop(FLOWS.stop, says) is (means == STOP)


def test_the_tables_hold_the_findings_and_the_decided_cases():
    stop = {s for m, s in EXAMPLES if m == STOP}
    none = {s for m, s in EXAMPLES if m != STOP}
    assert {w.lower() for w in ASKED_TO_STOP} <= stop
    assert {"bus stop after 5", "don't stop calling until you reach me"} <= none
    assert len(stop) >= 30 and len(none) >= 20


@pytest.fixture
def helpline(store: redis.Redis, store_settings: dict[str, object]) -> Services:
    config = {**store_settings, "twilio_auth_token": TOKEN}
    return build_services(Settings().override(config), fixed_clock(london(EVENING)), upgrade=False)


@pytest.fixture
def store_down(tmp_path: Path, store_settings: dict[str, object]) -> Services:
    config = {
        **store_settings,
        "twilio_auth_token": TOKEN,
        "data_dir": tmp_path,
        "redis_url": "redis://127.0.0.1:1/0",
    }
    return build_services(Settings().override(config), fixed_clock(london(EVENING)), upgrade=False)


def test_every_example_through_the_action_after_a_request(helpline):
    """Each example is sent by its own number after a first request: a stop cancels it and
    is told so; anything else leaves it waiting (and is never told it was cancelled)."""
    stopped = Words(helpline.flows)("stopped")
    for i, (means, says) in enumerate(EXAMPLES):
        receive(helpline, Text(number(i), new_sid(), "call me back after 2pm"))
        answer = receive(helpline, Text(number(i), new_sid(), says))
        waiting = helpline.queue.open_for(number(i))
        if means == STOP:
            assert waiting is None, says
            if "opt_out" not in answer.notes[0]:  # the keyword alone: Twilio answers it
                assert answer.messages[-1].endswith(stopped), (says, answer)
            assert not any("We will call you" in m for m in answer.messages), says
        else:
            assert waiting is not None, says
            assert not any(stopped in m for m in answer.messages), says


def test_kept_on_disk_it_is_told_at_once_and_erases_when_it_goes_in(helpline, store_down):
    receive(helpline, Text(SENDER, new_sid(), "call me back after 2pm"))
    assert helpline.queue.open_for(SENDER) is not None
    answer = receive(store_down, Text(SENDER, new_sid(), "please stop texting me"))
    assert answer.kept
    assert answer.messages == (Words(store_down.flows)("stopped"),)
    kept: list = []
    assert store_down.spool.replay(kept.append) == 1
    assert kept[0].kind == "opt_out"  # replayed as STOP is, by any version
    apply_kept(helpline, kept[0])
    assert helpline.queue.open_for(SENDER) is None


def test_from_a_number_we_cannot_call_nothing_is_sent(helpline):
    assert (
        receive(helpline, Text("+12025550123", new_sid(), "please stop texting me")).messages == ()
    )


def test_a_stop_phrase_that_cannot_match_stops_start_up_naming_the_file(tmp_path):
    text = (DEFAULT_DIR / "safety.toml").read_text(encoding="utf-8")
    bad = tmp_path / "safety.toml"
    bad.write_text(text.replace('  "leave me alone",', '  "... alone",', 1), encoding="utf-8")
    with pytest.raises(FlowFileError, match="safety.toml"):
        load_safety(read_toml(bad))


def test_helpline_check_says_which_stop_example_a_change_broke(cli, tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(DEFAULT_DIR, flows)
    safety = flows / "safety.toml"
    text = safety.read_text(encoding="utf-8")
    safety.write_text(text.replace('  "leave me alone",\n', "", 1), encoding="utf-8")
    result = cli("check", flows=flows)
    assert result.exit_code == 1
    assert "'leave me alone' should be heard as stop" in result.output


# The stop phrases' own words (a stem with an ending), and words of no phrase.
# The shipped phrases, and made-up ones whose first word is a stem (none shipped is): each
# kind of phrase a text may be read against.
SHIPPED_STOP_WORDS = FLOWS.stop.joined(WELSH.stop)
STEMMED_STOP_WORDS = StopWords(
    always=(Phrase.parse("unsub*"),),
    phrases=(Phrase.parse("cancel* ... call*"),),
    alone=(Phrase.parse("halt*"),),
    unless_before=(Phrase.parse("don't"),),
    polite=frozenset({"please"}),
)


def vocabulary(words: StopWords) -> list[str]:
    """The phrases' own words (a stem with an ending), and words of no phrase."""
    phrases = (*words.always, *words.phrases, *words.alone, *words.unless_before)
    return sorted(
        {
            alternative[:-1] + "ing" if alternative.endswith("*") else alternative
            for phrase in (*phrases, *words.unless_after)
            for slot in phrase.slots
            for alternative in slot
            if alternative != "..."
        }
        | set(words.polite)
        | {"hello", "bus", "after", "5", "the"}
    )


@pytest.mark.parametrize("stop_words", [SHIPPED_STOP_WORDS, STEMMED_STOP_WORDS])
@settings(max_examples=property_examples(500), deadline=None)
@given(data=st.data())
def test_a_text_with_no_word_a_stop_phrase_starts_with_is_read_as_before(
    stop_words: StopWords, data: st.DataObject
) -> None:
    """asks_to_stop tries no phrase on a text none of whose words starts one (most texts):
    the same answer as trying every phrase."""
    text = " ".join(data.draw(st.lists(st.sampled_from(vocabulary(stop_words)), max_size=6)))
    with_every_phrase = StopWords.may_start
    try:
        StopWords.may_start = lambda self, said: True  # type: ignore[method-assign]
        expected = asks_to_stop(stop_words, text)
    finally:
        StopWords.may_start = with_every_phrase  # type: ignore[method-assign]
    assert asks_to_stop(stop_words, text) is expected
