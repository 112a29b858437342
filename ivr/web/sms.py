"""Twilio's Messaging webhook: a text asks for a callback; keywords do the rest.

Bodies are never stored or logged: only what keywords.py reads out of them. Replies are
short, discreet and GSM-7 (flows/sms.toml). Whatever happens, Twilio gets a 200.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

import redis
from flask import Blueprint, Flask, Response, current_app, g, request
from twilio.twiml.messaging_response import MessagingResponse

from ivr.content.flows import (
    ENGLISH,
    MAX_REPLY_SEGMENTS,
    WELSH,
    WELSH_REPLY_SEGMENTS,
    Flows,
    text_segments,
)
from ivr.core.callbacks import Callback
from ivr.core.crisis import SAFETY, classify
from ivr.core.hours import usual_span
from ivr.core.keywords import OPT_IN, OPT_OUT, Intent, interpret, keyword
from ivr.core.phone import mask
from ivr.core.phrases import promise_when, usual_hours, window_words
from ivr.core.promise import (
    Promise,
    closure_note,
    holidays_between,
    meets_hours,
    placement,
    promise,
    restate,
)
from ivr.core.safetime import ANYTIME, Reading, ReadingKind, Window
from ivr.ops.metrics import FALLBACKS, note
from ivr.store import stats
from ivr.store.erasures import record_erasure
from ivr.store.queue import Flood, Requested
from ivr.store.spool import Spooled, SpoolFull
from ivr.twilio.rest import Purge, enqueue_purge, media_sid
from ivr.web.context import helpline, serving
from ivr.web.signatures import only_twilio

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__, url_prefix="/sms")
only_twilio(bp)
MAX_BODY = 1600  # Twilio's own limit; anything longer is not from Twilio
MAX_MEDIA = 10
REPLAY_SECONDS = 2


def reply(*texts: str) -> Response:
    resp = MessagingResponse()
    for text in texts:
        resp.message(text)
    return Response(str(resp), mimetype="text/xml")


def speaking() -> Flows:
    """The helpline's words in the language this person chose (CYMRAEG), else English."""
    return helpline().flows.speaking(g.get("sms_language", ENGLISH))


def text(name: str, **fields: object) -> str:
    flows = speaking()
    fields.setdefault("usual_hours", usual_hours(flows.hours_config.weekly, flows.phrases))
    return flows.sms.replies[name].format(**fields)


def when(promise: Promise | None, now: datetime) -> str:
    flows = speaking()
    return promise_when(promise, now, flows.hours, flows.phrases, flows.sms.replies)


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
    simulated = helpline().settings.simulated  # never joins real texts kept on disk
    try:
        if not simulated and helpline().spool.waiting():
            # Texts kept while the store was down are still going in (in the background):
            # this one joins them, so a STOP is never applied before a request sent earlier.
            return taken_while_down(sender, sid)
        return handle(sender, sid)
    except redis.RedisError:
        if simulated:
            return reply(text("unavailable"))
        log.warning(
            "sms %s from %s: the store is unreachable: keeping the text on disk", sid, mask(sender)
        )
        return taken_while_down(sender, sid)
    except Exception:
        log.exception("sms %s from %s: unexpected error", sid, mask(sender))
        FALLBACKS.labels("sms").inc()
        return reply(text("unavailable"))


def answered_by_twilio() -> str:
    """ "STOP", "START" or "HELP" when Twilio has answered the text itself (a Messaging
    Service with Advanced Opt-Out says so in OptOutType: help.twilio.com, "How to Track
    Opt-Out, Opt-In and Help Messages Using the OptOutType Parameter"), else "". Then we
    never reply as well: a second HELP is noise, and after STOP any text we send that number
    fails (error 21610). Its keywords may be the helpline's own, so its word stands."""
    kind = (request.values.get("OptOutType") or "").strip().upper()
    return kind if kind in ("STOP", "START", "HELP") else ""


