"""`helpline check`: what can be verified about flows/ and the settings before Twilio calls."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ivr.config import Settings
from ivr.core.phone import check_advisor_number

_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_ACCOUNT_SID = re.compile(r"^AC[0-9a-f]{32}$")


@dataclass(frozen=True)
class Problem:
    level: str  # "error" stops the line working; "warning" is worth a look
    message: str


# Settings that changed meaning: set, they would be silently ignored.
RENAMED = {
    "CALLBACK_EXPIRY_DAYS": "CALLBACK_EXPIRY_OPENING_DAYS (counted in opening days on "
    "which the callback could have been made, not calendar "
    "days since the request)"
}


def check_environment(env: Mapping[str, str]) -> list[Problem]:
    """Settings given under a name that no longer means anything."""
    return [
        Problem("warning", f"{old} is no longer used: set {new}")
        for old, new in RENAMED.items()
        if env.get(old)
    ]


def check_settings(s: Settings) -> list[Problem]:
    """Problems with the settings alone (pure: no network)."""
    problems: list[Problem] = []
    if not s.twilio_auth_token:
        problems.append(
            Problem(
                "warning",
                "TWILIO_AUTH_TOKEN is not set: webhook signatures "
                "are not checked. Set it before the number goes live.",
            )
        )
    elif not _TOKEN.match(s.twilio_auth_token):
        problems.append(
            Problem(
                "error",
                "TWILIO_AUTH_TOKEN does not look like an auth token "
                "(32 hexadecimal characters): every call would get a 403.",
            )
        )
    if s.twilio_account_sid and not _ACCOUNT_SID.match(s.twilio_account_sid):
        problems.append(
            Problem(
                "error", "TWILIO_ACCOUNT_SID should be AC followed by 32 hexadecimal characters."
            )
        )
    if s.public_base_url:
        parts = urlsplit(s.public_base_url)
        if parts.scheme != "https":
            problems.append(
                Problem(
                    "error",
                    f"PUBLIC_BASE_URL {s.public_base_url!r} should "
                    "start with https:// (Twilio signs the URL it calls).",
                )
            )
        if parts.query or parts.fragment or not parts.netloc:
            problems.append(
                Problem(
                    "error",
                    f"PUBLIC_BASE_URL {s.public_base_url!r} should be "
                    "just the address, e.g. https://helpline.example.org",
                )
            )
        if parts.hostname in ("localhost", "127.0.0.1", "0.0.0.0"):
            problems.append(
                Problem(
                    "error",
                    "PUBLIC_BASE_URL points at this machine: Twilio "
                    "cannot reach it. Use your tunnel's or server's address.",
                )
            )
    elif s.twilio_auth_token and not s.trusted_proxies:
        problems.append(
            Problem(
                "warning",
                "Neither PUBLIC_BASE_URL nor TRUSTED_PROXIES is set: "
                "behind a proxy or tunnel that ends TLS, signatures will not "
                "match and every call gets a 403.",
            )
        )
    if not s.embedded_store and not s.secret_key:
        problems.append(
            Problem(
                "error",
                "SECRET_KEY is not set: with an external store "
                "(REDIS_URL or REDIS_SENTINELS) the app refuses to start without it.",
            )
        )
    if s.redis_url and s.redis_sentinels:
        problems.append(
            Problem(
                "error",
                "Both REDIS_URL and REDIS_SENTINELS are set: the sentinels are used and "
                "REDIS_URL is ignored; set only one.",
            )
        )
    missing = [
        name
        for name, given in (("DATA_KEY", s.data_key), ("LOOKUP_KEY", s.lookup_key))
        if not given
    ]
    if not s.embedded_store and missing:
        problems.append(
            Problem(
                "error",
                f"{' and '.join(missing)} not set: with an external store (REDIS_URL) the "
                "app refuses to start without them (`helpline keys new`).",
            )
        )
    for number in s.advisor_numbers:
        problem = check_advisor_number(number)
        if problem:
            problems.append(Problem("error", f"ADVISOR_NUMBERS: {problem}"))
    if s.dial_timeout < 5 or s.dial_timeout > 60:
        problems.append(
            Problem(
                "warning",
                f"DIAL_TIMEOUT {s.dial_timeout}s: advisors' phones "
                "ring for about 20 seconds normally.",
            )
        )
    no_calls = calls_problem(s)  # the console tells staff in words; here, by setting name
    if no_calls:
        problems.append(Problem("warning", no_calls))
    return problems


# What the console needs to ring advisors and callers, by the names staff set.
CALL_SETTINGS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "HELPLINE_NUMBER")


def calls_problem(s: Settings) -> str | None:
    """Why the console can't place calls (for the supervisor page and the log; advisors are
    only told to tell their supervisor), or None when it can."""
    values = (s.twilio_account_sid, s.twilio_auth_token, s.helpline_number)
    missing = [name for name, value in zip(CALL_SETTINGS, values, strict=True) if not value]
    if not missing:
        return None
    names = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
    verb = "is" if len(missing) == 1 else "are"
    return (
        f"Advisors can't make calls from the console: {names} {verb} not set. Set "
        f"{'it' if len(missing) == 1 else 'them'} (see the settings in the README) and restart "
        "the app."
    )
