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
from datetime import datetime, timedelta

from flask import Blueprint, Response, request
from twilio.base.exceptions import TwilioException
from twilio.twiml.voice_response import Dial, Enqueue, Gather, VoiceResponse

from ivr.content.flows import ENGLISH, WELSH
from ivr.core import calltree, livequeue
from ivr.core.calltree import Option
from ivr.core.livequeue import FREE
from ivr.core.phone import mask
from ivr.store import Unavailable, stats
from ivr.store.live import BRIDGED, BRIDGING, LEFT, TAKEN, WAITING
from ivr.twilio.rest import call_advisor_for_caller, dequeue_member, redirect_call, twilio_error
from ivr.web.context import helpline, twilio_param
from ivr.web.signatures import only_twilio
from ivr.web.voice import (
    METHODS,
    advisor_numbers,
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


def max_wait() -> timedelta:
    return timedelta(minutes=helpline().settings.queue_max_wait_minutes)


def queue_name(lang: str | None = None) -> str:
    """The Twilio queue of this helpline (a simulation's own) for callers in `lang` (the
    call's language unless given): one per language, so Welsh callers wait apart (advisors
    take callers from it by CallSid, with the Queue Members API)."""
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
            log.exception("call %s: error in the wait, waiting on", twilio_param("CallSid"))
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
        live.join(twilio_param("CallSid")[:64], now, mask(twilio_param("From")), language())
    except Unavailable as exc:  # without the store, no place can be kept: as before
        log.warning("call %s: cannot queue (%s): the other options", twilio_param("CallSid"), exc)
        say(resp, content.advisor["unavailable"])
        resp.redirect(link("voice.menu", menu="closed"), method="POST")
        return twiml(resp)
    stats.count(h.redis, now, h.flows.hours.timezone, "q:queued", keys=live.keys)
    log.info("call %s joined the queue", twilio_param("CallSid"))
    rung = ring_advisors(twilio_param("CallSid")[:64], param("ring")) if param("ring") else 0
    say(resp, content.advisor["connecting"] if rung else content.queue["joining"])
    resp.append(enqueue())
    return twiml(resp)


def ring_advisors(call_sid: str, usernames: str) -> int:
    """Ring each free advisor `voice.advisor` chose (comma-separated), each on a leg of
    their own, for this caller, who waits in the queue meanwhile: the first to press 1
    takes them (connect), a voicemail answering one leg ends that leg alone
    (docs/take-next.md, "Ringing advisors"). How many phones ring; one that can't be rung
    is free again."""
    h = helpline()
    if h.twilio is None:
        return 0
    wanted = set(usernames.split(",")[:10])
    base = h.settings.public_base_url or request.url_root.rstrip("/")
    rung = 0
    for advisor in console_on_duty():
        phones = advisor_numbers([advisor.phone])  # never 999, 112, 101...
        if advisor.username not in wanted or not phones:
            continue
        try:
            call_advisor_for_caller(
                h.twilio, h.settings, base, phones[0], call_sid, advisor.username
            )
        except (TwilioException, OSError) as exc:
            log.error("could not ring advisor %s: %s", advisor.username, twilio_error(exc))
            h.advisor_states.set(advisor.username, FREE, h.clock())
            continue
        rung += 1
    return rung


def enqueue() -> Enqueue:
    """Into this call's Twilio queue, the wait page looping until they leave it."""
    return Enqueue(
        queue_name(),
        action=link("voice_queue.left"),
        method="POST",
        wait_url=link("voice_queue.wait"),
        wait_url_method="POST",
    )


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


def waited() -> timedelta:
    """How long Twilio says this caller has waited in the queue (QueueTime; 0 if unsaid)."""
    seconds = twilio_param("QueueTime")
    return timedelta(seconds=min(int(seconds), 86_400) if seconds.isdigit() else 0)


@bp.route("/wait", methods=METHODS)
@in_the_wait
def wait() -> Response:
    """One loop of the wait: their place, the estimate, the 999 and Samaritans lines, the
    keys, then quiet. The line closing, nobody left on duty or the maximum wait lead to the
    callback offer."""
    h = helpline()
    content = flows().voice
    now = h.clock()
    sid = twilio_param("CallSid")[:64]
    line_open = now_status().open
    live = live_queue()
    try:
        caller = live.seen(sid, now)
        if caller is None and live.reconcile(sid, now, now - waited(), language()):
            # Twilio asks for their wait page, so it holds them: our list had dropped them
            # (stale) or lost them; they get their place back, within reach of Take next.
            log.info("call %s: waiting but not in our list: back in its place", sid)
            caller = live.seen(sid, now)
        rules = live.rules(max_wait())
        on_duty = len(console_on_duty())
        handled = live.handled()
        stored_position = live.position(sid)
    except Unavailable as exc:  # the wait goes on with what Twilio tells us
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
        except Unavailable:
            log.warning("call %s: leaving (%s) not noted", sid, why)
        log.info("call %s leaves the queue: %s", sid, why)
        resp.leave()
        return twiml(resp)
    # Our own list's place: Twilio's QueuePosition stops meaning "your turn" once advisors
    # take callers by CallSid, out of Twilio's order.
    position = stored_position
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
            twilio_param("Digits"), twilio_param("SpeechResult")
        ):
            say(resp, flows().voice.invalid)
        resp.redirect(link("voice_queue.wait"), method="POST")
        return twiml(resp)
    if picked.action == "swap":
        live_queue().leaving(twilio_param("CallSid")[:64], livequeue.SWAP)
        log.info("call %s swaps to a callback", twilio_param("CallSid"))
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
    sid = twilio_param("CallSid")[:64]
    result = twilio_param("QueueResult")
    tz = h.flows.hours.timezone
    resp = VoiceResponse()
    live = live_queue()
    if result == "redirected":
        # Taken out of the queue by CallSid for the advisor who pressed 1 (the Members
        # API): Twilio asks this at once and runs the Url's TwiML (bridge), so they are not
        # gone and keep their place until they are put through.
        # https://www.twilio.com/docs/voice/twiml/enqueue#attributes-action
        log.info("call %s taken out of the queue for an advisor", sid)
        return twiml(resp)
    try:
        caller = live.caller(sid)
        live.end(sid, BRIDGED if result in ("bridged", "bridging-in-process") else LEFT, now)
    except Unavailable as exc:
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
    why = caller.why if caller and caller.why in livequeue.WHY_LEAVE else livequeue.NO_ADVISORS
    if result != "leave":  # queue-full, error, system-error: say so kindly, and offer
        why = livequeue.NO_ADVISORS
        if caller is not None:
            live.leaving(sid, why)
    say(resp, content.queue_leave[why])
    resp.redirect(link("voice_callbacks.start"), method="POST")
    return twiml(resp)


