"""No phone number reaches a log, however it is written and wherever it is in a record: one
masking function for the message, its arguments, the traceback, the stack and every extra
field; and a rejected request logs its path only, never its query or body."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.ops import logs
from ivr.ops.logs import WRITERS, JsonFormatter, MaskPhoneNumbers, mask_text, setup_logging
from tests.common import examples, twilio_client

SID = "CA" + "0123456789abcdef" * 2

# How a caller's number, +44 7700 900123, can turn up in text. Each must lose "7700900".
NUMBERS = {
    "E.164": "+447700900123",
    "E.164 without +": "447700900123",
    "national": "07700900123",
    "spaced": "+44 7700 900 123",
    "spaced national": "07700 900 123",
    "with (0)": "+44 (0)7700 900123",
    "area code in brackets": "(07700) 900123",
    "dashed": "07700-900-123",
    "dashed E.164": "+44-7700-900123",
    "en dashes": "07700\u2013900\u2013123",
    "dotted": "07700.900.123",
    "slashed": "07700/900123",
    "underscored (found in review)": "07700_900_123",
    "with commas (found in review)": "07700,900,123",
    "no-break spaces": "07700\u00a0900\u202f123",
    "in a URL, %2B": "https://x.example/voice?From=%2B447700900123&To=x",
    "in a URL, lower-case %2b": "/sms?From=%2b447700900123",
    "in a URL, %20": "From=%2B44%207700%20900123",
    "in a URL, + for spaces": "From=%2B44+7700+900123",
    "in a path": "/voice/page/+447700900123/choice",
    "tel: link": "tel:+447700900123",
    "before ':'": "+447700900123: no answer",
    "before ','": "+447700900123, then",
    "before ')'": "(from +447700900123)",
    "before '.'": "called +447700900123.",
    "before ';'": "+447700900123;",
    "quoted": "'+447700900123'",
    "after '='": "From=+447700900123",
    "after ':'": "from:07700900123",
    "after '#'": "#07700900123",
    "JSON": '{"From": "+447700900123"}',
    "repr of a dict": "{'From': '+447700900123', 'To': '+441234567890'}",
    "bytes repr": "b'From=%2B447700900123'",
    "glued to a SID prefix": "CA447700900123",
    "in a forged SID": "CA+447700900123",
    "in a SID of the wrong length": "SMaaaa07700900123bbbb",
    "glued to words": "x447700900123y",
    "a form field": "Digits=07700900123#",
    "fullwidth digits": "\uff0b\uff14\uff14\uff17\uff17\uff10\uff10\uff19\uff10\uff10\uff11"
    "\uff12\uff13",
    "Arabic-Indic digits": "\u0660\u0667\u0667\u0660\u0660\u0669\u0660\u0660\u0661\u0662\u0663",
    "Devanagari digits": "\u0966\u096d\u096d\u0966\u0966\u096f\u0966\u0966\u0967\u0968\u0969",
    "on its own line": "caller\n07700900123\nhung up",
    "a URL's host, with a port": "http://07700900123:5000/voice",
    "after a URL's port": "http://127.0.0.1:5000/sms?From=%2B447700900123",
    "a host and port glued to a number": "http://x.example:80 07700900123",
}

# Text that only looks a little like a number: left as it is.
ORDINARY = [
    f"call {SID} chose police",
    f"/voice/outbound?cb=3f2a9c81d04e7b65&CallSid={SID}",
    "opened at 2026-11-26T10:00:00+00:00",
    "at 2026-11-26 10:00:00,123",
    "closed from 2026-12-24 to 2027-01-01",
    "ringing 2 advisors at 11:00",
    "took 12.5 ms, 3 of 12 done",
    "connecting to 127.0.0.1:6379",
    "HTTP/1.1 200",
    # gunicorn's own lines (found in review: the port and pid were read as one number)
    "Listening at: http://127.0.0.1:58993 (1234567)",
    "Listening at: http://[::1]:5000 (4194304)",
    "Listening at: http://0.0.0.0:5000 (123456)",
    "Booting worker with pid: 4194304",
    "Worker exiting (pid: 4194304)",
]


def compact(text: str) -> str:
    """The text's digits in ASCII with separators gone, so a number is found however it was
    written."""
    ascii_digits = "".join(str(unicodedata.digit(c)) if c.isdecimal() else c for c in text)
    for separator in (
        " ",
        "-",
        ".",
        "/",
        "(",
        ")",
        "+",
        "_",
        ",",
        "%20",
        "%2B",
        "%2b",
        "\u00a0",
        "\u202f",
        "\u2013",
        "\\u00a0",
        "\\u202f",
        "\\u2013",
    ):
        ascii_digits = ascii_digits.replace(separator, "")
    return ascii_digits


def contains_the_number(text: str) -> bool:
    return "7700900" in compact(text)


def record(**kwargs: object) -> logging.LogRecord:
    fields = {
        "name": "ivr.test",
        "level": logging.INFO,
        "pathname": __file__,
        "lineno": 1,
        "msg": "%s",
        "args": ("-",),
        "exc_info": None,
    }
    extra = kwargs.pop("extra", {})
    fields.update(kwargs)
    made = logging.LogRecord(**fields)
    made.__dict__.update(extra)
    return made


def in_message(text: str) -> logging.LogRecord:
    return record(msg=f"call from {text}", args=None)


def in_argument(text: str) -> logging.LogRecord:
    return record(msg="call from %s (%r)", args=(text, text))


def in_traceback(text: str) -> logging.LogRecord:
    try:
        raise ValueError(f"could not route {text}")
    except ValueError:
        return record(exc_info=sys.exc_info())


def in_stack(text: str) -> logging.LogRecord:
    return record(stack_info=f'Stack (most recent call last):\n  File "x", line 1, in {text}')


def in_call_sid(text: str) -> logging.LogRecord:
    return record(extra={"call_sid": text, "route": "/voice", "status": 200})


def in_message_sid(text: str) -> logging.LogRecord:
    return record(extra={"message_sid": text})


def in_any_extra(text: str) -> logging.LogRecord:
    return record(extra={"anything": text, "number_as_int": 447700900123})


FIELDS: dict[str, Callable[[str], logging.LogRecord]] = {
    "message": in_message,
    "argument": in_argument,
    "traceback": in_traceback,
    "stack": in_stack,
    "call_sid": in_call_sid,
    "message_sid": in_message_sid,
    "any extra field": in_any_extra,
}
TEXT = logging.Formatter("%(levelname)s %(name)s: %(message)s")


def written(made: logging.LogRecord) -> tuple[str, str]:
    """The record as the JSON and the text formatters write it, after the filter."""
    assert MaskPhoneNumbers().filter(made) is True
    return JsonFormatter().format(made), TEXT.format(made)


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("number", NUMBERS)
def test_every_way_of_writing_a_number_is_masked_in_every_field(number: str, field: str) -> None:
    text = NUMBERS[number]
    assert contains_the_number(text)  # the corpus entry does hold the number
    made = FIELDS[field](text)
    for line in written(made):
        assert not contains_the_number(line), line
    for name, value in vars(made).items():  # every field, written by any formatter
        if name not in ("exc_info",):
            assert not contains_the_number(str(value)), (name, value)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+447700900123", "***123"),
        ("call +44 7700 900123: no answer", "call ***123: no answer"),
        ("From=%2B447700900123&To=x", "From=***123&To=x"),
        ("CA447700900123", "CA***123"),
        ("anonymous", "anonymous"),
    ],
)
def test_a_masked_number_keeps_its_last_three_digits_and_what_is_around_it(
    text: str, masked: str
) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_left_as_it_is(text: str) -> None:
    assert mask_text(text) == text
    made = in_message(text)
    MaskPhoneNumbers().filter(made)
    assert made.getMessage() == f"call from {text}"


def test_numbers_in_extra_fields_keep_their_type_when_nothing_is_masked() -> None:
    made = record(extra={"status": 200, "duration_ms": 12.5, "flag": True})
    MaskPhoneNumbers().filter(made)
    assert (made.status, made.duration_ms, made.flag) == (200, 12.5, True)


# ------------------------------------------------------------------ through the real app


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything logged, as production writes it (JSON, masked), while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(MaskPhoneNumbers())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


BODY = "Quokka he has my photos"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_rejected_request_logs_its_path_only(make_app, log_lines, method: str) -> None:
    app = make_app()
    fields = {
        "From": "+447700900123",
        "Body": BODY,
        "CallSid": "CA+447700900123",
        "MessageSid": "SM07700900123",
    }
    client = app.test_client()
    query = "?From=%2B447700900123&Body=Quokka+he+has+my+photos&MessageSid=SM07700900123"
    if method == "GET":
        response = client.get("/sms" + query)
    else:
        response = client.post("/sms" + query, data=fields)
    assert response.status_code == 403
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    rejected = [line for line in lines if line["logger"] == "ivr.web.signatures"]
    assert rejected and "rejected a request to /sms:" in rejected[0]["msg"]
    text = log_lines.getvalue()
    assert "Quokka" not in text and "From=" not in text and "?" not in text
    assert not contains_the_number(text)
    # no request line of its own: the guard's (summed up when they repeat) is the one
    assert [line for line in lines if line["logger"] == "ivr.requests"] == []


def test_a_sid_field_carrying_a_number_is_masked_in_the_request_line(make_app, log_lines) -> None:
    app = make_app()
    response = twilio_client(app).post("/voice", {"CallSid": "CA447700900123"})
    assert response.status_code == 200
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    [request_line] = [line for line in lines if line["logger"] == "ivr.requests"]
    assert request_line["call_sid"] == "CA***123"
    assert not contains_the_number(log_lines.getvalue())


# ------------------------------------------------------------------ cheap, and the same as before


def masked_before(text: str) -> str:
    """The masker as it was before its shortcuts: the search over every string."""
    return logs._FOUND.sub(logs._masked, text)


def filtered_before(made: logging.LogRecord) -> dict[str, object]:
    """The filter as it was before its shortcuts: every extra field written out and searched."""
    message = made.getMessage()
    masked = masked_before(message)
    if masked != message:
        made.msg, made.args = masked, None
    for name, value in list(vars(made).items()):
        if name in logs._STANDARD or value is None or isinstance(value, bool):
            continue
        text = value if isinstance(value, str) else str(value)
        masked = masked_before(text)
        if masked != text:
            setattr(made, name, masked)
    return {**vars(made), "message": made.getMessage()}


# Text built from what numbers, SIDs, dates and their neighbours are made of.
PIECES = st.sampled_from(
    [
        *"0123456789",
        "07700",
        "900123",
        "+44",
        "%2B",
        "%2b",
        "%20",
        " ",
        "-",
        ".",
        "/",
        "(",
        ")",
        "_",
        ",",
        "\n",
        "\u2013",
        "\uff14",
        "\u0667",
        "CA",
        "SM",
        "0123456789abcdef",
        "x",
        "d",  # what a run is written as, inside mask_text
        "B",
        "2026-11-26",
        " 10",
        "T",
    ]
)
TEXTS = st.one_of(st.text(max_size=40), st.lists(PIECES, max_size=24).map("".join))


@settings(max_examples=examples(3000), deadline=None)
@given(TEXTS)
def test_the_masker_gives_what_it_gave_before_on_any_text(text: str) -> None:
    assert mask_text(text) == masked_before(text)


@settings(max_examples=examples(500), deadline=None)
@given(
    message=TEXTS,
    extras=st.dictionaries(
        st.sampled_from(["call_sid", "message_sid", "route", "status", "duration_ms", "other"]),
        st.one_of(
            TEXTS,
            st.integers(),
            st.integers(min_value=-(10**9), max_value=10**9),
            st.floats(allow_nan=False),
            st.booleans(),
            st.none(),
            st.sampled_from([SID, "SM" + "f" * 32, "CA" + "A" * 32]),
        ),
    ),
)
def test_the_filter_gives_what_it_gave_before_on_any_record(
    message: str, extras: dict[str, object]
) -> None:
    ours = record(msg="%s", args=(message,), extra=dict(extras))
    theirs = logging.makeLogRecord(vars(ours))  # the same record, made at the same instant
    MaskPhoneNumbers().filter(ours)
    assert {**vars(ours), "message": ours.getMessage()} == filtered_before(theirs)


class Searched:
    """Stands in for the masker's pattern, noting each text searched."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.texts: list[str] = []

    def sub(self, replace: Callable[[re.Match[str]], str], text: str) -> str:
        self.texts.append(text)
        return self.pattern.sub(replace, text)


