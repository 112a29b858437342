"""The action for a text (ivr/actions/texts.py), without Flask: one entry point, live or kept
on disk while the store is down, on the real test Redis. What it stores, what it answers,
and that the text path does no work it doesn't need (issue 24: one region and one type
lookup per number, no Redis write that changes nothing, the TwiML as Twilio's library
writes it)."""

from __future__ import annotations

from pathlib import Path

import phonenumbers
import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.twiml.messaging_response import MessagingResponse

from ivr.actions.texts import Text, Words, apply_kept, receive, segments
from ivr.config import Settings
from ivr.content.flows import text_segments
from ivr.core.callbacks import CALLABLE_TYPES, callable_number
from ivr.core.clock import fixed_clock
from ivr.core.phone import DRAMA
from ivr.services import Services, build_services
from ivr.store.spool import Spool
from ivr.web.sms import reply
from tests.common import TOKEN, examples, london, new_sid

SENDER = "+447400123456"
OTHER = "+447400123457"


def services_at(store_settings: dict[str, object], at: str, **more: object) -> Services:
    config = {**store_settings, "twilio_auth_token": TOKEN, **more}
    return build_services(Settings().override(config), fixed_clock(london(at)), upgrade=False)


@pytest.fixture
def helpline(store: redis.Redis, store_settings: dict[str, object]) -> Services:
    """The default helpline's services on the (emptied) test Redis, on a Wednesday at 11."""
    return services_at(store_settings, "2026-11-25T11:00")


@pytest.fixture
def store_down(tmp_path: Path, store_settings: dict[str, object]) -> Services:
    """The same helpline with a store that never answers, its spool in a folder of its own."""
    return services_at(
        {**store_settings, "data_dir": tmp_path},
        "2026-11-25T11:00",
        redis_url="redis://127.0.0.1:1/0",
    )


def test_a_request_is_stored_and_told_the_time_it_was_stored_for(helpline):
    answer = receive(helpline, Text(SENDER, new_sid(), "please call me"))
    callback = helpline.queue.open_for(SENDER)
    assert answer.stored == callback.id
    assert not answer.kept
    assert answer.messages == (
        f"{Words(helpline.flows)('new', when='as soon as someone is free')} "
        f"{Words(helpline.flows)('options')}",
    )
    assert callback.due_at == london("2026-11-25T11:00")
    assert any(f"due {callback.due_at.isoformat()}" in n for n in answer.notes)


def test_stop_erases_and_says_nothing(helpline):
    receive(helpline, Text(SENDER, new_sid(), "call me"))
    assert receive(helpline, Text(SENDER, new_sid(), "STOP")).messages == ()
    assert helpline.queue.open_for(SENDER) is None


def test_what_twilio_answered_stands(helpline):
    receive(helpline, Text(SENDER, new_sid(), "call me"))
    assert receive(helpline, Text(SENDER, new_sid(), "cancel", twilio_said="STOP")).messages == ()
    assert helpline.queue.open_for(SENDER) is None


def test_a_text_while_the_store_is_down_is_kept_on_disk_then_stored_as_live(helpline, store_down):
    sid = new_sid()
    answer = receive(store_down, Text(SENDER, sid, "after 2pm"))
    assert answer.kept
    assert answer.messages == (Words(store_down.flows)("spooled"),)
    kept = []
    assert store_down.spool.replay(kept.append) == 1
    applied = apply_kept(helpline, kept[0])
    callback = helpline.queue.open_for(SENDER)
    assert applied.stored == callback.id
    assert callback.due_at == london("2026-11-25T14:00")  # as the live path would store it


# The live path's words for a first text that gives a time we can't use; the copy for texts
# kept on disk (`kept_answer`) dropped its first sentence: one decision now serves both.
NOT_NOW = ["after 8pm", "at 6", "call me when he's out"]


