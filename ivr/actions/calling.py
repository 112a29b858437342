"""Calling people back: "Take next" (take the head of the one list, claim it, ring the
advisor's phone), giving back what could not be rung, and recording the outcome of a call.

Plain functions of the services, the advisor and the time; what happened comes back as plain
data (one of the words below), and the console says it in its own words. Who may take,
finish or give back a callback is decided atomically by the store's scripts (store/queue.py),
the table in tests/test_claims.py; core/claims.py says what Take next asks them for.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from twilio.base.exceptions import TwilioException

from ivr.core.callbacks import OUTCOMES, after_outcome
from ivr.core.claims import actor, why_not_call_next
from ivr.core.languages import ENGLISH, WELSH
from ivr.core.livequeue import twilio_queue
from ivr.ops.checks import calls_problem
from ivr.services import Services
from ivr.store import audit, stats
from ivr.store.accounts import Advisor
from ivr.store.live import DROPPED, Caller, Rules
from ivr.store.live import WAITING as ON_THE_LINE
from ivr.store.locks import taking_next
from ivr.store.onelist import Taken, take_next
from ivr.twilio.rest import call_advisor, call_advisor_for_caller, queue_members, twilio_error

log = logging.getLogger(__name__)

# What Take next did, besides the refusals of claims.why_not_call_next (closed, off_duty,
# no_twilio, holding):
BUSY = "busy"  # a Take next of this advisor's is still running (a double click)
NOBODY = "nobody"  # no caller on the line and no callback due
REHEARSED = "rehearsed"  # helpline demo: taken, and nobody's phone rings
RINGING_FOR_CALLBACK = "ringing_for_callback"
RINGING_FOR_CALLER = "ringing_for_caller"
CALLBACK_NOT_RUNG = "callback_not_rung"  # the phone could not be rung: the callback is back
CALLER_NOT_RUNG = "caller_not_rung"  # likewise: the caller waits on, in their place

# What recording an outcome did, besides the callback's new status (done, expired, or
# scheduled: it comes back later):
NOT_SHOWN = "not_shown"  # no such callback, or an outcome it was not offered
NOT_YOURS = "not_yours"  # not a claim this advisor may finish

# A caller just joined (or just given back) may not be in Twilio's queue yet: we note them
# before Twilio runs the <Enqueue> we answer with.
JOIN_GRACE = timedelta(seconds=30)


def queue_rules(services: Services) -> Rules:
    """The supervisor's queue rules, else QUEUE_MAX_WAIT_MINUTES and QUEUE_ORDER."""
    return services.live.rules(
        timedelta(minutes=services.settings.queue_max_wait_minutes), services.settings.queue_order
    )


def welsh_speaker_on_duty(services: Services) -> bool:
    """Whether an advisor of this helpline who speaks Welsh is on duty (then Welsh callers
    wait for one: livequeue.for_advisor)."""
    return any(a.welsh and a.on_duty and services.serves(a) for a in services.accounts.all())


def call_next(services: Services, advisor: Advisor, base: str, now: datetime) -> str:
    """Take next, one at a time per advisor: unless refused (why_not_call_next), take the head
    of the one list and ring the advisor's phone (our webhooks at `base`)."""
    with taking_next(services.redis, advisor.username) as mine:
        if not mine:
            return BUSY
        refused = why_not_call_next(
            services.line_status(now).open,
            advisor.on_duty,
            services.settings.rehearsal
            or (services.twilio is not None and bool(services.settings.helpline_number)),
            bool(services.queue.claimed_by(advisor.username)),
        )
        if refused == "no_twilio":
            log.error("call next refused: %s", calls_problem(services.settings))
        if refused:
            return refused
        return claim_and_ring(services, advisor, base, now)


def take(services: Services, advisor: Advisor, now: datetime) -> Taken | None:
    """The head of the one list (callbacks on their last day, live callers, due callbacks),
    as this advisor takes it (Welsh callers first for a Welsh speaker), taken atomically,
    after our list of callers is brought in line with Twilio's queues."""
    reconcile_with_twilio(services, now)
    return take_next(
        services.queue,
        services.live,
        advisor.username,
        now,
        queue_rules(services).order,
        services.settings.callback_expiry_opening_days,
        services.flows.hours.timezone,
        advisor.welsh,
        welsh_speaker_on_duty(services),
    )