# ------------------------------------------------------------------ the advisor's side
#
# Take next takes exactly the caller the console showed, by CallSid (docs/take-next.md):
# the advisor's phone is rung on a leg of its own (rest.call_advisor_for_caller); when they
# press 1, that caller is taken out of Twilio's queue with the Queue Members API (never
# <Dial><Queue>, which takes whoever is at the front: "the caller will be connected with
# the first enqueued call", https://www.twilio.com/docs/voice/twiml/queue) into a
# conference room named for them, which the advisor joins at once
# (https://www.twilio.com/docs/voice/twiml/conference). Both in the room: bridged. The
# advisor gone before that: the caller is back in the queue, in their place.


# An advisor's leg that ended: if its caller is still "being taken", they were not.
LEG_ENDED = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


def room_name(call_sid: str) -> str:
    """The conference a caller is put through in: theirs alone (one caller, one room)."""
    return f"take-{call_sid}"


def into_the_room(dial: Dial, call_sid: str) -> None:
    """Join the caller's room: it starts when either joins and ends when either leaves
    (startConferenceOnEnter, endConferenceOnExit), no beep; joins and leaves are reported
    to `room`, which notes the bridge (the conference's statusCallbackEvent "join leave",
    https://www.twilio.com/docs/voice/twiml/conference#attributes-statusCallbackEvent)."""
    dial.conference(
        room_name(call_sid),
        start_conference_on_enter=True,
        end_conference_on_exit=True,
        beep=False,
        status_callback=link("voice_queue.room", sid=call_sid, lang=None),
        status_callback_event="join leave",
        status_callback_method="POST",
    )


