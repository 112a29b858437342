"""Who may claim, finish or give back a callback: the pure rules (ivr/core/claims.py) and the
store's Lua scripts, which apply them atomically, agree for every kind of callback and every
kind of actor. Each case builds its callback through the queue's own operations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from ivr.core.callbacks import Callback
from ivr.core.claims import (
    ANYONE,
    actor,
    goes_back,
    may_claim,
    may_finish,
    may_give_back,
    next_claim,
    why_not_call_next,
)
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


@pytest.fixture
def queue(store) -> CallbackQueue:
    return CallbackQueue(store, SEALER)


def made(queue: CallbackQueue, state: str) -> Callback:
    callback = queue.get(STATES[state](queue))
    assert callback is not None
    return callback


@pytest.mark.parametrize("state", STATES)
def test_claim(queue, state):
    callback = made(queue, state)
    taken = queue.claim(SAM, NOW)
    assert (taken is not None) == may_claim(callback, NOW)
    if taken:
        assert taken.id == callback.id and taken.claimed_by == SAM


@pytest.mark.parametrize("who", [ALEX, SAM, ANYONE])
@pytest.mark.parametrize("state", STATES)
def test_finish(queue, state, who):
    callback = made(queue, state)
    assert queue.finish(callback.id, who, "reached", "done", NOW) == may_finish(callback, who)


@pytest.mark.parametrize("who", [ALEX, SAM])
@pytest.mark.parametrize("state", STATES)
def test_give_back(queue, state, who):
    callback = made(queue, state)
    assert queue.unclaim(callback.id, who) == may_give_back(callback, who)


@pytest.mark.parametrize(
    "before",
    [NOW - timedelta(minutes=20), NOW - timedelta(minutes=10), NOW],
    ids=["before the claim", "at the claim", "after"],
)
@pytest.mark.parametrize("state", STATES)
def test_unfinished_claims_go_back(queue, state, before):
    callback = made(queue, state)
    assert queue.return_stale_claims(before) == int(goes_back(callback, before))


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
    waiting = [queue.get(i) for i in queue.ids("due")]
    assert waiting[0].id == ended
    chosen = next_claim(waiting, NOW)
    assert chosen is not None and chosen.id == first.callback_id
    assert queue.claim(ALEX, NOW).id == chosen.id


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
