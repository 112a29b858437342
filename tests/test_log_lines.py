"""Logs nobody can forge: JSON lines by default, control characters escaped in the text
format too, and refusals summed up (the first of each kind at once, then one line a minute)."""

from __future__ import annotations

import enum
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.config import Settings
from ivr.ops.logs import (
    JsonFormatter,
    Summarised,
    TextFormatter,
    encode,
    flush_summaries,
    formatter,
    timestamp,
    use_json,
)
from tests.common import examples

JSON_VALUES = st.one_of(
    st.text(),  # lone surrogates too: orjson refuses them, json writes them
    st.integers(),  # beyond 64 bits too
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)


@settings(max_examples=examples(1000), deadline=None)
@given(st.dictionaries(st.text(), JSON_VALUES, max_size=8))
def test_a_line_holds_what_json_would_have_written(data: dict[str, object]) -> None:
    written = encode(data)
    assert "\n" not in written
    assert json.loads(written) == json.loads(json.dumps(data, ensure_ascii=False))
    if not any(isinstance(value, float) for value in data.values()):  # (1e-07 is 1e-7)
        assert written == json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@dataclass
class Hidden:
    number: str = field(default="+447700900123", repr=False)


class Kind(enum.Enum):
    NUMBER = "+447700900123"


@pytest.mark.parametrize("value", [Hidden(), Kind.NUMBER, float("nan"), float("inf")])
def test_what_json_never_wrote_is_not_written_now(value: object) -> None:
    """Found in review: orjson writes a dataclass's fields and an enum's value itself, so
    a number the masking filter saw only as str(value) ("Hidden()") reached the line."""
    data = {"msg": "x", "call_sid": value}
    try:
        expected: str | type[Exception] = json.dumps(
            data, ensure_ascii=False, separators=(",", ":")
        )
    except TypeError:
        expected = TypeError
    if expected is TypeError:
        with pytest.raises(TypeError):
            encode(data)
    else:
        assert encode(data) == expected


FORGED = "/x\n2026-12-07 03:10:00,000 ERROR ivr.jobs.scheduler: FORGED"


def record(message: str) -> logging.LogRecord:
    return logging.makeLogRecord({"msg": "POST %s 403", "args": (message,), "levelname": "INFO"})


@pytest.mark.parametrize(
    "sneaked",
    [
        FORGED,
        "/x\r\nERROR forged",
        "/x\u2028ERROR forged",
        "/x\x1b[2Jforged",
        "/x\x00\x85y",
        "/x\x7fy",  # DEL: ASCII, so an ASCII line is not taken as clean for that alone
    ],
)
@pytest.mark.parametrize("make", [TextFormatter, JsonFormatter])
def test_a_path_with_control_characters_stays_on_one_line(sneaked: str, make) -> None:
    line = make().format(record(sneaked))
    assert len(line.splitlines()) == 1
    assert not any(c in line for c in "\x00\x1b\x7f\x85\u2028")


def test_the_forged_text_is_written_as_its_escapes() -> None:
    line = TextFormatter().format(record(FORGED))
    assert "\\n2026-12-07 03:10:00,000 ERROR" in line


@pytest.mark.parametrize(
    ("setting", "json_lines"), [("", True), ("json", True), ("auto", True), ("text", False)]
)
def test_json_lines_unless_text_is_asked_for(setting: str, json_lines: bool) -> None:
    env = {"LOG_FORMAT": setting} if setting else {}
    log_format = Settings.from_env(env).log_format
    assert use_json(log_format) is json_lines
    assert isinstance(formatter(log_format), JsonFormatter) is json_lines