def as_twilio_took_it(intent: Intent) -> Intent:
    """The reading of a text, corrected by what Twilio says it was (OptOutType)."""
    twilio = answered_by_twilio()
    if twilio == "STOP":
        return Intent("opt_out")
    if twilio == "START":
        return Intent("opt_in")
    return intent


def body_and_media() -> tuple[str, list[str]]:
    """What the text says (cut to MAX_BODY) and its media's SIDs, from Twilio's fields."""
    body = (request.values.get("Body") or "")[:MAX_BODY]
    media = [
        media_sid(request.values.get(f"MediaUrl{i}", ""))
        for i in range(_count(request.values.get("NumMedia")))
    ]
    return body, media


def handle(sender: str, sid: str) -> Response:
    h = helpline()
    now = h.clock()
    body, media = body_and_media()
    purge_from_twilio(sid, media)
    number = h.callable(sender)
    if number is None and (keyword(body) in OPT_OUT | OPT_IN or answered_by_twilio()):
        return reply()  # Twilio answers opt-outs itself; nothing of theirs is stored
    if number is None:
        log.info("sms %s from %s: not a UK number we can call", sid, mask(sender))
        # Replies abroad cost the most (and are what SMS pumping fraud is after): the same
        # quiet period applies, keyed on the sender as given.
        return reply() if too_many(sender) else reply(text("not_uk"))

    local_today = now.astimezone(h.flows.hours.timezone).date()
    intent = as_twilio_took_it(
        interpret(
            body, lambda: h.queue.has_open(number), local_today, usual_span(h.flows.hours_config)
        )
    )
    note(
        f"from {mask(sender)}: {intent.kind}"
        + (f" (+{len(media)} media, not kept)" if media else "")
    )
    if intent.kind == "opt_out":
        log_erasure(number)
        erased = h.queue.erase_number(number, sid)
        log.info("sms %s: opted out, %d callback records erased", sid, max(erased, 0))
        return reply()  # Twilio answers opt-outs itself
    if intent.kind == "opt_in":
        return reply()
    if answered_by_twilio() == "HELP":
        note("HELP answered by Twilio (Advanced Opt-Out)")
        return reply()
    intent = choose_language(number, intent)
    urgent = in_crisis(body)
    if intent.kind in ("help", "steps", "welsh", "english"):
        quiet = too_many(number)
        answer = {
            "help": [text("help")],
            "welsh": [text("help")],
            "english": [text("help")],
            "steps": list(speaking().sms.steps),
        }[intent.kind]
    else:
        conversation = Conversation(number, sid, now, flood(), timing_words(intent, body))
        answer = conversation.answer(intent)
        quiet = conversation.quiet
    if urgent:
        flag_urgent(number, sid)
    first = [text("crisis")] if urgent else []  # at once, even to a number sending many
    if media:
        answer.insert(0, text("media"))
    if quiet:
        log.info("sms %s from %s: too many messages, not replying for a while", sid, mask(sender))
        return reply(*first)
    if intent.kind == "steps":
        return reply(*first, *answer)
    joined = " ".join(answer)
    # Notices (media, a closure) join the reply when all fit in one text of the usual length;
    # otherwise each goes as a text of its own (same cost, and each text stays short).
    return reply(*first, joined) if fits_one_reply(joined) else reply(*first, *answer)


def in_crisis(body: str) -> bool:
    """Whether a text speaks of danger or despair (flows/safety.toml, every language's
    phrases): the same rule for a live text and one kept while the store was down."""
    return bool(classify(helpline().flows.crisis, body) & set(SAFETY))


def flag_urgent(number: str, sid: str) -> None:
    """The number's open callback is flagged urgent: the advisor sees it, Take next takes
    it first. Nothing of what the text said is kept or logged."""
    h = helpline()
    callback = h.queue.open_for(number)
    if callback is not None:
        h.queue.set_urgent(callback.id)
        log.info("sms %s: callback %s flagged urgent", sid, callback.id)


