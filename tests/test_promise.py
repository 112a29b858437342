"""When a callback is due and what we may promise (ivr.core.promise, pure): slots inside the
person's safe window and the opening hours, honest replies near closing, closures, retries.

The hours are the shipped flows/hours.toml: 10:00-16:00 UK time, Monday to Friday, except
bank holidays in England and Wales. 25 November 2026 is a Wednesday.
"""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from ivr.content.flows import DEFAULT_DIR, load_hours
from ivr.content.tomlfile import read_toml
from ivr.core.callbacks import after_outcome
from ivr.core.hours import Override
from ivr.core.promise import (
    Promise,
    at_or_after,
    closure_note,
    day_slot,
    meets_hours,
    meets_week,
    placement,
    promise,
    restate,
)
from ivr.core.safetime import ANYTIME, Window
from tests.common import london, shipped_hours

HALF_HOUR = timedelta(minutes=30)


def w(span: str = "", days: str = "0123456", not_before: str | None = None) -> Window:
    """Test shorthand: "14:00-15:00", "14:00-" (after), "-11:00" (before), "" (any time)."""
    earliest, _, latest = span.partition("-")
    return Window(
        time.fromisoformat(earliest) if earliest else None,
        time.fromisoformat(latest) if latest else None,
        frozenset(int(d) for d in days),
        date.fromisoformat(not_before) if not_before else None,
    )


def promised(now: str, window: Window = ANYTIME, override: Override | None = None) -> Promise:
    return promise(london(now), window, shipped_hours(), override, HALF_HOUR)


# ------------------------------------------------------------------ slots


@pytest.mark.parametrize(
    ("day", "window", "slot"),
    [
        ("2026-11-25", w(), ("10:00", "16:00", True)),  # Wednesday: the whole day
        ("2026-11-25", w("14:00-"), ("14:00", "16:00", True)),
        ("2026-11-25", w("-11:00"), ("10:00", "11:00", False)),
        ("2026-11-25", w("12:00-14:00"), ("12:00", "14:00", False)),
        ("2026-11-25", w("08:00-20:00"), ("10:00", "16:00", True)),  # wider than the day
        ("2026-11-25", w("18:00-"), None),  # evenings: never
        ("2026-11-25", w("-10:00"), None),  # before we open: never
        ("2026-11-25", w(days="1"), None),  # Tuesdays only
        ("2026-11-24", w(days="1"), ("10:00", "16:00", True)),
        ("2026-11-25", w(not_before="2026-11-26"), None),  # "tomorrow"
        ("2026-11-28", w(), None),  # Saturday
        ("2026-12-25", w(), None),  # Christmas Day
    ],
)
def test_a_day_slot_is_the_window_inside_that_days_hours(day, window, slot):
    found = day_slot(date.fromisoformat(day), window, shipped_hours())
    if slot is None:
        assert found is None
    else:
        start, end, closes = slot
        assert (found.start, found.end, found.closes) == (
            london(f"{day}T{start}"),
            london(f"{day}T{end}"),
            closes,
        )


@pytest.mark.parametrize(
    ("window", "meets"),
    [
        (w(), True),
        (w("14:00-"), True),
        (w("-11:00"), True),
        (w(days="1"), True),
        (w("18:00-"), False),  # "after 6pm", "evenings only"
        (w("-10:00"), False),  # "before 10am"
        (w("16:00-"), False),  # "after 4pm": we close at 4
        (w(days="56"), False),  # weekends
        (w("18:00-", days="1"), False),
    ],
)
def test_some_windows_never_meet_the_opening_hours(window, meets):
    assert meets_hours(window, london("2026-11-25T11:00"), shipped_hours()) is meets


# ------------------------------------------------------------------ what we promise


