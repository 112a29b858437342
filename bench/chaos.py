"""`make chaos`: the real app run as production runs it (`helpline run`: gunicorn, the
scheduler and the embedded Redis, supervised) takes mixed signed Twilio traffic while web
workers, the scheduler and the Redis server are killed (SIGKILL) at random moments and come
back by themselves. Then it checks the promises and writes a "Chaos run" section in
bench/RESULTS.md (tests/test_chaos.py runs a two-minute form in `make test`, without writing).

Every request is recorded (when sent, when answered, status, body or error), so a failure can
be told from a request that was in flight on a worker at the moment it was killed: Twilio
sends those callers to the fallback URL (`helpline twilio configure` sets it), and they are
counted apart. Every other voice answer must be a 200 with TwiML. Texts confirmed to the
person must each have exactly one callback; no callback may be released twice; no phone
number may appear in any log. The clock (a file every process reads, test-only) starts on a
closed Sunday and steps through opening days, so the scheduler releases callbacks while it
is being killed. Settings: CHAOS_SECONDS (600), CHAOS_RATE (requests/s, 25), CHAOS_SEED
(random; printed, so a run can be repeated), CHAOS_KEEP_DIR (a folder to keep the data
folder and its logs in). Exits non-zero on any failure.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import psutil

from bench import requests as req
from bench import results
from bench.load import traffic
from bench.server import ROOT, free_port, wait_for
from bench.server import environment as server_environment

if TYPE_CHECKING:
    from ivr.store.queue import CallbackQueue

LONDON = ZoneInfo("Europe/London")
SUNDAY = datetime(2026, 11, 29, 9, 0, tzinfo=LONDON)  # closed: texts wait for Monday 10am
DAY_STEPS = ("10:05", "12:30", "14:20", "15:40")  # through each opening day ("2pm" slots too)
SENDERS = 8  # threads sending the requests at the set rate
ANSWER_SECONDS = 15  # Twilio's own wait for a webhook
CATCH_UP_SECONDS = 60  # the longest a clock step waits for the scheduler to do the last one's
SETTLE_SECONDS = 90  # after the traffic: a killed scheduler's lock expires (30 s), the spool drains
WEB_WORKERS = 2
# Replies that promise a call back (flows/sms.toml: new, existing, preferred, anytime,
# held_new, ask_time, spooled): each of these numbers must have exactly one callback.
CONFIRMING = re.compile(
    r"We will call you|we already have your request|We have it|"
    r"We will not call until|Before we call",
)
# Any UK number written out: +44 (or 0044, or URL-encoded) or 0, then 9 or 10 more digits,
# with spaces between groups or not.
UK_NUMBER = re.compile(
    r"(?:\+|%2B|\b00)44\s?(?:\(0\)\s?)?[1-9](?:\s?\d){8,9}\b|\b0[1-9](?:\s?\d){8,9}\b"
)
DIGIT_RUN = re.compile(r"\d(?:[\s-]?\d){9,12}")
CONNECTION_ERRORS = (ConnectionError, http.client.HTTPException, TimeoutError, OSError)


# ------------------------------------------------------------------ what is killed


def children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []


def _named(run_pid: int, words: tuple[str, ...]) -> psutil.Process | None:
    for child in children(run_pid):
        with contextlib.suppress(psutil.Error):
            line = " ".join(child.cmdline())
            if all(w in line for w in words) and child.status() != psutil.STATUS_ZOMBIE:
                return child
    return None


def web_worker_pid(run_pid: int, rng: random.Random) -> int | None:
    """One gunicorn worker, at random: a child of the gunicorn master that `helpline run`
    started (the master respawns it)."""
    master = _named(run_pid, ("gunicorn",))
    workers = sorted(p.pid for p in children(master.pid)) if master else []
    return rng.choice(workers) if len(workers) == WEB_WORKERS else None


def scheduler_pid(run_pid: int) -> int | None:
    child = _named(run_pid, ("ivr", "scheduler"))
    return child.pid if child else None


def primary_pid(run_pid: int) -> int | None:
    """The Redis server holding the primary copy: the embedded one `helpline run` supervises.
    With Sentinel, this is where the sentinels' current primary is looked up instead."""
    for child in children(run_pid):
        with contextlib.suppress(psutil.Error):
            if child.name() == "redis-server" and child.status() != psutil.STATUS_ZOMBIE:
                return child.pid
    return None


