"""The advisor's console: the queue, going on duty, "Take next" and the outcome of a call."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import flash, jsonify, redirect, render_template, request, url_for
from twilio.base.exceptions import TwilioException
from werkzeug.wrappers import Response

from ivr.core.callbacks import OUTCOMES, after_outcome
from ivr.core.claims import actor, why_not_call_next
from ivr.core.languages import ENGLISH, WELSH
from ivr.core.livequeue import twilio_queue
from ivr.ops.checks import calls_problem
from ivr.store import audit, stats
from ivr.store.accounts import Advisor
from ivr.store.keys import calling
from ivr.store.live import DROPPED, Caller
from ivr.store.live import WAITING as ON_THE_LINE
from ivr.store.onelist import Taken, take_next
from ivr.twilio.rest import call_advisor, call_advisor_for_caller, queue_members, twilio_error
from ivr.web.console.common import (
    ERROR,
    accounts,
    audited,
    bp,
    log,
    me,
    on_the_line,
    queue_rules,
    row,
)
from ivr.web.context import helpline

CALL_NEXT_LOCK_SECONDS = 30
OUTCOME_LABELS = {
    "reached": "Reached",
    "no_answer": "No answer",
    "voicemail_left": "Voicemail left",
    "wrong_number": "Wrong number",
    "declined": "Asked not to be called",
}


def queue_view() -> dict[str, object]:
    h = helpline()
    now = h.clock()
    due = sorted((row(cb, now) for cb in h.queue.all(("due",))), key=lambda r: not r["urgent"])
    mine = [row(cb, now) for cb in h.queue.claimed_by(me().username)]
    status = helpline().line_status()
    counts = h.queue.counts()
    return {
        "open": status.open,
        "live": on_the_line(now),
        "due": due,
        "mine": mine[0] if mine else None,
        "waiting_later": counts["scheduled"],
        "held": counts["held"],
        "on_duty": me().on_duty,
    }


@bp.route("/")
def queue() -> str:
    return render_template("console/queue.html", view=queue_view(), outcomes=OUTCOME_LABELS)


@bp.route("/queue.json")
def queue_json() -> Response:
    return jsonify(queue_view())


@bp.route("/duty", methods=["POST"])
def duty() -> Response:
    on = request.form.get("on_duty") == "1"
    accounts().set_on_duty(me().username, on)
    audited("on duty" if on else "off duty")
    return redirect(url_for("console.queue"))


@bp.route("/call-next", methods=["POST"])
def call_next() -> Response:
    """Take next: take the head of the one list (atomically), then ring the advisor's phone."""
    h = helpline()
    advisor = me()
    # One "Take next" at a time per advisor: a double click must not claim two callbacks
    # (the second would ring the advisor's phone for a call the console does not show).
    lock = calling(advisor.username)
    if not h.redis.set(lock, 1, nx=True, ex=CALL_NEXT_LOCK_SECONDS):
        flash("Already calling: one call at a time.", ERROR)
        return redirect(url_for("console.queue"))
    try:
        refused = why_not_call_next(
            h.line_status().open,
            advisor.on_duty,
            h.settings.rehearsal or (h.twilio is not None and bool(h.settings.helpline_number)),
            bool(h.queue.claimed_by(advisor.username)),
        )
        if refused == "no_twilio":
            log.error("call next refused: %s", calls_problem(h.settings))
        if refused:
            flash(CALL_NEXT_REFUSED[refused], ERROR)
        else:
            claim_and_ring(advisor)
    finally:
        h.redis.delete(lock)
    return redirect(url_for("console.queue"))


CALL_NEXT_REFUSED = {
    "closed": "The helpline is closed: nobody is called while it is closed.",
    "off_duty": "Go on duty first.",
    "no_twilio": "Calls can't be made right now: tell your supervisor.",
    "holding": "Record the outcome of your current call first.",
}


