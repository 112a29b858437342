"""The caller's side of `make bench` (bench/caller.py): seconds of speech, SMS segments and
the price arithmetic are plain functions of the content and bench/prices.toml, checked here
by hand so the report can be trusted. No target is asserted: the benchmark reports them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bench import caller
from ivr.content.flows import DEFAULT_DIR, load_flows

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def flows():
    return load_flows(DEFAULT_DIR, NOW)


@pytest.mark.parametrize(
    ("words", "seconds"),
    [(0, 0.0), (1, 0.4), (5, 2.0), (150, 60.0), (112, 44.8)],
)
def test_speech_is_counted_at_150_words_a_minute(words: int, seconds: float) -> None:
    assert caller.seconds(words) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("texts", "seconds"),
    [
        (("If you are in danger, dial 9 9 9.",), 2.4),  # 6 words before "9 9 9"
        (("Hello.", "Dial 9 9 9 now."), 0.8),  # "Hello." "Dial"
        (("9 9 9 first.",), 0.0),
        (("No emergency line here.",), None),
    ],
)
def test_seconds_to_the_999_line(texts: tuple[str, ...], seconds: float | None) -> None:
    assert caller.seconds_to_999(texts) == (None if seconds is None else pytest.approx(seconds))


def test_every_opening_gives_999_first_and_each_key_in_order(flows) -> None:
    openings = caller.openings(flows, NOW)
    assert {o.what for o in openings} >= {"open", "closed (weekend)"}
    for o in openings:
        keyed = [s for _, _, s in o.options]
        assert o.to_999 is not None and o.to_999 < keyed[0]
        assert keyed == sorted(keyed) and keyed[-1] <= o.whole


def test_the_999_line_is_heard_after_the_greeting(flows) -> None:
    """17 words: "Thank you for calling the helpline." and "If you are in immediate
    danger, hang up now and dial", at 150 a minute."""
    greeting = sum(len(t.split()) for t in flows.voice.greeting)
    before = greeting + len(flows.voice.safety.split("9 9 9")[0].split())
    opening = caller.openings(flows, NOW)[0]
    assert opening.to_999 == pytest.approx(before * 60 / 150)


def test_page_parts_count_title_part_label_and_the_steps_introduction(flows) -> None:
    parts = caller.page_parts(flows)
    page = flows.voice.pages["step1"]
    words = (
        len((page.title or "").split())
        + (len(flows.voice.part.format(part=1, parts=2).split()) if len(page.parts) > 1 else 0)
        + sum(len(t.split()) for t in flows.voice.steps_intro)
        + sum(len(t.split()) for t in page.parts[0])
    )
    assert parts["step1"][0] == pytest.approx(words * 0.4)
    assert set(parts) == {"step1", "step2", "step3", "step4", "step5", "police", "support"}


@pytest.mark.parametrize(
    ("text", "characters", "gsm7", "ucs2", "billed"),
    [
        ("a" * 160, 160, 1, 3, 1),
        ("a" * 161, 161, 2, 3, 2),
        ("a" * 306, 306, 2, 5, 2),
        ("a" * 307, 307, 3, 5, 3),
        ("{" * 80, 80, 1, 2, 1),  # each "{" takes two characters' room in GSM-7
        ("ŵ" + "a" * 69, 70, None, 1, 1),  # a Welsh letter: UCS-2 only, 70 alone
        ("ŵ" + "a" * 70, 71, None, 2, 2),  # then 67 each
        ("“quoted”", 8, None, 1, 1),
    ],
)
def test_segments_in_gsm7_and_ucs2(
    text: str, characters: int, gsm7: int | None, ucs2: int, billed: int
) -> None:
    assert caller.count_segments(text) == caller.Segments(characters, gsm7, ucs2, billed)


def test_replies_are_filled_in_and_new_requests_get_the_options(flows) -> None:
    replies = caller.reply_texts(flows, NOW)
    assert "{" not in "".join(replies.values())
    assert replies["new"].endswith(flows.sms.replies["options"])
    assert "soon" not in replies  # a piece of {when}, never sent alone
    assert [replies[f"STEPS {i}"] for i in range(1, 6)] == list(flows.sms.steps)


PRICES = """
read = 2026-12-07
currency = "USD"
verified = false
[voice]
url = "https://example.org/voice"
inbound_local_per_minute = "0.0100"
outbound_mobile_per_minute = "0.0400"
[sms]
url = "https://example.org/sms"
inbound_per_segment = "0.0075"
outbound_per_segment = "0.0524"
"""


@pytest.fixture
def prices(tmp_path: Path) -> caller.Prices:
    path = tmp_path / "prices.toml"
    path.write_text(PRICES)
    return caller.load_prices(path)


def test_the_prices_file_is_read_with_its_date_exactly(prices: caller.Prices) -> None:
    assert prices.read == date(2026, 12, 7) and not prices.verified
    assert prices.inbound_per_minute == Decimal("0.0100")
    assert prices.sms_outbound_per_segment == Decimal("0.0524")


def test_the_projects_prices_file_loads() -> None:
    loaded = caller.load_prices()
    assert loaded.voice_url.startswith("https://www.twilio.com/")
    assert loaded.sms_outbound_per_segment > 0


@pytest.mark.parametrize(
    ("seconds", "minutes"),
    [(0, 0), (1, 1), (60, 1), (60.5, 2), (80, 2), (360, 6), (361, 7)],
)
def test_calls_are_billed_by_the_started_minute(seconds: float, minutes: int) -> None:
    assert caller.billed_minutes(seconds) == minutes


def test_call_and_text_prices(prices: caller.Prices) -> None:
    assert caller.call_price(80, prices.inbound_per_minute) == Decimal("0.0200")
    # one segment in, two out
    assert caller.texts_price(1, 2, prices) == Decimal("0.0075") + 2 * Decimal("0.0524")


def test_the_report_names_the_prices_date_and_says_when_unverified(
    flows, prices: caller.Prices
) -> None:
    text = "\n".join(caller.report(flows, NOW, prices))
    assert "read on 2026-12-07 UNVERIFIED" in text
    assert "| en open | " in text
