"""The caller's side of the content, from flows/ as the app loads it: how long a caller
listens before the 999 line and before each option's key on every opening, the longest page
of advice, how many SMS segments each reply costs, and what Twilio charges for a typical call
and a typical callback request (bench/prices.toml).

Pure functions of the loaded content and the prices file; `make bench` prints the tables
(`python -m bench.caller` prints them alone, in a second, with no server).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

from ivr.content.flows import (
    SAFETY_LINE,
    Flows,
    _heard_languages,
    _statuses,
    opening,
)
from ivr.core import spoken
from ivr.core.gsm7 import non_gsm7, segments, ucs2_segments
from ivr.core.hours import Status
from ivr.core.phrases import when, window_words
from ivr.core.safetime import Window

PRICES = Path(__file__).resolve().parent / "prices.toml"

# What the app fills in, at about its longest, so a count is never flattering; what the
# app words itself ({when}, {window}, {closes}, {day}) in the content's own language
# (sample_fields). A holiday's name and a closure's message are as hours.toml and a
# supervisor write them.
SAMPLE_FIELDS = {
    "hour": "8",
    "names": "Christmas Day and the Boxing Day bank holiday",
    "message": "We are closed today for staff training.",
}
SAMPLE_WINDOW = Window(earliest=time(12), latest=time(14), weekdays=frozenset({1, 3}))
# Pieces of {when}, never a text of their own.
WHEN_PIECES = ("soon", "closing", "reopen", "held")
# Replies sent with [reply].options after them (ivr/web/sms.py).
WITH_OPTIONS = ("new", "existing")


def seconds(word_count: int) -> float:
    """Seconds of speech for `word_count` spoken words at 150 a minute."""
    return spoken.speech_seconds(word_count)


def seconds_to_999(texts: tuple[str, ...]) -> float | None:
    """Seconds of speech from the first of `texts` until the 999 line starts; None: never."""
    found = spoken.words_before(texts, SAFETY_LINE)
    return None if found is None else seconds(found[1])


@dataclass(frozen=True)
class Opening:
    """One opening as a caller hears it: which, the seconds to the 999 line, and for each
    option (key, action) the seconds until its key has been said."""

    language: str
    what: str
    to_999: float | None
    options: tuple[tuple[str, str, float], ...]
    whole: float  # through the last option's prompt


def describe(status: Status) -> str:
    if status.open:
        return "open"
    return f"closed ({status.reason.kind if status.reason else 'unknown'})"


def timed_opening(flows: Flows, language: str, status: Status) -> Opening:
    texts, first = opening(flows, language, status)
    voice = flows.speaking(language).voice
    options = voice.open_options if status.open else voice.closed_options
    keyed = tuple(
        (o.key, o.action, seconds(spoken.words_to_key(texts, first + i, o.key)))
        for i, o in enumerate(options)
    )
    whole = seconds(sum(spoken.words(t) for t in texts))
    return Opening(language, describe(status), seconds_to_999(texts), keyed, whole)


def openings(flows: Flows, now: datetime) -> list[Opening]:
    """Every kind of opening callers will hear in the coming year (the calendar the app
    checks at start-up), in every language offered, each kind once (its longest)."""
    longest: dict[tuple[str, str], Opening] = {}
    for status in _statuses(flows.hours, now):
        for language in _heard_languages(flows):
            timed = timed_opening(flows, language, status)
            key = (language, timed.what)
            if key not in longest or timed.whole > longest[key].whole:
                longest[key] = timed
    return sorted(longest.values(), key=lambda o: (o.language, o.what != "open", o.what))


def page_parts(flows: Flows) -> dict[str, tuple[float, ...]]:
    """Seconds of speech of each part of each page of advice, counted as the app counts a
    page against limits.page_words: the steps' introduction before step 1, the title,
    "Part 1 of 2." and the advice (the key prompts after it are not counted)."""
    voice = flows.voice
    intro = sum(spoken.words(t) for t in voice.steps_intro)
    out = {}
    for name, page in voice.pages.items():
        parts = len(page.parts)
        label = spoken.words(voice.part.format(part=1, parts=parts)) if parts > 1 else 0
        out[name] = tuple(
            seconds(
                spoken.words(page.title or "")
                + label
                + (intro if name == "step1" and i == 0 else 0)
                + sum(spoken.words(t) for t in texts)
            )
            for i, texts in enumerate(page.parts)
        )
    return out


def longest_when(flows: Flows, now: datetime) -> str:
    """The longest "we will call you ..." of the coming year ("on Tuesday 29 December at
    10am"), in the content's language."""
    statuses = _statuses(flows.hours, now)
    return max((when(s.next_opening, s.at, flows.hours, flows.phrases) for s in statuses), key=len)


def sample_fields(flows: Flows, now: datetime) -> dict[str, str]:
    """A value for every {field} of a reply, long, in the content's language where the app
    words it."""
    t = flows.phrases
    at_longest = longest_when(flows, now)
    return {
        **SAMPLE_FIELDS,
        "when": at_longest,
        "fallback": at_longest,
        "closes": t.hour(time(16)),
        "window": window_words(SAMPLE_WINDOW, t),
        "day": f"{t.weekday(1)} 29 {t.months[11]}",
        "usual_hours": flows.usual_hours,
    }


def reply_texts(flows: Flows, now: datetime) -> dict[str, str]:
    """Each text reply as sent, its fields filled in with long sample values."""
    replies = flows.sms.replies
    fields = sample_fields(flows, now)
    out = {}
    for name, template in replies.items():
        if name in WHEN_PIECES:
            continue
        text = template.format(**fields)
        if name in WITH_OPTIONS:
            text = f"{text} {replies['options'].format(**fields)}"
        out[name] = text
    for i, step in enumerate(flows.sms.steps, start=1):
        out[f"STEPS {i}"] = step  # one text for each step, to a person who replies STEPS
    return out


@dataclass(frozen=True)
class Segments:
    """A text's length in characters, its segments in GSM-7 (None when it can't be sent in
    GSM-7) and in UCS-2, and what it is billed (the encoding Twilio must use)."""

    characters: int
    gsm7: int | None
    ucs2: int
    billed: int


def count_segments(text: str) -> Segments:
    ucs2 = ucs2_segments(text)
    gsm7 = None if non_gsm7(text) else segments(text)
    return Segments(len(text), gsm7, ucs2, ucs2 if gsm7 is None else gsm7)


# ---------------------------------------------------------------- prices


@dataclass(frozen=True)
class Prices:
    """bench/prices.toml: Twilio's published UK prices, as read on `read`."""

    read: date
    currency: str
    verified: bool
    voice_url: str
    sms_url: str
    inbound_per_minute: Decimal  # a call to the helpline's UK local number
    outbound_mobile_per_minute: Decimal  # the advisor's call back to a UK mobile
    sms_inbound_per_segment: Decimal
    sms_outbound_per_segment: Decimal


def load_prices(path: Path = PRICES) -> Prices:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    voice, sms = data["voice"], data["sms"]
    return Prices(
        read=data["read"],
        currency=data["currency"],
        verified=data["verified"],
        voice_url=voice["url"],
        sms_url=sms["url"],
        inbound_per_minute=Decimal(voice["inbound_local_per_minute"]),
        outbound_mobile_per_minute=Decimal(voice["outbound_mobile_per_minute"]),
        sms_inbound_per_segment=Decimal(sms["inbound_per_segment"]),
        sms_outbound_per_segment=Decimal(sms["outbound_per_segment"]),
    )


def billed_minutes(call_seconds: float) -> int:
    """Twilio bills each call by the minute, a part minute as a whole one ("an automated
    one-way call of 1 minute and 20 seconds would be billed as 2 minutes":
    https://support.twilio.com/hc/en-us/articles/223132307)."""
    return math.ceil(call_seconds / 60)


def call_price(call_seconds: float, per_minute: Decimal) -> Decimal:
    return billed_minutes(call_seconds) * per_minute


def texts_price(segments_in: int, segments_out: int, prices: Prices) -> Decimal:
    """Twilio bills texts by the segment, in both directions."""
    return (
        segments_in * prices.sms_inbound_per_segment
        + segments_out * prices.sms_outbound_per_segment
    )


def typical_call_seconds(flows: Flows, now: datetime) -> float:
    """An out-of-hours call that hears the longest closed opening (with what follows the
    options), then the five steps of advice in full (staying on the line), then goodbye.
    The prompts between pages and the time Twilio waits for a key are not counted."""
    closed = [s for s in _statuses(flows.hours, now) if not s.open]
    longest = 0.0
    for status in closed:
        texts, _ = opening(flows, "en", status)
        after = (*flows.closed_outro(status), flows.voice.closed_text_us)
        longest = max(longest, seconds(sum(spoken.words(t) for t in (*texts, *after))))
    pages = page_parts(flows)
    steps = sum(sum(pages[f"step{i}"]) for i in range(1, 6))
    goodbye = seconds(sum(spoken.words(t) for t in (flows.voice.safety, *flows.voice.goodbye)))
    return longest + steps + goodbye


TYPICAL_REQUEST_IN = "Please call me back"  # one segment in


def typical_request_segments(flows: Flows, now: datetime) -> tuple[int, int]:
    """A callback asked for by text: one short text in, the reply to a new request out
    (its {when} filled in at its longest)."""
    reply = reply_texts(flows, now)["new"]
    return count_segments(TYPICAL_REQUEST_IN).billed, count_segments(reply).billed


# ---------------------------------------------------------------- the report


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:.4f} {currency}"