@pytest.mark.parametrize(
    ("now", "window", "kind", "due", "slot_end"),
    [
        # No safe time given: now when open with time to call, else the next opening.
        ("2026-11-25T11:00", w(), "soon", "2026-11-25T11:00", "2026-11-25T16:00"),
        ("2026-11-25T15:30", w(), "soon", "2026-11-25T15:30", "2026-11-25T16:00"),
        ("2026-11-25T09:00", w(), "at", "2026-11-25T10:00", "2026-11-25T16:00"),
        ("2026-11-25T16:00", w(), "at", "2026-11-26T10:00", "2026-11-26T16:00"),
        ("2026-11-25T19:00", w(), "at", "2026-11-26T10:00", "2026-11-26T16:00"),
        ("2026-11-27T17:00", w(), "at", "2026-11-30T10:00", "2026-11-30T16:00"),  # Friday
        ("2026-11-28T11:00", w(), "at", "2026-11-30T10:00", "2026-11-30T16:00"),  # Saturday
        ("2026-12-25T11:00", w(), "at", "2026-12-29T10:00", "2026-12-29T16:00"),  # Christmas
        ("2026-04-02T17:00", w(), "at", "2026-04-07T10:00", "2026-04-07T16:00"),  # Easter
        # A safe time: the first moment of its slot, never before it, never after it.
        ("2026-11-25T11:00", w("14:00-15:00"), "at", "2026-11-25T14:00", "2026-11-25T15:00"),
        ("2026-11-25T11:00", w("14:30-"), "at", "2026-11-25T14:30", "2026-11-25T16:00"),
        ("2026-11-25T08:00", w("09:00-"), "at", "2026-11-25T10:00", "2026-11-25T16:00"),
        ("2026-11-25T14:10", w("14:00-15:00"), "soon", "2026-11-25T14:10", "2026-11-25T15:00"),
        ("2026-11-25T12:00", w("11:00-12:00"), "at", "2026-11-26T11:00", "2026-11-26T12:00"),
        ("2026-11-25T12:00", w("-11:00"), "at", "2026-11-26T10:00", "2026-11-26T11:00"),
        ("2026-11-25T19:00", w("14:00-"), "at", "2026-11-26T14:00", "2026-11-26T16:00"),
        ("2026-11-28T11:00", w("14:00-"), "at", "2026-11-30T14:00", "2026-11-30T16:00"),
        ("2026-11-25T11:00", w(days="1"), "at", "2026-12-01T10:00", "2026-12-01T16:00"),
        ("2026-11-25T11:00", w("14:00-", days="1"), "at", "2026-12-01T14:00", "2026-12-01T16:00"),
        ("2026-11-25T11:00", w(days="123456"), "soon", "2026-11-25T11:00", "2026-11-25T16:00"),
        (
            "2026-11-25T11:00",
            w(not_before="2026-11-26"),
            "at",
            "2026-11-26T10:00",
            "2026-11-26T16:00",
        ),
        (
            "2026-11-27T11:00",
            w("11:00-12:00", not_before="2026-11-28"),
            "at",
            "2026-11-30T11:00",
            "2026-11-30T12:00",
        ),
        (
            "2026-12-24T11:00",
            w("14:00-15:00", not_before="2026-12-25"),
            "at",
            "2026-12-29T14:00",
            "2026-12-29T15:00",
        ),
    ],
)
def test_the_promise_is_the_first_moment_inside_the_window_and_the_hours(
    now, window, kind, due, slot_end
):
    result = promised(now, window)
    assert (result.kind, result.due, result.slot_end) == (kind, london(due), london(slot_end))


@pytest.mark.parametrize(
    ("now", "window", "slot_end", "fallback", "closes"),
    [
        # Less than half an hour left today: no "as soon as someone is free".
        ("2026-11-25T15:59", w(), "2026-11-25T16:00", "2026-11-26T10:00", True),
        ("2026-11-25T15:31", w(), "2026-11-25T16:00", "2026-11-26T10:00", True),
        ("2026-11-27T15:45", w(), "2026-11-27T16:00", "2026-11-30T10:00", True),  # Friday
        ("2026-12-24T15:50", w(), "2026-12-24T16:00", "2026-12-29T10:00", True),
        # ... or left in the person's window.
        ("2026-11-25T14:40", w("14:00-15:00"), "2026-11-25T15:00", "2026-11-26T14:00", False),
        ("2026-11-25T10:45", w("-11:00"), "2026-11-25T11:00", "2026-11-26T10:00", False),
    ],
)
def test_near_the_end_of_a_slot_the_promise_names_the_next_one(
    now, window, slot_end, fallback, closes
):
    result = promised(now, window)
    assert result == Promise("closing", london(now), london(slot_end), london(fallback), closes)


def test_the_time_needed_before_closing_is_a_setting():
    at = london("2026-11-25T15:40")
    hours = shipped_hours()
    assert promise(at, ANYTIME, hours, None, timedelta(minutes=15)).kind == "soon"
    assert promise(at, ANYTIME, hours, None, timedelta(minutes=30)).kind == "closing"


