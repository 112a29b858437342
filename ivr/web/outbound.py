"""Calling a person back: the helpline rings the advisor, who presses 1, then the caller.

The caller's leg runs answering-machine detection: when a machine answers and a voicemail is
not allowed, the caller's leg hangs up without a word and the advisor is told. Twilio's
status callbacks keep the console's view (ringing, connected, machine, ended) up to date.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response
from twilio.twiml.voice_response import Dial, VoiceResponse

from ivr.core.callbacks import Callback, callable_number
from ivr.core.phone import mask
from ivr.store import stats
from ivr.twilio.rest import STATUS_EVENTS
from ivr.web.context import helpline, twilio_param
from ivr.web.signatures import only_twilio
from ivr.web.voice import METHODS, link, param, say, screened, twiml

log = logging.getLogger(__name__)
bp = Blueprint("outbound", __name__, url_prefix="/voice/outbound")
only_twilio(bp)
MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")
CALLER_RING_SECONDS = 30


def _callback() -> Callback | None:
    return helpline().queue.get(param("cb")[:32]) if param("cb") else None


def _end(text: str) -> Response:
    resp = VoiceResponse()
    say(resp, text)
    resp.hangup()
    return twiml(resp)


@bp.route("/advisor", methods=METHODS)
def advisor() -> Response:
    """The advisor's phone answered: press 1 to connect (so voicemail never gets the caller)."""
    return screened(link("outbound.connect", cb=param("cb")), helpline().flows.voice.outbound)


@bp.route("/connect", methods=METHODS)
def connect() -> Response:
    h = helpline()
    content = h.flows.voice.outbound
    if twilio_param("Digits")[:1] != "1":
        return _end(content["no_key"])
    callback = _callback()
    if callback is None or callback.status != "claimed":
        return _end(content["not_claimed"])
    if callable_number(callback.number) != callback.number:
        # Only a UK mobile or landline is ever dialled (never 999, 112, 101, premium…), even
        # if something other than the SMS and voice entrances put this number in the store.
        log.error(
            "callback %s: refusing to dial %s, not a number we call back",
            callback.id,
            mask(callback.number),
        )
        return _end(content["not_claimed"])
    now = h.clock()
    if not h.line_status(now).open:
        return _end(content["closed"])  # nothing is ever dialled while the helpline is closed
    h.queue.set_call_state(callback.id, "ringing")
    detection = "DetectMessageEnd" if callback.voicemail else "Enable"
    dial = Dial(
        caller_id=h.settings.helpline_number or None,
        method="POST",
        action=link("outbound.dial_result", cb=callback.id),
        timeout=CALLER_RING_SECONDS,
        record="do-not-record",
    )
    dial.number(
        callback.number,
        machine_detection=detection,
        method="POST",
        url=link("outbound.caller_answered", cb=callback.id),
        status_callback=link("outbound.caller_status", cb=callback.id),
        status_callback_event=" ".join(STATUS_EVENTS),
        status_callback_method="POST",
    )
    resp = VoiceResponse()
    resp.append(dial)
    stats.wait_recorded(
        h.redis,
        now,
        h.flows.hours.timezone,
        (now - callback.requested_at).total_seconds(),
        keys=h.keys,
    )
    return twiml(resp)


@bp.route("/caller-answered", methods=METHODS)
def caller_answered() -> Response:
    """On the caller's leg, before it is bridged: a machine is not spoken to unless allowed."""
    h = helpline()
    callback = _callback()
    answered_by = twilio_param("AnsweredBy")
    resp = VoiceResponse()
    if callback is None:
        resp.hangup()
        return twiml(resp)
    if answered_by in MACHINE:
        h.queue.set_call_state(callback.id, "machine")
        if not callback.voicemail:
            resp.hangup()  # not a word is left
        return twiml(resp)
    h.queue.set_call_state(callback.id, "connected", caller_connected=True)
    return twiml(resp)  # empty: the advisor and the caller are connected


@bp.route("/dial-result", methods=METHODS)
def dial_result() -> Response:
    """Back on the advisor's leg after the caller's leg ended."""
    h = helpline()
    content = h.flows.voice.outbound
    callback = _callback()
    state = callback.call_state if callback else None
    h.queue.set_call_state(param("cb")[:32], "ended")
    if state == "machine" and callback and not callback.voicemail:
        return _end(content["machine"])
    if twilio_param("DialCallStatus") in ("no-answer", "busy", "failed", "canceled"):
        return _end(content["no_answer"])
    return _end(content["ended"])


@bp.route("/status", methods=METHODS)
def advisor_status() -> Response:
    """Status callbacks of the advisor's leg."""
    status = twilio_param("CallStatus")
    if param("adv"):  # the advisor's state follows their leg (free, ringing, on a call...)
        h = helpline()
        h.advisor_states.follow(param("adv")[:40], status, h.clock())
    if status in ("busy", "no-answer", "failed", "canceled"):
        helpline().queue.set_call_state(param("cb")[:32], "advisor_missed")
    elif status == "in-progress":
        helpline().queue.set_call_state(param("cb")[:32], "advisor_answered")
    log.info("advisor leg for callback %s: %s", param("cb")[:32], status or "?")
    return twiml(VoiceResponse())


@bp.route("/caller-status", methods=METHODS)
def caller_status() -> Response:
    """Status callbacks of the caller's leg."""
    h = helpline()
    callback = _callback()
    status = twilio_param("CallStatus")
    if callback is not None and callback.call_state != "machine":  # dial_result reads it
        if status == "ringing" and callback.call_state != "connected":
            h.queue.set_call_state(callback.id, "ringing")
        elif status in ("completed", "busy", "no-answer", "failed", "canceled"):
            h.queue.set_call_state(callback.id, "ended")
    log.info("caller leg for callback %s: %s", param("cb")[:32], status or "?")
    return twiml(VoiceResponse())
