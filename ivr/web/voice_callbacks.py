"""Asking for a callback on a call: confirm or key in a number, voicemail or not, stored in the
same queue as texts, under the same rules. If the store is down, the caller is told honestly
and offered the text route; the call never errors."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import phonenumbers
from flask import Blueprint, Response
from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.core import calltree
from ivr.core.calltree import Option
from ivr.core.livequeue import WHY_LEAVE
from ivr.core.phone import keyed_emergency, mask
from ivr.core.phrases import promise_when
from ivr.core.promise import placement, promise
from ivr.core.safetime import ANYTIME
from ivr.store import Unavailable, stats
from ivr.store.live import LEFT
from ivr.store.queue import Asked
from ivr.web.context import helpline, twilio_param
from ivr.web.signatures import only_twilio
from ivr.web.voice import (
    METHODS,
    SPEECH_MODEL,
    SPEECH_TIMEOUT_SECONDS,
    crisis_hints,
    flows,
    gather,
    give_up,
    heard_here,
    link,
    live_queue,
    not_chosen,
    param,
    say,
    twiml,
)

log = logging.getLogger(__name__)
bp = Blueprint("voice_callbacks", __name__, url_prefix="/voice/callback")
only_twilio(bp)
PENDING_SECONDS = 600  # a number keyed in is kept only while the caller is deciding
# What a call has asked so far is kept until the call ends (Twilio's longest call is 4 hours,
# https://www.twilio.com/docs/voice/api/call-resource#create-a-call-resource: TimeLimit).
ASKED_SECONDS = 4 * 3600
# A call's final CallStatus values (https://www.twilio.com/docs/voice/api/call-resource#call-status-values).
ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
MAX_NUMBER_DIGITS = 13


def store_safe(view: Callable[[], Response]) -> Callable[[], Response]:
    """A store failure becomes an honest answer and the main menu, never the error line."""

    @functools.wraps(view)
    def wrapper() -> Response:
        try:
            return view()
        except Unavailable:
            log.exception(
                "call %s: callback request failed, store unreachable", twilio_param("CallSid")
            )
            resp = VoiceResponse()
            say(resp, flows().voice.callback["unavailable"])
            resp.redirect(link("voice.menu"), method="POST")
            return twiml(resp)

    return wrapper


def spell(digits: str) -> str:
    """ "07400" -> "0 7 4 0 0": read out digit by digit."""
    return " ".join(d for d in digits if d.isdigit())


def national_digits(number: str) -> str:
    """ "+447400123456" -> "07400123456": a stored number as a caller would key it."""
    return "0" + phonenumbers.national_significant_number(phonenumbers.parse(number, None))


def call_sid() -> str:
    """This call's SID, under which the number being decided on is kept (sealed)."""
    return twilio_param("CallSid")[:64] or "unknown"


def question(text: str, own: tuple[Option, ...], action: str, retry: str) -> Response:
    """Ask `text` (which names the keys of the `own` options) and listen for a key or for
    speech; 0 (main menu) and 9 (the question again) work too. Silence goes to `retry`."""
    content = flows().voice
    resp = VoiceResponse()
    g = gather(action, calltree.menu_options(own, content.navigation), timeout=8)
    say(g, text)
    resp.append(g)
    say(resp, content.no_input)
    resp.redirect(retry, method="POST")
    return twiml(resp)


def answer(
    own: tuple[Option, ...], again: str, **params: object
) -> tuple[Option, VoiceResponse] | Response:
    """The caller's answer to a `question` asked again at the endpoint `again` (with
    `params`): one of `own`, with the reply to go on with (it starts with the 999 line if
    they named danger); or the whole reply when there is no answer to act on (danger alone,
    9, 0, nothing, wrong). A spoken answer counts only when it says that option and nothing
    that could change it (calltree.only_chose): a safe time or a yes to voicemail is never
    guessed from a sentence ("not in the afternoon", "no, he has my phone after 1")."""
    heard, resp = heard_here(calltree.menu_options(own, flows().voice.navigation))
    picked = heard.option
    speech = twilio_param("SpeechResult")
    if (
        picked is not None
        and picked in own
        and not twilio_param("Digits").strip()
        and not calltree.only_chose(picked, speech, helpline().flows.crisis)
    ):
        picked = None
        heard = calltree.Heard(None, heard.said)
    if picked is None:
        return not_chosen(heard, resp, lambda t: link(again, tries=t, **params), tries())
    if picked.action == "menu":  # they leave the questions: nothing is asked of us
        note_asked(confirmed=False)
        resp.redirect(link("voice.menu"), method="POST")
        return twiml(resp)
    if picked.action == "repeat":
        resp.redirect(link(again, tries=tries(), **params), method="POST")
        return twiml(resp)
    return picked, resp


