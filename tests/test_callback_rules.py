"""Which numbers may be called back (ivr.core.callbacks, pure). When a callback is due is in
test_promise.py; what a safe-time message means in test_safetime.py."""

from __future__ import annotations

import pytest

from ivr.core.callbacks import callable_number

# ------------------------------------------------------------------ numbers we may call back


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("+447400123456", "+447400123456"),
        ("07400123456", "+447400123456"),
        ("07400 123 456", "+447400123456"),
        ("+44 7400 123456", "+447400123456"),
        ("447400123456", "+447400123456"),
        ("02079460001", "+442079460001"),  # a London landline
        ("+442079460001", "+442079460001"),
    ],
)
def test_uk_mobiles_and_landlines_may_be_called(raw, number):
    assert callable_number(raw) == number


@pytest.mark.parametrize(
    "raw",
    [
        "09011234567",  # premium rate
        "07012345678",  # personal number, charged like premium
        "08451234567",  # shared cost
        "08001111111",  # freephone: not a person's phone
        "+33612345678",  # international
        "0033612345678",
        "+447700900123",  # not a number libphonenumber accepts
        "+447400",  # too short
        "07400123456789",  # too long
        "999",
        "112",
        "101",
        "80085",
        "ACME",
        "anonymous",
        "",
    ],
)
def test_other_numbers_may_not(raw):
    assert callable_number(raw) is None


@pytest.mark.parametrize(
    "number",
    ["+447911123456", "+447624123456", "+447797123456"],
    ids=["guernsey", "isle-of-man", "jersey"],
)
def test_crown_dependency_numbers_are_not_called_back(number):
    # They share +44 but are charged as separate, dearer destinations.
    assert callable_number(number) is None
