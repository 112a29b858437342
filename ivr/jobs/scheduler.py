"""The scheduler process (`helpline scheduler`): the only place jobs run.

APScheduler 3 with a RedisJobStore, in one process: a job store can't be shared between
schedulers (APScheduler's FAQ), so a second scheduler started by mistake waits as a standby
until the leader's Redis lock expires. Web workers never run jobs; they only write callbacks.

Jobs (ivr/jobs.py): each tick (about a minute) moves on callbacks whose slot ended and
releases what has become due while the helpline is open; the first tick or opening job after
each opening does the opening's work exactly once (a Redis key per opening); nightly, the
days waiting callbacks were not reached are counted, they expire, and old records are erased.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import signal
import threading
from datetime import timedelta

import redis
from apscheduler.jobstores.redis import RedisJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from ivr.config import Settings
from ivr.content.flows import load_flows
from ivr.core.clock import file_clock, system_clock
from ivr.jobs.tasks import Context, Jobs
from ivr.ops.logs import setup_logging
from ivr.store.connection import connect, start_embedded
from ivr.store.migrations import migrate
from ivr.store.queue import CallbackQueue
from ivr.twilio.rest import rest_client

log = logging.getLogger(__name__)

LOCK_KEY = "hl:scheduler:lock"
HEARTBEAT_KEY = "hl:scheduler:heartbeat"
LOCK_SECONDS = 30
# The leader beats every few seconds; a standby takes over within LOCK_SECONDS of its death.
# Silent longer than that, there is no scheduler (monitoring is told, via health.py).
HEARTBEAT_STALE_SECONDS = LOCK_SECONDS + 15
# Long enough that a scheduler down for a morning still does that morning's opening.
MISFIRE_GRACE_SECONDS = 6 * 3600


_context: Context | None = None


def context() -> Context:
    if _context is None:
        raise RuntimeError("jobs run only inside `helpline scheduler`")
    return _context


def make_context(settings: Settings) -> Context:
    clock = file_clock(settings.clock_file) if settings.clock_file else system_clock
    store = connect(settings)
    flows = load_flows(settings.flows_dir, clock())
    return Context(settings, flows, clock, store, CallbackQueue(store), rest_client(settings))


# ------------------------------------------------------------------ jobs (see jobs.py)


def tick() -> None:
    """Every minute or so (see Jobs.tick)."""
    ctx = context()
    Jobs(ctx).tick(ctx.clock())
    beat(ctx)


def opening() -> None:
    """Scheduled for each opening (and run late after downtime): the opening's work, then
    the next opening is scheduled."""
    ctx = context()
    Jobs(ctx).opening(ctx.clock())
    schedule_opening(_scheduler)


def nightly() -> None:
    """Count and expire; erase old records (see Jobs.nightly)."""
    ctx = context()
    Jobs(ctx).nightly(ctx.clock())


def beat(ctx: Context) -> None:
    ctx.redis.set(HEARTBEAT_KEY, system_clock().isoformat(), ex=LOCK_SECONDS * 4)


# ------------------------------------------------------------------ leadership


class Leader:
    """A Redis lock with an expiry: one scheduler runs jobs, any other waits as a standby."""

    def __init__(self, r: redis.Redis, seconds: int = LOCK_SECONDS) -> None:
        self.r, self.seconds = r, seconds
        self.token = secrets.token_hex(8)
        self._renew = r.register_script(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then "
            "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end")
        self._release = r.register_script(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then "
            "return redis.call('DEL', KEYS[1]) else return 0 end")

    def acquire(self) -> bool:
        return bool(self.r.set(LOCK_KEY, self.token, nx=True, ex=self.seconds))

    def renew(self) -> bool:
        return bool(self._renew(keys=[LOCK_KEY], args=[self.token, self.seconds * 1000]))

    def release(self) -> None:
        self._release(keys=[LOCK_KEY], args=[self.token])


# ------------------------------------------------------------------ the process

_scheduler: BackgroundScheduler | None = None


def job_store(settings: Settings) -> RedisJobStore:
    keys = {"jobs_key": "hl:apscheduler:jobs", "run_times_key": "hl:apscheduler:run_times"}
    if settings.redis_url:
        args = redis.connection.parse_url(settings.redis_url)
        return RedisJobStore(**keys, **args)
    return RedisJobStore(**keys, unix_socket_path=start_embedded(settings.data_dir))


def schedule_opening(scheduler: BackgroundScheduler | None) -> None:
    if scheduler is None:
        return
    ctx = context()
    run_at = ctx.flows.hours.next_opening(system_clock())
    scheduler.add_job("ivr.jobs.scheduler:opening", "date", run_date=run_at, id="opening",
                      replace_existing=True)


def build_scheduler(settings: Settings) -> BackgroundScheduler:
    ctx = context()
    return BackgroundScheduler(
        jobstores={"default": job_store(settings)},
        job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS,
                      "max_instances": 1},
        timezone=ctx.flows.hours.timezone)


def ensure_jobs(scheduler: BackgroundScheduler, settings: Settings) -> None:
    """Add the jobs the store doesn't hold yet. Jobs already stored keep their next run time,
    so a run missed while no scheduler was up (an opening, the night's clean-up) still
    happens late, once (misfire_grace_time, coalesce), instead of being replaced."""
    # Jobs an earlier version stored under another module path can't be restored: listing
    # them makes APScheduler drop them, and they are added again below (a missed opening is
    # done by the first tick in hours; the nightly count catches up by itself).
    scheduler.get_jobs()
    tick_every = timedelta(seconds=settings.scheduler_tick_seconds)
    existing = scheduler.get_job("tick")
    if existing is None or getattr(existing.trigger, "interval", None) != tick_every:
        scheduler.add_job("ivr.jobs.scheduler:tick", "interval", seconds=tick_every.seconds,
                          id="tick", replace_existing=True, next_run_time=system_clock())
    if scheduler.get_job("nightly") is None:
        scheduler.add_job("ivr.jobs.scheduler:nightly", "cron", hour=2, minute=30, id="nightly")
    if scheduler.get_job("opening") is None:
        schedule_opening(scheduler)


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    """Wait to lead, then run the jobs until stopped or the lock is lost (then wait again)."""
    global _context, _scheduler
    stop = stop or threading.Event()
    _context = make_context(settings)
    leader = Leader(_context.redis)
    wait = max(1.0, min(LOCK_SECONDS / 3, settings.scheduler_tick_seconds))
    standby_said = False
    while not stop.is_set():
        try:
            if not leader.acquire():
                if not standby_said:
                    log.info("another scheduler is running: waiting as a standby")
                    standby_said = True
                stop.wait(wait)
                continue
            log.info("scheduler leading (lock %s)", leader.token)
            migrate(_context.redis, _context.clock(), _context.flows.hours, settings)
        except redis.RedisError as exc:
            log.error("scheduler cannot reach the store: %s", exc)
            stop.wait(wait)
            continue
        standby_said = False
        _scheduler = build_scheduler(settings)
        _scheduler.start(paused=True)
        ensure_jobs(_scheduler, settings)
        _scheduler.resume()
        try:
            while not stop.wait(wait):
                if not leader.renew():
                    log.error("scheduler lost its lock: stopping jobs, waiting as a standby")
                    break
                beat(_context)
        except redis.RedisError as exc:
            log.error("scheduler cannot reach the store: %s", exc)
        finally:
            _scheduler.shutdown(wait=True)
            _scheduler = None
            with contextlib.suppress(redis.RedisError):
                leader.release()
                _context.redis.delete(HEARTBEAT_KEY)  # stopped: say so at once


def main(settings: Settings) -> None:
    """Entry point of `helpline scheduler`: stops cleanly on SIGTERM or SIGINT."""
    setup_logging(settings.log_level, settings.log_format)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run(settings, stop)
