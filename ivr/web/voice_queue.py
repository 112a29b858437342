"""The in-hours queue on the phone: a caller nobody free could take waits with their place,
an honest estimate and the 999 line, and may swap to a callback that keeps their place.

Twilio runs the wait: <Enqueue waitUrl=wait action=left>. The wait page loops (Twilio asks
for it again when its TwiML ends), everything said in a <Gather> with the hold audio, so a
key works at any moment. Keys only: in a waitUrl document "the valid values for the <Gather>
input attribute are dtmf and speech" (https://www.twilio.com/docs/voice/twiml/enqueue), not
the two together, and a document Twilio refuses ends the wait (QueueResult "error"). The
999 line is said in every loop instead. Leaving is only ever the caller's choice, the
maximum wait or closing time, and each leads to the callback offer, never a silent drop.
What only a live number can confirm is listed in the README. Nothing is recorded.

A wait-page answer may only hold what Twilio allows there (Say, Play, Pause, Gather,
Redirect, Leave, Hangup), so on any error the wait goes on (`keep_waiting`), never the
fallback's hang-up.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import timedelta

import redis
from flask import Blueprint, Response
from twilio.twiml.voice_response import Dial, Enqueue, Gather, VoiceResponse

from ivr.content.flows import ENGLISH, WELSH
from ivr.core import calltree, livequeue
from ivr.core.calltree import Option
from ivr.core.phone import mask
from ivr.store import stats
from ivr.store.live import BRIDGED, LEFT
from ivr.web.app import helpline
from ivr.web.signatures import only_twilio
from ivr.web.voice import (
    METHODS,
    closed_now,
    console_on_duty,
    flows,
    gather,
    heard_here,
    language,
    link,
    live_queue,
    now_status,
    param,
    say,
    screened,
    simulated,
    twiml,
)

log = logging.getLogger(__name__)
bp = Blueprint("voice_queue", __name__, url_prefix="/voice/queue")
only_twilio(bp)
CONNECT_SECONDS = 10  # the advisor's <Dial><Queue> waits this long for a caller at the front


def max_wait() -> timedelta:
    return timedelta(minutes=helpline().settings.queue_max_wait_minutes)


def queue_name(lang: str | None = None) -> str:
    """The Twilio queue of this helpline (a simulation's own) for callers in `lang` (the
    call's language unless given): one per language, so an advisor's <Dial><Queue>, which
    takes whoever is at the front, takes a Welsh caller from the Welsh queue."""
    h = helpline()
    pretend = simulated() is not None or h.settings.simulated
    return livequeue.twilio_queue("simulated" if pretend else h.keys.helpline, lang or language())


def wait_options() -> tuple[Option, ...]:
    content = flows().voice
    return (*content.queue_options, content.navigation["repeat"], content.navigation["menu"])


def keep_waiting() -> Response:
    """The wait with no store: the safety line, quiet, then the wait page again."""
    resp = VoiceResponse()
    g = gather(link("voice_queue.key"), wait_options(), timeout=1, speech=False)
    say(g, flows().voice.queue["waiting"], flows().voice.safety, flows().voice.queue["samaritans"])
    say(g, *(o.prompt for o in flows().voice.queue_options))
    hold(g)
    resp.append(g)
    resp.redirect(link("voice_queue.wait"), method="POST")
    return twiml(resp)


def in_the_wait(view: Callable[[], Response]) -> Callable[[], Response]:
    """A route heard while waiting: any error keeps the caller waiting."""

    @functools.wraps(view)
    def wrapper() -> Response:
        try:
            return view()
        except Exception:  # noqa: BLE001 - a waiting caller must never be dropped
            log.exception("call %s: error in the wait, waiting on", param("CallSid"))
            return keep_waiting()

    return wrapper


def hold(g: Gather) -> None:
    """Quiet hold audio between announcements (QUEUE_HOLD_AUDIO), or silence."""
    s = helpline().settings
    if s.queue_hold_audio:
        g.play(s.queue_hold_audio)
    else:
        g.pause(length=s.queue_hold_seconds)


@bp.route("/join", methods=METHODS)
def join() -> Response:
    """Into the queue, with a place kept from now."""
    h = helpline()
    content = flows().voice
    closed = closed_now()
    if closed is not None:
        return closed
    resp = VoiceResponse()
    now = h.clock()
    live = live_queue()
    try:
        live.join(param("CallSid")[:64], now, mask(param("From")), language())
    except redis.RedisError as exc:  # without the store, no place can be kept: as before
        log.warning("call %s: cannot queue (%s): the other options", param("CallSid"), exc)
        say(resp, content.advisor["unavailable"])
        resp.redirect(link("voice.menu", menu="closed"), method="POST")
        return twiml(resp)
    stats.count(h.redis, now, h.flows.hours.timezone, "q:queued", keys=live.keys)
    log.info("call %s joined the queue", param("CallSid"))
    say(resp, content.queue["joining"])
    resp.append(
        Enqueue(
            queue_name(),
            action=link("voice_queue.left"),
            method="POST",
            wait_url=link("voice_queue.wait"),
            wait_url_method="POST",
        )
    )
    return twiml(resp)


def where_they_are(position: int | None, estimate: int | None) -> list[str]:
    words = flows().voice.queue
    if position is None:
        return [words["waiting"]]
    place = words["next"] if position == 1 else words["position"].format(position=position)
    if estimate is None:
        return [place, words["no_estimate"]]
    if estimate == 1:
        return [place, words["estimate_one"]]
    return [place, words["estimate"].format(minutes=estimate)]


@bp.route("/wait", methods=METHODS)
@in_the_wait
def wait() -> Response:
    """One loop of the wait: their place, the estimate, the 999 and Samaritans lines, the
    keys, then quiet. The line closing, nobody left on duty or the maximum wait lead to the
    callback offer."""
    h = helpline()
    content = flows().voice
    now = h.clock()
    sid = param("CallSid")[:64]
    line_open = now_status().open
    live = live_queue()
    try:
        caller = live.seen(sid, now)
        rules = live.rules(max_wait())
        on_duty = len(console_on_duty())
        handled = live.handled()
        stored_position = live.position(sid)
    except redis.RedisError as exc:  # the wait goes on with what Twilio tells us
        log.warning("call %s: the wait without the store (%s)", sid, exc)
        caller, rules, on_duty, handled, stored_position = None, None, 1, [], None
    why = livequeue.why_leave(
        caller.joined if caller else None,
        now,
        rules.max_wait if rules else max_wait(),
        line_open,
        on_duty,
    )
    resp = VoiceResponse()
    if why is not None:
        try:
            live.leaving(sid, why)
        except redis.RedisError:
            log.warning("call %s: leaving (%s) not noted", sid, why)
        log.info("call %s leaves the queue: %s", sid, why)
        resp.leave()
        return twiml(resp)
    position = livequeue.parse_position(param("QueuePosition")) or stored_position
    estimate = livequeue.estimate_wait(position or 0, handled, on_duty)
    g = gather(link("voice_queue.key"), wait_options(), timeout=1, speech=False)
    if param("back") == "1":
        say(g, content.queue["back"])
    say(g, *where_they_are(position, estimate), content.safety, content.queue["samaritans"])
    say(g, *(o.prompt for o in content.queue_options))
    hold(g)
    resp.append(g)
    resp.redirect(link("voice_queue.wait"), method="POST")
    return twiml(resp)


@bp.route("/key", methods=METHODS)
@in_the_wait
def key() -> Response:
    """A key or words during the wait: the swap, a page heard in the queue, or the wait
    again. Words of danger, despair or help get their answer at once, then the wait goes on."""
    heard, resp = heard_here(wait_options())
    picked = heard.option
    if picked is None:
        if not heard.answered and not calltree.heard_nothing(
            param("Digits"), param("SpeechResult")
        ):
            say(resp, flows().voice.invalid)
        resp.redirect(link("voice_queue.wait"), method="POST")
        return twiml(resp)
    if picked.action == "swap":
        live_queue().leaving(param("CallSid")[:64], livequeue.SWAP)
        log.info("call %s swaps to a callback", param("CallSid"))
        resp.leave()
    elif picked.action == "steps":
        resp.redirect(link("voice.page", name="step1", part=1, intro=1, q=1), method="POST")
    elif picked.action in calltree.PAGES:
        resp.redirect(link("voice.page", name=picked.action, part=1, q=1), method="POST")
    else:  # repeat or 0: inside the queue, 0 is the wait, never the main menu
        resp.redirect(link("voice_queue.wait"), method="POST")
    return twiml(resp)


@bp.route("/left", methods=METHODS)
def left() -> Response:
    """The Enqueue's action: the caller left the queue. By their choice, the max wait or
    closing: the callback questions, their place kept (voice_callbacks.save reads when
    they joined). Hung up: no callback, counted as abandoned. Talked: goodbye."""
    h = helpline()
    content = flows().voice
    now = h.clock()
    sid = param("CallSid")[:64]
    result = param("QueueResult")
    tz = h.flows.hours.timezone
    resp = VoiceResponse()
    live = live_queue()
    try:
        caller = live.caller(sid)
        live.end(sid, BRIDGED if result in ("bridged", "bridging-in-process") else LEFT, now)
    except redis.RedisError as exc:
        log.warning("call %s: the queue could not be updated (%s)", sid, exc)
        caller = None
    log.info("call %s left the queue: %s", sid, result or "?")
    if result == "hangup":
        stats.count(h.redis, now, tz, "q:abandoned", keys=live.keys)
        return twiml(resp)  # nobody is there: no callback is made for them
    if result in ("bridged", "bridging-in-process"):
        say(resp, content.safety, *content.goodbye)
        resp.hangup()
        return twiml(resp)
    if result == "redirected":
        return twiml(resp)
    why = caller.why if caller and caller.why in livequeue.WHY_LEAVE else livequeue.NO_ADVISORS
    if result != "leave":  # queue-full, error, system-error: say so kindly, and offer
        why = livequeue.NO_ADVISORS
        if caller is not None:
            live.leaving(sid, why)
    say(resp, content.queue_leave[why])
    resp.redirect(link("voice_callbacks.start"), method="POST")
    return twiml(resp)


# ------------------------------------------------------------------ the advisor's side


# An advisor's leg that ended: if its caller is still "being taken", they were not.
LEG_ENDED = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


@bp.route("/advisor-status", methods=METHODS)
def advisor_status() -> Response:
    """Status callbacks of an advisor's call leg (rung for a caller, or calling back): their
    state follows (free, ringing, on a call, wrap-up)."""
    h = helpline()
    username, status = param("adv")[:40], param("CallStatus")
    if username and not simulated():
        state = h.advisor_states.follow(username, status, h.clock())
        log.info("advisor %s: %s (%s)", username, state, status or "?")
        caller = param("sid")[:64]  # rung to take this caller from the queue
        if caller and status in LEG_ENDED and live_queue().give_back(caller, username):
            # Not answered, busy, or ended before pressing 1: the caller is not lost in
            # "being taken"; they wait on in their place, for the next advisor.
            log.info(
                "advisor %s did not take caller %s (%s): back in the queue",
                username,
                caller,
                status,
            )
    return twiml(VoiceResponse())


@bp.route("/advisor", methods=METHODS)
def advisor() -> Response:
    """The advisor's phone, rung to take a caller from the queue: press 1 to take them."""
    action = link("voice_queue.connect", sid=param("sid")[:64], adv=param("adv")[:40])
    return screened(action, helpline().flows.voice.queue_advisor)


@bp.route("/connect", methods=METHODS)
def connect() -> Response:
    """Pressed 1: <Dial><Queue> takes the caller at the front of the queue (whom the
    console took: the one list's head among live callers). If they hung up meanwhile, the
    advisor is told; the caller actually bridged is noted by `bridge`."""
    h = helpline()
    content = h.flows.voice.queue_advisor
    resp = VoiceResponse()
    sid, username = param("sid")[:64], param("adv")[:40]
    live = live_queue()
    if param("Digits")[:1] != "1":
        live.give_back(sid, username)
        say(resp, content["no_key"], lang=ENGLISH)
        resp.hangup()
        return twiml(resp)
    caller = live.caller(sid)
    if caller is None or caller.state not in ("waiting", "taken"):
        say(resp, content["gone"], lang=ENGLISH)
        resp.hangup()
        return twiml(resp)
    dial = Dial(
        action=link("voice_queue.connected"),
        method="POST",
        timeout=CONNECT_SECONDS,
        record="do-not-record",
    )
    # The caller's side hears the bridge in their language (this leg is the advisor's).
    bridge_url = link("voice_queue.bridge", adv=username, lang=welsh_or_none(caller.language))
    dial.queue(queue_name(caller.language), url=bridge_url, method="POST")
    resp.append(dial)
    return twiml(resp)


def welsh_or_none(lang: str) -> str | None:
    """A URL's `lang` for a caller's leg built on an advisor's (None: English, left out)."""
    return WELSH if lang == WELSH else None


@bp.route("/bridge", methods=METHODS)
def bridge() -> Response:
    """On the caller's side as they are taken from the queue (Queue's url): which caller
    it really was (CallSid), and whom they reach; they hear that they are being put
    through."""
    h = helpline()
    now = h.clock()
    sid = param("CallSid")[:64]
    resp = VoiceResponse()
    live = live_queue()
    try:
        caller = live.caller(sid)
        if live.end(sid, BRIDGED, now, advisor=param("adv")[:40]) and caller:
            waited = (now - caller.joined).total_seconds()
            tz = h.flows.hours.timezone
            stats.count(h.redis, now, tz, "q:answered", keys=live.keys)
            stats.queue_answer_recorded(h.redis, now, tz, waited, keys=live.keys)
    except redis.RedisError as exc:
        log.warning("call %s: the bridge could not be noted (%s)", sid, exc)
    say(resp, flows().voice.queue["connecting"])
    return twiml(resp)


@bp.route("/connected", methods=METHODS)
def connected() -> Response:
    """Back on the advisor's leg after the caller's leg ended (or nobody was there)."""
    content = helpline().flows.voice.queue_advisor
    resp = VoiceResponse()
    ended = param("DialCallStatus") == "completed"
    say(resp, content["ended"] if ended else content["gone"], lang=ENGLISH)
    resp.hangup()
    return twiml(resp)
