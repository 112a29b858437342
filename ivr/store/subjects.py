"""What the store holds about one phone number, and erasing it: a person's subject access
and erasure requests (`helpline data show|erase`, ops/subjects.py).

The only two functions that find a person's records by their number: a change in how
numbers are kept and looked up changes these two, not their callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis

from ivr.core.callbacks import Callback
from ivr.store.accounts import Accounts
from ivr.store.audit import KEEP
from ivr.store.keys import Keys
from ivr.store.queue import CallbackQueue, number_key
from ivr.store.replies import texts


@dataclass(frozen=True)
class Held:
    """What the store holds about a number."""

    callbacks: list[Callback]  # oldest request first
    open_callback: str | None  # the one the number can still be called back for
    texts_counted: int  # texts in the current flood window (expires within minutes)
    replies_paused: bool  # too many texts: replies paused for a while
    advisor_accounts: list[str]  # usernames whose phone is this number
    audit: list[dict[str, str]]  # what staff did about its callbacks (oldest first)


def held_about(r: redis.Redis, keys: Keys, number: str) -> Held:
    h = number_key(number)
    queue = CallbackQueue(r, keys)
    ids = set(texts(list(r.smembers(keys.numbers(h)))))
    found = (queue.get(i) for i in ids)
    callbacks = sorted((cb for cb in found if cb), key=lambda cb: cb.requested_at)
    open_callback = queue.open_for(number)
    rate, quiet = keys.flood(h)
    entries = cast(list[tuple[str, dict[str, str]]], r.xrange(keys.audit, count=KEEP * 2))
    return Held(
        callbacks=callbacks,
        open_callback=open_callback.id if open_callback else None,
        texts_counted=int(r.get(rate) or 0),
        replies_paused=bool(r.exists(quiet)),
        advisor_accounts=[a.username for a in Accounts(r).all() if a.phone == number],
        audit=[fields for _, fields in entries if fields.get("callback") in ids],
    )


def erase_about(r: redis.Redis, keys: Keys, number: str) -> int:
    """Everything the callback queue holds about `number`, as STOP erases it, and its flood
    counters; how many callback records went. Advisor accounts are not touched (staff
    remove those), nor the audit trail (it holds callback ids and masked numbers only)."""
    erased = CallbackQueue(r, keys).erase_number(number)
    r.delete(*keys.flood(number_key(number)))
    return erased
