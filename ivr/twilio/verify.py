"""`helpline twilio verify`: the go-live check a helpline runs on its own number, with real
credentials. It reads the number's configuration from Twilio, sends one signed request to
the app through its public URL as Twilio would, says what can only be confirmed by a person
on a real phone, and can ring one advisor's stored phone to play the greeting.

The signed request carries VERIFY_FIELD: the app answers it as a call's first webhook but
counts it nowhere (no figures, so nothing in the report). Only a correctly signed request
gets that far (ivr/web/signatures.py), and Twilio itself never sends the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.etree import ElementTree

import requests
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from ivr.config import Settings
from ivr.content.flows import WELSH, WELSH_LANGUAGE, WELSH_VOICE, Flows
from ivr.twilio import webhooks
from ivr.twilio.optout import OptOutConfig, uses_default_opt_out
from ivr.twilio.setup import Wanted

VERIFY_FIELD = "HelplineVerify"
CHECK_SID = "CA" + "0" * 32  # the check's CallSid: no real call has it
TIMEOUT_SECONDS = 15

# What no request can prove: a person checks each on a real phone before going live.
LIVE_ONLY = (
    "Queue position: wait in the queue from a second phone while an advisor takes another "
    "caller; the position you hear goes down, and in time.",
    "Speech: at the menu, say each menu word instead of pressing its key; each is understood.",
    "Danger: at any question say a danger phrase (e.g. 'I'm in danger'); the 999 line comes "
    "at once.",
    "Despair: say a despair phrase (e.g. 'I can't go on'); the Samaritans' number is given.",
    "Screening: an advisor's phone asks to press 1; an unanswered phone or voicemail never "
    "takes the caller.",
    "Welsh voice: with Welsh on, choose Cymraeg; the Welsh voice reads the Welsh words.",
    "Texts: text HELP and STOP to the number; exactly one reply each, the helpline's own.",
)


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    warning: bool = False  # worth fixing, but the line works: verify still passes


def number_findings(record: object, wanted: Wanted) -> list[Finding]:
    """The number's webhooks as Twilio holds them: each URL this app's, with no query string
    (Twilio signs the URL as configured, and the app links on PUBLIC_BASE_URL alone), each
    method POST, and a fallback for voice and for texts (callers hear the safety line even
    when this host is down). Fields: https://www.twilio.com/docs/phone-numbers/api/incomingphonenumber-resource
    """
    found = []
    for name, want in (("voice_url", wanted.voice_url), ("sms_url", wanted.sms_url)):
        have = getattr(record, name, None) or ""
        found.append(Finding(have == want, f"{name}: {have or '(not set)'} (wanted {want})"))
        if urlsplit(have).query:
            found.append(Finding(False, f"{name} has a query string: remove it"))
    status = getattr(record, "status_callback", None) or ""  # a call's end: see Wanted
    found.append(
        Finding(
            status == wanted.status_url,
            f"status_callback: {status or '(not set)'} (wanted {wanted.status_url}): "
            "helpline twilio configure",
        )
    )
    for name in ("voice_method", "sms_method"):
        have = getattr(record, name, None) or ""
        found.append(Finding(have == "POST", f"{name}: {have or '(not set)'} (wanted POST)"))
    for name in ("voice_fallback_url", "sms_fallback_url"):
        have = getattr(record, name, None) or ""
        found.append(
            Finding(
                bool(have),
                f"{name}: {have or '(not set): helpline twilio configure --fallback-url'}",
            )
        )
    service = getattr(record, "messaging_service_sid", None) or ""
    if uses_default_opt_out(OptOutConfig(messaging_service_sid=service)):
        found.append(
            Finding(
                True,
                "texts: the number is in no Messaging Service, so Twilio's default keyword "
                "handling answers HELP as well as the app (two replies): give it a Messaging "
                "Service with Advanced Opt-Out, or ask Twilio Support to turn default keyword "
                "handling off (README, Connecting a Twilio number)",
                warning=True,
            )
        )
    return found


def signed_check(base_url: str, auth_token: str, number: str) -> tuple[str, dict, dict]:
    """The URL, fields and headers of a call's first webhook as Twilio would send it, signed
    (https://www.twilio.com/docs/usage/webhooks/webhooks-security), marked as the check."""
    url = webhooks.url(base_url, webhooks.VOICE)
    fields = {
        "CallSid": CHECK_SID,
        "From": number,
        "To": number,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        VERIFY_FIELD: "1",
    }
    signature = RequestValidator(auth_token).compute_signature(url, fields)
    return url, fields, {"X-Twilio-Signature": signature}


def answer_findings(status: int, content_type: str, body: str, safety: str) -> list[Finding]:
    """Whether the app's answer is what Twilio needs: 200, XML, a <Response> that says the
    999 line."""
    if status != 200:
        return [Finding(False, f"the app answered HTTP {status}")]
    if "xml" not in content_type:
        return [Finding(False, f"the app answered {content_type or 'no content type'}")]
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        return [Finding(False, f"the app's answer is not XML ({exc})")]
    said = [e.text or "" for e in root.iter("Say")]
    return [
        Finding(root.tag == "Response", "the answer is TwiML (<Response>)"),
        Finding(safety in said, "the answer says the 999 line"),
    ]


def ask_app(base_url: str, auth_token: str, number: str, safety: str) -> list[Finding]:
    """Send the signed check to the app through its public URL; what its answer shows."""
    url, fields, headers = signed_check(base_url, auth_token, number)
    try:
        answer = requests.post(url, data=fields, headers=headers, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        return [Finding(False, f"the app did not answer at {url}: {exc}")]
    return answer_findings(
        answer.status_code, answer.headers.get("Content-Type", ""), answer.text, safety
    )


def greeting_twiml(flows: Flows, settings: Settings) -> str:
    """The greeting and the 999 line, as a caller hears them first (and in Welsh, in the
    Welsh voice, when the helpline has Welsh content)."""
    resp = VoiceResponse()
    for text in (*flows.voice.greeting, flows.voice.safety):
        resp.say(text, voice=settings.voice, language=settings.language)
    if flows.welsh is not None:
        welsh = flows.speaking(WELSH).voice
        for text in (*welsh.greeting, welsh.safety):
            resp.say(text, voice=WELSH_VOICE, language=WELSH_LANGUAGE)
    resp.hangup()
    return str(resp)


def call_with_greeting(client: Client, settings: Settings, phone: str, twiml: str) -> str:
    """Ring `phone` (an advisor's stored phone) from the helpline's number, playing `twiml`
    (https://www.twilio.com/docs/voice/api/call-resource#create-a-call-resource: Twiml);
    the Call SID."""
    call = client.calls.create(to=phone, from_=settings.helpline_number, twiml=twiml)
    return str(call.sid)