def advisor_hears(resp: VoiceResponse, what: str) -> Response:
    """A last word to the advisor, then the end of their leg."""
    say(resp, helpline().flows.voice.queue_advisor[what], lang=ENGLISH)
    resp.hangup()
    return twiml(resp)


@bp.route("/advisor-status", methods=METHODS)
def advisor_status() -> Response:
    """Status callbacks of an advisor's call leg (rung for a caller, or calling back): their
    state follows (free, ringing, on a call, wrap-up)."""
    h = helpline()
    username, status = param("adv")[:40], twilio_param("CallStatus")
    if username and not simulated():
        now = h.clock()
        state = h.advisor_states.follow(username, status, now)
        log.info("advisor %s: %s (%s)", username, state, status or "?")
        sid = param("sid")[:64]  # rung to take this caller from the queue
        if sid and status in LEG_ENDED:
            give_back(sid, username, now, status)
    return twiml(VoiceResponse())


def give_back(sid: str, username: str, now: datetime, status: str) -> None:
    """The advisor's leg ended before the caller was put through (not answered, busy, or
    ended before or just after pressing 1): the caller waits on in their place, for the
    next advisor. One already taken out of Twilio's queue (alone in their room) is moved
    back into it (the Calls API)."""
    h = helpline()
    live = live_queue()
    was = live.give_back(sid, username)
    if not was:
        return
    log.info("advisor %s did not take caller %s (%s): back in the queue", username, sid, status)
    caller = live.seen(sid, now)
    if was == BRIDGING and h.twilio is not None and caller is not None:
        redirect_call(h.twilio, sid, link("voice_queue.back", lang=welsh_or_none(caller.language)))


@bp.route("/advisor", methods=METHODS)
def advisor() -> Response:
    """The advisor's phone, rung to take a caller from the queue: press 1 to take them."""
    action = link("voice_queue.connect", sid=param("sid")[:64], adv=param("adv")[:40])
    return screened(action, helpline().flows.voice.queue_advisor)


@bp.route("/connect", methods=METHODS)
def connect() -> Response:
    """Pressed 1: the caller this advisor was rung for, by CallSid, is taken out of Twilio's
    queue into their room (the Queue Members API), and the advisor joins it. Another
    advisor's caller, one who hung up, or Twilio not answering: the advisor is told, and
    the caller (if there) waits on in their place."""
    h = helpline()
    resp = VoiceResponse()
    now = h.clock()
    sid, username = param("sid")[:64], param("adv")[:40]
    live = live_queue()
    caller = live.caller(sid)
    if twilio_param("Digits")[:1] != "1":
        if live.give_back(sid, username) or (caller is not None and caller.state == WAITING):
            return advisor_hears(resp, "no_key")  # "the caller is still waiting": true
        return advisor_hears(resp, "gone" if caller is None else "taken")
    if caller is None or caller.state not in (WAITING, TAKEN, BRIDGING, BRIDGED):
        return advisor_hears(resp, "gone")
    again = caller.state == BRIDGING and caller.taken_by == username  # Twilio asked twice
    if caller.state == BRIDGED or not live.bridging(sid, username, now):
        return advisor_hears(resp, "taken")  # another advisor pressed 1 first
    if not again:
        if h.twilio is None:
            live.give_back(sid, username)
            return advisor_hears(resp, "failed")
        # The caller's side hears the bridge in their language (this leg is the advisor's).
        url = link("voice_queue.bridge", adv=username, lang=welsh_or_none(caller.language))
        moved = dequeue_member(h.twilio, queue_name(caller.language), sid, url)
        if moved is False:  # Twilio does not hold them: they hung up as they were taken
            live.end(sid, LEFT, now)
            return advisor_hears(resp, "gone")
        if moved is None:
            live.give_back(sid, username)
            return advisor_hears(resp, "failed")
    dial = Dial(action=link("voice_queue.connected"), method="POST", record="do-not-record")
    into_the_room(dial, sid)
    resp.append(dial)
    return twiml(resp)


