"""The one list advisors take from: live callers in the queue and due callbacks, in the
order core/livequeue.one_list gives (as core/livequeue.for_advisor gives it to each advisor:
Welsh speakers take Welsh callers first), and "Take next", which takes its head atomically.

Each entry is taken by its own script (LiveQueue.take, CallbackQueue.claim_one), so when two
advisors take next at once, one gets the head and the other the entry after it: never the
same caller or callback twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ivr.core.callbacks import Callback
from ivr.core.claims import may_claim
from ivr.core.expiry import last_day
from ivr.core.livequeue import CALLBACK, CALLER, Waiting, for_advisor
from ivr.store.live import WAITING, Caller, LiveQueue
from ivr.store.queue import CallbackQueue

TRIES = 50  # entries tried before giving up (each failed take means someone else took it)


@dataclass(frozen=True)
class Taken:
    """What "Take next" took: a live caller or a callback (exactly one is set)."""

    caller: Caller | None = None
    callback: Callback | None = None


def on_last_day(cb: Callback, expiry_days: int, now: datetime, tz: ZoneInfo) -> bool:
    return last_day(
        cb.count, expiry_days, cb.due_at.astimezone(tz).date(), now.astimezone(tz).date()
    )


def entries(
    queue: CallbackQueue, live: LiveQueue, now: datetime, expiry_days: int, tz: ZoneInfo
) -> list[Waiting]:
    """Everyone an advisor could take now: callers waiting (not being taken) and callbacks
    that may be claimed."""
    callers = [
        Waiting(CALLER, c.call_sid, c.joined, language=c.language)
        for c in live.waiting(now)
        if c.state == WAITING
    ]
    callbacks = [
        Waiting(
            CALLBACK,
            cb.id,
            cb.requested_at,
            on_last_day(cb, expiry_days, now, tz),
            cb.swapped,
            cb.language,
            cb.urgent,
        )
        for cb in queue.all(("due",))
        if may_claim(cb, now)
    ]
    return [*callers, *callbacks]


def take_next(
    queue: CallbackQueue,
    live: LiveQueue,
    advisor: str,
    now: datetime,
    order: str,
    expiry_days: int,
    tz: ZoneInfo,
    speaks_welsh: bool = False,
    welsh_speaker_on_duty: bool = False,
) -> Taken | None:
    """Take the head of the one list for `advisor` (None: nobody is waiting), Welsh callers
    first for a Welsh speaker, and left to one while they are on duty (for_advisor)."""
    waiting = entries(queue, live, now, expiry_days, tz)
    for entry in for_advisor(waiting, order, speaks_welsh, welsh_speaker_on_duty)[:TRIES]:
        if entry.kind == CALLER:
            if live.take(entry.ref, advisor, now):
                return Taken(caller=live.caller(entry.ref))
        else:
            callback = queue.claim_one(entry.ref, advisor, now)
            if callback is not None:
                return Taken(callback=callback)
    return None
