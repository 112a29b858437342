"""Erasure leaves nothing readable: after STOP (or `data erase`, or the retention period) and
the scheduler's next tick, no file of the embedded store's folder holds the person's record in
any form the keys can open: not the number in any written form, not its keyed hash, not a
sealed value that opens to it. A restore erases what the erasure log names before it writes
anything. The erasure log itself (keyed hashes, kept on purpose) is left out of the search by
name. Each test runs its own embedded Redis in its own data folder."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import redis

import ivr.store.connection
from ivr.jobs.tasks import Jobs
from ivr.store import compaction, keys
from ivr.store.backup import restore, snapshot
from ivr.store.connection import connect, start_embedded, stop_embedded
from ivr.store.queue import CallbackQueue
from ivr.store.sealing import Sealer, Unreadable
from tests.common import london, send

ERASED = "+447400123480"
KEPT = "+447400123481"
OPEN = "2026-11-25T11:00"
SEALED = re.compile(rb"~[A-Za-z0-9_-]{16,}")


def national(number: str) -> str:
    return "0" + number.removeprefix("+44")


def readable(folder: Path, number: str, sealer: Sealer) -> list[str]:
    """Where under `folder` (the erasure log aside) `number` can be read with the keys."""
    n = national(number)
    plain = [number, number[1:], n, f"{n[:5]} {n[5:8]} {n[8:]}", sealer.lookup(number)]
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.parent.name == "erasures":
            continue
        data = path.read_bytes()
        found += [f"{path.name}: {form}" for form in plain if form.encode() in data]
        for token in SEALED.findall(data):
            try:
                opened = sealer.open(token.decode())
            except (Unreadable, ValueError):
                continue
            if number in opened or n in opened:
                found.append(f"{path.name}: sealed")
    return found


def rewritten(r: redis.Redis) -> None:
    """Until the append-only file's rewrite (and the old file's removal) is done."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        info = r.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            time.sleep(0.3)  # the old file is closed and removed in the background
            return
        time.sleep(0.05)
    raise AssertionError("the append-only file was not rewritten within 20 s")


@pytest.fixture
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ivr.store.connection, "_owned", {})
    data_dir = tmp_path / "data"
    start_embedded(data_dir)
    yield data_dir
    stop_embedded(data_dir)


def test_stop_then_the_next_tick_leaves_nothing_of_the_number_on_disk(make_app, own_store):
    app = make_app(at=OPEN, data_dir=own_store, redis_url="")
    h = app.extensions["helpline"]
    send(app, "call me after 2pm", sender=ERASED)
    send(app, "hello", sender=KEPT)
    assert readable(own_store, ERASED, h.sealer)  # the append-only file holds every write

    send(app, "STOP", sender=ERASED)
    assert readable(own_store, ERASED, h.sealer)  # deleted in memory, still in the file
    report = Jobs(h, purge=False).tick(london(OPEN))
    assert any("rewrite" in line for line in report.lines)
    rewritten(h.redis)

    assert readable(own_store, ERASED, h.sealer) == []
    assert {cb.number for cb in h.queue.all()} == {KEPT}  # the rest is all there
    assert Jobs(h, purge=False).tick(london(OPEN)).lines == []  # nothing erased since


def test_a_restore_never_writes_a_record_erased_since_the_backup(make_app, own_store, tmp_path):
    app = make_app(at=OPEN, data_dir=own_store, redis_url="")
    h = app.extensions["helpline"]
    send(app, "hello", sender=ERASED)
    send(app, "hello", sender=KEPT)
    backup, _ = snapshot(h.redis, h.sealer)
    send(app, "STOP", sender=ERASED)  # after the backup: logged in the erasure log

    fresh = tmp_path / "fresh"
    r = connect(h.settings.override({"redis_url": "", "data_dir": fresh}))
    start_embedded(fresh)
    try:
        restored = restore(r, h.sealer, backup, h.erasures, h.keys)
        assert restored.erased == 1
        assert readable(fresh, ERASED, h.sealer) == []  # not written, then erased: never written
        assert CallbackQueue(r, h.sealer, h.keys).open_for(KEPT) is not None  # the rest is back
        assert not r.exists(keys.ERASED)
        assert r.dbsize() > 0
    finally:
        r.close()
        stop_embedded(fresh)


def test_the_flag_is_taken_once_and_a_running_rewrite_keeps_it(store):
    assert compaction.rewrite_if_erased(store) == ""
    compaction.erased(store)
    assert "rewrite" in compaction.rewrite_if_erased(store)
    assert compaction.rewrite_if_erased(store) == ""  # taken
    rewritten(store)
