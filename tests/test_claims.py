"""Who may claim, finish or give back a callback: one rule, in one place. The store's Lua
scripts decide it atomically at run time (ivr/store/queue.py); this table is that rule, for
every kind of callback and every kind of actor, each case built through the queue's own
operations. The Python only decides what to ask: core/claims.may_claim, what Take next asks
the store for, agrees with the table too (docs/architecture.md, "claims")."""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ivr.core import claims
from ivr.core.callbacks import Callback
from ivr.core.claims import ANYONE, actor, may_claim, why_not_call_next
from ivr.store.queue import CallbackQueue
from tests.common import SEALER, london, request_callback

NOW = london("2026-11-25T12:00")
NUMBER = "+447400123456"
ALEX, SAM = "alex", "sam"


def held(q: CallbackQueue) -> str:
    return request_callback(q, NUMBER, "sms", NOW, NOW, plan=None).callback_id


def scheduled(q: CallbackQueue) -> str:
    return request_callback(q, NUMBER, "sms", NOW, NOW + timedelta(days=1)).callback_id


def due(q: CallbackQueue) -> str:
    return request_callback(
        q,
        NUMBER,
        "sms",
        NOW - timedelta(minutes=5),
        NOW - timedelta(minutes=5),
        slot_end=NOW + timedelta(hours=1),
    ).callback_id


def due_slot_ended(q: CallbackQueue) -> str:
    return request_callback(
        q,
        NUMBER,
        "sms",
        NOW - timedelta(hours=3),
        NOW - timedelta(hours=3),
        slot_end=NOW - timedelta(hours=1),
    ).callback_id


def due_slot_ends_now(q: CallbackQueue) -> str:
    return request_callback(
        q, NUMBER, "sms", NOW - timedelta(hours=1), NOW - timedelta(hours=1), slot_end=NOW
    ).callback_id


def claimed(q: CallbackQueue, at: datetime = NOW - timedelta(minutes=10)) -> str:
    callback_id = due(q)
    assert q.claim(ALEX, at) is not None
    return callback_id


def claimed_connected(q: CallbackQueue) -> str:
    callback_id = claimed(q)
    q.set_call_state(callback_id, "connected", caller_connected=True)
    return callback_id


def done(q: CallbackQueue) -> str:
    callback_id = claimed(q)
    assert q.finish(callback_id, ALEX, "reached", "done", NOW - timedelta(minutes=1))
    return callback_id


def cancelled(q: CallbackQueue) -> str:
    callback_id = scheduled(q)
    assert q.cancel(callback_id, NOW - timedelta(minutes=1))
    return callback_id


STATES: dict[str, Callable[[CallbackQueue], str]] = {
    "held": held,
    "scheduled": scheduled,
    "due": due,
    "due, slot ended": due_slot_ended,
    "due, slot ends now": due_slot_ends_now,
    "claimed by alex": claimed,
    "claimed by alex, caller connected": claimed_connected,
    "done": done,
    "cancelled": cancelled,
}
CLAIMED_AT = NOW - timedelta(minutes=10)  # when `claimed` claims
FINISHERS = (ALEX, SAM, ANYONE)
GIVERS = (ALEX, SAM)
BEFORE = {"before the claim": CLAIMED_AT - timedelta(minutes=10), "at it": CLAIMED_AT, "after": NOW}
Y, n = True, False
# The rule. Claim: due, its slot not ended (nobody is called outside their safe window).
# Finish: a claim, by its advisor or ANYONE (a supervisor, the scheduler). Give back: a claim,
# by its advisor only. Goes back (unfinished since before a time): a claim made by then,
# unless the caller was connected (the call happened: it waits for an outcome).
#   state                                   claim   finish by   give back   goes back
#                                                   alex sam *  alex sam    before at after
# fmt: off
RULES: dict[str, tuple[bool, tuple[bool, ...], tuple[bool, ...], tuple[bool, ...]]] = {
    "held":                                 (n,     (n, n, n),  (n, n),     (n, n, n)),
    "scheduled":                            (n,     (n, n, n),  (n, n),     (n, n, n)),
    "due":                                  (Y,     (n, n, n),  (n, n),     (n, n, n)),
    "due, slot ended":                      (n,     (n, n, n),  (n, n),     (n, n, n)),
    "due, slot ends now":                   (n,     (n, n, n),  (n, n),     (n, n, n)),
    "claimed by alex":                      (n,     (Y, n, Y),  (Y, n),     (n, Y, Y)),
    "claimed by alex, caller connected":    (n,     (Y, n, Y),  (Y, n),     (n, n, n)),
    "done":                                 (n,     (n, n, n),  (n, n),     (n, n, n)),
    "cancelled":                            (n,     (n, n, n),  (n, n),     (n, n, n)),
}
# fmt: on


