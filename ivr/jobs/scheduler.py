"""The scheduler process (`helpline scheduler`): the only place jobs run.

APScheduler 3 with a RedisJobStore, in one process: a job store can't be shared between
schedulers (APScheduler's FAQ), so a second scheduler started by mistake waits as a standby
until the leader's Redis lock expires. Web workers never run jobs; they only write callbacks.

Jobs (tasks.py): each tick (about a minute) moves on callbacks whose slot ended and
releases what has become due while the helpline is open; the first tick or opening job after
each opening does the opening's work exactly once (a Redis key per opening); nightly, the
days waiting callbacks were not reached are counted, they expire, and old records are erased.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from ivr.config import Settings
from ivr.jobs.tasks import Jobs
from ivr.ops.logs import setup_logging
from ivr.services import Services, build_deployment
from ivr.store import Unavailable, keys
from ivr.store.leader import LOCK_SECONDS, Heartbeat, JobStore, Leader
from ivr.store.migrations import migrate

log = logging.getLogger(__name__)

LOCK_KEY = keys.SCHEDULER_LOCK
HEARTBEAT_KEY = keys.SCHEDULER_HEARTBEAT
# The leader beats every few seconds; a standby takes over within LOCK_SECONDS of its death,
# well before monitoring is told there is no scheduler (ops/health.py HEARTBEAT_STALE_SECONDS).
# Long enough that a scheduler down for a morning still does that morning's opening.
MISFIRE_GRACE_SECONDS = 6 * 3600
__all__ = ["HEARTBEAT_KEY", "LOCK_KEY", "LOCK_SECONDS", "Scheduler", "main"]


class Scheduler:
    """One scheduler process: it waits to lead, then runs the jobs on their timetable. Its
    methods are the jobs themselves, one pass each at the services' clock (tests and
    `helpline jobs run` call Jobs directly). `lock_seconds`: how long its lock lasts unless
    renewed (SCHEDULER_LOCK_SECONDS, for tests; else LOCK_SECONDS)."""

    def __init__(
        self,
        services: Services,
        lock_seconds: float | None = None,
        every: Sequence[Services] = (),
    ) -> None:
        """`services`: the default helpline's; `every`: each helpline's (default: that
        one), whose jobs run in turn, each at its own hours."""
        self.services = services
        self.every = tuple(every) or (services,)
        self.lock_seconds = lock_seconds or services.settings.scheduler_lock_seconds or LOCK_SECONDS
        self.leader = Leader(services.redis, self.lock_seconds, services.queue.replicas)
        self.heartbeat = Heartbeat(services.redis)
        self.apscheduler: BackgroundScheduler | None = None

    # ------------------------------------------------------------------ the jobs

    def _each(self, job: Callable[[Services, bool], object]) -> None:
        """A job for every helpline in turn: one helpline's failure (logged) does not keep
        the others' from running. `first`: the job's work for the deployment as a whole is
        done once, with the first."""
        for i, services in enumerate(self.every):
            try:
                job(services, i == 0)
            except Exception:
                if len(self.every) == 1:
                    raise
                log.exception("scheduler: a job failed for helpline %s", services.line.name)

    def tick(self) -> None:
        """Every minute or so (see Jobs.tick)."""
        self._each(lambda s, first: Jobs(s, purge=first).tick(s.clock()))
        self.beat()

    def opening(self) -> None:
        """At each opening (and late after downtime): the opening's work, then the next
        opening is put on the timetable."""
        self._each(lambda s, _: Jobs(s).opening(s.clock()))
        self.schedule_opening()

    def nightly(self) -> None:
        """Count and expire; erase old records (see Jobs.nightly)."""
        self._each(lambda s, _: Jobs(s).nightly(s.clock()))

    def beat(self) -> None:
        """The heartbeat monitoring reads: wall-clock time, whatever the helpline's clock."""
        self.heartbeat.beat()

    # ------------------------------------------------------------------ the timetable

    def job_store(self) -> JobStore:
        """APScheduler's jobs in the store (store/leader.py): each job read back runs as this
        scheduler's own method of its name."""
        run = {f"{__name__}:{name}": getattr(self, name) for name in ("tick", "opening", "nightly")}
        return JobStore(self.services.settings, run)

    def schedule_opening(self) -> None:
        if self.apscheduler is None:
            return
        run_at = min(s.flows.hours.next_opening(s.clock()) for s in self.every)
        self.apscheduler.add_job(
            f"{__name__}:opening", "date", run_date=run_at, id="opening", replace_existing=True
        )

    def ensure_jobs(self) -> None:
        """Add the jobs the store doesn't hold yet. Jobs already stored keep their next run
        time, so a run missed while no scheduler was up (an opening, the night's clean-up)
        still happens late, once (misfire_grace_time, coalesce), instead of being replaced."""
        assert self.apscheduler is not None
        # Jobs an earlier version stored under another module path can't be restored:
        # listing them makes APScheduler drop them, and they are added again below (a
        # missed opening is done by the first tick in hours; the nightly count catches up).
        self.apscheduler.get_jobs()
        tick_every = timedelta(seconds=self.services.settings.scheduler_tick_seconds)
        existing = self.apscheduler.get_job("tick")
        if existing is None or getattr(existing.trigger, "interval", None) != tick_every:
            self.apscheduler.add_job(
                f"{__name__}:tick",
                "interval",
                seconds=tick_every.seconds,
                id="tick",
                replace_existing=True,
                next_run_time=datetime.now(UTC),
            )
        if self.apscheduler.get_job("nightly") is None:
            self.apscheduler.add_job(f"{__name__}:nightly", "cron", hour=2, minute=30, id="nightly")
        if self.apscheduler.get_job("opening") is None:
            self.schedule_opening()

    # ------------------------------------------------------------------ leading

    def run(self, stop: threading.Event) -> None:
        """Wait to lead, then run the jobs until stopped or the lock is lost (then wait
        again)."""
        services = self.services
        wait = max(1.0, min(self.lock_seconds / 3, services.settings.scheduler_tick_seconds))
        standby_said = False
        while not stop.is_set():
            try:
                if not self.leader.acquire():
                    if not standby_said:
                        log.info("another scheduler is running: waiting as a standby")
                        standby_said = True
                    stop.wait(wait)
                    continue
                log.info("scheduler leading (lock %s)", self.leader.token)
                migrate(
                    services.redis,
                    services.clock(),
                    services.flows.hours,
                    services.settings,
                    services.sealer,
                )
            except Unavailable as exc:
                log.error("scheduler cannot reach the store: %s", exc)
                stop.wait(wait)
                continue
            standby_said = False
            self.apscheduler = BackgroundScheduler(
                jobstores={"default": self.job_store()},
                job_defaults={
                    "coalesce": True,
                    "misfire_grace_time": MISFIRE_GRACE_SECONDS,
                    "max_instances": 1,
                },
                timezone=services.flows.hours.timezone,
            )
            self.apscheduler.start(paused=True)
            self.ensure_jobs()
            self.apscheduler.resume()
            try:
                while not stop.wait(wait):
                    if not self.leader.renew():
                        log.error("scheduler lost its lock: stopping jobs, waiting as a standby")
                        break
                    self.beat()
            except Unavailable as exc:
                log.error("scheduler cannot reach the store: %s", exc)
            finally:
                self.apscheduler.shutdown(wait=True)
                self.apscheduler = None
                with contextlib.suppress(Unavailable):
                    self.leader.release()
                    self.heartbeat.stop()


# APScheduler keeps a job as a textual reference to a function: these are the names the
# job store holds. A job read back from the store runs as the leading Scheduler's method of
# the same name (Scheduler.job_store), never as these.
def tick() -> None:
    raise RuntimeError("jobs run only inside `helpline scheduler`")


def opening() -> None:
    raise RuntimeError("jobs run only inside `helpline scheduler`")


def nightly() -> None:
    raise RuntimeError("jobs run only inside `helpline scheduler`")


def main(settings: Settings) -> None:
    """Entry point of `helpline scheduler`: stops cleanly on SIGTERM or SIGINT."""
    setup_logging(settings.log_level, settings.log_format)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    deployment = build_deployment(settings, upgrade=False, serving=True)
    scheduler = Scheduler(deployment.default, every=deployment.all())
    # Published words and hours reach the scheduler too: a new opening time is planned for.
    deployment.default.content.on_change(scheduler.schedule_opening)
    deployment.default.content.follow()
    scheduler.run(stop)
