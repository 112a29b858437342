"""Upgrading what is stored (ivr.store.migrations): callbacks written by the previous version are
upgraded once at start-up, nothing waiting is lost, and a second run changes nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time

import redis

from ivr.config import Settings
from ivr.content.flows import DEFAULT_DIR, load_flows
from ivr.core.expiry import Count
from ivr.core.promise import promise
from ivr.core.safetime import ANYTIME, Window
from ivr.store.accounts import Accounts
from ivr.store.keys import Keys
from ivr.store.migrations import SCHEMA_KEY, VERSION, migrate, to_v2
from ivr.store.queue import CallbackQueue
from tests.common import SEALER, empty, london, twilio_client, unkeyed_hash, write_v3

NOW = london("2026-11-25T08:00")  # a Wednesday morning: a deploy before opening
SETTINGS = Settings()
KEYS = Keys()


def hours():
    return load_flows(DEFAULT_DIR, NOW).hours


def write_v1(
    r: redis.Redis,
    callback_id: str,
    number: str,
    status: str,
    requested: str,
    due: str,
    preferred: str = "",
) -> None:
    """A callback exactly as version 1 stored it (queue.py's _REQUEST before the upgrade)."""
    h = unkeyed_hash(number)
    r.hset(
        f"hl:cb:{callback_id}",
        mapping={
            "number": number,
            "source": "sms",
            "requested_at": london(requested).timestamp(),
            "due_at": london(due).timestamp(),
            "preferred": preferred,
            "voicemail": 0,
            "attempts": 0,
            "status": status,
            "h": h,
        },
    )
    place = {"scheduled": ("scheduled", due), "due": ("due", requested)}.get(status)
    if place:
        r.zadd(f"hl:cb:{place[0]}", {callback_id: london(place[1]).timestamp()})
    r.set(f"hl:cb:open:{h}", callback_id)
    r.sadd(f"hl:cb:num:{h}", callback_id)


def test_a_new_store_is_marked_current_without_work(store):
    assert migrate(store, NOW, hours(), SETTINGS, SEALER) == 0
    assert store.get(SCHEMA_KEY) == str(VERSION)


def test_waiting_callbacks_of_version_1_are_upgraded_and_kept(store):
    write_v1(
        store,
        "a" * 16,
        "+447400000011",
        "scheduled",
        "2026-11-24T19:00",
        "2026-11-25T14:00",
        preferred="14:00",
    )
    write_v1(store, "b" * 16, "+447400000012", "scheduled", "2026-11-24T19:00", "2026-11-25T10:00")
    write_v1(store, "c" * 16, "+447400000013", "due", "2026-11-18T11:00", "2026-11-18T11:00")
    write_v1(
        store,
        "d" * 16,
        "+447400000014",
        "scheduled",
        "2026-11-24T11:00",
        "2026-11-25T15:30",
        preferred="18:00",
    )  # told "3:30pm" under the old rules

    # 4 records upgraded; 15 keys moved (4 records, 4 open, 4 number sets, 3 places)
    # and the 4 numbers sealed
    assert migrate(store, NOW, hours(), SETTINGS, SEALER) == 4 + 15 + 4

    queue = CallbackQueue(store, SEALER)
    afternoon = queue.get("a" * 16)
    assert (afternoon.status, afternoon.plan, afternoon.due_at, afternoon.slot_end) == (
        "scheduled",
        Window(earliest=time(14)),
        london("2026-11-25T14:00"),
        london("2026-11-25T16:00"),
    )
    assert queue.get("b" * 16).plan == ANYTIME
    assert queue.get("b" * 16).due_at == london("2026-11-25T10:00")
    # Waiting five opening days already: they count, but it keeps one more day.
    old = queue.get("c" * 16)
    assert old.status == "due"
    assert old.count == Count(
        SETTINGS.callback_expiry_opening_days - 1, london("2026-11-24T12:00").date()
    )
    # An old "after 6pm" was promised 3:30pm: it keeps that, not a window it never meets.
    evening = queue.get("d" * 16)
    assert evening.plan == Window(earliest=time(15, 30))
    assert evening.due_at == london("2026-11-25T15:30")
    assert store.hget(KEYS.callback("a" * 16), "preferred") is None
    assert set(store.zrange(KEYS.place("slots"), 0, -1)) == {"a" * 16, "b" * 16, "c" * 16, "d" * 16}
    assert store.get(SCHEMA_KEY) == str(VERSION)


def test_running_the_upgrade_again_changes_nothing(store):
    write_v1(
        store,
        "a" * 16,
        "+447400000011",
        "scheduled",
        "2026-11-24T19:00",
        "2026-11-25T14:00",
        preferred="14:00",
    )
    migrate(store, NOW, hours(), SETTINGS, SEALER)
    before = store.hgetall(KEYS.callback("a" * 16))
    store.delete(SCHEMA_KEY)  # as if another process had not yet marked it

    assert migrate(store, london("2026-11-25T09:00"), hours(), SETTINGS, SEALER) == 0
    assert store.hgetall(KEYS.callback("a" * 16)) == before


def test_an_upgraded_due_callback_outside_its_slot_is_moved_on_by_the_next_tick(store):
    write_v1(store, "c" * 16, "+447400000013", "due", "2026-11-24T15:50", "2026-11-24T15:50")
    migrate(store, NOW, hours(), SETTINGS, SEALER)
    callback = CallbackQueue(store, SEALER).get("c" * 16)
    assert callback.slot_end == NOW  # before opening: its slot has ended
    assert [cb.id for cb in CallbackQueue(store, SEALER).slot_ended(NOW)] == ["c" * 16]


def test_ended_records_only_gain_a_plan(store):
    write_v1(store, "e" * 16, "+447400000015", "done", "2026-11-20T11:00", "2026-11-20T11:00")
    migrate(store, NOW, hours(), SETTINGS, SEALER)
    assert CallbackQueue(store, SEALER).get("e" * 16).status == "done"
    assert store.hget(KEYS.callback("e" * 16), "slot_end") is None


def test_a_web_app_that_started_without_its_store_upgrades_it_at_the_first_request(make_app, store):
    app = make_app(at="2026-11-25T08:00")
    helpline = app.extensions["helpline"]
    empty(store)  # as if the store had been unreachable when the app started...
    write_v1(
        store,
        "a" * 16,
        "+447400000011",
        "scheduled",
        "2026-11-24T19:00",
        "2026-11-25T14:00",
        preferred="14:00",
    )
    object.__setattr__(helpline.upgrade, "done", False)  # ...and had not been upgraded

    twilio_client(app).post("/voice")

    assert helpline.queue.get("a" * 16).plan == Window(earliest=time(14))
    assert store.get(SCHEMA_KEY) == str(VERSION)
    object.__setattr__(helpline.upgrade, "done", False)
    twilio_client(app).post("/voice")
    assert store.get(SCHEMA_KEY) == str(VERSION)
    assert not helpline.upgrade.done  # upgraded: no later request asks again


def test_the_upgrade_of_one_record_is_a_pure_function():
    fields = {
        "status": "scheduled",
        "requested_at": str(london("2026-11-24T19:00").timestamp()),
        "due_at": str(london("2026-11-25T10:00").timestamp()),
        "preferred": "",
    }
    new = to_v2(fields, NOW, hours(), SETTINGS)
    assert new["plan"] == ANYTIME.dumps()
    assert datetime.fromtimestamp(float(new["slot_end"]), UTC) == london("2026-11-25T16:00")
    assert (
        datetime.fromtimestamp(float(new["due_at"]), UTC)
        == promise(NOW, ANYTIME, hours(), None, SETTINGS.min_slot).due
    )


def test_the_web_app_upgrades_the_store_when_it_starts(make_app, store):
    write_v1(
        store,
        "a" * 16,
        "+447400000011",
        "scheduled",
        "2026-11-24T19:00",
        "2026-11-25T14:00",
        preferred="14:00",
    )
    app = make_app(at="2026-11-25T08:00")
    callback = app.extensions["helpline"].queue.get("a" * 16)
    assert (callback.plan, callback.slot_end) == (
        Window(earliest=time(14)),
        london("2026-11-25T16:00"),
    )
    assert store.get(SCHEMA_KEY) == str(VERSION)


def test_version_2_keys_move_under_the_default_helplines_part(store):
    """Several helplines will share one store (keys.py): what belongs to one moves under its
    part, keeping expiries; people, the scheduler and the purge list stay where they are."""
    store.set(SCHEMA_KEY, 2)
    store.hset("hl:override", mapping={"message": "Closed.", "until": ""})
    store.xadd("hl:audit", {"actor": "sam", "action": "closed the line"})
    store.hset("hl:stats:2026-11-25", "calls", 3)
    store.set("hl:seen:SM1", "abc", ex=3600)
    store.set("hl:sms:quiet:" + "f" * 24, 1, ex=3600)
    store.sadd("hl:advisors", "sam")
    store.set("hl:scheduler:heartbeat", "2026-11-25T10:00:00+00:00")
    store.set("hl:secret_key", "0" * 64)  # the old generated console secret

    migrate(store, NOW, hours(), SETTINGS, SEALER)

    assert store.hgetall(KEYS.closure) == {"message": "Closed.", "until": ""}
    assert store.xlen(KEYS.audit) == 1
    assert store.hget(KEYS.stats(london("2026-11-25T12:00").date()), "calls") == "3"
    assert store.get(KEYS.seen("SM1")) == "abc" and 0 < store.ttl(KEYS.seen("SM1")) <= 3600
    assert not store.exists(KEYS.flood("f" * 24)[1])  # moved, then dropped by version 4
    assert store.smembers("hl:advisors") == {"sam"}
    assert store.exists("hl:scheduler:heartbeat")
    assert not store.exists("hl:secret_key", "hl:override", "hl:audit", "hl:seen:SM1")
    assert store.get(SCHEMA_KEY) == str(VERSION)


def test_processes_starting_together_upgrade_once_and_wait_for_each_other(store):
    for n in range(50):
        write_v1(
            store,
            f"{n:016x}",
            f"+4474000{n:05d}",
            "scheduled",
            "2026-11-24T19:00",
            "2026-11-25T14:00",
        )
    results: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(migrate(store, NOW, hours(), SETTINGS, SEALER))
        )
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results)[:-1] == [0] * 5  # one did the work; the others waited for it
    queue = CallbackQueue(store, SEALER)
    assert len(queue.ids("scheduled")) == 50
    assert not store.exists("hl:migrating")