@pytest.mark.parametrize(
    ("now", "until", "window", "due"),
    [
        ("2026-11-25T11:00", "2026-11-25T13:00", w(), "2026-11-25T13:00"),
        ("2026-11-25T11:00", "2026-11-25T17:00", w(), "2026-11-26T10:00"),
        ("2026-11-25T11:00", "2026-11-25T13:00", w("14:00-"), "2026-11-25T14:00"),
        ("2026-11-25T11:00", "2026-11-25T13:00", w("12:00-"), "2026-11-25T13:00"),
        ("2026-11-25T11:00", "2026-11-25T13:00", w("-12:00"), "2026-11-26T10:00"),
    ],
)
def test_a_supervisors_closure_counts_from_its_end(now, until, window, due):
    override = Override("We are closed for training.", london(until))
    result = promised(now, window, override)
    assert (result.kind, result.due) == ("at", london(due))


def test_a_closure_that_is_already_over_changes_nothing():
    override = Override("We are closed for training.", london("2026-11-25T10:30"))
    assert promised("2026-11-25T11:00", ANYTIME, override) == promised("2026-11-25T11:00")


@pytest.mark.parametrize(
    ("now", "window", "due", "slot_end"),
    [
        ("2026-11-25T11:00", w(), "2026-11-25T11:00", "2026-11-25T16:00"),
        ("2026-11-25T11:00", w("14:00-"), "2026-11-25T14:00", "2026-11-25T16:00"),
        ("2026-11-25T19:00", w(), "2026-11-26T10:00", "2026-11-26T16:00"),
    ],
)
def test_a_closure_without_an_end_promises_no_time(now, window, due, slot_end):
    """Nobody has said when the line reopens, so nobody is told "tomorrow at 10am"; the
    callback waits for the line to reopen, inside its slot."""
    result = promised(now, window, Override("We are closed today.", None))
    assert (result.kind, result.due, result.slot_end) == ("reopen", london(due), london(slot_end))


def test_a_window_that_never_meets_the_hours_cannot_be_promised():
    with pytest.raises(ValueError):
        promised("2026-11-25T11:00", w("18:00-"))


# ------------------------------------------------------------------ where it goes in the queue


@pytest.mark.parametrize(
    ("now", "window", "status", "claimable_on"),
    [
        ("2026-11-25T11:00", w(), "due", date(2026, 11, 25)),
        ("2026-11-25T15:59", w(), "due", None),  # too late today to count towards expiry
        ("2026-11-25T19:00", w(), "scheduled", None),
    ],
)
def test_a_promise_places_the_callback(now, window, status, claimable_on):
    result = promised(now, window)
    place = placement(result, london(now), shipped_hours())
    assert (place.status, place.due, place.slot_end, place.claimable_on) == (
        status,
        result.due,
        result.slot_end,
        claimable_on,
    )


def test_no_promise_holds_the_callback_for_a_safe_time():
    place = placement(None, london("2026-11-25T11:00"), shipped_hours())
    assert (place.status, place.slot_end) == ("held", None)


def test_waiting_for_a_supervisor_to_reopen_is_scheduled_not_due():
    result = promised("2026-11-25T11:00", ANYTIME, Override("Closed.", None))
    assert placement(result, london("2026-11-25T11:00"), shipped_hours()).status == "scheduled"


# ------------------------------------------------------------------ asking again


@pytest.mark.parametrize(
    ("now", "due", "override", "expected"),
    [
        ("2026-11-25T12:00", "2026-11-25T13:00", None, ("at", "2026-11-25T13:00")),  # a retry
        ("2026-11-25T12:00", "2026-11-25T11:00", None, ("soon", "2026-11-25T12:00")),
        (
            "2026-11-25T12:00",
            "2026-11-25T13:00",
            Override("Training.", london("2026-11-25T14:00")),
            ("at", "2026-11-25T14:00"),
        ),
        (
            "2026-11-25T12:00",
            "2026-11-25T11:00",
            Override("Training.", london("2026-11-25T14:00")),
            ("at", "2026-11-25T14:00"),
        ),
        (
            "2026-11-25T12:00",
            "2026-11-25T13:00",
            Override("Closed.", None),
            ("reopen", "2026-11-25T13:00"),
        ),
    ],
)
def test_asking_again_restates_the_stored_time_unless_a_closure_moved_it(
    now, due, override, expected
):
    result = restate(london(now), london(due), ANYTIME, shipped_hours(), override, HALF_HOUR)
    assert (result.kind, result.due) == (expected[0], london(expected[1]))


# ------------------------------------------------------------------ after no answer


