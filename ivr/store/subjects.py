"""What the store holds about one phone number, and erasing it: a person's subject access
and erasure requests (`helpline data show|erase`, actions/subjects.py).

The only two functions that find a person's records by their number: a change in how
numbers are kept and looked up changes these two, not their callers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import redis

from ivr.content.flows import ENGLISH
from ivr.core.callbacks import Callback
from ivr.store.accounts import Accounts
from ivr.store.audit import KEEP
from ivr.store.erasures import ErasureLog, record_erasure
from ivr.store.keys import Keys
from ivr.store.queue import CallbackQueue
from ivr.store.replies import texts
from ivr.store.sealing import Sealer


@dataclass(frozen=True)
class Held:
    """What the store holds about a number."""

    callbacks: list[Callback]  # oldest request first
    open_callback: str | None  # the ones the number can still be called back for (one a helpline)
    texts_counted: int  # texts in the current flood window (expires within minutes)
    replies_paused: bool  # too many texts: replies paused for a while
    advisor_accounts: list[str]  # usernames whose phone is this number
    audit: list[dict[str, str]]  # what staff did about its callbacks (oldest first)
    languages: dict[str, str]  # the language chosen for texts (CYMRAEG), by helpline


def held_about(r: redis.Redis, helplines: Sequence[Keys], sealer: Sealer, number: str) -> Held:
    """Across every helpline of the deployment (a person may have asked more than one)."""
    h = sealer.lookup(number)
    callbacks: list[Callback] = []
    open_ids: list[str] = []
    audit: list[dict[str, str]] = []
    counted, paused = 0, False
    languages: dict[str, str] = {}
    for keys in helplines:
        queue = CallbackQueue(r, sealer, keys)
        chosen = queue.language_of(number)
        if chosen != ENGLISH:
            languages[keys.helpline] = chosen
        ids = set(texts(r.hkeys(keys.numbers(h))))
        callbacks += [cb for cb in (queue.get(i) for i in ids) if cb]
        open_callback = queue.open_for(number)
        if open_callback:
            open_ids.append(open_callback.id)
        rate, quiet = keys.flood(h)
        counted += int(r.get(rate) or 0)
        paused = paused or bool(r.exists(quiet))
        entries = cast(list[tuple[str, dict[str, str]]], r.xrange(keys.audit, count=KEEP * 2))
        audit += [fields for _, fields in entries if fields.get("callback") in ids]
    return Held(
        callbacks=sorted(callbacks, key=lambda cb: cb.requested_at),
        open_callback=", ".join(open_ids) or None,
        texts_counted=counted,
        replies_paused=paused,
        advisor_accounts=[a.username for a in Accounts(r, sealer).all() if a.phone == number],
        audit=sorted(audit, key=lambda fields: fields.get("at", "")),
        languages=languages,
    )


def erase_about(
    r: redis.Redis, helplines: Sequence[Keys], sealer: Sealer, erasures: ErasureLog, number: str
) -> int:
    """Everything the callback queues of every helpline hold about `number`, as STOP erases
    one helpline's, and its flood counters; how many callback records went. Logged first in
    the erasure log, so no restored backup brings it back. Advisor accounts are not touched
    (staff remove those), nor the audit trail (it holds callback ids and masked numbers
    only)."""
    record_erasure(erasures, sealer, number)
    erased = 0
    for keys in helplines:
        erased += max(CallbackQueue(r, sealer, keys).erase_number(number), 0)
        r.delete(*keys.flood(sealer.lookup(number)))
    return erased
