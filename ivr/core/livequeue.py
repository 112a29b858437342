"""The in-hours queue's rules, as plain functions with the clock passed in (issue 13).

Who is free to be rung (an advisor's state, following Twilio's status callbacks, with
stale states cleaned up), the one list advisors take from (live callers and callbacks, in
one order), and what a waiting caller is told about their wait. The store applies these
(store/live.py), the web turns them into TwiML and console rows.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ivr.core.languages import ENGLISH, WELSH

# ------------------------------------------------------------------ an advisor's state

FREE, RINGING, ON_CALL, WRAP_UP = "free", "ringing", "on_call", "wrap_up"
STATES = (FREE, RINGING, ON_CALL, WRAP_UP)
ANSWERED = ("in-progress", "answered")
NOT_ANSWERED = ("busy", "no-answer", "failed", "canceled")


@dataclass(frozen=True)
class StaleAfter:
    """How long a state may last before it is taken to be stale (a status callback that never
    came): a phone does not ring for minutes, and a wrap-up that nobody ends is over."""

    ringing: timedelta = timedelta(minutes=2)
    on_call: timedelta = timedelta(hours=3)
    wrap_up: timedelta = timedelta(minutes=5)


STALE = StaleAfter()


@dataclass(frozen=True)
class AdvisorState:
    state: str = FREE
    since: datetime | None = None


def current(state: AdvisorState, now: datetime, stale: StaleAfter = STALE) -> str:
    """The state as it stands at `now`: one that has lasted longer than it can is free."""
    if state.state not in STATES or state.since is None:
        return FREE
    limit = {RINGING: stale.ringing, ON_CALL: stale.on_call, WRAP_UP: stale.wrap_up}.get(
        state.state
    )
    if limit is not None and now - state.since > limit:
        return FREE
    return state.state


def after_status(state: str, call_status: str) -> str | None:
    """The advisor's next state after a status callback of one of their call legs (None: no
    change). A call that was answered ends in wrap-up (for its outcome); one that was not
    leaves them free. A late "ringing" never undoes an answered call."""
    if call_status in ("initiated", "queued", "ringing"):
        return RINGING if state in (FREE, RINGING, WRAP_UP) else None
    if call_status in ANSWERED:
        return ON_CALL
    if call_status == "completed":
        return WRAP_UP if state == ON_CALL else FREE
    if call_status in NOT_ANSWERED:
        return FREE if state != ON_CALL else None
    return None


def may_ring(state: AdvisorState, now: datetime, on_duty: bool, stale: StaleAfter = STALE) -> bool:
    """Only an on-duty advisor who is free is rung for a caller: never one on a call."""
    return on_duty and current(state, now, stale) == FREE


# ------------------------------------------------------------------ the one list

LIVE_FIRST, BY_WAIT = "live_first", "by_wait"
ORDERS = (LIVE_FIRST, BY_WAIT)
CALLER, CALLBACK = "caller", "callback"


@dataclass(frozen=True)
class Waiting:
    """One entry of the one list: a live caller (ref: their CallSid) or a due callback
    (ref: its id). `since` is when their wait began: joining the queue, or asking for the
    callback (for a caller who swapped, when they joined the queue)."""

    kind: str
    ref: str
    since: datetime
    last_day: bool = False  # a callback that expires tonight unless someone reaches it
    swapped: bool = False  # a callback asked for from the queue: it keeps the caller's place
    language: str = ENGLISH  # the language they chose (a Welsh speaker may take them first)
    urgent: bool = False  # a callback whose text spoke of danger or despair: taken first


def tier(entry: Waiting, order: str) -> int:
    """Callbacks on their last day first (a promise must not lapse behind live calls); then,
    live first, the live callers and those who swapped from the queue (who keep their
    place among them), then other callbacks; by waiting time, everyone else together."""
    if entry.kind == CALLBACK and entry.last_day:
        return 0
    if order == BY_WAIT or entry.kind == CALLER or entry.swapped:
        return 1
    return 2


def one_list(entries: Iterable[Waiting], order: str = LIVE_FIRST) -> list[Waiting]:
    """Everyone waiting for an advisor, in the order "Take next" takes them: urgent
    callbacks (a text that spoke of danger or despair) first, then by tier, then longest
    wait first (ties: callers before callbacks, then by reference, so every process sees
    one order)."""
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}")
    return sorted(
        entries, key=lambda e: (not e.urgent, tier(e, order), e.since, e.kind != CALLER, e.ref)
    )


def for_advisor(
    entries: Iterable[Waiting],
    order: str,
    speaks_welsh: bool,
    welsh_speaker_on_duty: bool,
) -> list[Waiting]:
    """The one list as one advisor takes from it. A Welsh speaker takes the Welsh entries of
    the list's top group first (the head's tier: last-day callbacks stay first for everyone).
    While a Welsh speaker is on duty, an advisor who doesn't speak Welsh leaves Welsh live
    callers and Welsh callbacks to them, except a callback on its last day (a promise must
    not lapse waiting for a Welsh speaker); with none on duty, anyone takes anyone."""
    ordered = one_list(entries, order)
    if speaks_welsh:
        if not ordered:
            return ordered
        top = tier(ordered[0], order)
        welsh = [e for e in ordered if tier(e, order) == top and e.language == WELSH]
        return [*welsh, *(e for e in ordered if e not in welsh)]
    if welsh_speaker_on_duty:
        return [
            e
            for e in ordered
            if e.language != WELSH or (e.kind == CALLBACK and (e.last_day or e.urgent))
        ]
    return ordered


def twilio_queue(helpline: str, language: str) -> str:
    """The Twilio queue a caller waits in: one per helpline and language (advisors take
    callers from it by CallSid, docs/take-next.md)."""
    return f"helpline-{helpline}" + ("" if language == ENGLISH else f"-{language}")


# ------------------------------------------------------------------ what a waiting caller hears

MIN_SAMPLES = 5  # fewer recent calls than this, and no estimate is given


def estimate_wait(position: int, handling_seconds: Sequence[float], advisors: int) -> int | None:
    """An honest estimate, in whole minutes (at least 1), of the wait of the caller at
    `position` (1: next): the callers ahead of them and they shared among the advisors on
    duty, each taking the median of recent handling times. None when there is too little to
    go on (fewer than MIN_SAMPLES recent calls, nobody on duty, no position): never an
    invented number."""
    if position < 1 or advisors < 1 or len(handling_seconds) < MIN_SAMPLES:
        return None
    median = statistics.median(handling_seconds)
    rounds = math.ceil(position / advisors)
    return max(1, math.ceil(rounds * median / 60))


# ------------------------------------------------------------------ leaving the wait

SWAP, MAX_WAIT, CLOSING, NO_ADVISORS = "swap", "max_wait", "closing", "no_advisors"
WHY_LEAVE = (SWAP, MAX_WAIT, CLOSING, NO_ADVISORS)


def why_leave(
    joined: datetime | None,
    now: datetime,
    max_wait: timedelta,
    line_open: bool,
    advisors_on_duty: int,
) -> str | None:
    """Why a caller still waiting is offered the callback now (None: they wait on): the line
    closed, nobody is on duty any more, or they have waited the maximum. Never a silent
    drop: each reason leads to the callback offer, keeping their place."""
    if not line_open:
        return CLOSING
    if advisors_on_duty < 1:
        return NO_ADVISORS
    if joined is not None and now - joined >= max_wait:
        return MAX_WAIT
    return None