def note_asked(confirmed: bool = True, voicemail: bool | None = None) -> None:
    """Keep what this call has asked of a callback so far, for call_ended: the number once
    confirmed (voicemail no until they say yes), then their voicemail answer; forget it when
    they say the number is wrong or leave the questions. Best effort: with the store down the
    questions go on (only this safety net is lost, and save says so honestly)."""
    queue = helpline().queue
    try:
        if not confirmed:
            queue.forget_asked(call_sid())
        elif voicemail is None:
            number = queue.keyed(call_sid())
            if number:
                queue.keep_asked(call_sid(), Asked(number, False, flows().language), ASKED_SECONDS)
        elif (asked := queue.asked(call_sid())) is not None:
            queue.keep_asked(call_sid(), replace(asked, voicemail=voicemail), ASKED_SECONDS)
    except Unavailable:
        log.warning("call %s: could not note the callback asked so far", twilio_param("CallSid"))


def yes_no() -> tuple[Option, ...]:
    return flows().voice.answers


def tries() -> int:
    return calltree.parse_tries(param("tries"))


@bp.route("", methods=METHODS)
@store_safe
def start() -> Response:
    """Offer the caller's own number if we may call it, else ask for one."""
    content = flows().voice.callback
    number = helpline().callable(twilio_param("From"))
    if number is None:
        resp = VoiceResponse()
        resp.redirect(link("voice_callbacks.number"), method="POST")
        return twiml(resp)
    if calltree.should_give_up(tries()):
        return give_up(VoiceResponse())
    helpline().queue.keep_keyed(call_sid(), number, PENDING_SECONDS)
    return question(
        content["confirm_number"].format(last3=spell(number[-3:])),
        yes_no(),
        link("voice_callbacks.confirm", tries=tries()),
        link("voice_callbacks.start", tries=tries() + 1),
    )


@bp.route("/confirm", methods=METHODS)
def confirm() -> Response:
    return _yes_no("voice_callbacks.voicemail", "voice_callbacks.number", "voice_callbacks.start")


@bp.route("/number", methods=METHODS)
def number() -> Response:
    """Key in a number (withheld callers, or a different number), ended by #. Speech is
    heard too, for the words of danger, despair and help: Twilio takes whichever input
    comes first, so a caller who starts keying is not cut short, and finishOnKey applies
    to keys (https://www.twilio.com/docs/voice/twiml/gather#input)."""
    if calltree.should_give_up(tries()):
        return give_up(VoiceResponse())
    resp = VoiceResponse()
    g = Gather(
        input="dtmf speech",
        finish_on_key="#",
        timeout=10,
        speech_timeout=SPEECH_TIMEOUT_SECONDS,
        speech_model=SPEECH_MODEL,
        language=helpline().settings.language,
        hints=", ".join(crisis_hints()),
        num_digits=MAX_NUMBER_DIGITS,
        action=link("voice_callbacks.check", tries=tries()),
        method="POST",
    )
    say(g, flows().voice.callback["ask_number"])
    resp.append(g)
    say(resp, flows().voice.no_input)
    resp.redirect(link("voice_callbacks.number", tries=tries() + 1), method="POST")
    return twiml(resp)


@bp.route("/check", methods=METHODS)
@store_safe
def check() -> Response:
    """Validate the keyed number (UK mobile or geographic only) and read it back."""
    voice = flows().voice
    content = voice.callback
    digits = "".join(c for c in twilio_param("Digits") if c.isdigit())[:MAX_NUMBER_DIGITS]
    if not digits and twilio_param("SpeechResult").strip():
        return spoken_at_number()
    if keyed_emergency(digits):
        # Someone keying 999, 112 or 101 needs the 999 line, not "UK numbers only"; then
        # the same question (no try lost).
        log.info("call %s keyed an emergency number: the 999 line", twilio_param("CallSid"))
        resp = VoiceResponse()
        say(resp, *voice.danger)
        resp.redirect(link("voice_callbacks.number", tries=tries()), method="POST")
        return twiml(resp)
    number = helpline().callable(digits) if digits else None
    if number is None:
        resp = VoiceResponse()
        say(resp, content["invalid_number"])
        resp.redirect(link("voice_callbacks.number", tries=tries() + 1), method="POST")
        return twiml(resp)
    helpline().queue.keep_keyed(call_sid(), number, PENDING_SECONDS)
    log.info("call %s: callback number keyed in (%s)", twilio_param("CallSid"), mask(number))
    return read_back(digits)