@dataclass
class Kill:
    at: float  # time.monotonic()
    target: str
    pid: int


@dataclass
class Target:
    """One kind of process to kill: how to find it, whether it is back (worth killing again),
    and the pause between its kills (seconds, drawn from its own seeded generator)."""

    name: str
    find: Callable[[random.Random], int | None]
    ready: Callable[[], bool]
    pause: tuple[float, float]


class Killer(threading.Thread):
    """Kills each target at random moments until stopped; a target not back yet is killed
    as soon as it is."""

    def __init__(self, targets: list[Target], seed: int, stop: threading.Event) -> None:
        super().__init__(name="killer", daemon=True)
        self.targets, self.seed, self.stop = targets, seed, stop
        self.kills: list[Kill] = []

    def run(self) -> None:
        rngs = {t.name: random.Random(f"{self.seed}:{t.name}") for t in self.targets}
        due = {t.name: time.monotonic() + rngs[t.name].uniform(*t.pause) for t in self.targets}
        while not self.stop.wait(0.2):
            for target in self.targets:
                rng = rngs[target.name]
                if time.monotonic() < due[target.name] or not target.ready():
                    continue
                pid = target.find(rng)
                if pid is None:
                    continue
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    self.kills.append(Kill(time.monotonic(), target.name, pid))
                due[target.name] = time.monotonic() + rng.uniform(*target.pause)

    def count(self) -> Counter[str]:
        return Counter(k.target for k in self.kills)


# ------------------------------------------------------------------ the traffic


@dataclass
class Record:
    """One request and what came of it (times are time.monotonic())."""

    index: int
    kind: str  # voice or sms
    number: int | None
    sent: float = 0.0
    ended: float = 0.0
    status: int | None = None
    body: str = ""
    error: str = ""

    @property
    def twiml(self) -> bool:
        try:
            return ElementTree.fromstring(self.body).tag == "Response"
        except ElementTree.ParseError:
            return False

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.twiml

    @property
    def confirmed(self) -> bool:
        return self.kind == "sms" and self.ok and bool(CONFIRMING.search(self.body))


def send(port: int, request: dict[str, str], record: Record) -> None:
    """POST one signed request on a connection of its own, as Twilio does."""
    record.sent = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_SECONDS)
    try:
        connection.request(
            "POST",
            request["path"],
            body=request["body"],
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": request["sig"],
                "Connection": "close",
            },
        )
        response = connection.getresponse()
        record.status, record.body = response.status, response.read().decode(errors="replace")
    except CONNECTION_ERRORS as exc:
        record.error = type(exc).__name__
    finally:
        record.ended = time.monotonic()
        connection.close()