def fits_one_reply(joined: str) -> bool:
    """Whether notices and the reply go as one text: within the language's reply limit."""
    limit = WELSH_REPLY_SEGMENTS if speaking().language == WELSH else MAX_REPLY_SEGMENTS
    return text_segments(joined) <= limit


def choose_language(number: str, intent: Intent) -> Intent:
    """CYMRAEG (or ENGLISH) sets the language of this person's replies from now on, kept
    sealed with what we hold about them (erased by STOP and `data erase`); the language
    they chose before holds otherwise. While the helpline has Welsh off, replies are in
    English and CYMRAEG is an ordinary message, as before."""
    h = helpline()
    if not h.flows.welsh_on:
        return Intent("request") if intent.kind in ("welsh", "english") else intent
    if intent.kind in ("welsh", "english"):
        g.sms_language = WELSH if intent.kind == "welsh" else ENGLISH
        h.queue.set_language(number, g.sms_language)
        waiting = h.queue.open_for(number)
        if waiting is not None:  # the advisor who calls them back sees it
            h.queue.set_callback_language(waiting.id, g.sms_language)
    else:
        g.sms_language = h.queue.language_of(number)
    return intent


def timing_words(intent: Intent, body: str) -> str:
    """The person's own words, when they said anything about when to call ("" otherwise):
    kept sealed with the callback for the advisor, never logged."""
    return body.strip() if intent.reading is not None and intent.reading.about_time else ""


