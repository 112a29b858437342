"""Logging set-up; a last line of defence masks anything that looks like a phone number."""

from __future__ import annotations

import logging
import re

from ivr.phone import mask

# Seven or more digits, optionally with a leading + and spaces or dashes between them.
# Not inside a longer word, so Twilio SIDs (CA + hex) stay readable.
_PHONE_LIKE = re.compile(r"(?<![A-Za-z0-9])\+?\d(?:[\s\-]?\d){6,}(?![A-Za-z0-9])")


class MaskPhoneNumbers(logging.Filter):
    """Rewrites each record so no full phone number reaches a log, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _PHONE_LIKE.sub(lambda m: mask(m.group(0)), message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


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