@pytest.mark.parametrize("body", NOT_NOW)
def test_kept_or_live_a_first_text_is_told_the_same(helpline, store_down, body):
    live = receive(helpline, Text(SENDER, new_sid(), body))
    kept = receive(store_down, Text(OTHER, new_sid(), body))
    assert kept.kept and live.stored
    assert kept.messages == live.messages


def test_a_sender_with_texts_on_disk_is_known_until_they_go_in(helpline, store_down):
    receive(store_down, Text(SENDER, new_sid(), "call me"))
    spool: Spool = store_down.spool
    assert spool.holds(SENDER)
    assert not spool.holds(OTHER)
    assert spool.replay(lambda entry: apply_kept(helpline, entry)) == 1
    assert not spool.holds(SENDER)


def test_a_new_request_in_english_writes_nothing_that_changes_nothing(helpline, store):
    """Found: Conversation.store deleted the language field of every new English callback
    (an HDEL round trip, 77 µs, on a record that never had one)."""
    store.config_resetstat()
    receive(helpline, Text(SENDER, new_sid(), "please call me"))
    assert "cmdstat_hdel" not in store.info("commandstats")


# ------------------------------------------------------------------ the number, once


def old_callable_number(raw: str, region: str = "GB", drama: bool = False) -> str | None:
    """callable_number as it was (3 region and 2 type lookups): the reference."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if DRAMA.match(e164):
        return e164 if drama else None
    if (
        parsed.country_code != 44
        or not phonenumbers.is_valid_number(parsed)
        or phonenumbers.region_code_for_number(parsed) != "GB"
    ):
        return None
    if phonenumbers.number_type(parsed) not in CALLABLE_TYPES:
        return None
    if phonenumbers.national_significant_number(parsed).startswith("70"):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


NUMBERS = [
    "+447400123456",  # mobile
    "07400 123456",
    "+442079460000",  # London
    "+441624 123456",  # Isle of Man
    "+441481 123456",  # Guernsey
    "+441534 123456",  # Jersey
    "+447624 123456",  # Isle of Man mobile
    "+447700900123",  # drama
    "+447012345678",  # personal
    "+449012345678",  # premium
    "+448001234567",  # freephone
    "+443001234567",  # non-geographic
    "+445612345678",  # VoIP
    "+33612345678",
    "+15555550100",
    "999",
    "12345",
    "",
    "not a number",
    "+44",
    "+4474001234567890",
]


def test_gb_decides_plus_44_first_and_by_its_number_types():
    """What gb_type's one lookup rests on: region_code_for_number tries GB first among +44's
    regions, and decides it by its number types (no leading digits to decide it sooner)."""
    assert phonenumbers.COUNTRY_CODE_TO_REGION_CODE[44][0] == "GB"
    gb = phonenumbers.PhoneMetadata.metadata_for_region("GB")
    assert gb is not None and gb.leading_digits is None


@pytest.mark.parametrize("raw", NUMBERS)
@pytest.mark.parametrize("drama", [False, True])
def test_callable_number_answers_as_before(raw, drama):
    assert callable_number(raw, drama=drama) == old_callable_number(raw, drama=drama)


@settings(max_examples=examples(3000), deadline=None)
@given(
    prefix=st.sampled_from(["+44", "0", "+441", "+442", "+443", "+447", "+448", "+449", "+1", ""]),
    digits=st.text("0123456789", min_size=0, max_size=12),
)
def test_callable_number_answers_as_before_for_any_digits(prefix, digits):
    raw = prefix + digits
    assert callable_number(raw) == old_callable_number(raw)


# ------------------------------------------------------------------ the reply, once


@settings(max_examples=examples(500), deadline=None)
@given(st.lists(st.text(max_size=200), max_size=4))
def test_the_twiml_is_what_twilio_s_library_writes(messages):
    expected = MessagingResponse()
    for message in messages:
        expected.message(message)
    assert reply(*messages).get_data(as_text=True) == str(expected)


@given(st.text(max_size=400))
def test_segments_are_counted_as_before(text):
    assert segments(text) == text_segments(text)
