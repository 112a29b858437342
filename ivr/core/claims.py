"""Who may take, finish or give back a callback: one access rule in one place, as flaskr's
`get_post(id, check_author)` keeps its own.

The store's Lua scripts (store/queue.py: _CLAIM, _FINISH, _UNCLAIM, _RETURN_STALE) apply
the same rules atomically, so two advisors never take one callback; tests/test_claims.py
puts every kind of callback before every kind of actor and checks that both agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ivr.core.callbacks import Callback

# Acting on anyone's claim: a supervisor recording an outcome for an advisor who left, or the
# scheduler closing claims nobody finished.
ANYONE = "*"


def actor(username: str, supervisor: bool) -> str:
    """Whom an outcome is recorded as: a supervisor may finish anyone's claim."""
    return ANYONE if supervisor else username


def may_claim(callback: Callback, now: datetime) -> bool:
    """Due, and its slot has not ended: nobody is called outside their safe window."""
    return callback.status == "due" and callback.slot_end is not None and callback.slot_end > now


def next_claim(due_oldest_first: Iterable[Callback], now: datetime) -> Callback | None:
    """What "call next" takes: the longest-waiting callback that may be claimed."""
    return next((cb for cb in due_oldest_first if may_claim(cb, now)), None)


def may_finish(callback: Callback, who: str) -> bool:
    """Only a claim can be finished, and only by its advisor (or ANYONE)."""
    return callback.status == "claimed" and who in (ANYONE, callback.claimed_by)


def may_give_back(callback: Callback, advisor: str) -> bool:
    """An advisor whose phone could not be rung gives back their own claim, nobody else's."""
    return callback.status == "claimed" and callback.claimed_by == advisor


def goes_back(callback: Callback, claimed_before: datetime) -> bool:
    """A claim left unfinished since before `claimed_before` returns to the queue, unless the
    person was connected: then the call happened, and it waits for an outcome instead of
    being made twice."""
    return (
        callback.status == "claimed"
        and callback.claimed_at is not None
        and callback.claimed_at <= claimed_before
        and not callback.caller_connected
    )


def why_not_call_next(line_open: bool, on_duty: bool, can_call: bool, holding: bool) -> str | None:
    """Why an advisor may not take the next callback now (None: they may), in the order the
    console says it: closed, off duty, no Twilio, a call of theirs still unrecorded."""
    if not line_open:
        return "closed"
    if not on_duty:
        return "off_duty"
    if not can_call:
        return "no_twilio"
    if holding:
        return "holding"
    return None