def test_a_request_line_searches_only_what_can_hold_a_number(
    make_app, log_lines, monkeypatch
) -> None:
    """The request line's SID, status, timing and route can't hold a number (a lone SID is
    left as it is; the others are too short), nor can its message here ("200", "***123":
    fewer digits than the shortest number): nothing is searched."""
    app = make_app()
    client = twilio_client(app)
    searched = Searched(logs._FOUND)
    monkeypatch.setattr(logs, "_FOUND", searched)
    assert client.post("/voice").status_code == 200
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    [request_line] = [line for line in lines if line["logger"] == "ivr.requests"]
    assert request_line["call_sid"] == "CA" + "a" * 32
    assert searched.texts == []


@pytest.mark.parametrize(
    ("text", "searched"),
    [
        ("POST /voice 200: from ***456: helpline closed (after_closing)", False),
        ("12345678 and more words than a number has", False),
        ("١٢٣٤٥٦٧٨ in Arabic-Indic digits, eight of them", False),
        ("http://10.0.0.1:80/ a host and its port", False),
        ("call 0770090012 now", True),
        ("١٢٣٤٥٦٧٨٩ nine Arabic-Indic digits", True),
        ("1 2 3 4 5 6 7 8 9, digits far apart", True),
    ],
)
def test_text_with_fewer_digits_than_a_number_is_not_searched(
    monkeypatch, text: str, searched: bool
) -> None:
    """Fewer digits (in any script) than the shortest number can't be masked: the text is
    returned as it is without the search; with enough, it is searched."""
    pattern = Searched(logs._FOUND)
    monkeypatch.setattr(logs, "_FOUND", pattern)
    masked = logs.mask_text(text)
    assert pattern.texts == ([text] if searched else [])
    if not searched:
        assert masked == text


