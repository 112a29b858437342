"""The erasure log tells nobody who was erased: each entry is the number's keyed hash sealed
with DATA_KEY, so someone holding the log and LOOKUP_KEY (but not DATA_KEY) can't try every
UK mobile against it, nor even see that two STOPs came from one number. A restore still opens
and applies every entry since the backup; one no key opens stops the restore instead of
bringing that person back (docs/erasure.md, "The erasure log, sealed")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr.store.backup import BackupProblem, restore, snapshot
from ivr.store.erasures import ErasureLog, record_erasure
from ivr.store.sealing import Sealer, new_data_key
from tests.common import LOOKUP_KEY, SEALER, empty, send

STOPPED, KEPT = "+447400123491", "+447400123492"


def forms(number: str) -> list[str]:
    """The number as anyone holding LOOKUP_KEY could look for it."""
    national = "0" + number.removeprefix("+44")
    return [number, number[1:], national, SEALER.lookup(number)]


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "erasures" / "erasures.jsonl"


def test_a_stop_leaves_no_hash_anyone_with_the_lookup_key_could_test(make_app, log_path):
    app = make_app(erasure_log=str(log_path))
    send(app, "after 2pm", sender=STOPPED)
    send(app, "STOP", sender=STOPPED)
    written = log_path.read_text()
    assert [form for form in forms(STOPPED) if form in written] == []
    assert app.extensions["helpline"].erasures.erased_since(0, SEALER) == {SEALER.lookup(STOPPED)}


def test_two_erasures_of_one_number_look_unrelated(log_path):
    log = ErasureLog(log_path, keep_days=35)
    record_erasure(log, SEALER, STOPPED)
    record_erasure(log, SEALER, STOPPED)
    first, second = [json.loads(line) for line in log_path.read_text().splitlines()[1:]]
    assert first["s"] != second["s"]
    assert log.erased_since(0, SEALER) == {SEALER.lookup(STOPPED)}


def test_a_log_written_in_the_clear_is_still_applied_then_sealed(log_path):
    """A log from before entries were sealed: its hashes still count, and the next erasure
    rewrites it with every hash sealed."""
    log_path.parent.mkdir(mode=0o700)
    old = SEALER.lookup(KEPT)
    log_path.write_text(json.dumps({"since": 0}) + "\n" + json.dumps({"h": old, "at": 1e9}) + "\n")
    log = ErasureLog(log_path, keep_days=36500)
    assert log.erased_since(0, SEALER) == {old}

    record_erasure(log, SEALER, STOPPED)
    assert old not in log_path.read_text()
    assert log.erased_since(0, SEALER) == {old, SEALER.lookup(STOPPED)}
    assert log.since() == pytest.approx(log_path.stat().st_mtime - 36500 * 86400, abs=5)


def test_a_restore_applies_the_sealed_log(make_app, store, log_path):
    app = make_app(erasure_log=str(log_path))
    h = app.extensions["helpline"]
    send(app, "after 2pm", sender=STOPPED)
    send(app, "after 2pm", sender=KEPT)
    backup, _ = snapshot(store, h.sealer)
    send(app, "STOP", sender=STOPPED)
    empty(store)

    restored = restore(store, h.sealer, backup, h.erasures, h.keys)
    assert restored.erased == 1
    assert h.queue.open_for(STOPPED) is None
    assert h.queue.open_for(KEPT) is not None


def test_a_restore_stops_at_an_entry_no_key_opens(make_app, store, log_path):
    """Skipping an entry would bring that person back: the restore asks for the key."""
    app = make_app(erasure_log=str(log_path))
    h = app.extensions["helpline"]
    send(app, "after 2pm", sender=STOPPED)
    backup, _ = snapshot(store, h.sealer)
    dropped = Sealer((new_data_key(),), LOOKUP_KEY)  # a key since removed from DATA_KEY
    record_erasure(h.erasures, dropped, STOPPED)
    empty(store)

    with pytest.raises(BackupProblem, match="DATA_KEY does not open every erasure"):
        restore(store, h.sealer, backup, h.erasures, h.keys)
