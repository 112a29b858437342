"""Twilio's Messaging webhook: a text asks for a callback; keywords do the rest.

This parses Twilio's request, hands the text to the one action for texts
(actions/texts.py: what it means, what is stored, what the person is told) and renders
the answer as TwiML. Bodies are never stored or logged. Replies are short, discreet and
GSM-7 (flows/sms.toml). Whatever happens, Twilio gets a 200.
"""

from __future__ import annotations

import logging
import threading
import time
from xml.sax.saxutils import escape

from flask import Blueprint, Flask, Response, current_app
from twilio.twiml.messaging_response import MessagingResponse

from ivr.actions import texts
from ivr.actions.texts import Text, TwilioSaid
from ivr.core.phone import mask
from ivr.ops.metrics import FALLBACKS
from ivr.store import Unavailable
from ivr.store.spool import Spooled
from ivr.twilio.rest import media_sid
from ivr.web.context import helpline, serving, twilio_param
from ivr.web.metrics import note
from ivr.web.signatures import only_twilio

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__, url_prefix="/sms")
only_twilio(bp)
MAX_BODY = 1600  # Twilio's own limit; anything longer is not from Twilio
MAX_MEDIA = 10
REPLAY_SECONDS = 2


def reply(*messages: str) -> Response:
    """The TwiML for `messages`, as twilio's MessagingResponse writes it (the same bytes:
    tests/test_actions_texts.py), without building its element tree for every text."""
    body = "".join(f"<Message>{escape(m)}</Message>" if m else "<Message />" for m in messages)
    twiml = f"{_DECLARATION}<Response>{body}</Response>" if body else _SILENT
    return Response(twiml, mimetype="text/xml")


_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
_SILENT = str(MessagingResponse())  # no reply: Twilio answers opt-outs itself


def is_phone_sender(sender: str) -> bool:
    """A number that can receive a reply: not a short code or an alphanumeric sender ID."""
    digits = sender[1:] if sender.startswith("+") else ""
    return digits.isdigit() and len(digits) >= 8


def _count(raw: str | None) -> int:
    try:
        return max(0, min(int(raw or 0), MAX_MEDIA))
    except ValueError:
        return 0


@bp.route("", methods=["GET", "POST"])
def incoming() -> Response:
    sender = twilio_param("From").strip()
    sid = (twilio_param("MessageSid") or twilio_param("SmsSid"))[:64]
    if not is_phone_sender(sender):
        log.info("sms %s from a short code or named sender: no reply", sid)
        return reply()
    h = helpline()
    try:
        answer = texts.receive(h, parse(sender, sid))
    except Exception:
        log.exception("sms %s from %s: unexpected error", sid, mask(sender))
        FALLBACKS.labels("sms").inc()
        return reply(texts.Words(h.flows)("unavailable"))
    for detail in answer.notes:
        note(detail)
    if answer.kept or (not h.settings.simulated and h.spool.waiting()):
        start_replaying(current_app._get_current_object())  # type: ignore[attr-defined]  # the app behind the proxy
    return reply(*answer.messages)


def parse(sender: str, sid: str) -> Text:
    """The text as Twilio sent it: its body (cut to MAX_BODY), its media's SIDs, and what
    Twilio answered itself."""
    media = tuple(
        media_sid(twilio_param(f"MediaUrl{i}")) for i in range(_count(twilio_param("NumMedia")))
    )
    return Text(sender, sid, twilio_param("Body")[:MAX_BODY], media, answered_by_twilio())


def answered_by_twilio() -> TwilioSaid:
    """ "STOP", "START" or "HELP" when Twilio has answered the text itself (a Messaging
    Service with Advanced Opt-Out says so in OptOutType: help.twilio.com, "How to Track
    Opt-Out, Opt-In and Help Messages Using the OptOutType Parameter"), else "". Then we
    never reply as well: a second HELP is noise, and after STOP any text we send that number
    fails (error 21610). Its keywords may be the helpline's own, so its word stands."""
    kind = twilio_param("OptOutType").strip().upper()
    return _TWILIO_SAID.get(kind, "")


_TWILIO_SAID: dict[str, TwilioSaid] = {"STOP": "STOP", "START": "START", "HELP": "HELP"}


# ------------------------------------------------------------------ texts kept on disk


def replay_spool() -> int:
    """Put texts kept while the store was down into the queue, as if they had just come
    (a store error stops it; they wait for the next try), each for the helpline it was
    sent to."""
    h = helpline()
    return h.spool.replay(apply_spooled) if h.spool.waiting() else 0


def apply_spooled(entry: Spooled) -> None:
    with serving(entry.helpline) as h:
        answer = texts.apply_kept(h, entry)
    for detail in answer.notes:
        note(detail)


_replaying: set[int] = set()


def start_replaying(app: Flask) -> None:
    """A background loop in this process that replays the spool every few seconds until it
    is empty (so texts kept while the store was down don't wait for the next text)."""
    if id(app) in _replaying:
        return
    _replaying.add(id(app))

    def loop() -> None:
        try:
            while True:
                time.sleep(REPLAY_SECONDS)
                with app.app_context():
                    try:
                        replay_spool()
                    except Unavailable:
                        continue
                    except Exception:  # the disk, say: log it, and try again while any wait
                        log.exception("replaying the texts kept on disk failed")
                    if not helpline().spool.waiting():  # its file gone too: nothing to do
                        return
        finally:
            _replaying.discard(id(app))

    threading.Thread(target=loop, name="spool-replay", daemon=True).start()