@pytest.mark.parametrize(
    ("now", "window", "again", "slot_end"),
    [
        ("2026-11-25T11:00", w(), "2026-11-25T13:00", "2026-11-25T16:00"),
        ("2026-11-25T15:00", w(), "2026-11-26T10:00", "2026-11-26T16:00"),  # past closing
        ("2026-11-27T15:00", w(), "2026-11-30T10:00", "2026-11-30T16:00"),  # Friday: Monday
        ("2026-11-25T11:00", w("14:00-"), "2026-11-25T14:00", "2026-11-25T16:00"),
        ("2026-11-25T14:00", w("14:00-15:00"), "2026-11-26T14:00", "2026-11-26T15:00"),
        ("2026-11-25T11:00", w(days="1"), "2026-12-01T10:00", "2026-12-01T16:00"),
        ("2026-12-24T15:00", w(), "2026-12-29T10:00", "2026-12-29T16:00"),
    ],
)
def test_no_answer_comes_back_later_inside_the_window(now, window, again, slot_end):
    status, place = after_outcome(
        "no_answer", 0, 3, london(now), shipped_hours(), timedelta(hours=2), window
    )
    assert status == "scheduled"
    assert (place.due, place.slot_end) == (london(again), london(slot_end))


@pytest.mark.parametrize(
    ("outcome", "attempts_before", "status"),
    [
        ("reached", 0, "done"),
        ("declined", 0, "done"),
        ("wrong_number", 2, "done"),
        ("voicemail_left", 0, "done"),
        ("no_answer", 0, "scheduled"),
        ("no_answer", 1, "scheduled"),
        ("no_answer", 2, "expired"),  # the third unanswered call is the last
    ],
)
def test_after_an_outcome(outcome, attempts_before, status):
    new_status, place = after_outcome(
        outcome,
        attempts_before,
        3,
        london("2026-11-25T11:00"),
        shipped_hours(),
        timedelta(hours=2),
        ANYTIME,
    )
    assert new_status == status
    assert (place is not None) == (status == "scheduled")


def test_an_unknown_outcome_is_refused():
    with pytest.raises(ValueError):
        after_outcome(
            "maybe", 0, 3, london("2026-11-25T11:00"), shipped_hours(), timedelta(hours=2), ANYTIME
        )


def test_a_retry_is_due_at_the_first_moment_of_the_window_after_the_delay():
    result = at_or_after(london("2026-11-25T11:30"), w("14:00-15:00"), shipped_hours())
    assert (result.due, result.slot_end) == (london("2026-11-25T14:00"), london("2026-11-25T15:00"))


# ------------------------------------------------------------------ a closure's message


CHRISTMAS = """
[[closures]]
from = 2026-12-24
to = 2027-01-01
message = "The helpline is closed for the Christmas holidays."
"""


@pytest.mark.parametrize(
    ("now", "due", "note"),
    [
        (
            "2026-12-23T13:30",
            "2027-01-04T10:00",
            "The helpline is closed for the Christmas holidays.",
        ),
        (
            "2026-12-28T11:00",
            "2027-01-04T10:00",
            "The helpline is closed for the Christmas holidays.",
        ),
        ("2026-11-25T19:00", "2026-11-26T10:00", None),
    ],
)
def test_a_closure_between_now_and_the_callback_is_named(tmp_path, now, due, note):
    hours_file = tmp_path / "hours.toml"
    hours_file.write_text((DEFAULT_DIR / "hours.toml").read_text() + CHRISTMAS)
    _, hours = load_hours(read_toml(hours_file), london("2026-11-25T11:00"))
    assert closure_note(london(now), london(due), hours, None) == note


def test_a_supervisors_closure_is_named_while_it_lasts():
    override = Override("We are closed for training.", london("2026-11-25T13:00"))
    hours = shipped_hours()
    assert (
        closure_note(london("2026-11-25T11:00"), london("2026-11-25T13:00"), hours, override)
        == "We are closed for training."
    )
    assert (
        closure_note(london("2026-11-25T14:00"), london("2026-11-25T14:00"), hours, override)
        is None
    )


@pytest.mark.parametrize(
    ("window", "meets"),
    [
        (w(), True),
        (w("14:00-"), True),
        (w("-11:00"), True),
        (w("12:00-14:00"), True),
        (w("18:00-"), False),
        (w("-10:00"), False),
        (w("16:00-"), False),
        (w(days="56"), False),
        (w("15:00-15:30", days="4"), True),
    ],
)
def test_a_window_meets_the_usual_week_whatever_the_closures(window, meets):
    assert meets_week(window, shipped_hours().config) is meets
