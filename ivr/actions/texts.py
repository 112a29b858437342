"""A text to the helpline, live or replayed from the disk spool: what it means, what is
stored, and what the person is told. The web parses Twilio's request into a `Text`, calls
`receive` and renders the `Answer`; the spool's replay calls `apply_kept` with the same
rules. Bodies are never stored or logged: only what keywords.py reads out of them.

One reading of a text (`understand`), one decision of what it asks for (`decide`), one
conversation that stores it (`Conversation`): a text kept on disk while the store was down
is told what the live path tells a first text, except the time (which needs the store), and
is stored later through the same Conversation.

A sender with texts still kept on disk has their new texts kept behind them (a STOP is
never applied before an earlier "call me", nor the reverse); everyone else's go straight to
the store as soon as it answers, while the spool drains in the background.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ivr.content.flows import (
    ENGLISH,
    MAX_REPLY_SEGMENTS,
    WELSH,
    WELSH_REPLY_SEGMENTS,
    Flows,
    text_segments,
)
from ivr.core.callbacks import Callback
from ivr.core.conditions import has_condition, without_conditions
from ivr.core.crisis import SAFETY, classify
from ivr.core.hours import usual_span
from ivr.core.keywords import OPT_IN, OPT_OUT, Intent, interpret, keyword
from ivr.core.phone import mask
from ivr.core.phrases import promise_when, window_words
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
from ivr.core.stopping import asks_to_stop
from ivr.ops.metrics import FALLBACKS
from ivr.services import Services
from ivr.store import Unavailable, stats
from ivr.store.erasures import record_erasure
from ivr.store.queue import Flood, Requested
from ivr.store.spool import Spooled, SpoolFull
from ivr.twilio.rest import Purge, enqueue_purge

log = logging.getLogger(__name__)

TwilioSaid = Literal["STOP", "START", "HELP", ""]


@dataclass(frozen=True)
class Text:
    """One text as Twilio gave it: who sent it, its MessageSid, what it says (cut to
    Twilio's limit), its media's SIDs, and what Twilio answered itself (OptOutType: a
    Messaging Service with Advanced Opt-Out, "STOP", "START", "HELP", else "")."""

    sender: str
    sid: str
    body: str = ""
    media: tuple[str, ...] = ()
    twilio_said: TwilioSaid = ""


@dataclass(frozen=True)
class Answer:
    """What came of a text: the messages to send back, in order (none: stay silent, as
    when Twilio answers an opt-out itself), the callback it went to, whether it was kept on
    disk until the store answers (then the spool is to be replayed), and what was decided,
    for the request's log line."""

    messages: tuple[str, ...] = ()
    stored: str | None = None
    kept: bool = False
    notes: tuple[str, ...] = ()


# ------------------------------------------------------------------ words


@functools.lru_cache(maxsize=512)
def segments(text: str) -> int:
    """text_segments, counted once per distinct reply (the replies are few)."""
    return text_segments(text)


class Words:
    """The helpline's replies in one language (CYMRAEG's Welsh, else English)."""

    def __init__(self, flows: Flows, language: str = ENGLISH) -> None:
        self.flows = flows.speaking(language)
        self.language = self.flows.language

    @property
    def usual(self) -> str:
        return self.flows.usual_hours  # worked out once per published copy

    def __call__(self, name: str, **fields: object) -> str:
        fields.setdefault("usual_hours", self.usual)
        return self.flows.sms.replies[name].format(**fields)

    def when(self, promised: Promise | None, now: datetime) -> str:
        flows = self.flows
        return promise_when(promised, now, flows.hours, flows.phrases, flows.sms.replies)

    def window(self, window: Window) -> str:
        return window_words(window, self.flows.phrases)

    def fits_one(self, joined: str) -> bool:
        """Whether notices and the reply go as one text: within the language's limit."""
        limit = WELSH_REPLY_SEGMENTS if self.language == WELSH else MAX_REPLY_SEGMENTS
        return segments(joined) <= limit

    def joined(self, first: list[str], answer: list[str]) -> tuple[str, ...]:
        """Notices (media, a closure) join the reply when all fit in one text of the usual
        length; otherwise each goes as a text of its own (same cost, each stays short)."""
        joined = " ".join(answer)
        return (*first, joined) if self.fits_one(joined) else (*first, *answer)


# ------------------------------------------------------------------ what a text means


def understand(
    services: Services, text: Text, now: datetime, has_open: Callable[[], bool]
) -> Intent:
    """What a text asks for, corrected by what Twilio says it was (OptOutType: its word
    stands, as its keywords may be the helpline's own)."""
    flows = services.flows
    intent = interpret(
        without_conditions(text.body),  # "text first" is no time (core/conditions.py)
        has_open,
        now.astimezone(flows.hours.timezone).date(),
        usual_span(flows.hours_config),
    )
    if text.twilio_said == "STOP":
        return Intent("opt_out")
    if text.twilio_said == "START":
        return Intent("opt_in")
    if intent.kind not in KEYWORD_KINDS and asks_to_stop(flows.stop, text.body):
        return Intent(STOP_ASKED)  # in their own words: Twilio blocked nothing
    return intent


STOP_ASKED = "stop_asked"  # flows/safety.toml's [stop]: "please stop texting me"
KEYWORD_KINDS = frozenset({"opt_out", "opt_in", "help", "steps", "anytime", "welsh", "english"})


@dataclass(frozen=True)
class Decision:
    """What a text about a callback asks for: a plan (a window we can meet), not now (a time
    we can't call in, or an hour we can't place: `reply` says which, with its `fields`), to
    be asked when it is safe, or a plain request."""

    kind: Literal["plan", "not_now", "ask_time", "request"]
    window: Window = ANYTIME
    reply: str = ""
    fields: dict[str, object] = field(default_factory=dict)


def decide(intent: Intent, now: datetime, services: Services) -> Decision:
    """The one rule for what a text asks of its callback, live or kept on disk."""
    if intent.kind in ("plan", "anytime"):
        window = (
            intent.reading.window
            if intent.kind == "plan" and intent.reading and intent.reading.window
            else ANYTIME
        )
        if not meets_hours(window, now, services.flows.hours):
            return Decision("not_now", reply="outside_hours")
        return Decision("plan", window)
    if intent.kind == "ambiguous" and intent.reading:
        return Decision("not_now", reply="ambiguous", fields={"hour": intent.reading.said})
    if intent.kind in ("ask_time", "time_unclear"):
        return Decision("ask_time")
    return Decision("request")


def stopping(services: Services, text: Text) -> bool:
    """Whether a text asks us in its own words to stop (flows/safety.toml's [stop])."""
    return asks_to_stop(services.flows.stop, text.body)


def without_store(words: Words, kind: str) -> list[str]:
    """The answer to HELP or the steps, which needs nothing stored: STEPS is warned and
    asked first (the steps say what the helpline is about; someone else may read the
    phone), SEND STEPS sends them. [] for any other kind."""
    if kind == "help":
        return [words("help")]
    if kind == "steps":
        return [words("steps_ask")]
    if kind == "send_steps":
        return list(words.flows.sms.steps)
    return []


def in_crisis(services: Services, body: str) -> bool:
    """Whether a text speaks of danger or despair (flows/safety.toml, every language's
    phrases): the same rule for a live text and one kept while the store was down."""
    return bool(classify(services.flows.crisis, body) & set(SAFETY))


def lifeline(services: Services, words: Words, urgent: bool, intent: Intent) -> list[str]:
    """The crisis text (999 and Samaritans), sent first: to a text in crisis, and to HELP
    while the line is closed (nobody will answer until we reopen: despair must still find
    a line open day and night). In hours HELP's own reply gives 999."""
    closed_help = intent.kind == "help" and not services.call_status().open
    return [words("crisis")] if urgent or closed_help else []


def timing_words(intent: Intent, body: str) -> str:
    """The person's own words, when they said anything about when or how to call ("text
    first", "no voicemail"; "" otherwise): kept sealed with the callback for the advisor,
    never logged."""
    about_time = intent.reading is not None and intent.reading.about_time
    return body.strip() if about_time or has_condition(body) else ""


# ------------------------------------------------------------------ the one entry point


def receive(services: Services, text: Text) -> Answer:
    """A text as it arrives. Stored at once while the store answers, unless its sender has
    texts still kept on disk (then it joins them, in order); kept on this host's disk if the
    store can't be reached; "unavailable" only if the disk fails too (or in a simulation,
    which never joins real texts kept on disk). Raises only what is no store error."""
    now = services.clock()
    number = services.callable(text.sender)
    simulated = services.settings.simulated
    if number is not None and not simulated and services.spool.holds(number):
        return keep(services, text, number, now)
    try:
        return take(services, text, number, now)
    except Unavailable:
        if simulated:
            return Answer((Words(services.flows)("unavailable"),))
        log.warning(
            "sms %s from %s: the store is unreachable: keeping the text on disk",
            text.sid,
            mask(text.sender),
        )
        return keep(services, text, number, now)


def take(services: Services, text: Text, number: str | None, now: datetime) -> Answer:
    """A text while the store answers: stored, and told exactly when we will call."""
    words = Words(services.flows)
    purge_from_twilio(services, text.sid, text.media)
    if number is None and (
        keyword(text.body) in OPT_OUT | OPT_IN or text.twilio_said or stopping(services, text)
    ):
        return Answer()  # Twilio answers opt-outs itself; nothing of theirs is stored
    if number is None:
        log.info("sms %s from %s: not a UK number we can call", text.sid, mask(text.sender))
        # Replies abroad cost the most (and are what SMS pumping fraud is after): the same
        # quiet period applies, keyed on the sender as given.
        quiet = services.queue.too_many(text.sender, flood(services))
        return Answer() if quiet else Answer((words("not_uk"),))

    intent = understand(services, text, now, lambda: services.queue.has_open(number))
    notes = [
        f"from {mask(text.sender)}: {intent.kind}"
        + (f" (+{len(text.media)} media, not kept)" if text.media else "")
    ]
    if intent.kind == "opt_out":
        opt_out(services, number, text.sid)
        return Answer(notes=tuple(notes))  # Twilio answers opt-outs itself
    if intent.kind == "opt_in":
        return Answer(notes=tuple(notes))
    if text.twilio_said == "HELP":
        notes.append("HELP answered by Twilio (Advanced Opt-Out)")
        return Answer(notes=tuple(notes))
    intent, words = choose_language(services, number, intent)
    urgent = in_crisis(services, text.body)
    if intent.kind == STOP_ASKED:  # done as STOP is, then told so (Twilio said nothing)
        quiet = services.queue.too_many(number, flood(services))
        opt_out(services, number, text.sid)
        said = [words("crisis")] if urgent else []  # one text if it fits: one to be seen
        return Answer(
            words.joined([], said + ([] if quiet else [words("stopped")])), notes=tuple(notes)
        )
    stored = None
    if intent.kind in ("help", "steps", "send_steps", "welsh", "english"):
        quiet = services.queue.too_many(number, flood(services))
        answer = without_store(words, intent.kind) or [words("help")]
    else:
        conversation = Conversation(
            services, number, text.sid, now, words, flood(services), timing_words(intent, text.body)
        )
        answer = conversation.answer(intent)
        quiet, stored = conversation.quiet, conversation.stored
        notes += conversation.notes
    if urgent:
        flag_urgent(services, number, text.sid)
    first = lifeline(services, words, urgent, intent)  # at once, even to a number sending many
    if text.media:
        answer.insert(0, words("media"))
    if quiet:
        log.info(
            "sms %s from %s: too many messages, not replying for a while",
            text.sid,
            mask(text.sender),
        )
        return Answer(tuple(first), stored, notes=tuple(notes))
    if intent.kind == "send_steps":
        return Answer((*first, *answer), stored, notes=tuple(notes))
    return Answer(words.joined(first, answer), stored, notes=tuple(notes))


def keep(services: Services, text: Text, number: str | None, now: datetime) -> Answer:
    """The store can't be reached (or the sender has texts kept on disk still going in): keep
    what the text asks for on this host's disk (store/spool.py) and answer as the live path
    answers a first text where that needs no store: HELP, STEPS, a time we can't call in or
    can't read (the same question; the text is held when it goes in); a request is told we
    will call in our opening hours, as the time needs the store."""
    words = Words(services.flows)
    if number is None:
        if keyword(text.body) in OPT_OUT | OPT_IN or text.twilio_said or stopping(services, text):
            return Answer()
        return Answer((words("not_uk"),))
    intent = understand(services, text, now, lambda: False)
    if text.twilio_said == "HELP":
        return Answer()
    urgent = in_crisis(services, text.body)
    first = lifeline(services, words, urgent, intent)
    if intent.kind in ("help", "steps", "send_steps", "opt_in"):
        return Answer((*first, *without_store(words, intent.kind)))
    decision = decide(intent, now, services)
    if decision.kind == "not_now":  # held when it goes in, as a first text is
        answer = [f"{words('held_new')} {words(decision.reply, **decision.fields)}"]
    elif decision.kind == "ask_time":
        answer = [words("ask_time")]
    else:
        answer = [words("spooled")]
    stopped = intent.kind == STOP_ASKED
    if stopped:  # kept, and replayed, as STOP is; told now, as that needs no store
        intent = Intent("opt_out")
    reading = intent.reading
    entry = Spooled(
        text.sid,
        number,
        intent.kind,
        now.isoformat(),
        reading.window.dumps() if reading and reading.window else "",
        reading.hour if reading else None,
        tuple(m for m in text.media if m),
        services.line.name,
        words=timing_words(intent, text.body),
        minute=reading.minute if reading else 0,
        urgent=urgent,
    )
    try:
        services.spool.add(entry)
    except (OSError, SpoolFull):
        log.exception(
            "sms %s from %s: could not keep the text on disk either", text.sid, mask(text.sender)
        )
        FALLBACKS.labels("sms").inc()
        return Answer((words("unavailable"),))
    log.info(
        "sms %s from %s: %s kept on disk until the store answers",
        text.sid,
        mask(text.sender),
        intent.kind,
    )
    if stopped:
        return Answer(words.joined([], [*first, words("stopped")]), kept=True)
    if intent.kind == "opt_out":
        return Answer(kept=True)  # Twilio answers opt-outs itself
    if text.media:
        answer.insert(0, words("media"))
    return Answer(words.joined(first, answer), kept=True)


_KINDS: dict[str, ReadingKind] = {
    "plan": "plan",
    "anytime": "anytime",
    "ambiguous": "ambiguous",
    "ask_time": "unclear",
}


def apply_kept(services: Services, entry: Spooled) -> Answer:
    """One text kept on disk, through the live path's rules (its reply was already sent);
    `services` are those of the helpline it was sent to."""
    purge_from_twilio(services, entry.sid, entry.media)  # as a live text is, once stored
    if entry.kind == "opt_out":
        erased = opt_out(services, entry.number, entry.sid)
        log.info(
            "sms %s: opt-out taken while the store was down: %s",
            entry.sid,
            "already done" if erased < 0 else f"{erased} records erased",
        )
        return Answer()
    conversation = Conversation(
        services,
        entry.number,
        entry.sid,
        services.clock(),
        Words(services.flows),
        timing=entry.words,
    )
    if entry.kind == "held":  # kept by an earlier version: told we'd wait for a safe time
        conversation.store(None, None)
    else:
        window = Window.loads(entry.window) if entry.window else None
        reading = Reading(_KINDS.get(entry.kind, "none"), window, entry.hour, entry.minute)
        conversation.answer(Intent(entry.kind, reading))
    if entry.urgent:  # its crisis reply went at once; the flag waited for the store
        flag_urgent(services, entry.number, entry.sid)
    return Answer(stored=conversation.stored, notes=tuple(conversation.notes))


# ------------------------------------------------------------------ what a text does


def opt_out(services: Services, number: str, sid: str) -> int:
    """STOP: noted in the erasure log first, then every record of the number erased; how
    many (-1: this MessageSid's STOP was done already)."""
    log_erasure(services, number)
    erased = services.queue.erase_number(number, sid)
    log.info("sms %s: opted out, %d callback records erased", sid, max(erased, 0))
    return erased


def log_erasure(services: Services, number: str) -> None:
    """Note a STOP in the erasure log first, so no restored backup brings the number back;
    should the disk fail, the STOP is still done (and the failure logged)."""
    settings = services.settings
    if settings.simulated or settings.rehearsal:
        return  # a simulated STOP erases simulated records only: no restore may act on it
    try:
        record_erasure(services.erasures, services.sealer, number)
    except OSError:
        log.exception("could not write the erasure log: a restore could bring this number back")


def flag_urgent(services: Services, number: str, sid: str) -> None:
    """The number's open callback is flagged urgent: the advisor sees it, Take next takes
    it first. Nothing of what the text said is kept or logged."""
    callback = services.queue.open_for(number)
    if callback is not None:
        services.queue.set_urgent(callback.id)
        log.info("sms %s: callback %s flagged urgent", sid, callback.id)


def choose_language(services: Services, number: str, intent: Intent) -> tuple[Intent, Words]:
    """CYMRAEG (or ENGLISH) sets the language of this person's replies from now on, kept
    sealed with what we hold about them (erased by STOP and `data erase`); the language
    they chose before holds otherwise. While the helpline has Welsh off, replies are in
    English and CYMRAEG is an ordinary message, as before."""
    flows = services.flows
    if not flows.welsh_on:
        return (Intent("request") if intent.kind in ("welsh", "english") else intent), Words(flows)
    queue = services.queue
    if intent.kind in ("welsh", "english"):
        language = WELSH if intent.kind == "welsh" else ENGLISH
        queue.set_language(number, language)
        waiting = queue.open_for(number)
        if waiting is not None:  # the advisor who calls them back sees it
            queue.set_callback_language(waiting.id, language)
    else:
        language = queue.language_of(number)
    return intent, Words(flows, language)


def flood(services: Services) -> Flood:
    s = services.settings
    return Flood(s.sms_rate_limit, s.sms_rate_window_seconds, s.sms_quiet_seconds)


def purge_from_twilio(services: Services, sid: str, media: tuple[str, ...]) -> None:
    """Queue the message (and its media) for deletion from Twilio, done by the scheduler."""
    s = services.settings
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
        purge = Purge(sid, tuple(media), s.delete_inbound_messages, services.clock().timestamp())
        enqueue_purge(services.redis, purge)


# ------------------------------------------------------------------ a callback asked for


class Conversation:
    """One text that asks for a callback or says when it is safe to call: what is stored,
    and the reply that says when, built from the same Promise (what we say is what we keep).
    Live texts and texts kept while the store was down both come in through answer()."""

    def __init__(
        self,
        services: Services,
        number: str,
        sid: str,
        now: datetime,
        words: Words,
        flood: Flood | None = None,
        timing: str = "",
    ) -> None:
        self.h, self.number, self.sid, self.now = services, number, sid, now
        self.text = words
        self.flood = flood  # count the text as its request is stored (one write)
        self.timing = timing  # what they said about when, kept with the callback (sealed)
        self.quiet = False
        self.hours = services.flows.hours
        self.override = services.override.current()
        self.min_slot = services.settings.min_slot
        self.stored: str | None = None  # the callback this text went to
        self.notes: list[str] = []

    def answer(self, intent: Intent) -> list[str]:
        decision = decide(intent, self.now, self.h)
        if decision.kind == "plan":
            answer = self.set_plan(decision.window)
        elif decision.kind == "not_now":
            answer = self.not_now(decision.reply, **decision.fields)
        elif decision.kind == "ask_time":
            answer = self.ask_time()
        else:
            answer = self.request()
        if self.timing and self.stored is not None:
            self.h.queue.keep_words(self.stored, self.timing)
        return answer

    def promised_for(self, window: Window) -> Promise:
        return promise(self.now, window, self.hours, self.override, self.min_slot)

    def when(self, promised: Promise | None) -> str:
        return self.text.when(promised, self.now)

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
            # The language they text in, for the advisor who calls them (sealed, shown);
            # English is the absence of one, so a new record in English needs no write.
            if self.text.language != ENGLISH:
                self.h.queue.set_callback_language(result.callback_id, self.text.language)
            stats.count(self.h.redis, self.now, self.hours.timezone, "cb:asked", keys=self.h.keys)
            self.notes.append(
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
            [f"{self.text(name, when=self.when(promised))} {self.text('options')}"], promised
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
                return [self.text("noted", window=self.text.window(window))]
        if window.anytime and result.outcome != "existing":  # as if they had said hello
            return self.with_closure(
                [f"{self.text('new', when=self.when(promised))} {self.text('options')}"], promised
            )
        if window.anytime:
            return self.with_closure([self.text("anytime", when=self.when(promised))], promised)
        return self.with_closure(
            [self.text("preferred", window=self.text.window(window), when=self.when(promised))],
            promised,
            window,
        )

    def not_now(self, name: str, **fields: object) -> list[str]:
        """A time that gives us no time to call, or an hour we can't place: never moved
        quietly. A first text, or one after a plain request (whose "any time" was no plan of
        theirs), is held until the person answers; a plan they gave stands."""
        result = self.store(None, None)
        held = result.outcome != "existing" or self.hold(result.callback_id)
        return self.with_closure(
            [f"{self.text('held_new' if held else 'kept')} {self.text(name, **fields)}"], None
        )

    def ask_time(self) -> list[str]:
        """A text that mentions a time we can't read: a first one, or one after a plain
        request, is held and the person asked when it is safe (never taken for "any time");
        after a plan they gave, the plan stands and they are asked to write the time again."""
        result = self.store(None, None)
        if result.outcome == "existing" and not self.hold(result.callback_id):
            return [self.text("time_unclear")]
        return self.with_closure([self.text("ask_time")], None)

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
            welsh=self.text.language == WELSH,
        )
        if note:
            return [self.text("closure", message=note), *answer]
        if promised is None:
            return answer
        today = self.now.astimezone(self.hours.timezone).date()
        asked = max(today, window.not_before or today)
        holidays = holidays_between(asked, promised.due, self.hours)
        if not holidays:
            return answer
        phrases = self.text.flows.phrases
        due = promised.due.astimezone(self.hours.timezone)
        day = f"{phrases.weekday(due.weekday())} {due.day} {phrases.months[due.month - 1]}"
        names = f" {phrases.window['and']} ".join(holidays)
        return [self.text("closed_until", names=names, day=day), *answer]