@pytest.fixture
def queue(store) -> CallbackQueue:
    return CallbackQueue(store, SEALER)


def made(queue: CallbackQueue, state: str) -> Callback:
    callback = queue.get(STATES[state](queue))
    assert callback is not None
    return callback


def test_the_table_covers_every_state():
    assert RULES.keys() == STATES.keys()


@pytest.mark.parametrize("state", STATES)
def test_claim(queue, state):
    """Take next asks for what may_claim allows; the store takes it only by the same rule."""
    callback = made(queue, state)
    may = RULES[state][0]
    assert may_claim(callback, NOW) == may
    taken = queue.claim_one(callback.id, SAM, NOW)
    assert (taken is not None) == may
    if taken:
        assert taken.claimed_by == SAM


@pytest.mark.parametrize("state", STATES)
def test_claim_the_oldest(queue, state):
    callback = made(queue, state)
    taken = queue.claim(SAM, NOW)
    assert (taken is not None) == RULES[state][0]
    if taken:
        assert taken.id == callback.id and taken.claimed_by == SAM


@pytest.mark.parametrize("who", FINISHERS)
@pytest.mark.parametrize("state", STATES)
def test_finish(queue, state, who):
    callback = made(queue, state)
    may = RULES[state][1][FINISHERS.index(who)]
    assert queue.finish(callback.id, who, "reached", "done", NOW) == may


@pytest.mark.parametrize("who", GIVERS)
@pytest.mark.parametrize("state", STATES)
def test_give_back(queue, state, who):
    callback = made(queue, state)
    assert queue.unclaim(callback.id, who) == RULES[state][2][GIVERS.index(who)]


@pytest.mark.parametrize("before", BEFORE)
@pytest.mark.parametrize("state", STATES)
def test_unfinished_claims_go_back(queue, state, before):
    made(queue, state)
    goes = RULES[state][3][list(BEFORE).index(before)]
    assert queue.return_stale_claims(BEFORE[before]) == int(goes)


def test_call_next_takes_the_longest_waiting_that_may_be_claimed(queue):
    ended = due_slot_ended(queue)  # waited longest, but its window has closed
    first = request_callback(
        queue,
        "+447400123457",
        "sms",
        NOW - timedelta(minutes=30),
        NOW - timedelta(minutes=30),
        slot_end=NOW + timedelta(hours=1),
    )
    request_callback(
        queue,
        "+447400123458",
        "sms",
        NOW - timedelta(minutes=20),
        NOW - timedelta(minutes=20),
        slot_end=NOW + timedelta(hours=1),
    )
    assert queue.ids("due")[0] == ended
    assert queue.claim(ALEX, NOW).id == first.callback_id


def test_every_rule_in_core_claims_runs_in_the_app():
    """One rule, one place: a function of core/claims.py that only the tests call would be a
    second copy of a rule the store's scripts keep (as may_finish, may_give_back, goes_back
    and next_claim were)."""
    mine = Path(claims.__file__).resolve()
    rules = [n for n, f in vars(claims).items() if callable(f) and f.__module__ == claims.__name__]
    used = {
        alias.name
        for path in mine.parent.parent.rglob("*.py")
        if path != mine
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module == claims.__name__
        for alias in node.names
    }
    assert rules and [r for r in rules if r not in used] == []


@pytest.mark.parametrize(("supervisor", "expected"), [(False, ALEX), (True, ANYONE)])
def test_a_supervisor_finishes_on_anyones_behalf(supervisor, expected):
    assert actor(ALEX, supervisor) == expected


@pytest.mark.parametrize(
    ("line_open", "on_duty", "can_call", "holding", "refused"),
    [
        (True, True, True, False, None),
        (False, True, True, False, "closed"),
        (False, False, False, True, "closed"),  # the first reason is the one said
        (True, False, True, False, "off_duty"),
        (True, True, False, False, "no_twilio"),
        (True, True, True, True, "holding"),
    ],
)
def test_why_an_advisor_may_not_call_next(line_open, on_duty, can_call, holding, refused):
    assert why_not_call_next(line_open, on_duty, can_call, holding) == refused
