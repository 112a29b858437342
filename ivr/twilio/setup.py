"""Pointing a Twilio number at this app through the REST API, and the static fallback that
Twilio uses when this host is down (so nobody has to click through Twilio's console)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from ivr.config import Settings
from ivr.content.flows import Flows
from ivr.core.phrases import usual_hours
from ivr.twilio import webhooks


class NumberNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Wanted:
    """What the number's configuration should be."""

    voice_url: str
    sms_url: str
    voice_fallback_url: str | None
    sms_fallback_url: str | None
    # The number's call status callback: Twilio POSTs it when a call ends, so a callback
    # asked for by a caller who hung up mid-way is kept (web/voice_callbacks.py call_ended;
    # https://www.twilio.com/docs/voice/api/call-resource#statuscallback).
    status_url: str = ""

    @classmethod
    def for_base(cls, base_url: str, fallback_url: str | None) -> Wanted:
        fallback = fallback_url.rstrip("/") if fallback_url else None
        return cls(
            webhooks.url(base_url, webhooks.VOICE),
            webhooks.url(base_url, webhooks.SMS),
            f"{fallback}/voice.xml" if fallback else None,
            f"{fallback}/sms.xml" if fallback else None,
            webhooks.url(base_url, webhooks.CALL_ENDED),
        )


def find_number(client: Client, number: str):
    found = client.incoming_phone_numbers.list(phone_number=number, limit=2)
    if not found:
        raise NumberNotFound(f"{number} is not a number on this Twilio account")
    return found[0]


def configure(client: Client, number: str, wanted: Wanted) -> str:
    """Set the number's webhooks (POST) and fallbacks (GET: static files); its SID."""
    sid = find_number(client, number).sid
    fields: dict[str, str] = {
        "voice_url": wanted.voice_url,
        "voice_method": "POST",
        "sms_url": wanted.sms_url,
        "sms_method": "POST",
    }
    if wanted.status_url:
        fields.update(status_callback=wanted.status_url, status_callback_method="POST")
    if wanted.voice_fallback_url and wanted.sms_fallback_url:
        fields.update(
            voice_fallback_url=wanted.voice_fallback_url,
            voice_fallback_method="GET",
            sms_fallback_url=wanted.sms_fallback_url,
            sms_fallback_method="GET",
        )
    client.incoming_phone_numbers(sid).update(**fields)
    return sid


def compare(client: Client, number: str, wanted: Wanted) -> list[tuple[str, str, str, bool]]:
    """(setting, wanted, actual, matches) for each webhook setting of the number."""
    actual = find_number(client, number)
    rows = [
        ("voice_url", wanted.voice_url, actual.voice_url),
        ("voice_method", "POST", actual.voice_method),
        ("sms_url", wanted.sms_url, actual.sms_url),
        ("sms_method", "POST", actual.sms_method),
    ]
    if wanted.status_url:
        rows += [
            ("status_callback", wanted.status_url, actual.status_callback),
            ("status_callback_method", "POST", actual.status_callback_method),
        ]
    if wanted.voice_fallback_url and wanted.sms_fallback_url:  # both or neither (for_base)
        rows += [
            ("voice_fallback_url", wanted.voice_fallback_url, actual.voice_fallback_url),
            ("sms_fallback_url", wanted.sms_fallback_url, actual.sms_fallback_url),
        ]
    return [(name, want, have or "", (have or "") == want) for name, want, have in rows]


def export_fallback(flows: Flows, settings: Settings, directory: Path) -> list[Path]:
    """Static TwiML to host anywhere: the safety line, the hours and other support by phone;
    the 'could not take your message' reply by text."""
    directory.mkdir(parents=True, exist_ok=True)
    voice = VoiceResponse()
    lines = flows.fallback_lines()
    for text in [*lines[:-1], *flows.voice.support, lines[-1]]:
        voice.say(text, voice=settings.voice, language=settings.language)
    voice.hangup()
    sms = MessagingResponse()
    sms.message(
        flows.sms.replies["unavailable"].format(
            usual_hours=usual_hours(flows.hours_config.weekly, flows.phrases)
        )
    )
    written = []
    for name, document in (("voice.xml", voice), ("sms.xml", sms)):
        path = directory / name
        path.write_text(str(document), encoding="utf-8")
        written.append(path)
    return written