class Load:
    """The requests of bench/load.py's traffic(), sent in order at `rate` per second."""

    def __init__(self, base: str, port: int, seconds: float, rate: float, seed: int) -> None:
        self.port, self.rate = port, rate
        self.requests, numbers = traffic(base, int(seconds * rate), seed)
        self.records = [
            Record(i, "sms" if r["path"] == "/sms" else "voice", n)
            for i, (r, n) in enumerate(zip(self.requests, numbers, strict=True))
        ]
        self.next = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._send, daemon=True) for _ in range(SENDERS)]

    def start(self) -> None:
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join()

    def _send(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                i, self.next = self.next, self.next + 1
            if i >= len(self.requests):
                return
            wait = self.started + i / self.rate - time.monotonic()
            if wait > 0 and self.stop.wait(wait):
                return
            send(self.port, self.requests[i], self.records[i])

    def sent(self) -> list[Record]:
        return [r for r in self.records if r.sent]


# ------------------------------------------------------------------ the clock


class FileClock:
    """The file every process reads the time from (HELPLINE_TEST_CLOCK_FILE)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, at: datetime) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(at.isoformat(), encoding="utf-8")
        tmp.replace(self.path)  # atomic: a process never reads half a time

    def now(self) -> datetime:
        return datetime.fromisoformat(self.path.read_text(encoding="utf-8"))


def clock_plan(days: int) -> list[datetime]:
    """The instants the clock steps through after the closed Sunday: each opening day's
    steps, Monday onwards."""
    plan = []
    for day in range(days):
        date = (SUNDAY + timedelta(days=1 + day)).date()
        for step in DAY_STEPS:
            hour, minute = map(int, step.split(":"))
            plan.append(datetime(date.year, date.month, date.day, hour, minute, tzinfo=LONDON))
    return plan


# ------------------------------------------------------------------ the app


@dataclass
class Run:
    """`helpline run` on a data folder of its own, and every process it started."""

    data_dir: Path
    port: int
    popen: subprocess.Popen[bytes]
    seen: dict[int, float] = field(default_factory=dict)  # pid -> create_time

    def note_family(self) -> None:
        """Remember every process it started (to be sure each has stopped at the end)."""
        with contextlib.suppress(psutil.Error):
            for p in psutil.Process(self.popen.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    self.seen[p.pid] = p.create_time()

    def left_running(self) -> list[str]:
        left = []
        for pid, created in self.seen.items():
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                if p.create_time() == created and p.status() != psutil.STATUS_ZOMBIE:
                    left.append(f"{pid} {' '.join(p.cmdline())[:80]}")
        return left


@contextlib.contextmanager
def helpline_run(data_dir: Path, clock: FileClock) -> Iterator[Run]:
    """Start `python -m ivr run` as production does (logs to the data folder, as a service
    manager would keep them); stop it and everything it started, whatever happens."""
    port = free_port()
    env = server_environment(
        data_dir,
        port,
        HELPLINE_TEST_CLOCK_FILE=str(clock.path),
        SCHEDULER_TICK_SECONDS="1",
        SMS_RATE_LIMIT="1000",
        WEB_CONCURRENCY=str(WEB_WORKERS),
        PYTHONUNBUFFERED="1",
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "run.log", "ab") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", "ivr", "run", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    run = Run(data_dir, port, popen)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", seconds=60)
        run.note_family()
        yield run
    finally:
        run.note_family()
        stop(run)


def stop(run: Run) -> None:
    """SIGTERM to `helpline run` (it stops its children and waits); anything it started
    that is still there after that is killed, by its pid."""
    if run.popen.poll() is None:
        run.popen.terminate()
        try:
            run.popen.wait(timeout=40)
        except subprocess.TimeoutExpired:
            run.popen.kill()
            run.popen.wait()
    deadline = time.monotonic() + 10
    while run.left_running() and time.monotonic() < deadline:
        time.sleep(0.2)
    for line in run.left_running():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGKILL)


def dependencies_up(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz/dependencies")
        return connection.getresponse().status == 200
    except CONNECTION_ERRORS:
        return False
    finally:
        connection.close()


def leading_count(data_dir: Path) -> int:
    """How many times a scheduler has started leading (its log line)."""
    try:
        return (data_dir / "run.log").read_text(errors="replace").count("scheduler leading")
    except OSError:
        return 0


# ------------------------------------------------------------------ the checks


@dataclass
class Outcome:
    seed: int
    seconds: float
    rate: float
    kills: Counter[str]
    sent: int = 0
    answered: int = 0
    voice: int = 0
    in_flight: list[Record] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    confirmed_numbers: int = 0
    callbacks: int = 0
    released: int = 0
    clock_steps: int = 0
    spooled: int = 0
    logs_checked: list[str] = field(default_factory=list)
    stopped_clean: bool = True


def in_flight_on_killed_worker(record: Record, kills: list[Kill]) -> bool:
    """Failed without an answer while a web worker was being killed: the request was on it."""
    return bool(record.error) and any(
        k.target == "web worker" and record.sent <= k.at <= record.ended + 0.05 for k in kills
    )


def check_requests(load: Load, kills: list[Kill], outcome: Outcome) -> set[int]:
    """Every answer a 200 with TwiML but the in-flight losses; the numbers confirmed."""
    sent = load.sent()
    outcome.sent = len(sent)
    outcome.answered = sum(1 for r in sent if r.status is not None)
    outcome.voice = sum(1 for r in sent if r.kind == "voice")
    outcome.spooled = sum(1 for r in sent if "We have it" in r.body)
    bad: Counter[str] = Counter()
    for record in sent:
        if record.ok:
            continue
        if in_flight_on_killed_worker(record, kills):
            outcome.in_flight.append(record)
            continue
        what = record.error or (f"status {record.status}" if record.status != 200 else "no TwiML")
        bad[f"{record.kind}: {what}"] += 1
    for what, n in bad.items():
        outcome.failures.append(f"{n} × {what}")
    confirmed = {r.number for r in sent if r.confirmed and r.number is not None}
    outcome.confirmed_numbers = len(confirmed)
    return confirmed


@contextlib.contextmanager
def queue_of(data_dir: Path) -> Iterator[CallbackQueue]:
    """The default helpline's callback queue in the app's embedded store (its keys from the
    data folder, as the app reads them)."""
    import redis

    from ivr.config import Settings
    from ivr.store.connection import Embedded
    from ivr.store.queue import CallbackQueue
    from ivr.store.sealing import load_sealer

    client = redis.Redis(unix_socket_path=Embedded(data_dir).socket, decode_responses=True)
    try:
        yield CallbackQueue(client, load_sealer(Settings(data_dir=data_dir)))
    finally:
        client.close()


def check_callbacks(data_dir: Path, load: Load, confirmed: set[int], outcome: Outcome) -> None:
    """Each confirmed number has exactly one callback; none for a number that never texted;
    none released more times than it was scheduled."""
    with queue_of(data_dir) as queue:
        found = list(queue.all())
        per_number = Counter(cb.number for cb in found)
        outcome.callbacks = len(found)
        doubled = [n for n, c in per_number.items() if c > 1]
        if doubled:
            outcome.failures.append(f"{len(doubled)} numbers have more than one callback")
        lost = [n for n in confirmed if per_number.get(req.mobile(n), 0) != 1]
        if lost:
            outcome.failures.append(f"{len(lost)} confirmed texts have no callback")
        texted = {req.mobile(r.number) for r in load.sent() if r.number is not None}
        unexpected = set(per_number) - texted
        if unexpected:
            outcome.failures.append(f"{len(unexpected)} callbacks for numbers that never texted")
        twice = 0
        for callback in found:
            scheduled, released = queue.release_counts(callback.id)
            outcome.released += released
            twice += released > scheduled
        if twice:
            outcome.failures.append(f"{twice} callbacks released more often than scheduled")


def numbers_in_logs(data_dir: Path, numbers: set[str]) -> dict[str, int]:
    """Phone numbers found in each log of the data folder: any UK number written out, and
    any of the traffic's numbers in any form (E.164 with or without +, national, spaced).
    The lines they are in are printed (the traffic's numbers are made up), to find the leak.
    The app's own example number (ivr/core/phone.py, in hints such as `helpline run`'s "add
    an advisor") is nobody's and is left out."""
    from ivr.core.phone import EXAMPLE_INTERNATIONAL, EXAMPLE_NATIONAL

    example = {re.sub(r"\D", "", EXAMPLE_NATIONAL), re.sub(r"\D", "", EXAMPLE_INTERNATIONAL)}
    digits = {n.removeprefix("+") for n in numbers} | {"0" + n.removeprefix("+44") for n in numbers}
    digits -= example
    found = {}
    for log in sorted(data_dir.rglob("*.log")):
        hits = 0
        for line in log.read_text(errors="replace").splitlines():
            runs = (re.sub(r"\D", "", run) for run in DIGIT_RUN.findall(line))
            written = (re.sub(r"\D", "", n) for n in UK_NUMBER.findall(line))
            here = sum(n not in example for n in written) + sum(run in digits for run in runs)
            if here:
                print(f"  a number in {log.name}: {line[:400]}", flush=True)
            hits += here
        found[str(log.relative_to(data_dir))] = hits
    return found


# ------------------------------------------------------------------ the run


def chaos(seconds: float, rate: float, seed: int, work: Path) -> Outcome:
    """The whole run in `work`; what happened and what failed."""
    from ivr.store.connection import Embedded

    data_dir = work / "data"
    clock = FileClock(work / "clock.txt")
    clock.set(SUNDAY)
    days = max(2, int(seconds // 120))
    plan = clock_plan(days)
    outcome = Outcome(seed, seconds, rate, Counter())
    stopping = threading.Event()
    with helpline_run(data_dir, clock) as run:
        base = f"http://127.0.0.1:{run.port}"
        wait_for_condition(lambda: dependencies_up(run.port), 60, "everything to be up")
        led_at_kill = [leading_count(data_dir)]

        def scheduler_leads() -> bool:
            return leading_count(data_dir) > led_at_kill[0]

        def kill_scheduler(_rng: random.Random) -> int | None:
            pid = scheduler_pid(run.popen.pid)
            if pid is not None:
                led_at_kill[0] = leading_count(data_dir)
            return pid

        targets = [
            Target(
                "web worker",
                lambda rng: web_worker_pid(run.popen.pid, rng),
                lambda: True,
                (4, 12),
            ),
            Target("scheduler", kill_scheduler, scheduler_leads, (5, 20)),
            Target(
                "redis",
                lambda _rng: primary_pid(run.popen.pid),
                lambda: Embedded(data_dir).ready(),
                (15, 35),
            ),
        ]
        led_at_kill[0] = 0  # the first scheduler has led once it says so
        killer = Killer(targets, seed, stopping)
        load = Load(base, run.port, seconds, rate, seed)
        print(
            f"chaos: seed {seed}, {seconds:g} s at {rate:g} requests/s, "
            f"{len(load.requests)} requests, clock through {days} opening days",
            flush=True,
        )
        load.start()
        killer.start()
        try:
            # Closed for the first 30%, then a step every so often until 85%; each step
            # waits (a while at most) for the scheduler to have done the last one's work.
            for step, at in enumerate(plan):
                moment = load.started + seconds * (0.3 + 0.55 * step / len(plan))
                while time.monotonic() < moment or (
                    step and time.monotonic() < moment + CATCH_UP_SECONDS and behind(run, clock)
                ):
                    run.note_family()
                    time.sleep(0.5)
                clock.set(at)
                outcome.clock_steps += 1
                print(
                    f"  clock {at:%a %d %b %H:%M}; kills so far {dict(killer.count())}", flush=True
                )
            while any(t.is_alive() for t in load.threads):
                run.note_family()
                time.sleep(1)
        finally:
            stopping.set()
            load.stop.set()
            killer.join()
            load.join()
        outcome.kills = killer.count()
        print(f"  traffic done; kills {dict(outcome.kills)}; settling", flush=True)
        settle(run, clock)
        confirmed = check_requests(load, killer.kills, outcome)
        check_callbacks(data_dir, load, confirmed, outcome)
        released_all(data_dir, clock, outcome)
        numbers = {req.mobile(r.number) for r in load.sent() if r.number is not None}
        numbers |= {req.mobile(i) for i in range(len(load.requests))}  # callers' numbers too
    outcome.logs_checked = []
    for log, hits in numbers_in_logs(data_dir, numbers).items():
        outcome.logs_checked.append(log)
        if hits:
            outcome.failures.append(f"{hits} phone numbers in {log}")
    left = run.left_running()
    if left:
        outcome.stopped_clean = False
        outcome.failures.append(f"{len(left)} processes left running: {left[:3]}")
    return outcome


def wait_for_condition(condition: Callable[[], bool], seconds: float, what: str) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    print(f"  waited {seconds:g} s for {what}", flush=True)
    return False


def settle(run: Run, clock: FileClock) -> None:
    """After the traffic: everything back up, the texts kept on disk replayed, and the
    scheduler (once its killed predecessor's lock has expired) has released what is due."""
    from ivr.config import Settings
    from ivr.store.sealing import load_sealer
    from ivr.store.spool import Spool

    spool = Spool(run.data_dir, load_sealer(Settings(data_dir=run.data_dir)))
    wait_for_condition(lambda: dependencies_up(run.port), 60, "everything to be up again")
    wait_for_condition(lambda: not spool.waiting(), SETTLE_SECONDS, "the spool")
    wait_for_condition(lambda: not due_now(run.data_dir, clock), SETTLE_SECONDS, "releases")


def behind(run: Run, clock: FileClock) -> bool:
    return bool(due_now(run.data_dir, clock))


def due_now(data_dir: Path, clock: FileClock) -> list[str]:
    """Callbacks the scheduler should have released, or moved on to their next slot, by now
    and has not."""
    import redis

    try:
        with queue_of(data_dir) as queue:
            now = clock.now()
            return queue.due_to_release(now) + [cb.id for cb in queue.slot_ended(now)]
    except redis.RedisError:
        return ["?"]


def released_all(data_dir: Path, clock: FileClock, outcome: Outcome) -> None:
    left = due_now(data_dir, clock)
    if left:
        outcome.failures.append(
            f"{len(left)} callbacks due and not released (or moved on) by the scheduler"
        )


# ------------------------------------------------------------------ the report


def report(outcome: Outcome) -> list[str]:
    kills = outcome.kills
    lost = outcome.in_flight
    return [
        results.CHAOS,
        "",
        f"Made by `make chaos` on {datetime.now(LONDON):%Y-%m-%d %H:%M} (UK time): "
        f"{outcome.seconds:g} s of signed Twilio traffic at {outcome.rate:g} requests/s "
        "(bench/load.py's mix: calls walking the tree, texts from many numbers, some "
        "repeating, Twilio retries of a MessageSid) against `helpline run` (gunicorn with 2 "
        "workers, the scheduler, the embedded Redis), the clock stepping from a closed "
        f"Sunday through {outcome.clock_steps} moments of the opening days. "
        f"Seed {outcome.seed} (`CHAOS_SEED={outcome.seed} make chaos` repeats the kill "
        "timetable).",
        "",
        "| | |",
        "| --- | --- |",
        f"| kills (SIGKILL) | {kills['web worker']} web workers, {kills['scheduler']} "
        f"schedulers, {kills['redis']} Redis servers |",
        f"| requests sent / answered | {outcome.sent} / {outcome.answered} "
        f"({outcome.voice} voice) |",
        f"| in flight on a killed worker (Twilio's fallback URL answers these) | {len(lost)} "
        f"(voice: {sum(r.kind == 'voice' for r in lost)}, "
        f"texts: {sum(r.kind == 'sms' for r in lost)}) |",
        f"| texts kept on disk while Redis was down, then queued | {outcome.spooled} |",
        f"| numbers told their callback is taken / callbacks in the queue | "
        f"{outcome.confirmed_numbers} / {outcome.callbacks} |",
        f"| releases (none twice) | {outcome.released} |",
        f"| logs checked for phone numbers | {', '.join(outcome.logs_checked)} |",
        f"| every process stopped at the end | {'yes' if outcome.stopped_clean else 'NO'} |",
        "",
        "Result: "
        + ("passed: every check held." if not outcome.failures else "FAILED: ")
        + "; ".join(outcome.failures),
    ]


def main() -> int:
    seconds = float(os.environ.get("CHAOS_SECONDS", "600"))
    rate = float(os.environ.get("CHAOS_RATE", "25"))
    seed = int(os.environ.get("CHAOS_SEED") or random.randrange(1_000_000))
    write = os.environ.get("CHAOS_WRITE_RESULTS", "1") == "1"
    keep = os.environ.get("CHAOS_KEEP_DIR")  # to read the logs afterwards
    with tempfile.TemporaryDirectory(prefix="helpline-chaos-") as tmp:
        work = Path(keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        outcome = chaos(seconds, rate, seed, work)
    lines = report(outcome)
    print("\n".join(lines))
    for failure in outcome.failures:
        print(f"FAIL: {failure}")
    if write:
        results.write_chaos("\n".join(lines))
    print("chaos run passed" if not outcome.failures else "chaos run FAILED")
    return 1 if outcome.failures else 0


if __name__ == "__main__":
    sys.exit(main())
