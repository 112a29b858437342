"""Phone numbers: masking for logs, recognising withheld callers, numbers we never dial."""

from __future__ import annotations

import re
from collections.abc import Callable

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber
from phonenumbers.phonenumberutil import _number_type_helper

# What Twilio sends as the caller ID of a withheld, restricted or unknown caller.
WITHHELD_IDS = frozenset(
    {
        "",
        "anonymous",
        "restricted",
        "unknown",
        "unavailable",
        "private",
        "+266696687",
        "+7378742833",
        "+86282452253",
        "+8656696",
        "+2562533",
    }
)
# Emergency and police numbers: the app never dials these (a call placed through Twilio would
# give the emergency services the helpline's address, not the caller's).
NEVER_DIAL = frozenset({"999", "112", "101", "911", "+44999", "+44112", "+44101"})


def mask(number: str | None) -> str:
    """All but the last 3 digits hidden, for logs: "+447700900123" -> "***123"."""
    digits = [c for c in (number or "") if c.isdigit()]
    if not digits or is_withheld(number):
        return "withheld"
    return "***" + "".join(digits[-3:])


def is_withheld(number: str | None) -> bool:
    return (number or "").strip().lower() in WITHHELD_IDS


def is_emergency(number: str) -> bool:
    compact = "".join(c for c in number if c.isdigit() or c == "+")
    return compact in NEVER_DIAL or compact.lstrip("+").lstrip("0") in {"999", "112", "101"}


def keyed_emergency(digits: str) -> bool:
    """Keys pressed where we asked for a phone number that mean someone is reaching for the
    emergency services: 999, 112 or 101, or 9s pressed in a hurry (99, 9999...: no UK number
    we call starts with 9)."""
    return is_emergency(digits) or digits.startswith("99")


# Ofcom's mobile numbers for drama (07700 900000-900999): never anyone's, so
# `helpline simulate` and `helpline demo` may use them without a stranger being rung.
DRAMA = re.compile(r"^\+447700900\d{3}$")

# Staff write UK numbers the UK way ("07400 123456"); an example in both forms for messages.
HOME_REGION = "GB"
_EXAMPLE = phonenumbers.parse("07400 123456", HOME_REGION)  # phonenumbers' own example mobile
EXAMPLE_NATIONAL = phonenumbers.format_number(_EXAMPLE, phonenumbers.PhoneNumberFormat.NATIONAL)
EXAMPLE_INTERNATIONAL = phonenumbers.format_number(
    _EXAMPLE, phonenumbers.PhoneNumberFormat.INTERNATIONAL
)


_GB = PhoneMetadata.metadata_for_region(HOME_REGION)


def gb_type(parsed: PhoneNumber) -> int | None:
    """The PhoneNumberType of a valid number of Great Britain (not the Isle of Man or the
    Channel Islands, which share +44); None for any other. What is_valid_number,
    region_code_for_number and number_type say together, with one type lookup where they
    make three (tests/test_actions_texts.py compares them): region_code_for_number tries
    +44's regions in turn, GB first, and GB names no leading digits, so a number is Great
    Britain's exactly when GB's own metadata gives it a type, and that type is the one
    (the same test checks both, so a libphonenumber that changes them is caught)."""
    if parsed.country_code != 44 or _GB is None:
        return None
    kind = _number_type_helper(phonenumbers.national_significant_number(parsed), _GB)
    return None if kind == phonenumbers.PhoneNumberType.UNKNOWN else kind


def advisor_e164(typed: str, shown: Callable[[str], str] = str.strip, drama: bool = False) -> str:
    """An advisor's phone as people write it ("07400 123456", "+44 (0)7400 123456") in the
    form Twilio dials ("+447400123456"). ValueError says why not, showing the number as
    `shown` gives it: as typed to the staff member who typed it (their own number), masked
    where it may reach a log."""
    example = f"for example {EXAMPLE_NATIONAL} or {EXAMPLE_INTERNATIONAL}"
    if is_emergency(typed):
        raise ValueError(
            f"{shown(typed)} is an emergency or police number, which the app never dials: "
            f"give the advisor's own phone, {example}"
        )
    try:
        parsed = phonenumbers.parse(typed, HOME_REGION)
    except phonenumbers.NumberParseException:
        raise ValueError(f"{shown(typed)} is not a phone number: write it {example}") from None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if drama and DRAMA.match(e164):
        return e164  # a rehearsal's sample advisor: nobody's phone
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{shown(typed)} is not a valid phone number: {example}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def check_advisor_number(number: str) -> str | None:
    """Why a configured advisor number can't be dialled (masked, for logs), or None."""
    try:
        advisor_e164(number, shown=mask)
    except ValueError as exc:
        return str(exc)
    return None


def console_mask(number: str) -> str:
    """For the advisors' screen: "+447700900123" -> "+44 7700 •••123"."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return mask(number)
    national = phonenumbers.national_significant_number(parsed)
    return f"+{parsed.country_code} {national[:4]} •••{national[-3:]}"


def subject_number(text: str, region: str = "GB") -> str | None:
    """The E.164 form of a number as a member of staff types it (07700 900123, +44 7700
    900123, 0044…), for a subject request; None if it can't be a phone number. Possible,
    not valid: a number Twilio saw may be one phonenumbers doesn't know to be in use."""
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