def report(flows: Flows, now: datetime, prices: Prices) -> list[str]:
    lines = [
        "## The caller's side (from flows/)",
        "",
        f"Seconds of speech at {spoken.WORDS_PER_MINUTE} words a minute, from the call's first "
        "word (a digit said alone counts as a word, as the app counts). Every kind of opening "
        "of the coming year, in every language offered to callers, at its longest.",
        "",
        "| opening | 999 line | " + "options: seconds until the key is said | whole |",
        "| --- | --- | --- | --- |",
    ]
    for o in openings(flows, now):
        to_999 = "never" if o.to_999 is None else f"{o.to_999:.1f}"
        keys = ", ".join(f"{key} {action} {s:.1f}" for key, action, s in o.options)
        lines.append(f"| {o.language} {o.what} | {to_999} | {keys} | {o.whole:.1f} |")
    pages = page_parts(flows)
    name, parts = max(pages.items(), key=lambda item: max(item[1]))
    whole_name, whole_parts = max(pages.items(), key=lambda item: sum(item[1]))
    lines += [
        "",
        f"Longest part of a page of advice: {name} part {parts.index(max(parts)) + 1} of "
        f"{len(parts)}, {max(parts):.1f} s; longest page in all its parts: {whole_name}, "
        f"{sum(whole_parts):.1f} s in {len(whole_parts)} part(s).",
        "",
        "SMS replies, fields filled in at their longest (a holiday's name and a closure's "
        "message in English; GSM-7: 160 characters alone, 153 "
        "each when split; UCS-2: 70 and 67; '-': cannot be sent in GSM-7):",
        "",
        "| reply | characters | GSM-7 segments | UCS-2 segments | billed |",
        "| --- | --- | --- | --- | --- |",
    ]
    languages = [("en", flows)] + ([("cy", flows.welsh)] if flows.welsh else [])
    for code, content in languages:
        for reply, text in reply_texts(content, now).items():
            s = count_segments(text)
            lines.append(
                f"| {code} {reply} | {s.characters} | {'-' if s.gsm7 is None else s.gsm7} | "
                f"{s.ucs2} | {s.billed} |"
            )
    call = typical_call_seconds(flows, now)
    seg_in, seg_out = typical_request_segments(flows, now)
    flag = "" if prices.verified else " UNVERIFIED (see bench/prices.toml)"
    lines += [
        "",
        f"Prices: Twilio's published UK prices read on {prices.read:%Y-%m-%d}{flag}: a call "
        f"to a UK local number {money(prices.inbound_per_minute, prices.currency)} a minute, "
        f"a call to a UK mobile {money(prices.outbound_mobile_per_minute, prices.currency)} a "
        f"minute ({prices.voice_url}); a text segment in "
        f"{money(prices.sms_inbound_per_segment, prices.currency)}, out "
        f"{money(prices.sms_outbound_per_segment, prices.currency)} ({prices.sms_url}). "
        "Calls are billed by the started minute.",
        "",
        f"- A typical out-of-hours call (the longest closed opening, the five steps in full, "
        f"goodbye): {call:.0f} s of speech, {billed_minutes(call)} minutes billed: "
        f"{money(call_price(call, prices.inbound_per_minute), prices.currency)}.",
        f'- A typical callback request by text ("{TYPICAL_REQUEST_IN}" in: {seg_in} '
        f"segment; the reply to a new request out: {seg_out} segments): "
        f"{money(texts_price(seg_in, seg_out, prices), prices.currency)}; each minute of the "
        f"advisor's call back to a mobile "
        f"{money(prices.outbound_mobile_per_minute, prices.currency)}.",
    ]
    return lines


if __name__ == "__main__":
    from datetime import UTC

    from ivr.content.flows import DEFAULT_DIR, load_flows

    now = datetime.now(UTC)
    print("\n".join(report(load_flows(DEFAULT_DIR, now), now, load_prices())))
