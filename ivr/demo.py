"""`helpline demo`: the whole app, console included, at a chosen instant, on a throw-away data
folder seeded with sample callers, an advisor and a supervisor, so staff can rehearse
without touching live data. Every console page says it is a rehearsal; no call is placed and
no text sent (Settings.rehearsal); the sample callers have Ofcom's drama numbers."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import threading
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from ivr.core.clock import day_in_words
from ivr.core.hours import OpeningHours
from ivr.core.promise import meets_hours, placement, promise
from ivr.core.safetime import ANYTIME, Window
from ivr.jobs.tasks import Jobs
from ivr.services import Services

log = logging.getLogger(__name__)
JOBS_EVERY_SECONDS = 5.0
FOLDER_PREFIX = "helpline-demo-"  # the throw-away folders, in the temporary folder
OWNER_FILE = "owner.pid"  # the process whose rehearsal a folder is
UNCLAIMED_SECONDS = 600  # a folder without an owner this old is an earlier version's


def closed_notice(hours: OpeningHours, start: datetime) -> str | None:
    """What to tell staff when the rehearsal starts with the helpline closed (None: open)."""
    status = hours.status(start)
    if status.open:
        return None
    why = status.reason.kind.replace("_", " ") if status.reason else "closed"
    opens = status.next_opening.astimezone(hours.timezone)
    later = opens + timedelta(hours=1)
    suggested = later if hours.status(later).open else opens
    return (
        f"The helpline is closed at this time ({why}): callers hear the closed menu and "
        f"callbacks wait for the opening at {opens:%H:%M} on {day_in_words(opens.date())}. "
        f"To rehearse it open, start it with --at {suggested:%Y-%m-%dT%H:%M}"
    )


def claim(folder: Path) -> None:
    """Mark `folder` as this process's rehearsal, so a later one knows whether it is over."""
    (folder / OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def remove_abandoned(parent: Path) -> list[Path]:
    """Remove the throw-away folders of rehearsals whose process is gone (killed with
    kill -9, or the machine stopped): they hold a Redis file and keys. Their Redis servers
    died with them (connection.die_with_parent). The folders removed."""
    removed = []
    for folder in sorted(parent.glob(FOLDER_PREFIX + "*")):
        if not folder.is_dir():
            continue
        try:
            owner: int | None = int((folder / OWNER_FILE).read_text(encoding="ascii"))
        except (OSError, ValueError):
            owner = None
        if owner is None:
            if clock.time() - folder.stat().st_mtime < UNCLAIMED_SECONDS:
                continue  # being set up by a rehearsal starting now
        elif _alive(owner):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


@dataclass(frozen=True)
class Sample:
    """A sample caller: who, how they asked, how long before the rehearsal's start, when it is
    safe to call them."""

    number: str
    source: str
    minutes_before: int
    window: Window


SAMPLES = (
    Sample("+447700900101", "sms", 16 * 60, ANYTIME),
    Sample("+447700900102", "voice", 9 * 60, Window(earliest=time(14, 0))),
    Sample("+447700900103", "sms", 3 * 60, Window(latest=time(12, 0))),
    Sample("+447700900104", "sms", 45, ANYTIME),
    Sample("+447700900105", "voice", 20, ANYTIME),
)
ADVISOR = ("Demo Advisor", "07700 900201")
SUPERVISOR = ("Demo Supervisor", "07700 900202")


@dataclass(frozen=True)
class Seeded:
    password: str  # both sample accounts'
    callbacks: int


def seed(services: Services, at: datetime) -> Seeded:
    """Sample accounts (on duty) and callers who asked before `at`, each placed as the
    webhooks would have placed them then."""
    accounts = services.accounts
    password = "rehearse-" + secrets.token_urlsafe(6)
    for (name, phone), supervisor in ((ADVISOR, False), (SUPERVISOR, True)):
        advisor = accounts.add(name, phone, password, supervisor=supervisor, drama=True)
        accounts.set_on_duty(advisor.username, True)
    hours = services.flows.hours
    made = 0
    for sample in SAMPLES:
        asked = at - timedelta(minutes=sample.minutes_before)
        window = sample.window if meets_hours(sample.window, asked, hours) else ANYTIME
        promised = promise(asked, window, hours, None, services.settings.min_slot)
        place = placement(promised, asked, hours)
        if place.status == "due" and place.due > at:
            continue  # not yet asked for at the rehearsal's instant
        services.queue.request(sample.number, sample.source, asked, place, window)
        made += 1
    return Seeded(password, made)


def run_jobs(services: Services, stop: threading.Event) -> None:
    """The scheduler's work, in this process, on the rehearsal's clock: callbacks are
    released at the opening as they would be (and no text goes out: no Twilio here)."""
    while True:
        try:
            Jobs(services).tick(services.clock())
        except Exception:  # noqa: BLE001 - a rehearsal's jobs must not end the rehearsal
            log.exception("the rehearsal's scheduler pass failed")
        if stop.wait(JOBS_EVERY_SECONDS):
            return


def serve(app: Flask, host: str, port: int, ready: Callable[[], None]) -> None:
    """The app and its jobs until Ctrl-C or SIGTERM; `ready` once it listens."""
    services: Services = app.extensions["helpline"]
    stop = threading.Event()
    jobs = threading.Thread(target=run_jobs, args=(services, stop), daemon=True)
    jobs.start()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    server = make_server(host, port, app, threaded=True)
    ready()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # ends it as Ctrl-C does
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