def take(advisor: Advisor) -> Taken | None:
    """The head of the one list (callbacks on their last day, live callers, due callbacks),
    as this advisor takes it (Welsh callers first for a Welsh speaker), taken atomically,
    after our list of callers is brought in line with Twilio's queues."""
    h = helpline()
    now = h.clock()
    reconcile_with_twilio(now)
    rules = queue_rules()
    return take_next(
        h.queue,
        h.live,
        advisor.username,
        now,
        rules.order,
        h.settings.callback_expiry_opening_days,
        h.flows.hours.timezone,
        advisor.welsh,
        welsh_speaker_on_duty(),
    )


# A caller just joined (or just given back) may not be in Twilio's queue yet: we note them
# before Twilio runs the <Enqueue> we answer with.
JOIN_GRACE = timedelta(seconds=30)


def reconcile_with_twilio(now: datetime) -> None:
    """Our list of callers against the members of the helpline's Twilio queues (GET
    Members): a caller Twilio holds whom our list dropped (their wait page stopped asking
    for SEEN_STALE) or never had gets their place back, never stranded out of reach of
    Take next; a waiting caller Twilio no longer holds hung up without Twilio telling us,
    and is not taken. When Twilio can't be asked, our list stands (docs/take-next.md)."""
    h = helpline()
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


def welsh_speaker_on_duty() -> bool:
    """Whether an advisor of this helpline who speaks Welsh is on duty (then Welsh callers
    wait for one: livequeue.for_advisor)."""
    h = helpline()
    return any(a.welsh and a.on_duty and h.serves(a) for a in accounts().all())


def claim_and_ring(advisor: Advisor) -> None:
    h = helpline()
    now = h.clock()
    taken = take(advisor)
    if taken is None:
        flash("Nobody is waiting right now: no caller on the line and no callback due.")
        return
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
        flash(
            "Rehearsal: your phone would ring now; press 1 to be put through to the caller. "
            "Then record what happened below."
        )
        return
    base = h.settings.public_base_url or request.url_root.rstrip("/")
    if taken.caller is not None:
        ring_for_caller(advisor, taken.caller, base)
        return
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
        h.queue.unclaim(callback.id, advisor.username)
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
        flash(
            "Your phone could not be rung, so the callback is back in the queue. Try again "
            "in a minute; if it happens again, tell your supervisor.",
            ERROR,
        )
        return
    audit.record(
        h.redis, now, advisor.username, "called", callback.id, callback.number, keys=h.keys
    )
    flash("Ringing your phone: press 1 when you answer to connect to the caller.")


def ring_for_caller(advisor: Advisor, caller: Caller, base: str) -> None:
    """Ring the advisor to take a caller waiting on the line; if their phone can't be rung,
    the caller waits on, keeping their place."""
    h = helpline()
    now = h.clock()
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
        h.live.give_back(caller.call_sid, advisor.username)
        flash("Your phone could not be rung. The caller is still waiting.")
        return
    audit.record(
        h.redis,
        now,
        advisor.username,
        "took a caller from the queue",
        detail=caller.masked,
        keys=h.keys,
    )
    flash("Ringing your phone: press 1 when you answer to take the caller who is waiting.")


@bp.route("/callbacks/<callback_id>/outcome", methods=["POST"])
def outcome(callback_id: str) -> Response:
    """Record what happened; no answer comes back later, up to the maximum attempts."""
    h = helpline()
    s = h.settings
    callback = h.queue.get(callback_id)
    result = request.form.get("outcome", "")
    if (
        callback is None
        or result not in OUTCOMES
        or (result == "voicemail_left" and not callback.voicemail)
    ):
        flash("Choose one of the outcomes shown.", ERROR)
        return redirect(url_for("console.queue"))
    now = h.clock()
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
        callback.id, actor(me().username, me().supervisor), result, status, now, place
    ):
        flash("That callback is not yours to finish.", ERROR)
        return redirect(url_for("console.queue"))
    audit.record(
        h.redis,
        now,
        me().username,
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
    flash(
        f"Recorded: {OUTCOME_LABELS[result]}."
        + (" It will come back to the queue later." if status == "scheduled" else "")
    )
    return redirect(url_for("console.queue"))
