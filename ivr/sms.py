"""Twilio's Messaging webhook: a text asks for a callback; keywords do the rest.

Bodies are never stored or logged: only what keywords.py reads out of them. Replies are
short, discreet and GSM-7 (flows/sms.toml). Whatever happens, Twilio gets a 200.
"""

from __future__ import annotations

import logging
from datetime import datetime

import redis
from flask import Blueprint, Response, request
from twilio.twiml.messaging_response import MessagingResponse

from ivr import helpline, stats
from ivr.callbacks import Preferred, callable_number, due_at
from ivr.flows import MAX_REPLY_SEGMENTS
from ivr.gsm7 import segments
from ivr.keywords import OPT_IN, OPT_OUT, interpret, keyword
from ivr.metrics import FALLBACKS
from ivr.override import read_override
from ivr.phone import mask
from ivr.phrases import callback_when, usual_hours
from ivr.queue import number_key
from ivr.security import only_twilio
from ivr.twilio_api import Purge, enqueue_purge, media_sid

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__, url_prefix="/sms")
only_twilio(bp)
MAX_BODY = 1600  # Twilio's own limit; anything longer is not from Twilio
MAX_MEDIA = 10


def reply(*texts: str) -> Response:
    resp = MessagingResponse()
    for text in texts:
        resp.message(text)
    return Response(str(resp), mimetype="text/xml")


def text(name: str, **fields: object) -> str:
    flows = helpline().flows
    fields.setdefault("usual_hours", usual_hours(flows.hours_config.weekly, flows.phrases))
    return flows.sms.replies[name].format(**fields)


def when(due: datetime, now: datetime) -> str:
    flows = helpline().flows
    return callback_when(due, now, flows.hours, flows.phrases, flows.sms.replies["soon"])


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
    sender = (request.values.get("From") or "").strip()
    sid = (request.values.get("MessageSid") or request.values.get("SmsSid") or "")[:64]
    if not is_phone_sender(sender):
        log.info("sms %s from a short code or named sender: no reply", sid)
        return reply()
    try:
        return handle(sender, sid)
    except redis.RedisError:
        log.exception("sms %s from %s: the store is unreachable", sid, mask(sender))
        FALLBACKS.labels("sms").inc()
        return reply(text("unavailable"))
    except Exception:
        log.exception("sms %s from %s: unexpected error", sid, mask(sender))
        FALLBACKS.labels("sms").inc()
        return reply(text("unavailable"))


def handle(sender: str, sid: str) -> Response:
    h = helpline()
    now = h.clock()
    body = (request.values.get("Body") or "")[:MAX_BODY]
    media = [media_sid(request.values.get(f"MediaUrl{i}", ""))
             for i in range(_count(request.values.get("NumMedia")))]
    purge_from_twilio(sid, media)
    number = callable_number(sender)
    if number is None and keyword(body) in OPT_OUT | OPT_IN:
        return reply()  # Twilio answers opt-outs itself; nothing of theirs is stored
    if number is None:
        log.info("sms %s from %s: not a UK number we can call", sid, mask(sender))
        # Replies abroad cost the most (and are what SMS pumping fraud is after): the same
        # quiet period applies, keyed on the sender as given.
        return reply() if too_many(sender) else reply(text("not_uk"))

    intent = interpret(body, has_callback=h.queue.has_open(number))
    log.info("sms %s from %s: %s%s", sid, mask(sender), intent.kind,
             f" (+{len(media)} media, not kept)" if media else "")
    if intent.kind == "opt_out":
        erased = h.queue.erase_number(number)
        log.info("sms %s: opted out, %d callback records erased", sid, erased)
        return reply()  # Twilio answers opt-outs itself
    if intent.kind == "opt_in":
        return reply()
    quiet = too_many(number)
    if intent.kind == "help":
        answer = [text("help")]
    elif intent.kind == "steps":
        answer = list(h.flows.sms.steps)
    elif intent.kind == "time_unclear":
        answer = [text("time_unclear")]
    else:
        answer = [ask_for_callback(number, sid, intent.kind, intent.preferred, now)]
    if media:
        answer.insert(0, text("media"))
    if quiet:
        log.info("sms %s from %s: too many messages, not replying for a while", sid,
                 mask(sender))
        return reply()
    if intent.kind == "steps":
        return reply(*answer)
    joined = " ".join(answer)
    # The media notice joins the reply when both fit in one text of the usual length;
    # otherwise it goes as a text of its own (same cost, and each text stays short).
    return reply(joined) if segments(joined) <= MAX_REPLY_SEGMENTS else reply(*answer)


def ask_for_callback(number: str, sid: str, kind: str, preferred: Preferred | None,
                     now: datetime) -> str:
    """Store or update the number's one open callback; the reply that says when."""
    h = helpline()
    hours = h.flows.hours
    due = due_at(now, hours, preferred, read_override(h.redis))
    preferred_text = f"{preferred.at:%H:%M}" if preferred else None
    result = h.queue.request(number, "sms", now, due, preferred_text, message_sid=sid)
    if result.outcome == "new":
        stats.count(h.redis, now, hours.timezone, "cb:asked")
        log.info("sms %s: callback %s stored, due %s", sid, result.callback_id, due.isoformat())
    if kind in ("time", "anytime") and result.outcome == "existing":
        h.queue.reschedule(result.callback_id, due, preferred_text, now)
    if kind == "time":
        moved = due.astimezone(hours.timezone).time() != preferred.at and due > now
        return text("preferred_moved" if moved else "preferred", when=when(due, now))
    if kind == "anytime" and result.outcome == "existing":
        return text("anytime", when=when(due, now))
    due = result.due_at or due
    name = "existing" if result.outcome == "existing" else "new"
    return f"{text(name, when=when(due, now))} {text('options')}"


def too_many(number: str) -> bool:
    """More than a few texts within minutes: stop replying for a while (nothing is lost)."""
    s = helpline().settings
    r = helpline().redis
    key = number_key(number)
    pipe = r.pipeline(transaction=False)  # one round trip; no need for MULTI
    pipe.set(f"hl:sms:rate:{key}", 0, ex=s.sms_rate_window_seconds, nx=True)
    pipe.incr(f"hl:sms:rate:{key}")
    pipe.exists(f"hl:sms:quiet:{key}")
    _, count, quiet = pipe.execute()
    if count > s.sms_rate_limit and not quiet:
        r.set(f"hl:sms:quiet:{key}", 1, ex=s.sms_quiet_seconds)
        return True
    return bool(quiet)


def purge_from_twilio(sid: str, media: list[str]) -> None:
    """Queue the message (and its media) for deletion from Twilio, done by the scheduler."""
    s = helpline().settings
    if not (s.twilio_account_sid and s.twilio_auth_token) or not sid:
        if media:
            log.warning("sms %s: %d media left in Twilio (no TWILIO_ACCOUNT_SID to delete them)",
                        sid, len(media))
        return
    if media or s.delete_inbound_messages:
        enqueue_purge(helpline().redis, Purge(sid, tuple(media), s.delete_inbound_messages))
