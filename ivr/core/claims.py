"""Who may take a callback, and on whose behalf: what the app asks the store for.

The rule itself is kept in one place: the store's Lua scripts (store/queue.py: _CLAIM_ONE,
_FINISH, _UNCLAIM, _RETURN_STALE) decide atomically who may claim, finish or give back a
callback, so two advisors never take one; tests/test_claims.py carries that rule as a table.
Here only what decides what to ask: may_claim (which entries Take next asks the store to
claim, store/onelist.py; the table checks it agrees), actor, and why_not_call_next.
"""

from __future__ import annotations

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
