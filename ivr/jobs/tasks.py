"""The scheduler's jobs, each one pass at a given instant (like rq-scheduler's burst mode).

The scheduler process runs them on its timetable; `helpline jobs run` and the tests call them
directly. Each job first finds what to do, then does it only when asked to apply, and says
what it did (or would do) in a Report, so staff can see a job's effect before it happens.
Texts are sent only when the job runs for the real present: a job run for another instant
says what it would send instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from twilio.base.exceptions import TwilioException

from ivr.core.callbacks import Callback
from ivr.core.clock import day_in_words, in_words
from ivr.core.expiry import (
    END_HELD,
    EXPIRE,
    Count,
    Limits,
    count_through,
    last_day,
    overdue,
    to_decide,
    tonight,
)
from ivr.core.hours import Status
from ivr.core.phone import mask
from ivr.core.promise import placement, promise
from ivr.core.safetime import ANYTIME
from ivr.services import Services
from ivr.store import compaction, stats
from ivr.store.marks import Marks
from ivr.store.queue import WAITING, erase_simulated
from ivr.twilio import webhooks
from ivr.twilio.rest import run_purges, send_sms

log = logging.getLogger(__name__)

# A call that connected but never got an outcome is closed after this, so the number is free
# to ask again (claims that never connected go back to the queue much sooner, in `tick`).
UNRECORDED_CLAIM_HOURS = 12
OPENING_MARK_SECONDS = 7 * 24 * 3600
NIGHTLY_MARK_SECONDS = 3 * 24 * 3600
PURGE_SHARE_OF_TICK = 0.75


@dataclass
class Report:
    """What a job did, or would do: one line per change, for people."""

    applied: bool
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)
        if self.applied:
            log.info("%s", line)


class Jobs:
    """One pass of a job at `now`. With apply=False nothing is written; with send=False no
    text is sent (nor message deleted from Twilio) and the report says what would be."""

    def __init__(
        self, ctx: Services, apply: bool = True, send: bool = True, purge: bool = True
    ) -> None:
        """`purge`: whether a tick deletes handled messages from Twilio (the deployment's
        work, done with one helpline's tick)."""
        self.ctx, self.apply, self.send, self.purge = ctx, apply, send and apply, purge

    # ------------------------------------------------------------------ the jobs

    def tick(self, now: datetime) -> Report:
        """Every minute or so: claims nobody finished go back, callbacks whose slot ended
        move on to their next slot, and while the line is open the opening's work (once)
        and whatever has become due is released; inbound messages are purged."""
        report = Report(self.apply)
        self._return_stale_claims(now, report)
        self._open_the_day(now, report)
        if self.apply and (done := compaction.rewrite_if_erased(self.ctx.redis)):
            report.add(done)
        if self.ctx.twilio is not None and self.purge:
            if self.send:
                # Within the tick's own time, so a burst is gone by the next one.
                budget = PURGE_SHARE_OF_TICK * self.ctx.settings.scheduler_tick_seconds
                run_purges(
                    self.ctx.redis,
                    self.ctx.twilio,
                    budget_seconds=budget,
                    now=now.timestamp(),
                    min_age=self.ctx.settings.purge_min_age_seconds,
                )
            else:
                report.add(
                    "would delete handled messages and media from Twilio (not for a "
                    "run at another instant)"
                )
        return report

    def opening(self, now: datetime) -> Report:
        """At each opening (and late after downtime): the opening's work, once."""
        report = Report(self.apply)
        self._open_the_day(now, report)
        return report

    def nightly(self, now: datetime) -> Report:
        """Count the day each waiting callback was not reached: expire those tried at least
        once that have waited their opening days, mark overdue those nobody has tried (and
        ask a supervisor about them later: only that decision closes one), end held ones
        that never got a safe time; close calls nobody recorded; erase old records."""
        ctx, report = self.ctx, Report(self.apply)
        zone = ctx.flows.hours.timezone
        today = now.astimezone(zone).date()
        if not self._mark(ctx.keys.nightly(today), now, NIGHTLY_MARK_SECONDS):
            report.add(f"the nightly work for {day_in_words(today)} was already done")
            return report
        yesterday = today - timedelta(days=1)
        limits = ctx.settings.limits
        expired_count = 0
        for callback in list(ctx.queue.all(WAITING)):
            held = callback.status == "held"
            # A held callback's due_at is when we asked for a safe time (placement).
            asked = (callback.due_at if held else callback.requested_at).astimezone(zone).date()
            count = count_through(callback.count, yesterday, held, asked, ctx.flows.hours)
            if count == callback.count:
                continue
            verdict = tonight(count, callback.attempts, held, limits)
            # The record keeps the count this line names: one counter for both.
            if verdict == EXPIRE:
                report.add(
                    f"expire {callback.id} ({mask(callback.number)}): not reached on "
                    f"{count.missed} opening days"
                )
                if self.apply and ctx.queue.end(callback.id, "expired", now, WAITING, count=count):
                    expired_count += 1
            elif verdict == END_HELD:
                expired_count += self._end_held(callback, count, now, report)
            else:
                report.add(self._count_line(callback, count, limits))
                if self.apply:
                    ctx.queue.set_count(callback.id, count)
        unrecorded = ctx.queue.unrecorded_claims(now - timedelta(hours=UNRECORDED_CLAIM_HOURS))
        for callback_id in unrecorded:
            report.add(f"close {callback_id}: connected, no outcome recorded")
        if self.apply:
            closed = ctx.queue.close_unrecorded_claims(
                now - timedelta(hours=UNRECORDED_CLAIM_HOURS), now
            )
            if closed:
                log.warning(
                    "nightly: %d connected calls had no outcome recorded; closed as not_recorded",
                    closed,
                )
            erased = ctx.queue.erase_ended(now - timedelta(days=ctx.settings.retention_days))
            for _ in range(expired_count):
                stats.count(ctx.redis, now, ctx.flows.hours.timezone, "cb:expired", keys=ctx.keys)
            report.add(f"erased {erased} records ended over {ctx.settings.retention_days} days ago")
            added = sum(
                stats.add_day_to_month(ctx.redis, d, ctx.keys) for d in stats.days_to_add(today)
            )
            report.add(f"added {added} finished days to their months' figures")
            report.add(f"erased {erase_simulated(ctx.redis, ctx.keys)} simulated records")
        return report

    # ------------------------------------------------------------------ the steps

    def _count_line(self, callback: Callback, count: Count, limits: Limits) -> str:
        """What the night's count means for a callback that waits on."""
        held = callback.status == "held"
        if to_decide(count, callback.attempts, held, limits) and not to_decide(
            callback.count, callback.attempts, held, limits
        ):
            return (
                f"ask a supervisor about {callback.id}: overdue for {limits.decision} more "
                "opening days"
            )
        if overdue(count, callback.attempts, held, limits) and not overdue(
            callback.count, callback.attempts, held, limits
        ):
            return (
                f"overdue {callback.id}: not reached on {count.missed} opening days, nobody "
                "has tried"
            )
        limit = limits.held if held else limits.expiry
        return f"count {callback.id}: {count.missed} of {limit} opening days missed"

    def _end_held(self, callback: Callback, count: Count, now: datetime, report: Report) -> int:
        """A held callback that got no safe time in its opening days ends, with the text in
        flows/sms.toml [ended] held if the helpline wrote one (none by default); 1 if ended."""
        ctx = self.ctx
        body = ctx.flows.speaking(callback.language).ended_text("held")
        report.add(
            f"end {callback.id} ({mask(callback.number)}): held, no safe time given on "
            f"{count.missed} opening days after we asked; "
            + ("a text" if body else "no text (flows/sms.toml [ended] held is empty)")
        )
        if not self.apply or not ctx.queue.end(
            callback.id, "expired", now, ("held",), outcome="no_safe_time", count=count
        ):
            return 0
        if body:
            self._text_person(callback.number, body, report)
        return 1

    def _text_person(self, number: str, body: str, report: Report) -> None:
        """A text to a person (only for the real present; a failure is logged, never raised)."""
        ctx = self.ctx
        if ctx.twilio is None or not ctx.settings.helpline_number:
            report.add(f"no Twilio settings: {mask(number)} is not texted")
            return
        if not self.send:
            report.add(f"would text {mask(number)}: {body}")
            return
        try:
            send_sms(ctx.twilio, ctx.settings, number, body)
        except TwilioException as exc:
            log.error("could not text %s: %s", mask(number), exc)
        else:
            report.add(f"texted {mask(number)}")

    def _status(self, now: datetime) -> Status:
        return self.ctx.line_status(now)

    def _mark(self, key: str, now: datetime, seconds: int) -> bool:
        """A once-only marker (whoever gets there first does the work); a dry run only
        looks. With replicas, the work is done only once a replica holds the mark (marks.py)."""
        marks = Marks(self.ctx.redis, self.ctx.queue.replicas)
        if not self.apply:
            return not marks.held(key)
        return marks.take(key, now, seconds)

    def _open_the_day(self, now: datetime, report: Report) -> None:
        """Move on callbacks whose slot ended; while open, release what is due and, once per
        opening, tell the advisors on duty how many are waiting."""
        ctx = self.ctx
        self._move_on(now, report)
        if not self._status(now).open:
            return
        self._release(now, report)
        hours = ctx.flows.hours
        local = now.astimezone(hours.timezone)
        session = hours.day(local.date()).session
        if session is None:
            return  # open on a closed day: only by a supervisor's say, no opening text
        opened = datetime.combine(local.date(), session.opens, tzinfo=hours.timezone)
        if not self._mark(ctx.keys.opening(opened.isoformat()), now, OPENING_MARK_SECONDS):
            return
        report.add(f"the helpline opened at {opened:%H:%M} on {day_in_words(opened.date())}")
        # Everyone who can be called today: due now, or later today inside their safe time.
        today = local.date()
        limits = ctx.settings.limits
        waiting = [
            cb
            for cb in ctx.queue.all(("scheduled", "due"))
            if cb.due_at.astimezone(hours.timezone).date() <= today
        ]
        late = [cb for cb in waiting if overdue(cb.count, cb.attempts, False, limits)]
        final = sum(
            1
            for cb in waiting
            if cb not in late
            and last_day(
                cb.count, limits.expiry, cb.due_at.astimezone(hours.timezone).date(), today
            )
        )
        self._tell_advisors(len(waiting), final, len(late), report)

    def _return_stale_claims(self, now: datetime, report: Report) -> None:
        before = now - timedelta(minutes=self.ctx.settings.claim_timeout_minutes)
        stale = self.ctx.queue.stale_claims(before)
        if stale:
            report.add(f"{len(stale)} unfinished claims go back to the queue")
            if self.apply:
                self.ctx.queue.return_stale_claims(before)

    def _move_on(self, now: datetime, report: Report) -> None:
        """A callback whose slot has ended (the window closed, or the helpline did) goes to
        its next slot: it is never called outside one."""
        ctx = self.ctx
        override = ctx.closure()
        for callback in ctx.queue.slot_ended(now):
            promised = promise(
                now, callback.plan or ANYTIME, ctx.flows.hours, override, ctx.settings.min_slot
            )
            place = placement(promised, now, ctx.flows.hours)
            due = in_words(place.due, ctx.flows.hours.timezone)
            report.add(f"move {callback.id} to its next slot, due {due}")
            if self.apply:
                ctx.queue.replan(callback.id, callback.plan, place)

    def _release(self, now: datetime, report: Report) -> None:
        """Release what is due; the report names the ids this pass moved (a dry run, those
        it would)."""
        ctx = self.ctx
        if self.apply:
            ids = ctx.queue.release(
                now, now.astimezone(ctx.flows.hours.timezone).date(), ctx.settings.min_slot
            )
        else:
            ids = ctx.queue.due_to_release(now)
        if ids:
            report.add(
                f"release {len(ids)} {'callback' if len(ids) == 1 else 'callbacks'}: "
                + ", ".join(ids)
            )

    def _tell_advisors(self, waiting: int, final: int, late: int, report: Report) -> None:
        """One discreet text to each advisor on duty: how many are waiting, how many of them
        for the last day, how many overdue, and the console link (never a caller's number).
        A failure is logged; it never stops the opening."""
        ctx = self.ctx
        s = ctx.settings
        if ctx.twilio is None or not s.helpline_number:
            report.add(
                f"{waiting} waiting, {final} for the last day, {late} overdue (no Twilio "
                "settings: advisors are not texted)"
            )
            return
        body = ctx.flows.sms.advisor_opening.format(
            count=waiting,
            last_day=final,
            overdue=late,
            link=webhooks.url(s.public_base_url, webhooks.CONSOLE),
        )
        for phone in ctx.accounts.on_duty_phones(ctx.line.name, ctx.lines.default.name):
            if not self.send:
                report.add(f"would text {mask(phone)}: {body}")
                continue
            try:
                send_sms(ctx.twilio, s, phone, body)
            except TwilioException as exc:
                log.error("could not text an advisor at %s: %s", mask(phone), exc)
            else:
                report.add(f"texted {mask(phone)}: {body}")