class Conversation:
    """One text that asks for a callback or says when it is safe to call: what is stored,
    and the reply that says when, built from the same Promise (what we say is what we keep).
    Live texts and texts kept while the store was down both come in through answer()."""

    def __init__(
        self,
        number: str,
        sid: str,
        now: datetime,
        flood: Flood | None = None,
        words: str = "",
    ) -> None:
        h = helpline()
        self.h, self.number, self.sid, self.now = h, number, sid, now
        self.flood = flood  # count the text as its request is stored (one write)
        self.timing = words  # what they said about when, kept with the callback (sealed)
        self.quiet = False
        self.hours = h.flows.hours
        self.override = h.override.current()
        self.min_slot = h.settings.min_slot
        self.stored: str | None = None  # the callback this text went to

    def answer(self, intent: Intent) -> list[str]:
        answer = self.decide(intent)
        if self.timing and self.stored is not None:
            self.h.queue.keep_words(self.stored, self.timing)
        return answer

    def decide(self, intent: Intent) -> list[str]:
        if intent.kind in ("plan", "anytime"):
            window = (
                intent.reading.window
                if intent.kind == "plan" and intent.reading and intent.reading.window
                else ANYTIME
            )
            if not meets_hours(window, self.now, self.hours):
                return self.not_now("outside_hours")
            return self.set_plan(window)
        if intent.kind == "ambiguous" and intent.reading:
            return self.not_now("ambiguous", hour=intent.reading.said)
        if intent.kind in ("ask_time", "time_unclear"):
            return self.ask_time()
        return self.request()

    def promised_for(self, window: Window) -> Promise:
        return promise(self.now, window, self.hours, self.override, self.min_slot)

    def store(self, window: Window | None, promised: Promise | None) -> Requested:
        result = self.h.queue.request(
            self.number,
            "sms",
            self.now,
            placement(promised, self.now, self.hours),
            window,
            message_sid=self.sid,
            flood=self.flood,
        )
        self.quiet = result.quiet
        self.stored = result.callback_id
        if result.outcome == "new":
            # The language they text in, for the advisor who calls them (sealed, shown).
            self.h.queue.set_callback_language(result.callback_id, speaking().language)
            stats.count(self.h.redis, self.now, self.hours.timezone, "cb:asked", keys=self.h.keys)
            note(
                f"callback {result.callback_id} stored, "
                + (f"due {promised.due.isoformat()}" if promised else "held for a safe time")
            )
        return result

    def request(self) -> list[str]:
        """A plain request: a new callback at any time, or what stands for the one we have."""
        promised: Promise | None = self.promised_for(ANYTIME)
        result = self.store(ANYTIME, promised)
        if result.outcome == "existing":
            callback = self.h.queue.get(result.callback_id)
            if callback is not None:
                promised = self.restate(callback)
        name = "existing" if result.outcome == "existing" else "new"
        return self.with_closure(
            [f"{text(name, when=when(promised, self.now))} {text('options')}"], promised
        )

    def set_plan(self, window: Window) -> list[str]:
        """A safe time (or ANYTIME): the callback moves to the first slot in it."""
        promised = self.promised_for(window)
        result = self.store(window, promised)
        self.h.queue.mark_plan_given(result.callback_id)
        # A repeat (Twilio's retry, or the text replayed from the spool after a first try
        # whose move was not acknowledged) moves it again: the same window, the same place.
        if result.outcome in ("existing", "repeat"):
            moved = self.h.queue.replan(
                result.callback_id, window, placement(promised, self.now, self.hours)
            )
            if moved == "noted":
                log.info(
                    "sms %s: safe time kept for the next attempt of %s",
                    self.sid,
                    result.callback_id,
                )
                return [text("noted", window=self.words(window))]
        if window.anytime and result.outcome != "existing":  # as if they had said hello
            return self.with_closure(
                [f"{text('new', when=when(promised, self.now))} {text('options')}"], promised
            )
        if window.anytime:
            return self.with_closure([text("anytime", when=when(promised, self.now))], promised)
        return self.with_closure(
            [text("preferred", window=self.words(window), when=when(promised, self.now))],
            promised,
            window,
        )

    def words(self, window: Window) -> str:
        return window_words(window, speaking().phrases)

    def not_now(self, name: str, **fields: object) -> list[str]:
        """A time that gives us no time to call, or an hour we can't place: never moved
        quietly. A first text, or one after a plain request (whose "any time" was no plan of
        theirs), is held until the person answers; a plan they gave stands."""
        result = self.store(None, None)
        held = result.outcome != "existing" or self.hold(result.callback_id)
        return self.with_closure(
            [f"{text('held_new' if held else 'kept')} {text(name, **fields)}"], None
        )

    def ask_time(self) -> list[str]:
        """A text that mentions a time we can't read: a first one, or one after a plain
        request, is held and the person asked when it is safe (never taken for "any time");
        after a plan they gave, the plan stands and they are asked to write the time again."""
        result = self.store(None, None)
        if result.outcome == "existing" and not self.hold(result.callback_id):
            return [text("time_unclear")]
        return self.with_closure([text("ask_time")], None)

    def hold(self, callback_id: str) -> bool:
        """Whether the callback is held now: it was, or it waited on a default "any time"
        (then it is held: nobody calls at a time the person has just said may be unsafe).
        One being called now is left to the advisor, who sees the person's words."""
        callback = self.h.queue.get(callback_id)
        if callback is None:
            return False
        if callback.status in ("scheduled", "due") and callback.default_plan:
            moved = self.h.queue.replan(callback_id, None, placement(None, self.now, self.hours))
            return moved == "moved"
        return callback.status == "held"

    def restate(self, callback: Callback) -> Promise | None:
        """What stands for a callback we have (None: held); a closure may have moved it, and
        then the stored time moves too, so the answer is still what is kept."""
        if callback.status == "held" or callback.plan is None:
            return None
        if callback.status == "claimed":
            return self.promised_for(ANYTIME)
        stands = restate(
            self.now, callback.due_at, callback.plan, self.hours, self.override, self.min_slot
        )
        if (stands.due, stands.slot_end) != (callback.due_at, callback.slot_end):
            self.h.queue.replan(callback.id, callback.plan, placement(stands, self.now, self.hours))
        return stands

    def with_closure(
        self, answer: list[str], promised: Promise | None, window: Window = ANYTIME
    ) -> list[str]:
        """The answer, after why we can't call sooner: a closure's message, else the bank
        holidays between the day asked for (`window`'s first day, or today) and the day
        we will call."""
        note = closure_note(
            self.now,
            promised.due if promised else self.now,
            self.hours,
            self.override,
            welsh=speaking().language == WELSH,
        )
        if note:
            return [text("closure", message=note), *answer]
        if promised is None:
            return answer
        today = self.now.astimezone(self.hours.timezone).date()
        asked = max(today, window.not_before or today)
        holidays = holidays_between(asked, promised.due, self.hours)
        if not holidays:
            return answer
        phrases = speaking().phrases
        due = promised.due.astimezone(self.hours.timezone)
        day = f"{phrases.weekday(due.weekday())} {due.day} {phrases.months[due.month - 1]}"
        names = f" {phrases.window['and']} ".join(holidays)
        return [text("closed_until", names=names, day=day), *answer]


