"""`helpline keys rotate` on a store as the running app and its scheduler leave it: the
scheduler's own records (APScheduler's pickled jobs) are not the sealer's, and are skipped
and counted, never read as text."""

from __future__ import annotations

import threading
import time

from ivr.config import Settings
from ivr.jobs.scheduler import Scheduler
from ivr.services import build_services
from ivr.store import keys
from ivr.store.queue import CallbackQueue
from ivr.store.sealing import Sealer, new_data_key
from tests.common import DATA_KEY, LOOKUP_KEY, send

TEXTER = "+447400123481"


def run_scheduler_until_it_stores_its_jobs(store, store_settings) -> None:
    services = build_services(Settings().override(store_settings), upgrade=False)
    scheduler, stop = Scheduler(services, lock_seconds=5), threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not store.exists(keys.APSCHEDULER_JOBS):
            assert time.monotonic() < deadline, "the scheduler never stored its jobs"
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join()


def test_keys_rotate_on_a_store_made_by_the_app_and_its_scheduler(
    make_app, cli, store, store_settings, monkeypatch
) -> None:
    app = make_app(at="2026-12-07T20:00")
    assert send(app, "call me back please", TEXTER)  # a callback request, sealed
    run_scheduler_until_it_stores_its_jobs(store, store_settings)
    jobs_before = stored_jobs(store)

    new = new_data_key()
    monkeypatch.setenv("DATA_KEY", f"{new},{DATA_KEY}")
    result = cli("keys", "rotate")

    assert result.exit_code == 0, result.output
    assert "re-sealed " in result.output
    assert "left alone" in result.output  # the scheduler's jobs: not the sealer's to seal
    assert CallbackQueue(store, Sealer((new,), LOOKUP_KEY)).open_for(TEXTER) is not None
    assert stored_jobs(store) == jobs_before  # untouched, byte for byte


def stored_jobs(store) -> dict[bytes, bytes]:
    """APScheduler's pickled jobs, as bytes (they are not text)."""
    return dict(store.execute_command("HGETALL", keys.APSCHEDULER_JOBS, NEVER_DECODE=True))
