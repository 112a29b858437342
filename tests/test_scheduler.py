"""The scheduler's leadership, in this process and in milliseconds: one Redis lock with an
expiry, renewed by the leader; a standby gets it only once it has expired or been given back,
and a leader that lost it can neither renew it nor take it from its successor. The same
hand-over between two real scheduler processes is in test_processes.py."""

from __future__ import annotations

import time

import pytest
import redis
from apscheduler.schedulers.background import BackgroundScheduler

from ivr.config import Settings
from ivr.jobs import scheduler as scheduler_module
from ivr.jobs.scheduler import LOCK_KEY, LOCK_SECONDS, Scheduler
from ivr.services import Services, build_services

LOCK = 0.2  # seconds: the lock's whole life in these tests, unless renewed


@pytest.fixture
def services(store: redis.Redis, store_settings: dict[str, object]) -> Services:
    return build_services(Settings().override(store_settings), upgrade=False)


def leads_within(scheduler: Scheduler, seconds: float) -> float:
    """How long `scheduler` took to get the lock, trying every few milliseconds."""
    started = time.monotonic()
    while not scheduler.leader.acquire():
        assert time.monotonic() - started < seconds, "the standby never got the lock"
        time.sleep(0.002)
    return time.monotonic() - started


def test_a_standby_takes_over_once_a_dead_leaders_lock_expires(services, store):
    leader, standby = Scheduler(services, lock_seconds=LOCK), Scheduler(services, lock_seconds=LOCK)
    assert leader.leader.acquire()
    assert not standby.leader.acquire()
    assert 0 < store.pttl(LOCK_KEY) <= LOCK * 1000

    # Alive, the leader renews: it keeps the lock over several of its lifetimes.
    for _ in range(4):
        time.sleep(LOCK / 4)
        assert leader.leader.renew()
        assert not standby.leader.acquire()
    assert store.get(LOCK_KEY) == leader.leader.token

    # Dead (no renewal, no release, as after kill -9): the lock expires by itself.
    waited = leads_within(standby, seconds=2)
    assert waited <= LOCK + 0.5
    assert store.get(LOCK_KEY) == standby.leader.token

    # The old leader, were it only stalled, finds it lost the lock and can't take it back.
    assert not leader.leader.renew()
    leader.leader.release()
    assert not leader.leader.acquire()
    assert store.get(LOCK_KEY) == standby.leader.token


def test_a_leader_that_stops_hands_over_at_once(services, store):
    leader, standby = Scheduler(services, lock_seconds=30), Scheduler(services, lock_seconds=30)
    assert leader.leader.acquire()
    assert not standby.leader.acquire()
    leader.leader.release()  # a clean stop gives the lock back: no wait for its expiry
    assert standby.leader.acquire()
    assert store.get(LOCK_KEY) == standby.leader.token


def test_the_lock_time_is_the_schedulers_own_unless_given(services, store_settings):
    assert Scheduler(services).lock_seconds == LOCK_SECONDS == 30
    configured = build_services(
        Settings().override({**store_settings, "scheduler_lock_seconds": 4}), upgrade=False
    )
    assert Scheduler(configured).lock_seconds == 4
    assert Scheduler(configured, lock_seconds=LOCK).leader.seconds == LOCK
    assert Settings.from_env({"SCHEDULER_LOCK_SECONDS": "4"}).scheduler_lock_seconds == 4
    assert Settings.from_env({}).scheduler_lock_seconds == 0  # 0: LOCK_SECONDS


def test_a_stored_job_runs_as_the_method_of_the_scheduler_whose_store_reads_it(services):
    """APScheduler keeps a job by the name of a function; read back, it runs as the leading
    scheduler's own method, so no module variable has to hold the scheduler (issue 23)."""
    first, second = Scheduler(services), Scheduler(services)
    timetable = BackgroundScheduler(jobstores={"default": first.job_store()})
    timetable.start(paused=True)
    try:
        timetable.add_job("ivr.jobs.scheduler:tick", "interval", seconds=60, id="tick")
        assert timetable.get_job("tick").func == first.tick
        assert second.job_store().lookup_job("tick").func == second.tick
    finally:
        timetable.remove_all_jobs()
        timetable.shutdown(wait=False)
    with pytest.raises(RuntimeError, match="only inside"):
        scheduler_module.tick()  # the name alone runs nothing