# ------------------------------------------------------------------ while the store is down


def taken_while_down(sender: str, sid: str) -> Response:
    """The store can't be reached (or texts kept while it couldn't are still going in): keep
    what the text asks for on this host's disk (spool.py) and answer as the live path would
    where that needs no store: HELP, STEPS, a time we can't call in or can't read (the same
    question, and the text is kept held). Only if the disk fails too is the person asked to
    try again."""
    h = helpline()
    now = h.clock()
    body, media = body_and_media()
    number = h.callable(sender)
    if number is None:
        if keyword(body) in OPT_OUT | OPT_IN or answered_by_twilio():
            return reply()
        return reply(text("not_uk"))
    intent = as_twilio_took_it(
        interpret(
            body,
            lambda: False,
            now.astimezone(h.flows.hours.timezone).date(),
            usual_span(h.flows.hours_config),
        )
    )
    if answered_by_twilio() == "HELP":
        return reply()
    urgent = in_crisis(body)
    first = [text("crisis")] if urgent else []
    if intent.kind in ("help", "steps", "time_unclear", "opt_in"):
        answer = {
            "help": [text("help")],
            "steps": list(h.flows.sms.steps),
            "time_unclear": [text("time_unclear")],
            "opt_in": [],
        }[intent.kind]
        return reply(*first, *answer)
    answer = kept_answer(intent, now)
    reading = intent.reading
    entry = Spooled(
        sid,
        number,
        intent.kind,
        now.isoformat(),
        reading.window.dumps() if reading and reading.window else "",
        reading.hour if reading else None,
        tuple(m for m in media if m),
        h.line.name,
        words=timing_words(intent, body),
        minute=reading.minute if reading else 0,
        urgent=urgent,
    )
    try:
        h.spool.add(entry)
    except (OSError, SpoolFull):
        log.exception("sms %s from %s: could not keep the text on disk either", sid, mask(sender))
        FALLBACKS.labels("sms").inc()
        return reply(text("unavailable"))
    start_replaying(current_app._get_current_object())  # type: ignore[attr-defined]  # the app behind the proxy
    log.info(
        "sms %s from %s: %s kept on disk until the store answers", sid, mask(sender), intent.kind
    )
    if intent.kind == "opt_out":
        return reply()  # Twilio answers opt-outs itself
    if media:
        answer.insert(0, text("media"))
    joined = " ".join(answer)
    return reply(*first, joined) if fits_one_reply(joined) else reply(*first, *answer)


def kept_answer(intent: Intent, now: datetime) -> list[str]:
    """What a text kept on disk is told now: a time we can't call in, or can't read, gets
    the live path's question (and is held when replayed, by the live path's rules)."""
    hours = helpline().flows.hours
    if intent.kind in ("plan", "anytime"):
        window = (
            intent.reading.window
            if intent.kind == "plan" and intent.reading and intent.reading.window
            else ANYTIME
        )
        if not meets_hours(window, now, hours):
            return [text("outside_hours")]
    if intent.kind == "ambiguous" and intent.reading:
        return [text("ambiguous", hour=intent.reading.said)]
    if intent.kind == "ask_time":
        return [text("ask_time")]
    return [text("spooled")]


