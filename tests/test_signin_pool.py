"""Sign-ins never starve calls (issue 22): password checks run one per core in the whole
server, across gunicorn's workers (a lock file per slot), off the request path (real OS
threads under gevent, at a lower CPU priority), in one argon2 lane each; sign-ins beyond them
are told at once that the console is busy, with no hash done; the last slot is kept for
devices an advisor has signed in from before, so a flood cannot keep advisors out; and
webhooks are answered while passwords are being checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from argon2 import PasswordHasher, extract_parameters
from flask import Flask
from flask.testing import FlaskClient

import ivr.store.accounts
from ivr.config import Settings
from ivr.ops.hashpool import Busy, HashPool, under_gevent
from ivr.store import keys
from ivr.store.accounts import PRODUCTION, Accounts
from tests.common import (
    PASSWORD,
    SEALER,
    SECRET_KEY,
    TOKEN,
    add_advisor,
    csrf_token,
    sign_in_attempt,
    signed_in,
    twilio_client,
    twiml,
)

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("Alex", "Bea", "Cal", "Dee")
WAIT = 30  # seconds a test waits for a thread before giving up: a guard, never a measure
BUSY = "The console is busy. Please try again in a moment."


class Gate:
    """Holds every password check at the gate until opened, counting those that started
    (none while `letting_through`)."""

    def __init__(self) -> None:
        self.started = threading.Semaphore(0)
        self.count = 0
        self.opened = threading.Event()
        self.letting_through = False

    def wait_for(self, checks: int) -> None:
        for _ in range(checks):
            assert self.started.acquire(timeout=WAIT), "a password check never started"


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    held = Gate()
    real = ivr.store.accounts.check_hash

    def gated(stored: str | None, password: str) -> tuple[bool, str | None]:
        if held.letting_through:
            return real(stored, password)
        held.count += 1
        held.started.release()
        assert held.opened.wait(WAIT), "the gate was never opened"
        return real(stored, password)

    monkeypatch.setattr(ivr.store.accounts, "check_hash", gated)
    yield held
    held.opened.set()  # whatever happened, nothing stays held


def add_advisors(store: redis.Redis) -> None:
    for n, name in enumerate(NAMES):
        add_advisor(store, name, f"+4474001234{50 + n}")


def from_address(address: str) -> dict[str, object]:
    return {"environ_base": {"REMOTE_ADDR": address}}


def sign_out(client: FlaskClient) -> None:
    """Sign out, keeping the browser's known-device cookie (as a browser does)."""
    client.post("/console/logout", data={"csrf_token": csrf_token(client)})


class SignIns:
    """Sign-ins held at the gate, each on its own thread, their status codes by name."""

    def __init__(self, app: Flask, gate: Gate) -> None:
        self.app, self.gate = app, gate
        self.results: dict[str, int] = {}
        self.threads: list[threading.Thread] = []

    def start(self, name: str, client: FlaskClient | None = None, address: str = "") -> None:
        browser = client or self.app.test_client()
        where = from_address(address or f"198.51.100.{len(self.threads) + 1}")

        def sign_in() -> None:
            self.results[name] = sign_in_attempt(browser, name, PASSWORD, **where).status_code

        thread = threading.Thread(target=sign_in)
        thread.start()
        self.threads.append(thread)
        self.gate.wait_for(1)  # its password is being checked now

    def finish(self) -> dict[str, int]:
        self.gate.opened.set()
        for thread in self.threads:
            thread.join(WAIT)
        return self.results


def assert_busy(client: FlaskClient, name: str, address: str) -> None:
    """Refused at once: a 503 page that says so, and when to try again."""
    busy = sign_in_attempt(client, name, PASSWORD, **from_address(address))
    assert busy.status_code == 503
    assert BUSY in busy.get_data(as_text=True)
    assert busy.headers["Retry-After"] == "2"


def test_sign_ins_beyond_the_pool_are_told_at_once_and_calls_are_answered(
    make_app, store: redis.Redis, gate: Gate
) -> None:
    add_advisors(store)
    console = make_app(cookie_secure=False, signin_pool_size=3)  # two for anyone, one kept
    signins = SignIns(console, gate)
    try:
        signins.start("Alex")
        signins.start("Bea")  # both open slots are checking a password now

        for n, name in enumerate(NAMES[2:]):
            assert_busy(console.test_client(), name, f"203.0.113.{n}")
        assert gate.count == 2  # no hash was done for them: the kept slot stayed free

        call = twilio_client(console).post("/voice")  # while two passwords are being checked
        twiml(call)
        assert "9 9 9" in call.get_data(as_text=True)
    finally:
        results = signins.finish()
    assert results == {"Alex": 302, "Bea": 302}
    # A busy answer was not a failed try: Cal signs in at once now the pool is free.
    assert sign_in_attempt(console.test_client(), "Cal", PASSWORD).status_code == 302