def test_version_3_numbers_are_sealed_and_found_by_their_keyed_hash(store):
    """Found: every number in clear in the store, and its keys named by an unkeyed hash
    anyone can work out from a number."""
    store.set(SCHEMA_KEY, 3)
    write_v3(store, "a" * 16, "+447400000011")
    write_v3(store, "b" * 16, "+447400000012")
    write_v3(store, "c" * 16, "+447400000012", status="cancelled")  # the same number, ended
    store.set(KEYS.keyed_number("CA" + "1" * 32), "+447400000013", ex=600)
    store.hset(
        "hl:adv:sam", mapping={"name": "Sam", "phone": "+447400000014", "hash": "h", "on_duty": 1}
    )
    store.sadd("hl:advisors", "sam")
    store.set(KEYS.flood(unkeyed_hash("+447400000011"))[0], 3, ex=60)

    assert migrate(store, NOW, hours(), SETTINGS, SEALER) > 0

    everything = "\n".join(
        f"{key} {store.dump(key)!r}" for key in store.scan_iter() if key != SCHEMA_KEY
    )
    for n in range(11, 15):
        assert f"7400000{n}" not in everything
        assert unkeyed_hash(f"+4474000000{n}") not in everything
    queue = CallbackQueue(store, SEALER)
    assert queue.open_for("+447400000011").id == "a" * 16
    assert queue.open_for("+447400000012").id == "b" * 16
    assert queue.get("c" * 16).number == "+447400000012"
    assert queue.keyed("CA" + "1" * 32) == "+447400000013"
    assert 0 < store.ttl(KEYS.keyed_number("CA" + "1" * 32)) <= 600
    assert Accounts(store, SEALER).get("sam").phone == "+447400000014"
    both = KEYS.numbers(SEALER.lookup("+447400000012"))
    assert store.type(both) == "hash"  # ids in a packed hash, not a set of strings
    assert sorted(store.hkeys(both)) == ["b" * 16, "c" * 16]
    assert queue.erase_number("+447400000012") == 2  # STOP finds both by the keyed hash
    assert store.get(SCHEMA_KEY) == str(VERSION)
    assert migrate(store, NOW, hours(), SETTINGS, SEALER) == 0