def log_erasure(number: str) -> None:
    """Note a STOP in the erasure log first, so no restored backup brings the number back;
    should the disk fail, the STOP is still done (and the failure logged)."""
    h = helpline()
    if h.settings.simulated or h.settings.rehearsal:
        return  # a simulated STOP erases simulated records only: no restore may act on it
    try:
        record_erasure(h.erasures, h.sealer, number)
    except OSError:
        log.exception("could not write the erasure log: a restore could bring this number back")


def replay_spool() -> int:
    """Put texts kept while the store was down into the queue, as if they had just come
    (a store error stops it; they wait for the next try)."""
    h = helpline()
    return h.spool.replay(apply_spooled) if h.spool.waiting() else 0


def apply_spooled(entry: Spooled) -> None:
    """One kept text through the same rules as a live one, for the helpline it was sent to;
    its reply was already sent."""
    with serving(entry.helpline):
        _apply_spooled(entry)


def _apply_spooled(entry: Spooled) -> None:
    h = helpline()
    purge_from_twilio(entry.sid, list(entry.media))  # as a live text is, once stored
    if entry.kind == "opt_out":
        log_erasure(entry.number)
        erased = h.queue.erase_number(entry.number, entry.sid)
        log.info(
            "sms %s: opt-out taken while the store was down: %s",
            entry.sid,
            "already done" if erased < 0 else f"{erased} records erased",
        )
        return
    conversation = Conversation(entry.number, entry.sid, h.clock(), words=entry.words)
    if entry.kind == "held":  # kept by an earlier version: told we'd wait for a safe time
        conversation.store(None, None)
    else:
        window = Window.loads(entry.window) if entry.window else None
        kinds: dict[str, ReadingKind] = {
            "plan": "plan",
            "anytime": "anytime",
            "ambiguous": "ambiguous",
            "ask_time": "unclear",
        }
        reading = Reading(kinds.get(entry.kind, "none"), window, entry.hour, entry.minute)
        conversation.answer(Intent(entry.kind, reading))  # the live path's rules
    if entry.urgent:  # its crisis reply went at once; the flag waited for the store
        flag_urgent(entry.number, entry.sid)


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
                    except redis.RedisError:
                        continue
                    except Exception:  # the disk, say: log it and keep trying
                        log.exception("replaying the texts kept on disk failed")
                        continue
                    if not helpline().spool.waiting():
                        return
        finally:
            _replaying.discard(id(app))

    threading.Thread(target=loop, name="spool-replay", daemon=True).start()


def flood() -> Flood:
    s = helpline().settings
    return Flood(s.sms_rate_limit, s.sms_rate_window_seconds, s.sms_quiet_seconds)


def too_many(number: str) -> bool:
    """More than a few texts within minutes: stop replying for a while (nothing is lost)."""
    return helpline().queue.too_many(number, flood())


def purge_from_twilio(sid: str, media: list[str]) -> None:
    """Queue the message (and its media) for deletion from Twilio, done by the scheduler."""
    s = helpline().settings
    if s.simulated or s.rehearsal:
        return  # no message of Twilio's behind a simulated text
    if not (s.twilio_account_sid and s.twilio_auth_token) or not sid:
        if media:
            log.warning(
                "sms %s: %d media left in Twilio (no TWILIO_ACCOUNT_SID to delete them)",
                sid,
                len(media),
            )
        return
    if media or s.delete_inbound_messages:
        h = helpline()
        purge = Purge(sid, tuple(media), s.delete_inbound_messages, h.clock().timestamp())
        enqueue_purge(h.redis, purge)