def test_a_flood_of_strangers_never_keeps_an_advisor_out_of_a_device_she_has_used(
    make_app, store: redis.Redis, gate: Gate
) -> None:
    add_advisors(store)
    console = make_app(cookie_secure=False, signin_pool_size=2)  # one for anyone, one kept
    gate.letting_through = True
    desk = signed_in(console, "Alex")  # her desk is a known device from now on
    sign_out(desk)
    gate.letting_through = False
    signins = SignIns(console, gate)
    try:
        signins.start("nobody-1")  # a stranger's guess holds the one open slot
        assert_busy(console.test_client(), "nobody-2", "198.51.100.99")
        assert_busy(console.test_client(), "Alex", "203.0.113.10")  # her new phone: a stranger

        signins.start("Alex", desk, "203.0.113.11")  # her desk takes the kept slot
        assert_busy(desk, "Bea", "203.0.113.11")  # known to Alex, not to Bea
        assert gate.count == 2
    finally:
        results = signins.finish()
    assert results == {"nobody-1": 401, "Alex": 302}


def test_a_device_a_supervisor_trusted_has_the_kept_slot_too(
    make_app, store: redis.Redis, gate: Gate
) -> None:
    add_advisors(store)
    console = make_app(cookie_secure=False, signin_pool_size=2)
    phone = console.test_client()  # Bea's new phone, trusted with a supervisor's link
    link = f"/console/trust/{Accounts(store, SEALER).device_link('bea')}"
    assert phone.post(link, data={"csrf_token": csrf_token(phone, link)}).status_code == 302
    signins = SignIns(console, gate)
    try:
        signins.start("nobody-1")
        assert_busy(console.test_client(), "Bea", "203.0.113.12")
        signins.start("Bea", phone, "203.0.113.13")
    finally:
        results = signins.finish()
    assert results == {"nobody-1": 401, "Bea": 302}


def test_a_pool_refuses_when_full_and_frees_its_slots(tmp_path: Path) -> None:
    pool = HashPool(2, tmp_path)
    inside = threading.Event()
    leave = threading.Event()

    def hold() -> str:
        inside.set()
        assert leave.wait(WAIT)
        return "done"

    result: list[str] = []
    holder = threading.Thread(target=lambda: result.append(pool.run(hold)))
    holder.start()
    try:
        assert inside.wait(WAIT)
        with pytest.raises(Busy):
            pool.run(len, "never run")
        assert pool.run(len, "kept", known_device=True) == 4
    finally:
        leave.set()
        holder.join(WAIT)
    assert result == ["done"]
    assert pool.run(len, "free again") == 10
    with pytest.raises(ZeroDivisionError):  # an error in the check frees its slot too
        pool.run(lambda: 1 / 0)
    assert pool.run(len, "x") == 1


# A gunicorn worker, as far as the pool knows: it holds a slot until told to let go (or dies).
OTHER_WORKER = r"""
import sys
from pathlib import Path
from ivr.ops.hashpool import HashPool

with HashPool(int(sys.argv[2]), Path(sys.argv[1])).slot(known_device=sys.argv[3] == "known"):
    print("holding", flush=True)
    sys.stdin.readline()
"""


def other_worker(folder: Path, size: int, known: bool = False) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [sys.executable, "-c", OTHER_WORKER, str(folder), str(size), "known" if known else ""],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    assert worker.stdout.readline() == "holding\n"
    return worker


def test_the_bound_is_the_whole_servers_not_each_workers(tmp_path: Path) -> None:
    """Two workers share the data folder: a check in one takes the slot from the other, and a
    worker that dies mid-check lets go of its slot."""
    worker = other_worker(tmp_path, 3)
    second = other_worker(tmp_path, 3)
    try:
        with pytest.raises(Busy):
            HashPool(3, tmp_path).run(len, "a third stranger")
        assert HashPool(3, tmp_path).run(len, "known", known_device=True) == 5
        worker.kill()
        worker.wait(WAIT)
        assert HashPool(3, tmp_path).run(len, "free") == 4
    finally:
        for process in (worker, second):
            process.kill()
            process.wait(WAIT)


