"""Upgrading what is stored (ivr.store.migrations): callbacks written by the previous version are
upgraded once at start-up, nothing waiting is lost, and a second run changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, time

import redis

from ivr.config import Settings
from ivr.content.flows import DEFAULT_DIR, load_flows
from ivr.core.expiry import Count
from ivr.core.promise import promise
from ivr.core.safetime import ANYTIME, Window
from ivr.store.migrations import SCHEMA_KEY, VERSION, migrate, to_v2
from ivr.store.queue import CallbackQueue, number_key
from tests.conftest import london

NOW = london("2026-11-25T08:00")  # a Wednesday morning: a deploy before opening
SETTINGS = Settings()


def hours():
    return load_flows(DEFAULT_DIR, NOW).hours


def write_v1(r: redis.Redis, callback_id: str, number: str, status: str, requested: str,
             due: str, preferred: str = "") -> None:
    """A callback exactly as version 1 stored it (queue.py's _REQUEST before the upgrade)."""
    h = number_key(number)
    r.hset(f"hl:cb:{callback_id}", mapping={
        "number": number, "source": "sms", "requested_at": london(requested).timestamp(),
        "due_at": london(due).timestamp(), "preferred": preferred, "voicemail": 0,
        "attempts": 0, "status": status, "h": h})
    place = {"scheduled": ("scheduled", due), "due": ("due", requested)}.get(status)
    if place:
        r.zadd(f"hl:cb:{place[0]}", {callback_id: london(place[1]).timestamp()})
    r.set(f"hl:cb:open:{h}", callback_id)
    r.sadd(f"hl:cb:num:{h}", callback_id)


def test_a_new_store_is_marked_current_without_work(store):
    assert migrate(store, NOW, hours(), SETTINGS) == 0
    assert store.get(SCHEMA_KEY) == str(VERSION)


def test_waiting_callbacks_of_version_1_are_upgraded_and_kept(store):
    write_v1(store, "a" * 16, "+447400000011", "scheduled", "2026-11-24T19:00",
             "2026-11-25T14:00", preferred="14:00")
    write_v1(store, "b" * 16, "+447400000012", "scheduled", "2026-11-24T19:00",
             "2026-11-25T10:00")
    write_v1(store, "c" * 16, "+447400000013", "due", "2026-11-18T11:00", "2026-11-18T11:00")
    write_v1(store, "d" * 16, "+447400000014", "scheduled", "2026-11-24T11:00",
             "2026-11-25T15:30", preferred="18:00")  # told "3:30pm" under the old rules

    assert migrate(store, NOW, hours(), SETTINGS) == 4

    queue = CallbackQueue(store)
    afternoon = queue.get("a" * 16)
    assert (afternoon.status, afternoon.plan, afternoon.due_at, afternoon.slot_end) == (
        "scheduled", Window(earliest=time(14)), london("2026-11-25T14:00"),
        london("2026-11-25T16:00"))
    assert queue.get("b" * 16).plan == ANYTIME
    assert queue.get("b" * 16).due_at == london("2026-11-25T10:00")
    # Waiting five opening days already: they count, but it keeps one more day.
    old = queue.get("c" * 16)
    assert old.status == "due"
    assert old.count == Count(SETTINGS.callback_expiry_opening_days - 1,
                              london("2026-11-24T12:00").date())
    # An old "after 6pm" was promised 3:30pm: it keeps that, not a window it never meets.
    evening = queue.get("d" * 16)
    assert evening.plan == Window(earliest=time(15, 30))
    assert evening.due_at == london("2026-11-25T15:30")
    assert store.hget("hl:cb:" + "a" * 16, "preferred") is None
    assert set(store.zrange("hl:cb:slots", 0, -1)) == {"a" * 16, "b" * 16, "c" * 16, "d" * 16}
    assert store.get(SCHEMA_KEY) == str(VERSION)


def test_running_the_upgrade_again_changes_nothing(store):
    write_v1(store, "a" * 16, "+447400000011", "scheduled", "2026-11-24T19:00",
             "2026-11-25T14:00", preferred="14:00")
    migrate(store, NOW, hours(), SETTINGS)
    before = store.hgetall("hl:cb:" + "a" * 16)
    store.delete(SCHEMA_KEY)  # as if another process had not yet marked it

    assert migrate(store, london("2026-11-25T09:00"), hours(), SETTINGS) == 0
    assert store.hgetall("hl:cb:" + "a" * 16) == before


def test_an_upgraded_due_callback_outside_its_slot_is_moved_on_by_the_next_tick(store):
    write_v1(store, "c" * 16, "+447400000013", "due", "2026-11-24T15:50", "2026-11-24T15:50")
    migrate(store, NOW, hours(), SETTINGS)
    callback = CallbackQueue(store).get("c" * 16)
    assert callback.slot_end == NOW  # before opening: its slot has ended
    assert [cb.id for cb in CallbackQueue(store).slot_ended(NOW)] == ["c" * 16]


def test_ended_records_only_gain_a_plan(store):
    write_v1(store, "e" * 16, "+447400000015", "done", "2026-11-20T11:00", "2026-11-20T11:00")
    migrate(store, NOW, hours(), SETTINGS)
    assert CallbackQueue(store).get("e" * 16).status == "done"
    assert store.hget("hl:cb:" + "e" * 16, "slot_end") is None


def test_a_record_not_yet_upgraded_is_still_readable(store):
    """A worker that started while the store was unreachable reads old records as they were
    meant until the scheduler upgrades them."""
    write_v1(store, "a" * 16, "+447400000011", "scheduled", "2026-11-24T19:00",
             "2026-11-25T14:00", preferred="14:00")
    assert CallbackQueue(store).get("a" * 16).plan == Window(earliest=time(14))


def test_the_upgrade_of_one_record_is_a_pure_function():
    fields = {"status": "scheduled", "requested_at": str(london("2026-11-24T19:00").timestamp()),
              "due_at": str(london("2026-11-25T10:00").timestamp()), "preferred": ""}
    new = to_v2(fields, NOW, hours(), SETTINGS)
    assert new["plan"] == ANYTIME.dumps()
    assert datetime.fromtimestamp(float(new["slot_end"]), UTC) == london("2026-11-25T16:00")
    assert datetime.fromtimestamp(float(new["due_at"]), UTC) == promise(
        NOW, ANYTIME, hours(), None, SETTINGS.min_slot).due


def test_the_web_app_upgrades_the_store_when_it_starts(make_app, store):
    write_v1(store, "a" * 16, "+447400000011", "scheduled", "2026-11-24T19:00",
             "2026-11-25T14:00", preferred="14:00")
    app = make_app(at="2026-11-25T08:00")
    callback = app.extensions["helpline"].queue.get("a" * 16)
    assert (callback.plan, callback.slot_end) == (Window(earliest=time(14)),
                                                  london("2026-11-25T16:00"))
    assert store.get(SCHEMA_KEY) == str(VERSION)