def spoken_at_number() -> Response:
    """Words at the number question: danger, despair or help get their answer and the same
    question again (no try lost); anything else, the request to key the number in."""
    heard, resp = heard_here(())
    if heard.answered:
        resp.redirect(link("voice_callbacks.number", tries=tries()), method="POST")
        return twiml(resp)
    say(resp, flows().voice.callback["key_it_in"])
    resp.redirect(link("voice_callbacks.number", tries=tries() + 1), method="POST")
    return twiml(resp)


def read_back(digits: str) -> Response:
    return question(
        flows().voice.callback["read_back"].format(digits=spell(digits)),
        yes_no(),
        link("voice_callbacks.number_confirm", tries=tries()),
        link("voice_callbacks.number", tries=tries() + 1),
    )


@bp.route("/number/again", methods=METHODS)
@store_safe
def read_back_again() -> Response:
    """The number keyed in, read back again (9 at that question), as we would dial it."""
    if calltree.should_give_up(tries()):
        return give_up(VoiceResponse())
    number = helpline().queue.keyed(call_sid())
    if not number:
        resp = VoiceResponse()
        resp.redirect(link("voice_callbacks.number", tries=tries()), method="POST")
        return twiml(resp)
    return read_back(national_digits(number))


@bp.route("/number/confirm", methods=METHODS)
def number_confirm() -> Response:
    return _yes_no(
        "voice_callbacks.voicemail", "voice_callbacks.number", "voice_callbacks.read_back_again"
    )


@bp.route("/voicemail", methods=METHODS)
def voicemail() -> Response:
    if calltree.should_give_up(tries()):
        return give_up(VoiceResponse())
    return question(
        flows().voice.callback["voicemail"],
        yes_no(),
        link("voice_callbacks.voicemail_answer", tries=tries()),
        link("voice_callbacks.voicemail", tries=tries() + 1),
    )


@bp.route("/voicemail/answer", methods=METHODS)
def voicemail_answer() -> Response:
    """Yes or no to a voicemail; then when it is safe to call."""
    got = answer(yes_no(), "voice_callbacks.voicemail")
    if isinstance(got, Response):
        return got
    picked, resp = got
    note_asked(voicemail=picked.action == "yes")  # counts should the call end before the last
    resp.redirect(
        link("voice_callbacks.safe_time", voicemail=int(picked.action == "yes")), method="POST"
    )
    return twiml(resp)


def voicemail_param() -> int:
    return 1 if param("voicemail") == "1" else 0


def safe_time_options() -> tuple[Option, ...]:
    return tuple(option for option, _ in flows().voice.safe_times)


@bp.route("/safe-time", methods=METHODS)
def safe_time() -> Response:
    """Any time, mornings or afternoons (flows/voice.toml): a short keypad choice."""
    if calltree.should_give_up(tries()):
        return give_up(VoiceResponse())
    vm = voicemail_param()
    return question(
        flows().voice.callback["safe_time"],
        safe_time_options(),
        link("voice_callbacks.save", tries=tries(), voicemail=vm),
        link("voice_callbacks.safe_time", tries=tries() + 1, voicemail=vm),
    )


def _yes_no(yes: str, no: str, again: str) -> Response:
    """Yes goes to `yes`, no to `no`; anything else is dealt with as `answer` does, asking
    again at `again`."""
    got = answer(yes_no(), again)
    if isinstance(got, Response):
        return got
    picked, resp = got
    if picked.action == "yes":
        note_asked(confirmed=True)  # the number is theirs
        resp.redirect(link(yes), method="POST")
    else:
        note_asked(confirmed=False)
        resp.redirect(link(no, tries=tries() + 1), method="POST")
    return twiml(resp)


def joined_queue() -> datetime | None:
    """When this call joined the queue, if it left it for a callback (its place)."""
    caller = live_queue().caller(twilio_param("CallSid")[:64])
    if caller is not None and caller.state == LEFT and caller.why in WHY_LEAVE:
        return caller.joined
    return None