def test_what_a_webhook_decided_is_in_the_message_not_a_field_of_its_own(make_app, caplog) -> None:
    """`detail` was an extra field no formatter writes, masked a second time on every line."""
    app = make_app()
    caplog.set_level(logging.INFO)
    assert twilio_client(app).post("/voice").status_code == 200
    [line] = [r for r in caplog.records if r.name == "ivr.requests"]
    assert "helpline open" in line.getMessage()
    assert not hasattr(line, "detail")


@pytest.fixture
def logging_switches() -> Iterator[None]:
    """logging's module switches and the handlers of every logger that writes lines, put
    back after the test. Gunicorn's loggers start empty here: a test before this one in the
    same process may have left its handlers on them (seen when the fast tests ran in three
    shards, not two)."""
    root = logging.getLogger()
    switches = (logging.logThreads, logging.logProcesses, logging.logMultiprocessing)
    tasks = vars(logging).get("logAsyncioTasks")  # (Python 3.12 on)
    srcfile, level = logging._srcfile, root.level
    writers = {name: logging.getLogger(name) for name in WRITERS}
    handlers = {name: list(logger.handlers) for name, logger in writers.items()}
    for name in WRITERS[1:]:
        writers[name].handlers[:] = []
    yield
    logging.logThreads, logging.logProcesses, logging.logMultiprocessing = switches
    if tasks is not None:
        vars(logging)["logAsyncioTasks"] = tasks
    logging._srcfile = srcfile
    for name, logger in writers.items():
        logger.handlers[:] = handlers[name]
    root.setLevel(level)


