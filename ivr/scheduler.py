"""The scheduler process (`helpline scheduler`): the only place jobs run.

APScheduler 3 with a RedisJobStore, in one process: a job store can't be shared between
schedulers (APScheduler's FAQ), so a second scheduler started by mistake waits as a standby
until the leader's Redis lock expires. Web workers never run jobs; they only write callbacks.

Jobs: each tick (about a minute) releases what has become due while the helpline is open;
the first tick or opening job after each opening does the opening's work exactly once (a
Redis key per opening); nightly, waiting callbacks expire and old records are erased.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import signal
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from apscheduler.jobstores.redis import RedisJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from ivr import stats
from ivr.accounts import Accounts
from ivr.clock import Clock, file_clock, system_clock
from ivr.config import Settings
from ivr.flows import Flows, load_flows
from ivr.logs import setup_logging
from ivr.override import read_override
from ivr.phone import mask
from ivr.queue import CallbackQueue
from ivr.store import connect, start_embedded
from ivr.twilio_api import rest_client, run_purges, send_sms

log = logging.getLogger(__name__)

LOCK_KEY = "hl:scheduler:lock"
HEARTBEAT_KEY = "hl:scheduler:heartbeat"
LOCK_SECONDS = 30
# Long enough that a scheduler down for a morning still does that morning's opening.
MISFIRE_GRACE_SECONDS = 6 * 3600
# A call that connected but never got an outcome is closed after this, so the number is free
# to ask again (claims that never connected go back to the queue much sooner, in `tick`).
UNRECORDED_CLAIM_HOURS = 12


@dataclass(frozen=True)
class Context:
    """What jobs need; set once in the scheduler process (jobs are stored by reference)."""

    settings: Settings
    flows: Flows
    clock: Clock
    redis: redis.Redis
    queue: CallbackQueue
    twilio: Client | None


_context: Context | None = None


def context() -> Context:
    if _context is None:
        raise RuntimeError("jobs run only inside `helpline scheduler`")
    return _context


def make_context(settings: Settings) -> Context:
    clock = file_clock(settings.clock_file) if settings.clock_file else system_clock
    store = connect(settings)
    return Context(settings, load_flows(settings.flows_dir, clock()), clock, store,
                   CallbackQueue(store), rest_client(settings))


# ------------------------------------------------------------------ jobs


def opening_tasks(ctx: Context, now: datetime) -> bool:
    """Once per opening (whoever gets there first): release what is due and tell the
    advisors on duty how many are waiting. True if it ran."""
    status = ctx.flows.hours.status_with(now, read_override(ctx.redis))
    if not status.open:
        return False
    local = now.astimezone(ctx.flows.hours.timezone)
    session = ctx.flows.hours.day(local.date()).session
    opened = datetime.combine(local.date(), session.opens, tzinfo=ctx.flows.hours.timezone)
    if not ctx.redis.set(f"hl:opening:{opened.isoformat()}", now.isoformat(), nx=True,
                         ex=7 * 24 * 3600):
        return False
    released = ctx.queue.release(now)
    waiting = ctx.queue.counts()["due"]
    log.info("the helpline opened at %s: %d callbacks released, %d waiting", opened.isoformat(),
             released, waiting)
    tell_advisors(ctx, waiting)
    return True


def tell_advisors(ctx: Context, waiting: int) -> None:
    """One discreet text to each advisor on duty: how many are waiting and the console link
    (never a caller's number). A failure is logged; it never stops the opening."""
    s = ctx.settings
    if ctx.twilio is None or not s.helpline_number:
        return
    body = ctx.flows.sms.advisor_opening.format(count=waiting,
                                                link=f"{s.public_base_url}/console/")
    for phone in Accounts(ctx.redis).on_duty_phones():
        try:
            send_sms(ctx.twilio, s, phone, body)
        except TwilioException as exc:
            log.error("could not text an advisor at %s: %s", mask(phone), exc)


def tick() -> None:
    """Every minute or so: the opening's work if not yet done, release what is due, purge."""
    ctx = context()
    now = ctx.clock()
    returned = ctx.queue.return_stale_claims(
        now - timedelta(minutes=ctx.settings.claim_timeout_minutes))
    if returned:
        log.info("%d unfinished claims went back to the queue", returned)
    if ctx.flows.hours.status_with(now, read_override(ctx.redis)).open:
        opening_tasks(ctx, now)
        released = ctx.queue.release(now)
        if released:
            log.info("%d callbacks became due", released)
    if ctx.twilio is not None:
        run_purges(ctx.redis, ctx.twilio)
    beat(ctx)


def opening() -> None:
    """Scheduled for each opening (and run late after downtime): the opening's work, then
    the next opening is scheduled."""
    ctx = context()
    opening_tasks(ctx, ctx.clock())
    schedule_opening(_scheduler)


def nightly() -> None:
    """Expire callbacks nobody reached in time; erase records past the retention period."""
    ctx = context()
    now = ctx.clock()
    s = ctx.settings
    if not ctx.redis.set(f"hl:nightly:{now.date().isoformat()}", 1, nx=True, ex=3 * 24 * 3600):
        return
    expired = ctx.queue.expire(now - timedelta(days=s.callback_expiry_days), now)
    closed = ctx.queue.close_unrecorded_claims(now - timedelta(hours=UNRECORDED_CLAIM_HOURS), now)
    if closed:
        log.warning("nightly: %d connected calls had no outcome recorded; closed as "
                    "not_recorded", closed)
    erased = ctx.queue.erase_ended(now - timedelta(days=s.retention_days))
    for _ in range(expired):
        stats.count(ctx.redis, now, ctx.flows.hours.timezone, "cb:expired")
    log.info("nightly: %d callbacks expired, %d old records erased", expired, erased)


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
    scheduler.add_job("ivr.scheduler:opening", "date", run_date=run_at, id="opening",
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
    tick_every = timedelta(seconds=settings.scheduler_tick_seconds)
    existing = scheduler.get_job("tick")
    if existing is None or getattr(existing.trigger, "interval", None) != tick_every:
        scheduler.add_job("ivr.scheduler:tick", "interval", seconds=tick_every.seconds,
                          id="tick", replace_existing=True, next_run_time=system_clock())
    if scheduler.get_job("nightly") is None:
        scheduler.add_job("ivr.scheduler:nightly", "cron", hour=2, minute=30, id="nightly")
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
        except redis.RedisError as exc:
            log.error("scheduler cannot reach the store: %s", exc)
            stop.wait(wait)
            continue
        log.info("scheduler leading (lock %s)", leader.token)
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


def main(settings: Settings) -> None:
    """Entry point of `helpline scheduler`: stops cleanly on SIGTERM or SIGINT."""
    setup_logging(settings.log_level, settings.log_format)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run(settings, stop)
