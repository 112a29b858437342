"""Drive the real webhooks in-process, as Twilio would, and record what the caller hears.

Staff use it to hear the Christmas message before Christmas; tests use it to walk the tree.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

from flask import Flask
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from ivr.content.flows import WELSH_LANGUAGE
from ivr.core.phone import mask
from ivr.twilio import webhooks

SILENCE = "-"  # a --press value meaning: say and press nothing (let the Gather time out)
MAX_REQUESTS = 60
LOCAL_BASE = "http://localhost"


@dataclass(frozen=True)
class Speech:
    """Something the caller says at a <Gather>, where a plain string is a key pressed."""

    text: str


Input = str | Speech


@dataclass
class Transcript:
    events: list[dict[str, str]] = field(default_factory=list)

    def add(self, kind: str, **details: str) -> None:
        self.events.append({"type": kind, **details})

    def heard(self) -> list[str]:
        return [e["text"] for e in self.events if e["type"] == "say"]

    def lines(self) -> list[str]:
        labels = {
            "say": "HEARS",
            "press": "PRESSES",
            "silence": "SAYS NOTHING",
            "speech": "SAYS",
            "unheard": "NOT HEARD",
            "dial": "RINGS",
            "queue": "JOINS THE QUEUE",
            "hold": "HOLDS",
            "leave": "LEAVES THE QUEUE",
            "hangup": "CALL ENDS",
            "error": "ERROR",
        }
        return [
            f"{labels[e['type']]}"
            + (f" ({e['language']})" if e.get("language") else "")
            + (f": {e['text']}" if e.get("text") else "")
            for e in self.events
        ]


class TwilioLikeClient:
    """Sends webhook requests the way Twilio does: form-encoded, and signed when the app has
    an auth token."""

    def __init__(self, app: Flask, params: dict[str, str]) -> None:
        self.app = app
        self.client = app.test_client()
        settings = app.extensions["helpline"].settings
        self.base = settings.public_base_url or LOCAL_BASE
        self.validator = (
            RequestValidator(settings.twilio_auth_token) if settings.twilio_auth_token else None
        )
        self.params = params

    def post(self, url: str, extra: dict[str, str] | None = None) -> TestResponse:
        full = urljoin(self.base + "/", url)
        data = {**self.params, **(extra or {})}
        headers = {}
        if self.validator:
            headers["X-Twilio-Signature"] = self.validator.compute_signature(full, data)
        parts = urlsplit(full)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.client.post(
            path, data=data, headers=headers, base_url=f"{parts.scheme}://{parts.netloc}"
        )


@dataclass
class Queued:
    """Where a simulated call waits, as Twilio keeps it: the Enqueue's action (asked when
    the caller leaves the queue) and how many loops of the wait they have heard."""

    action: str = ""
    wait_url: str = ""
    loops: int = 0


def simulate_call(
    app: Flask,
    presses: Iterable[Input] = (),
    caller: str = "+447700900123",
    called: str = "+441234567890",
    dial_status: str = "no-answer",
    advisors: str | None = None,
    language: str | None = None,
) -> Transcript:
    """Call /voice and follow the TwiML, pressing keys or saying things (Speech), in order, at
    each Gather. When they run out at a Gather, the caller hangs up. With `advisors` (free,
    busy or none), one console advisor is pretended to be on duty and free or busy, or
    nobody on duty: in this process only, nothing about advisors is read from or written
    to the store. <Enqueue> is followed as Twilio does: its waitUrl, again and again.
    With `language` ("en" or "cy"), the call starts with the choice of language whether or
    not the helpline has switched Welsh on, and the caller presses that language's key."""
    if advisors is not None:
        from ivr.web.voice import SIMULATED

        app.extensions[SIMULATED] = advisors
    keys = list(presses)
    if language is not None:
        keys.insert(0, language_key(app, called, language))
    transcript = Transcript()
    queued = Queued()
    client = TwilioLikeClient(
        app,
        {
            "CallSid": "CA" + uuid.uuid4().hex,
            "AccountSid": "AC" + "0" * 32,
            "From": caller,
            "To": called,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        },
    )
    if language is not None:
        from ivr.web.voice import SIMULATE_WELSH

        app.extensions[SIMULATE_WELSH] = True
    url = webhooks.path(webhooks.VOICE)
    extra: dict[str, str] = {}
    for _ in range(MAX_REQUESTS):
        response = client.post(url, extra)
        if response.status_code != 200:
            transcript.add("error", text=f"HTTP {response.status_code} from {url}")
            return transcript
        root = ElementTree.fromstring(response.get_data(as_text=True))
        next_request = _follow(root, keys, transcript, dial_status, queued)
        if next_request is None:
            if queued.action:  # hung up while waiting: Twilio tells the Enqueue's action
                client.post(queued.action, {"QueueResult": "hangup", "QueueTime": "0"})
            # and the number's status callback, as the call ends (twilio/setup.py Wanted)
            client.post(webhooks.path(webhooks.CALL_ENDED), {"CallStatus": "completed"})
            return transcript
        url, extra = next_request
    transcript.add("error", text=f"stopped after {MAX_REQUESTS} requests")
    return transcript