def welsh_or_none(lang: str) -> str | None:
    """A URL's `lang` for a caller's leg built on an advisor's (None: English, left out)."""
    return WELSH if lang == WELSH else None


@bp.route("/bridge", methods=METHODS)
def bridge() -> Response:
    """The caller's side, taken out of the queue for the advisor who pressed 1 (the
    Members API's Url): they hear that they are being put through, and join their room.
    If that advisor left meanwhile (the caller was given back), back into the queue."""
    sid, username = twilio_param("CallSid")[:64], param("adv")[:40]
    try:
        caller = live_queue().caller(sid)
    except Unavailable as exc:  # the advisor is waiting in the room: put them through
        log.warning("call %s: the bridge without the store (%s)", sid, exc)
    else:
        if caller is None or caller.state != BRIDGING or caller.taken_by != username:
            return back()
    resp = VoiceResponse()
    say(resp, flows().voice.queue["connecting"])
    dial = Dial(
        action=link("voice_queue.after", adv=username), method="POST", record="do-not-record"
    )
    into_the_room(dial, sid)
    resp.append(dial)
    return twiml(resp)


@bp.route("/room", methods=METHODS)
def room() -> Response:
    """The room's status callbacks: who joined or left. The caller and their advisor both
    in it: bridged (counted as answered, once)."""
    h = helpline()
    sid, leg = param("sid")[:64], twilio_param("CallSid")[:64]
    event = twilio_param("StatusCallbackEvent")
    if event not in ("participant-join", "participant-leave") or not sid or not leg:
        return twiml(VoiceResponse())
    live = live_queue()
    inside = live.in_room(sid, leg, event == "participant-join")
    caller = live.caller(sid)
    if sid in inside and len(inside) >= 2 and caller is not None and caller.state == BRIDGING:
        now = h.clock()
        if live.end(sid, BRIDGED, now, advisor=caller.taken_by):
            waited = (now - caller.joined).total_seconds()
            tz = h.flows.hours.timezone
            stats.count(h.redis, now, tz, "q:answered", keys=live.keys)
            stats.queue_answer_recorded(h.redis, now, tz, waited, keys=live.keys)
            log.info("call %s put through to advisor %s", sid, caller.taken_by)
    return twiml(VoiceResponse())


@bp.route("/after", methods=METHODS)
def after() -> Response:
    """The caller's room ended. Talked with their advisor: the 999 line again, goodbye.
    Their advisor never came (left before the bridge): back in the queue, in their place."""
    h = helpline()
    sid, username = twilio_param("CallSid")[:64], param("adv")[:40]
    live = live_queue()
    if live.give_back(sid, username):
        if twilio_param("CallStatus") == "completed":  # they hung up themselves
            live.end(sid, LEFT, h.clock())
            return twiml(VoiceResponse())
        return back()
    resp = VoiceResponse()
    content = flows().voice
    say(resp, content.safety, *content.goodbye)
    resp.hangup()
    return twiml(resp)


@bp.route("/back", methods=METHODS)
def back() -> Response:
    """Back into the queue after an advisor who never took them: they keep the place they
    joined in (our list's), told so, and the wait goes on."""
    h = helpline()
    sid = twilio_param("CallSid")[:64]
    try:
        live_queue().seen(sid, h.clock())
    except Unavailable as exc:
        log.warning("call %s: back in the queue without the store (%s)", sid, exc)
    resp = VoiceResponse()
    say(resp, flows().voice.queue["back"])
    resp.append(enqueue())
    return twiml(resp)


@bp.route("/connected", methods=METHODS)
def connected() -> Response:
    """Back on the advisor's leg after the room ended."""
    return advisor_hears(VoiceResponse(), "ended")
