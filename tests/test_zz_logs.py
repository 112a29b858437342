"""Run last (file order): the logs of the whole test session hold no phone number."""

from __future__ import annotations

import re

from tests.conftest import SESSION_LOG

# Any +44 or 07 number, with or without spaces; the test numbers are all UK numbers.
FULL_NUMBER = re.compile(r"(?:\+|%2B)44\s?\d{4}\s?\d{6}|\b07\d{3}\s?\d{6}\b", re.IGNORECASE)


def test_no_phone_number_in_the_whole_sessions_logs():
    text = SESSION_LOG.read_text(encoding="utf-8")
    assert "ivr" in text  # the session did log
    found = FULL_NUMBER.findall(text)
    assert not found, f"{len(found)} numbers in {SESSION_LOG}, e.g. {found[:3]}"