def test_by_default_one_check_per_core_and_never_fewer_than_two(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings.from_env({}).signin_pool_size == 0  # 0: by the cores
    assert Settings.from_env({"SIGNIN_POOL_SIZE": "5"}).signin_pool_size == 5
    for cores, size in ((8, 8), (2, 2), (1, 2)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, n=cores: set(range(n)))
        assert HashPool.for_server(0, tmp_path).size == size
    assert HashPool.for_server(5, tmp_path).size == 5


def test_without_gevent_the_check_runs_on_the_requests_own_thread(tmp_path: Path) -> None:
    assert not under_gevent()
    assert HashPool(2, tmp_path).run(threading.get_ident) == threading.get_ident()


@pytest.mark.parametrize("size", [1, 0, -1])
def test_a_pool_needs_a_slot_for_anyone_and_one_kept(size: int, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SIGNIN_POOL_SIZE"):
        HashPool(size, tmp_path)


def test_a_check_takes_one_lane_and_older_hashes_are_upgraded_at_sign_in(
    make_app, store: redis.Redis, production_passwords: str
) -> None:
    """One argon2 lane (one core) per check, at RFC 9106's low-memory cost; a hash made with
    four lanes, as before, still opens the console and is rehashed in one."""
    assert (PRODUCTION.parallelism, PRODUCTION.memory_cost, PRODUCTION.time_cost) == (
        1,
        64 * 1024,
        3,
    )
    app = make_app(cookie_secure=False, password_hash_cost=production_passwords)
    add_advisor(store, "Alex")
    assert extract_parameters(store.hget(keys.advisor("alex"), "hash")) == PRODUCTION

    four_lanes = PasswordHasher(parallelism=4).hash(PASSWORD)
    store.hset(keys.advisor("alex"), "hash", four_lanes)
    signed_in(app)
    assert extract_parameters(store.hget(keys.advisor("alex"), "hash")) == PRODUCTION
    assert signed_in(app)  # and the new hash opens the console too


# ------------------------------------------------------------------ under gevent

# Run in a child process, monkey-patched as gunicorn's gevent worker is. Each password check
# blocks its OS thread on a pipe (a real blocking read) until released: were it run on the
# event loop's own thread, the whole process would stop and nothing below could happen. The
# content watcher runs too, as in a worker (its greenlet made the sign-ins reach Redis out of
# clock order: see test_signin_race.py).
UNDER_GEVENT = r"""
from gevent import monkey
monkey.patch_all()
import json
import os
import sys
from pathlib import Path

import gevent

import ivr.store.accounts
from ivr import create_app
from tests.common import DATA_KEY, LOOKUP_KEY, PASSWORD, sign_in_attempt, twilio_client

redis_url, secret_key, token, data_dir = sys.argv[1:5]
# Passwords at the production cost, as the web workers check them (64 MiB, in a real thread).
app = create_app({"redis_url": redis_url, "secret_key": secret_key, "twilio_auth_token": token,
                  "cookie_secure": False, "signin_pool_size": 3, "log_level": "ERROR",
                  "password_hash_cost": "production",
                  "data_key": (DATA_KEY,), "lookup_key": LOOKUP_KEY,
                  "data_dir": Path(data_dir)})
release_read, release_write = os.pipe()
started = []
real = ivr.store.accounts.check_hash


def gated(stored, password):
    started.append(os.getpriority(os.PRIO_PROCESS, 0))  # this thread's nice value
    os.read(release_read, 1)
    return real(stored, password)


ivr.store.accounts.check_hash = gated
signins = [gevent.spawn(sign_in_attempt, app.test_client(), name, PASSWORD)
           for name in ("Alex", "Bea")]
with gevent.Timeout(30, False):
    while len(started) < 2:
        gevent.sleep(0.01)
busy = sign_in_attempt(app.test_client(), "Cal", PASSWORD).status_code
call = twilio_client(app).post("/voice")
answered = call.status_code == 200 and b"9 9 9" in call.data
hashing_while_answered = len(started)
niced = all(nice > os.getpriority(os.PRIO_PROCESS, 0) for nice in started)
os.write(release_write, b"xx")
print(json.dumps({"hashing": hashing_while_answered, "busy": busy, "answered": answered,
                  "niced": niced,
                  "signins": [g.get(timeout=30).status_code for g in signins]}))
"""


def test_under_gevent_calls_are_answered_while_passwords_are_checked(
    store: redis.Redis, store_settings: dict[str, object], tmp_path: Path
) -> None:
    """In threads of their own, at a lower CPU priority than the worker answering calls."""
    add_advisors(store)
    pytest.importorskip("gevent", reason="installed with gunicorn[gevent], the web worker")
    url = store_settings.get("redis_url") or (
        "unix://" + store.connection_pool.connection_kwargs["path"]
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", UNDER_GEVENT, str(url), SECRET_KEY, TOKEN, str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {
        "hashing": 2,
        "busy": 503,
        "answered": True,
        "niced": True,
        "signins": [302, 302],
    }