def reconcile_with_twilio(services: Services, now: datetime) -> None:
    """Our list of callers against the members of the helpline's Twilio queues (GET
    Members): a caller Twilio holds whom our list dropped (their wait page stopped asking
    for SEEN_STALE) or never had gets their place back, never stranded out of reach of
    Take next; a waiting caller Twilio no longer holds hung up without Twilio telling us,
    and is not taken. When Twilio can't be asked, our list stands (docs/take-next.md)."""
    h = services
    if h.twilio is None:
        return
    ours = {c.call_sid: c for c in h.live.waiting(now)}
    for lang in (ENGLISH, WELSH) if h.flows.welsh else (ENGLISH,):
        held = queue_members(h.twilio, twilio_queue(h.keys.helpline, lang))
        if held is None:
            continue
        for sid, waited in held.items():
            if sid not in ours and h.live.reconcile(
                sid, now, now - timedelta(seconds=waited), lang
            ):
                log.info("call %s: in Twilio's queue but not in our list: back in its place", sid)
        for sid, caller in ours.items():
            seen = caller.seen or caller.joined
            if (
                caller.language == lang
                and caller.state == ON_THE_LINE
                and sid not in held
                and now - seen > JOIN_GRACE
            ):
                h.live.end(sid, DROPPED, now)  # back in its place if its wait page asks
                log.info("call %s: no longer in Twilio's queue: dropped", sid)


def claim_and_ring(services: Services, advisor: Advisor, base: str, now: datetime) -> str:
    """Take the head of the one list for `advisor` and ring their phone for it; what the
    phone could not be rung for is given back."""
    h = services
    taken = take(h, advisor, now)
    if taken is None:
        return NOBODY
    if h.settings.rehearsal:  # helpline demo: nobody's phone rings
        if taken.callback is not None:
            audit.record(
                h.redis,
                now,
                advisor.username,
                "claimed",
                taken.callback.id,
                taken.callback.number,
                keys=h.keys,
            )
        return REHEARSED
    if taken.caller is not None:
        return ring_for_caller(h, advisor, taken.caller, base, now)
    callback = taken.callback
    assert callback is not None
    audit.record(
        h.redis, now, advisor.username, "claimed", callback.id, callback.number, keys=h.keys
    )
    try:
        call_advisor(h.twilio, h.settings, base, advisor.phone, callback.id, advisor.username)
    except (TwilioException, OSError) as exc:  # OSError: requests' connection errors
        log.error(
            "could not ring advisor %s for callback %s: %s",
            advisor.username,
            callback.id,
            twilio_error(exc),
        )
        give_back(h, taken, advisor.username)
        audit.record(
            h.redis,
            now,
            advisor.username,
            "phone not rung",
            callback.id,
            callback.number,
            twilio_error(exc),
            keys=h.keys,
        )
        return CALLBACK_NOT_RUNG
    audit.record(
        h.redis, now, advisor.username, "called", callback.id, callback.number, keys=h.keys
    )
    return RINGING_FOR_CALLBACK


def ring_for_caller(
    services: Services, advisor: Advisor, caller: Caller, base: str, now: datetime
) -> str:
    """Ring the advisor to take a caller waiting on the line; if their phone can't be rung,
    the caller waits on, keeping their place."""
    h = services
    try:
        call_advisor_for_caller(
            h.twilio, h.settings, base, advisor.phone, caller.call_sid, advisor.username
        )
    except (TwilioException, OSError) as exc:
        log.error(
            "could not ring advisor %s for a queued caller: %s",
            advisor.username,
            twilio_error(exc),
        )
        give_back(h, Taken(caller=caller), advisor.username)
        return CALLER_NOT_RUNG
    audit.record(
        h.redis,
        now,
        advisor.username,
        "took a caller from the queue",
        detail=caller.masked,
        keys=h.keys,
    )
    return RINGING_FOR_CALLER


def give_back(services: Services, taken: Taken, username: str) -> None:
    """What an advisor took but could not be rung for goes back: a callback to the due queue,
    a caller to their place on the line (only the advisor's own: the store checks)."""
    if taken.callback is not None:
        services.queue.unclaim(taken.callback.id, username)
    if taken.caller is not None:
        services.live.give_back(taken.caller.call_sid, username)


def record_outcome(
    services: Services, advisor: Advisor, callback_id: str, result: str, now: datetime
) -> str:
    """Record what happened on a call (one of core/callbacks.OUTCOMES): the callback's new
    status (no answer comes back later, up to the maximum attempts), NOT_SHOWN or NOT_YOURS.
    A supervisor may finish anyone's claim."""
    h = services
    s = h.settings
    callback = h.queue.get(callback_id)
    if (
        callback is None
        or result not in OUTCOMES
        or (result == "voicemail_left" and not callback.voicemail)
    ):
        return NOT_SHOWN
    status, place = after_outcome(
        result,
        callback.attempts,
        s.max_attempts,
        now,
        h.flows.hours,
        timedelta(minutes=s.retry_delay_minutes),
        callback.plan,
    )
    if not h.queue.finish(
        callback.id, actor(advisor.username, advisor.supervisor), result, status, now, place
    ):
        return NOT_YOURS
    audit.record(
        h.redis,
        now,
        advisor.username,
        f"outcome {result}",
        callback.id,
        callback.number,
        status,
        keys=h.keys,
    )
    tz = h.flows.hours.timezone
    if result in ("reached", "voicemail_left"):
        stats.count(h.redis, now, tz, "cb:reached", keys=h.keys)
    if status == "expired":
        stats.count(h.redis, now, tz, "cb:expired", keys=h.keys)
    return status