@bp.route("/save", methods=METHODS)
@store_safe
def save() -> Response:
    """Store the callback (one open per number) and say when it will come."""
    h = helpline()
    content = flows().voice.callback
    voicemail = voicemail_param() == 1
    got = answer(safe_time_options(), "voice_callbacks.safe_time", voicemail=voicemail_param())
    if isinstance(got, Response):
        return got
    picked, resp = got
    window = dict(flows().voice.safe_times)[picked]
    number = h.queue.keyed(call_sid())
    if not number:
        resp.redirect(link("voice_callbacks.start"), method="POST")
        return twiml(resp)
    now = h.clock()
    override = h.override.current()
    promised = promise(now, window, h.flows.hours, override, h.settings.min_slot)
    place = placement(promised, now, h.flows.hours)
    # No CallSid as a once-only key: one call may ask for two different numbers, and the
    # second must not be taken for a repeat of the first. One open callback per number is
    # enough to make a repeated request change nothing.
    joined = joined_queue()
    result = h.queue.request(
        number, "voice", joined or now, place, window, voicemail=voicemail, swapped=bool(joined)
    )
    h.queue.set_callback_language(result.callback_id, flows().language)
    if h.queue.call_in_crisis(call_sid()):  # the caller spoke of danger or despair
        h.queue.set_urgent(result.callback_id)
    if joined:
        stats.count(h.redis, now, h.flows.hours.timezone, "q:swapped", keys=live_queue().keys)
    if result.outcome == "new":
        stats.count(h.redis, now, h.flows.hours.timezone, "cb:asked", keys=h.keys)
    else:  # their latest answers count
        h.queue.set_voicemail(result.callback_id, voicemail)
        if h.queue.replan(result.callback_id, window, place) == "noted":
            promised = promise(now, ANYTIME, h.flows.hours, override, h.settings.min_slot)
    h.queue.forget_keyed(call_sid())
    h.queue.forget_asked(call_sid())
    when = promise_when(promised, now, h.flows.hours, flows().phrases, content)
    log.info(
        "call %s: callback %s %s for %s",
        twilio_param("CallSid"),
        result.callback_id,
        result.outcome,
        mask(number),
    )
    say(resp, content["done_new" if result.outcome == "new" else "done_existing"].format(when=when))
    if joined:  # from the queue: the call ends with the 999 line and when to expect us
        say(resp, flows().voice.safety, *flows().voice.goodbye)
        resp.hangup()
        return twiml(resp)
    resp.redirect(link("voice.menu"), method="POST")
    return twiml(resp)


@bp.route("/call-ended", methods=METHODS)
def call_ended() -> Response:
    """The number's status callback, sent by Twilio when a call ends
    (https://www.twilio.com/docs/voice/api/call-resource#statuscallback). A caller who hung
    up in the middle of the callback questions, their number confirmed, still asked for a
    call: it is kept, held for a safe time (never "any time", never a time they did not
    give; the console shows it waiting for one). A callback they already have is left as
    it is. Twilio ignores the answer: an empty one, also if the store is down."""
    try:
        keep_unfinished()
    except Unavailable:
        log.exception("call %s ended: an unfinished callback is lost", call_sid())
    return twiml(VoiceResponse())


def keep_unfinished() -> None:
    if twilio_param("CallStatus") not in ENDED:
        return
    h = helpline()
    asked = h.queue.asked(call_sid())
    if asked is None:
        return
    now = h.clock()
    joined = joined_queue()
    result = h.queue.request(
        asked.number,
        "voice",
        joined or now,
        placement(None, now, h.flows.hours),
        None,
        voicemail=asked.voicemail,
        swapped=bool(joined),
    )
    if result.outcome == "new":
        h.queue.set_callback_language(result.callback_id, asked.language)
        stats.count(h.redis, now, h.flows.hours.timezone, "cb:asked", keys=h.keys)
    if h.queue.call_in_crisis(call_sid()):
        h.queue.set_urgent(result.callback_id)
    h.queue.forget_asked(call_sid())
    h.queue.forget_keyed(call_sid())
    log.info(
        "call %s ended before its safe time: callback %s %s",
        twilio_param("CallSid"),
        result.callback_id,
        "held for a safe time" if result.outcome == "new" else "already there, left as it was",
    )