def test_our_formats_alone_skip_the_thread_process_and_caller_lookups(logging_switches) -> None:
    root = logging.getLogger()
    root.handlers[:] = []
    setup_logging("INFO", "json")
    assert not (logging.logThreads or logging.logProcesses or logging.logMultiprocessing)
    assert logging._srcfile is None
    made = logging.getLogger("ivr.test").makeRecord("ivr.test", logging.INFO, "", 0, "x", (), None)
    assert made.thread is None and made.process is None


def test_another_format_keeps_the_lookups_it_may_need(logging_switches) -> None:
    root = logging.getLogger()
    other = logging.StreamHandler(io.StringIO())
    other.setFormatter(logging.Formatter("%(threadName)s %(funcName)s %(message)s"))
    root.handlers[:] = [other]
    setup_logging("INFO", "json")
    assert logging.logThreads and logging._srcfile is not None


class Kept(logging.Handler):
    """Keeps each record's attributes as its handler saw them (after the masking filter)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, object]] = []
        self.addFilter(MaskPhoneNumbers())

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(dict(vars(record)))


TIMES = ("created", "msecs", "relativeCreated")  # moments apart: compared within a second


@pytest.mark.parametrize("skipped", [True, False], ids=["lookups skipped", "lookups kept"])
@pytest.mark.parametrize(
    "message", ["POST /voice 200: from +447700900123", "POST /voice 200: helpline open"]
)
def test_a_line_written_whole_is_the_record_logging_makes(
    logging_switches, skipped: bool, message: str
) -> None:
    """logs.write makes the request line's record itself once the lookups are skipped: the
    same record, masked the same, as logger.info(message, extra=fields) makes."""
    if skipped:
        logs.skip_unused_lookups()
    logger = logging.getLogger("ivr.test.write")
    kept = Kept()
    logger.addHandler(kept)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    fields = {"route": "/voice", "status": 200, "duration_ms": 1.5, "call_sid": "CA447700900123"}
    try:
        logs.write(logger, logging.INFO, message, dict(fields))
        logger.info(message, extra=dict(fields))
        logs.write(logger, logging.DEBUG, "not written: below the logger's level", {})
    finally:
        logger.removeHandler(kept)
    assert len(kept.seen) == 2
    written, made = kept.seen
    assert abs(float(written["created"]) - float(made["created"])) < 1  # (seconds)
    assert abs(float(written["relativeCreated"]) - float(made["relativeCreated"])) < 1000
    assert 0 <= float(written["msecs"]) < 1000
    assert {k: v for k, v in written.items() if k not in (*TIMES, "lineno")} == {
        k: v for k, v in made.items() if k not in (*TIMES, "lineno")
    }
    assert written["call_sid"] == "CA***123" and "7700900" not in str(written["msg"])
    assert (written["thread"] is None) is skipped
    caller = "(unknown function)" if skipped else sys._getframe().f_code.co_name
    assert written["funcName"] == caller  # the caller of write, as logger.info has it


def test_a_record_factory_of_someones_own_is_used(logging_switches, monkeypatch) -> None:
    logs.skip_unused_lookups()
    made: list[str] = []
    default = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        made.append(str(args[4]))
        return default(*args, **kwargs)

    monkeypatch.setattr(logging, "_logRecordFactory", factory)
    logger = logging.getLogger("ivr.test.factory")
    monkeypatch.setattr(logger, "level", logging.INFO)
    logs.write(logger, logging.WARNING, "their own", {})
    assert made == ["their own"]