class Stopwatch:
    """Monotonic seconds that a test moves on (Summarised's clock: not a date and time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_refusals_are_logged_once_then_once_a_minute_with_their_count() -> None:
    out = io.StringIO()
    logger = logging.getLogger("test.refusals")
    logger.propagate = False
    handler = logging.StreamHandler(out)
    logger.addHandler(handler)
    try:
        clock = Stopwatch()
        summary = Summarised(logger, window=60, clock=clock)
        for _ in range(1000):
            summary.note("too_large", "refused POST %s: too large", "/voice")
            clock.now += 0.01
        summary.note("too_slow", "refused POST %s: too slow", "/voice")  # another kind: at once
        clock.now += 60
        summary.note("too_large", "refused POST %s: too large", "/sms")
    finally:
        logger.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert lines == [
        "refused POST /voice: too large",
        "refused POST /voice: too slow",
        "refused POST /sms: too large (and 999 more like it since the last such line)",
    ]


class Timers:
    """Summarised's timer, held for the test to fire: (seconds, what to call) each."""

    def __init__(self) -> None:
        self.started: list[tuple[float, object]] = []

    def __call__(self, seconds: float, then) -> None:
        self.started.append((seconds, then))

    def fire(self) -> None:
        started, self.started = self.started, []
        for _, then in started:
            then()


@pytest.fixture
def written() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    logger = logging.getLogger("test.refusals.flushed")
    logger.propagate = False
    handler = logging.StreamHandler(out)
    logger.addHandler(handler)
    yield logger, out
    logger.removeHandler(handler)


def test_a_burst_that_stops_has_its_count_written_when_the_minute_ends(written) -> None:
    """The finding: "(and N more…)" was written only when the next refusal of that kind came
    over a minute later; a burst that stopped never had its count written."""
    logger, out = written
    clock, timers = Stopwatch(), Timers()
    summary = Summarised(logger, window=60, clock=clock, timer=timers)
    for _ in range(300):
        summary.note("invalid_http", "refused: %s", "invalid request")
        clock.now += 0.1
    assert out.getvalue().splitlines() == ["refused: invalid request"]
    assert [seconds for seconds, _ in timers.started] == [60]  # one timer, not one a refusal
    clock.now = 1060
    timers.fire()
    assert out.getvalue().splitlines() == [
        "refused: invalid request",
        "refused: invalid request (and 298 more like it since the last such line)",
    ]
    assert timers.started == []  # nothing left to write: no timer


def test_a_pending_count_is_written_by_the_next_line_of_any_kind(written) -> None:
    logger, out = written
    clock = Stopwatch()
    summary = Summarised(logger, window=60, clock=clock, timer=Timers())
    for _ in range(3):
        summary.note("too_large", "refused POST %s: too large", "/voice")
    clock.now += 61
    summary.note("too_slow", "refused POST %s: too slow", "/sms")
    assert out.getvalue().splitlines() == [
        "refused POST /voice: too large",
        "refused POST /voice: too large (and 1 more like it since the last such line)",
        "refused POST /sms: too slow",
    ]


def test_a_count_is_written_at_exit(written) -> None:
    logger, out = written
    summary = Summarised(logger, window=60, clock=Stopwatch(), timer=Timers())
    summary.note("too_large", "refused: %s", "too large")
    summary.note("too_large", "refused: %s", "too large")
    flush_summaries()
    assert out.getvalue().splitlines() == ["refused: too large", "refused: too large"]


def test_json_lines_parse() -> None:
    assert json.loads(JsonFormatter().format(record(FORGED)))["msg"].startswith("POST /x\n")


@settings(max_examples=examples(2000), deadline=None)
@given(
    st.floats(min_value=0, max_value=4_102_444_800)  # to 2100
    | st.integers(0, 4_102_444_800).map(lambda s: s + 0.9995)  # a millisecond's edge
    | st.integers(0, 4_102_444_800).map(lambda s: s + 0.9999996)  # rounds to the next second
)
def test_a_line_is_stamped_as_isoformat_stamps_it(created: float) -> None:
    """The timestamp's date and time are made once a second (every request writes a line):
    the same text as datetime's, to the millisecond, at every second's edge."""
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert timestamp(created) == expected
    assert timestamp(created) == expected  # from the kept second
