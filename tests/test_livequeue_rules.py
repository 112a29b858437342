"""The in-hours queue's pure rules (ivr/core/livequeue.py): an advisor's state and its stale
cleanup, the one list's order in both settings, the honest wait estimate, and when a waiting
caller is offered the callback. Table-driven, the clock passed in."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ivr.core.languages import WELSH
from ivr.core.livequeue import (
    BY_WAIT,
    CALLBACK,
    CALLER,
    CLOSING,
    FREE,
    LIVE_FIRST,
    MAX_WAIT,
    NO_ADVISORS,
    ON_CALL,
    ORDERS,
    RINGING,
    WRAP_UP,
    AdvisorState,
    Waiting,
    after_status,
    current,
    estimate_wait,
    for_advisor,
    may_ring,
    one_list,
    twilio_queue,
    why_leave,
)
from tests.common import london

NOW = london("2026-11-25T11:00")


def ago(minutes: float):
    return NOW - timedelta(minutes=minutes)


# ------------------------------------------------------------------ an advisor's state


@pytest.mark.parametrize(
    ("state", "minutes_ago", "now_is"),
    [
        (FREE, 600, FREE),
        (RINGING, 1, RINGING),
        (RINGING, 3, FREE),  # the phone stopped ringing and no callback said so
        (ON_CALL, 60, ON_CALL),
        (ON_CALL, 200, FREE),  # no "completed" ever came
        (WRAP_UP, 4, WRAP_UP),
        (WRAP_UP, 6, FREE),
        ("nonsense", 0, FREE),
    ],
)
def test_a_state_that_lasts_longer_than_it_can_is_free(state, minutes_ago, now_is) -> None:
    assert current(AdvisorState(state, ago(minutes_ago)), NOW) == now_is


def test_a_state_with_no_time_is_free() -> None:
    assert current(AdvisorState(RINGING, None), NOW) == FREE


@pytest.mark.parametrize(
    ("state", "status", "after"),
    [
        (FREE, "initiated", RINGING),
        (FREE, "ringing", RINGING),
        (WRAP_UP, "ringing", RINGING),
        (ON_CALL, "ringing", None),  # a late "ringing" never undoes an answered call
        (RINGING, "in-progress", ON_CALL),
        (RINGING, "answered", ON_CALL),
        (ON_CALL, "completed", WRAP_UP),  # answered: wrap-up for the outcome
        (RINGING, "completed", FREE),  # never answered
        (RINGING, "no-answer", FREE),
        (RINGING, "busy", FREE),
        (RINGING, "canceled", FREE),  # another advisor took the call
        (ON_CALL, "no-answer", None),  # another leg's news: the call goes on
        (FREE, "whatever", None),
    ],
)
def test_the_state_follows_twilios_status_callbacks(state, status, after) -> None:
    assert after_status(state, status) == after


@pytest.mark.parametrize(
    ("state", "minutes_ago", "on_duty", "rung"),
    [
        (FREE, 0, True, True),
        (FREE, 0, False, False),
        (ON_CALL, 10, True, False),  # advisors on a call are not rung
        (RINGING, 1, True, False),
        (WRAP_UP, 1, True, False),
        (RINGING, 10, True, True),  # stale
    ],
)
def test_only_a_free_advisor_on_duty_is_rung(state, minutes_ago, on_duty, rung) -> None:
    assert may_ring(AdvisorState(state, ago(minutes_ago)), NOW, on_duty) is rung


# ------------------------------------------------------------------ the one list


def caller(ref: str, minutes: float, language: str = "en") -> Waiting:
    return Waiting(CALLER, ref, ago(minutes), language=language)


def callback(
    ref: str, minutes: float, last_day: bool = False, swapped: bool = False, language: str = "en"
) -> Waiting:
    return Waiting(CALLBACK, ref, ago(minutes), last_day, swapped, language)


EVERYONE = [
    callback("old-cb", 300),
    caller("live-new", 2),
    callback("last-day", 30, last_day=True),
    caller("live-old", 8),
    callback("swapped", 5, swapped=True),  # joined the queue 5 minutes ago, then swapped
    callback("new-cb", 1),
]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (LIVE_FIRST, ["last-day", "live-old", "swapped", "live-new", "old-cb", "new-cb"]),
        (BY_WAIT, ["last-day", "old-cb", "live-old", "swapped", "live-new", "new-cb"]),
    ],
)
def test_the_one_list(order, expected) -> None:
    assert [e.ref for e in one_list(EVERYONE, order)] == expected


@pytest.mark.parametrize("order", [LIVE_FIRST, BY_WAIT])
def test_a_caller_who_swaps_comes_before_everyone_who_joined_after_them(order) -> None:
    swapped = callback("swapped", 5, swapped=True)
    later = [caller(f"c{i}", 4 - i) for i in range(4)] + [callback("cb", 3)]
    ordered = [e.ref for e in one_list([*later, swapped], order)]
    assert ordered[0] == "swapped"


def test_callbacks_on_their_last_day_come_before_live_callers_in_either_order() -> None:
    for order in (LIVE_FIRST, BY_WAIT):
        ordered = one_list([caller("live", 60), callback("last", 1, last_day=True)], order)
        assert ordered[0].ref == "last"


def test_equal_waits_have_one_order_everywhere() -> None:
    a, b = caller("b", 1), callback("a", 1, swapped=True)
    assert one_list([a, b]) == one_list([b, a]) == [a, b]


def test_an_unknown_order_is_refused() -> None:
    with pytest.raises(ValueError):
        one_list([], "random")


# ------------------------------------------------------------------ Welsh speakers first

WELSH_WAITING = [
    caller("en-live", 9),
    caller("cy-live", 3, "cy"),
    callback("en-cb", 60),
    callback("cy-cb", 30, language="cy"),
]
WELSH_LAST_DAY = [*WELSH_WAITING, callback("cy-last", 5, last_day=True, language="cy")]
EN_LAST_DAY = [*WELSH_WAITING, callback("en-last", 5, last_day=True)]


@pytest.mark.parametrize(
    ("entries", "order", "speaks_welsh", "welsh_on_duty", "expected"),
    [
        # A Welsh speaker takes the Welsh caller in the top group first...
        (WELSH_WAITING, LIVE_FIRST, True, True, ["cy-live", "en-live", "en-cb", "cy-cb"]),
        # ...and, by waiting time, the Welsh callback and caller of the one group.
        (WELSH_WAITING, BY_WAIT, True, True, ["cy-cb", "cy-live", "en-cb", "en-live"]),
        # The top group is the head's: a Welsh callback below live callers waits its turn.
        (
            [caller("en-live", 9), callback("cy-cb", 30, language="cy")],
            LIVE_FIRST,
            True,
            True,
            ["en-live", "cy-cb"],
        ),
        # Last-day callbacks stay first for everyone, a Welsh one first for a Welsh speaker.
        (EN_LAST_DAY, LIVE_FIRST, True, True, ["en-last", "en-live", "cy-live", "en-cb", "cy-cb"]),
        (
            WELSH_LAST_DAY,
            LIVE_FIRST,
            True,
            True,
            ["cy-last", "en-live", "cy-live", "en-cb", "cy-cb"],
        ),
        # An advisor without Welsh leaves Welsh callers and callbacks to the Welsh speaker
        # on duty...
        (WELSH_WAITING, LIVE_FIRST, False, True, ["en-live", "en-cb"]),
        # ...except a callback on its last day: the promise comes first.
        (WELSH_LAST_DAY, LIVE_FIRST, False, True, ["cy-last", "en-live", "en-cb"]),
        # With no Welsh speaker on duty, the one list as it is.
        (WELSH_WAITING, LIVE_FIRST, False, False, ["en-live", "cy-live", "en-cb", "cy-cb"]),
        ([], LIVE_FIRST, True, True, []),
    ],
)
def test_welsh_speakers_take_welsh_callers_first(
    entries, order, speaks_welsh, welsh_on_duty, expected
) -> None:
    ordered = for_advisor(entries, order, speaks_welsh, welsh_on_duty)
    assert [e.ref for e in ordered] == expected


@pytest.mark.parametrize(
    ("helpline", "language", "queue"),
    [
        ("main", "en", "helpline-main"),
        ("main", "cy", "helpline-main-cy"),
        ("scotland", "cy", "helpline-scotland-cy"),
    ],
)
def test_one_twilio_queue_per_language(helpline, language, queue) -> None:
    assert twilio_queue(helpline, language) == queue


# ------------------------------------------------------------------ the wait


@pytest.mark.parametrize(
    ("position", "handled", "advisors", "minutes"),
    [
        (1, [240] * 5, 1, 4),
        (3, [240] * 5, 1, 12),
        (3, [240] * 5, 2, 8),  # 2 rounds of 4 minutes
        (1, [30] * 5, 3, 1),  # at least a minute
        (1, [60, 120, 180, 600, 900], 1, 3),  # the median, not the mean
        (1, [240] * 4, 1, None),  # too few calls to go on
        (1, [240] * 5, 0, None),
        (0, [240] * 5, 1, None),
    ],
)
def test_the_estimate_is_honest_or_none(position, handled, advisors, minutes) -> None:
    assert estimate_wait(position, handled, advisors) == minutes


TEN = timedelta(minutes=10)


@pytest.mark.parametrize(
    ("joined_ago", "line_open", "on_duty", "why"),
    [
        (3, True, 1, None),
        (10, True, 1, MAX_WAIT),
        (3, False, 1, CLOSING),
        (3, True, 0, NO_ADVISORS),
        (30, False, 0, CLOSING),
        (None, True, 1, None),
    ],
)
def test_when_a_waiting_caller_is_offered_the_callback(joined_ago, line_open, on_duty, why) -> None:
    joined = None if joined_ago is None else ago(joined_ago)
    assert why_leave(joined, NOW, TEN, line_open, on_duty) == why


def test_an_urgent_callback_is_taken_before_everyone_and_never_left_waiting() -> None:
    """Issue 19: a text that spoke of danger or despair goes first in Take next, before
    last-day callbacks and callers on the line, in either order; and an advisor who doesn't
    speak Welsh still takes a Welsh one rather than leave it for a Welsh speaker."""
    early, late = london("2026-12-08T10:00"), london("2026-12-08T11:00")
    entries = [
        Waiting(CALLBACK, "last-day", early, last_day=True),
        Waiting(CALLER, "on-the-line", early),
        Waiting(CALLBACK, "urgent", late, urgent=True, language=WELSH),
    ]
    for order in ORDERS:
        assert one_list(entries, order)[0].ref == "urgent"
    assert for_advisor(entries, LIVE_FIRST, False, True)[0].ref == "urgent"