def _wait_request(queued: Queued, url: str = "") -> tuple[str, dict[str, str]]:
    """The next loop of the wait page, with Twilio's parameters (position 1: nobody else
    is simulated)."""
    queued.loops += 1
    return url or queued.wait_url, {"QueuePosition": "1", "QueueTime": str(60 * (queued.loops - 1))}


def _hold(verb: ElementTree.Element, transcript: Transcript) -> None:
    if verb.tag == "Play":
        transcript.add("hold", text=f"hold audio {verb.text or ''}".strip())
    elif verb.tag == "Pause":
        transcript.add("hold", text=f"quiet for {verb.get('length', '1')} seconds")


def _say(verb: ElementTree.Element, transcript: Transcript) -> None:
    """What is said; in Welsh, marked with its language (cy-GB)."""
    if verb.get("language") == WELSH_LANGUAGE:
        transcript.add("say", text=verb.text or "", language=WELSH_LANGUAGE)
    else:
        transcript.add("say", text=verb.text or "")


def language_key(app: Flask, called: str, language: str) -> str:
    """The key that chooses `language` on the language page of the helpline `called`
    reaches (ValueError when it has no such content)."""
    lines = app.extensions["helplines"].values()
    h = next((h for h in lines if called in h.line.numbers), app.extensions["helpline"])
    content = h.flows.speaking(language)
    option = content.voice.choose_language if content.language == language else None
    if option is None or h.flows.welsh is None:
        raise ValueError(f"helpline {h.line.name!r} has no Welsh content (flows/cy/)")
    return str(option.key)


def _follow(
    root: ElementTree.Element,
    keys: list[Input],
    transcript: Transcript,
    dial_status: str,
    queued: Queued,
) -> tuple[str, dict[str, str]] | None:
    """Play one TwiML document; the next request to make, or None when the call ends."""
    for verb in root:
        if verb.tag == "Say":
            _say(verb, transcript)
        elif verb.tag in ("Play", "Pause"):
            _hold(verb, transcript)
        elif verb.tag == "Enqueue":
            transcript.add("queue", text=verb.text or "")
            queued.action, queued.wait_url, queued.loops = (
                verb.get("action", ""),
                verb.get("waitUrl", ""),
                0,
            )
            return _wait_request(queued)
        elif verb.tag == "Leave":
            transcript.add("leave")
            action, queued.action = queued.action, ""
            return action, {"QueueResult": "leave", "QueueTime": str(60 * queued.loops)}
        elif verb.tag == "Gather":
            for inner in verb:
                if inner.tag == "Say":
                    _say(inner, transcript)
                else:
                    _hold(inner, transcript)
            if not keys:
                transcript.add("hangup", text="the caller hangs up")
                return None
            key = keys.pop(0)
            if isinstance(key, Speech):
                transcript.add("speech", text=key.text)
                if "speech" in (verb.get("input") or "dtmf").split():
                    return verb.get("action", ""), {"SpeechResult": key.text, "Confidence": "0.9"}
                # Twilio ignores speech at a keys-only <Gather>: it times out as in silence.
                transcript.add("unheard", text="this question listens for keys only")
                continue
            if key == SILENCE:
                transcript.add("silence")
                continue
            transcript.add("press", text=key)
            return verb.get("action", ""), {"Digits": key}
        elif verb.tag == "Redirect":
            if queued.action and urlsplit(verb.text or "").path == urlsplit(queued.wait_url).path:
                return _wait_request(
                    queued, verb.text or ""
                )  # the next loop, as Twilio asks for it
            return verb.text or "", {}
        elif verb.tag == "Dial":
            numbers = [n.text or "" for n in verb if n.tag == "Number"]
            transcript.add("dial", text=", ".join(mask(n) for n in numbers) + f" ({dial_status})")
            return verb.get("action", ""), {
                "DialCallStatus": dial_status,
                "DialBridged": str(dial_status == "completed").lower(),
            }
        elif verb.tag == "Hangup":
            transcript.add("hangup")
            return None
    transcript.add("hangup", text="end of instructions")
    return None
