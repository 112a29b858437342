"""Replicated Redis with automatic failover, for real: one primary and two replicas
(append-only, fsync always) and three sentinels, Debian's redis-server and redis-sentinel,
on free loopback ports in the test's folder, every one stopped at the end whatever happened.

Signed traffic runs against the app (texts asking for a callback, some sent twice as
Twilio retries, and voice routes) and two `helpline scheduler` processes lead and stand by,
while the primary is killed with `kill -9`, or handed over with `SENTINEL FAILOVER`. Then
every count that matters must be zero: voice answers that aren't a 200 with TwiML, texts
answered but lost, callbacks stored twice, releases done twice.

And TLS (`rediss://`, as managed services require): a server with a self-signed
certificate made here with `cryptography`, trusted through REDIS_TLS_CA_FILE.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask

from ivr.config import Settings
from ivr.core.clock import file_clock
from ivr.ops.logs import mask_text
from ivr.store.connection import connect, sentinel_addresses
from ivr.store.keys import Keys
from ivr.store.queue import CallbackQueue
from ivr.store.replication import Replicas
from tests.common import (
    DATA_KEY,
    LOOKUP_KEY,
    SEALER,
    SECRET_KEY,
    free_port,
    london,
    reply_text,
    request_callback,
    send,
    twilio_client,
)

PROJECT = Path(__file__).resolve().parent.parent
SERVICE = "helpline"
START = london("2026-11-25T11:00")  # a Wednesday, open
RELEASES = 24  # callbacks the schedulers release while the primary fails, one every 0.5 s
VOICE_ROUTES = [
    ("/voice", {}),
    ("/voice/menu", {}),
    ("/voice/choice", {"Digits": "1"}),
    ("/voice/page/step1", {}),
    ("/voice/callback/save", {"Digits": "1"}),
]


def debian(name: str) -> str:
    """Debian's binary (`make test` installs the package; its daemons are never started)."""
    path = Path("/usr/bin") / name
    if not path.exists():
        found = shutil.which(name)
        if not found:
            pytest.fail(f"{name} is needed: `make test` installs Debian's redis-server (as root)")
        return found
    return str(path)


def wait_for(condition: Callable[[], object], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    pytest.fail(f"waited {seconds} s for {what}")


def plain(port: int) -> redis.Redis:
    """A client of one server or sentinel, for the test's own looks (no retries)."""
    return redis.Redis(port=port, socket_timeout=2, decode_responses=True)


@dataclass
class Servers:
    """The servers and sentinels of one test, in its folder."""

    folder: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def start(self, name: str, binary: str, config: str) -> int:
        port = free_port()
        home = self.folder / name
        home.mkdir()
        (home / "redis.conf").write_text(
            f"port {port}\nbind 127.0.0.1\ndir {home}\ndaemonize no\n"
            f"logfile {home / 'redis.log'}\n{config}"
        )
        self.processes[name] = subprocess.Popen(
            [debian(binary), str(home / "redis.conf")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.ports[name] = port
        wait_for(lambda: plain(port).ping(), f"{name} to answer")
        return port

    def server(self, name: str, primary: int | None = None) -> int:
        return self.start(
            name,
            "redis-server",
            'appendonly yes\nappendfsync always\nsave ""\nrepl-diskless-sync-delay 0\n'
            + (f"replicaof 127.0.0.1 {primary}\n" if primary else ""),
        )

    def sentinel(self, name: str, primary: int) -> int:
        return self.start(
            name,
            "redis-sentinel",
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 3000\n"
            f"sentinel parallel-syncs {SERVICE} 2\n",
        )

    def kill(self, name: str) -> None:
        """kill -9: no clean-up, nothing written out."""
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def sentinel_addresses(self) -> tuple[str, ...]:
        return tuple(f"127.0.0.1:{port}" for name, port in self.ports.items() if "sentinel" in name)

    def primary_port(self) -> int:
        """Where the sentinels say the primary is."""
        sentinel = next(port for name, port in self.ports.items() if "sentinel" in name)
        return int(plain(sentinel).sentinel_get_master_addr_by_name(SERVICE)[1])

    def name_of(self, port: int) -> str:
        return next(name for name, p in self.ports.items() if p == port)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """One primary, two replicas, three sentinels that see them all; all stopped after."""
    group = Servers(tmp_path / "redis")
    group.folder.mkdir()
    try:
        primary = group.server("primary")
        for n in (1, 2):
            group.server(f"replica{n}", primary)
        wait_for(
            lambda: plain(primary).info("replication")["connected_slaves"] == 2,
            "both replicas to connect",
        )
        for n in (1, 2, 3):
            group.sentinel(f"sentinel{n}", primary)
        for port in (p for name, p in group.ports.items() if "sentinel" in name):
            wait_for(
                lambda port=port: (
                    len(plain(port).sentinel_slaves(SERVICE)) == 2
                    and len(plain(port).sentinel_sentinels(SERVICE)) == 2
                ),
                "every sentinel to see both replicas and the other sentinels",
            )
        yield group
    finally:
        group.stop_all()


class FileClock:
    """The helpline's time, in a file the app and the schedulers read: START plus the real
    time since the test began, moved on by a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.began = time.monotonic()
        self.stop = threading.Event()
        self.set()

    def now(self) -> datetime:
        return START + timedelta(seconds=time.monotonic() - self.began)

    def set(self) -> None:
        partial = self.path.with_suffix(".tmp")
        partial.write_text(self.now().isoformat())
        partial.replace(self.path)

    def run(self) -> None:
        while not self.stop.wait(0.1):
            self.set()


@dataclass
class Scheduler:
    popen: subprocess.Popen[bytes]
    log: Path

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


@pytest.fixture
def schedulers(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], list[Scheduler]]]:
    """Two `helpline scheduler` processes (one leads, one stands by), stopped after."""
    started: list[Scheduler] = []

    def start(env: dict[str, str]) -> list[Scheduler]:
        for n in (1, 2):
            log = tmp_path / f"scheduler{n}.log"
            with open(log, "wb") as out:
                popen = subprocess.Popen(
                    [sys.executable, "-m", "ivr", "scheduler"],
                    cwd=PROJECT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            started.append(Scheduler(popen, log))
        return started

    yield start
    for s in started:
        if s.popen.poll() is None:
            os.killpg(s.popen.pid, signal.SIGTERM)
    for s in started:
        try:
            s.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(s.popen.pid, signal.SIGKILL)
            s.popen.wait(timeout=10)


@dataclass
class Tally:
    """What the traffic saw."""

    stored: list[str] = field(default_factory=list)  # numbers told their callback is taken
    kept: list[str] = field(default_factory=list)  # numbers told their text is kept (spool)
    other_replies: list[list[str]] = field(default_factory=list)
    voice: int = 0
    voice_failures: list[str] = field(default_factory=list)
    retries: int = 0


def valid_twiml(response) -> bool:
    if response.status_code != 200 or response.mimetype != "text/xml":
        return False
    try:
        return ElementTree.fromstring(response.get_data(as_text=True)).tag == "Response"
    except ElementTree.ParseError:
        return False


def traffic(app: Flask, tally: Tally, stop: threading.Event, first: int = 0) -> None:
    """Texts from new numbers (every third sent twice, as a Twilio retry) and a round of
    voice routes after each, until told to stop."""
    spooled = reply_text(app, "spooled")
    unavailable = reply_text(app, "unavailable")
    i = first
    while not stop.is_set():
        number = f"+4474009{i:05d}"
        sid = "SM" + uuid.uuid4().hex
        replies = send(app, "hello", sender=number, sid=sid)
        if replies == [spooled]:
            tally.kept.append(number)
        elif len(replies) == 1 and replies[0] != unavailable:
            tally.stored.append(number)
        else:
            tally.other_replies.append(replies)
        if i % 3 == 0:
            send(app, "hello", sender=number, sid=sid)
            tally.retries += 1
        for route, fields in VOICE_ROUTES:
            response = twilio_client(app, f"+4474008{i:05d}").post(route, fields)
            tally.voice += 1
            if not valid_twiml(response):
                tally.voice_failures.append(f"{route}: {response.status_code}")
        i += 1


def child_env(tmp_path: Path, sentinels: tuple[str, ...], clock: FileClock) -> dict[str, str]:
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env.update(
        REDIS_SENTINELS=",".join(sentinels),
        REDIS_SENTINEL_SERVICE=SERVICE,
        SECRET_KEY=SECRET_KEY,
        DATA_KEY=DATA_KEY,
        LOOKUP_KEY=LOOKUP_KEY,
        HELPLINE_DATA_DIR=str(tmp_path / "scheduler-data"),
        HELPLINE_TEST_CLOCK_FILE=str(clock.path),
        SCHEDULER_TICK_SECONDS="1",
        LOG_LEVEL="INFO",
        LOG_FORMAT="text",
        PYTHONUNBUFFERED="1",
    )
    return env


RELEASED = re.compile(r"release \d+ callbacks?: (.*)$")  # acknowledged by the replicas
UNACKNOWLEDGED = "released, not yet on a replica"  # done on a primary, maybe lost with it


@pytest.mark.parametrize("how", ["kill -9", "SENTINEL FAILOVER"])
def test_through_a_failover_nothing_is_lost_doubled_or_released_twice(
    how, servers, schedulers, make_app, tmp_path, capsys
):
    clock = FileClock(tmp_path / "clock.txt")
    threading.Thread(target=clock.run, daemon=True).start()
    sentinels = servers.sentinel_addresses()
    settings = Settings(
        redis_sentinels=sentinels,
        redis_sentinel_service=SERVICE,
        data_dir=tmp_path / "web",
        data_key=(DATA_KEY,),
        lookup_key=LOOKUP_KEY,
    )
    store = connect(settings)
    keys = Keys()
    queue = CallbackQueue(store, SEALER, keys, Replicas(1, 1000))
    now = clock.now()
    scheduled = [
        request_callback(
            queue, f"+4474007{j:05d}", "sms", now, now + timedelta(seconds=4 + j / 2)
        ).callback_id
        for j in range(RELEASES)
    ]
    running = schedulers(child_env(tmp_path, sentinels, clock))
    wait_for(
        lambda: sum("scheduler leading" in line for s in running for line in s.lines()) == 1,
        "a scheduler to lead",
    )

    app = make_app(
        clock=file_clock(str(clock.path)),
        redis_url="",
        redis_sentinels=sentinels,
        redis_sentinel_service=SERVICE,
        data_dir=tmp_path / "web",
    )
    tally, stop = Tally(), threading.Event()
    sender = threading.Thread(target=traffic, args=(app, tally, stop))
    sender.start()
    try:
        time.sleep(2)
        old = servers.primary_port()
        if how == "kill -9":
            servers.kill(servers.name_of(old))
        else:
            plain(int(sentinels[0].rsplit(":", 1)[1])).execute_command(
                "SENTINEL", "FAILOVER", SERVICE
            )
        wait_for(lambda: servers.primary_port() != old, "the sentinels to promote a replica")
        new = servers.primary_port()
        answered_before = len(tally.stored) + len(tally.kept)
        time.sleep(3)  # traffic goes on (into the spool while it holds texts: their order)
        assert len(tally.stored) + len(tally.kept) > answered_before
    finally:
        stop.set()
        sender.join(timeout=30)
    wait_for(lambda: clock.now() > now + timedelta(seconds=6 + RELEASES / 2), "the last due time")
    spool = app.extensions["helpline"].spool
    wait_for(lambda: not spool.waiting(), "the texts kept on disk to go in", seconds=60)
    # The spool empty, texts are stored and confirmed at once again, on the new primary.
    stored_before = len(tally.stored)
    stop.clear()
    sender = threading.Thread(target=traffic, args=(app, tally, stop, 10_000))
    sender.start()
    wait_for(lambda: len(tally.stored) > stored_before + 5, "texts stored on the new primary")
    stop.set()
    sender.join(timeout=30)
    wait_for(lambda: store.zcard(keys.place("scheduled")) == 0, "every release", seconds=30)
    time.sleep(2)  # a tick or two more: nothing may be released again

    answered = tally.stored + tally.kept
    held = {n: store.hlen(keys.numbers(SEALER.lookup(n))) for n in answered}
    lost = sorted(n for n, count in held.items() if count == 0)
    doubled = sorted(n for n, count in held.items() if count > 1)
    logs = [line for s in running for line in s.lines()]
    # An id is logged as the logs write it: digit runs that could be a number are masked.
    logged = Counter(
        i for line in logs if (m := RELEASED.search(line)) for i in m.group(1).split(", ")
    )
    releases = {i: logged[mask_text(i)] for i in scheduled if logged[mask_text(i)]}
    unacknowledged = sum(UNACKNOWLEDGED in line for line in logs)
    released_twice = sorted(i for i, n in releases.items() if n > 1)
    openings = sum("the helpline opened" in line for line in logs)
    with capsys.disabled():
        print(
            f"\n{how}: primary {servers.name_of(old)} -> {servers.name_of(new)}; "
            f"{len(tally.stored)} texts stored and confirmed, {len(tally.kept)} kept on disk "
            f"and replayed, {tally.retries} Twilio retries, {tally.voice} voice requests; "
            f"non-200/invalid voice {len(tally.voice_failures)}, lost {len(lost)}, "
            f"doubled {len(doubled)}, {len(releases)} of {RELEASES} released, released twice "
            f"{len(released_twice)} (and {unacknowledged} passes not acknowledged), "
            f"openings {openings}"
        )
    assert tally.voice_failures == []
    assert tally.other_replies == []
    assert lost == []
    assert doubled == []
    assert released_twice == []
    # (not every id can be told in the logs: one whose digits look like part of a number is
    # masked there, so the store says that each was released)
    assert store.zcard(keys.place("due")) >= RELEASES
    assert {queue.get(i).status for i in scheduled} == {"due"}
    assert openings == 1
    clock.stop.set()


# ------------------------------------------------------------------ TLS


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (files in `folder`)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "helpline test redis")])
    now = datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "redis.crt", folder / "redis.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Debian's redis-server, TLS only, on a free port; its port and certificate."""
    cert, key = self_signed(tmp_path)
    port = free_port()
    (tmp_path / "tls.conf").write_text(
        f"port 0\ntls-port {port}\nbind 127.0.0.1\ndir {tmp_path}\ndaemonize no\n"
        f"tls-cert-file {cert}\ntls-key-file {key}\ntls-ca-cert-file {cert}\n"
        "tls-auth-clients no\nappendonly yes\nappendfsync always\n"
        f"logfile {tmp_path / 'tls.log'}\n"
    )
    process = subprocess.Popen(
        [debian("redis-server"), str(tmp_path / "tls.conf")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"rediss://127.0.0.1:{port}/0"
        wait_for(
            lambda: redis.Redis.from_url(url, ssl_ca_certs=str(cert), socket_timeout=1).ping(),
            "the TLS server",
        )
        yield port, cert
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_tls_store_takes_callbacks_and_an_untrusted_one_never_errors(
    tls_server, make_app, tmp_path
):
    port, cert = tls_server
    url = f"rediss://127.0.0.1:{port}/0"
    app = make_app(redis_url=url, redis_tls_ca_file=str(cert), data_dir=tmp_path / "a")
    assert send(app, "hello", sender="+447400900001") != [reply_text(app, "spooled")]
    queue = app.extensions["helpline"].queue
    assert queue.open_for("+447400900001") is not None

    # Not the certificate's authority: the connection is refused, and the text is kept.
    (tmp_path / "other").mkdir()
    other, _ = self_signed(tmp_path / "other")
    untrusted = make_app(redis_url=url, redis_tls_ca_file=str(other), data_dir=tmp_path / "c")
    assert send(untrusted, "hello", sender="+447400900002") == [reply_text(app, "spooled")]
    assert valid_twiml(twilio_client(untrusted).post("/voice/callback/save", {"Digits": "1"}))
    untrusted.extensions["helpline"].spool.path.unlink()  # its replay, in the background, stops


# ------------------------------------------------------------------ settings


@pytest.mark.parametrize(
    ("env", "embedded", "wait"),
    [
        ({}, True, 0),
        ({"REDIS_WAIT_REPLICAS": "1"}, True, 0),  # the embedded store has no replicas
        ({"REDIS_URL": "rediss://h:6380/0"}, False, 0),
        ({"REDIS_URL": "rediss://h:6380/0", "REDIS_WAIT_REPLICAS": "1"}, False, 1),
        ({"REDIS_SENTINELS": "a:26379,b:26380"}, False, 1),
        ({"REDIS_SENTINELS": "a:26379", "REDIS_WAIT_REPLICAS": "2"}, False, 2),
        ({"REDIS_SENTINELS": "a:26379", "REDIS_WAIT_REPLICAS": "0"}, False, 0),
    ],
)
def test_which_store_and_how_many_replicas_must_acknowledge(env, embedded, wait):
    settings = Settings.from_env(env)
    assert settings.embedded_store is embedded
    assert settings.wait_replicas == wait


def test_sentinel_addresses_are_host_and_port_with_sentinels_own_port_by_default():
    settings = Settings.from_env({"REDIS_SENTINELS": "10.0.0.1:26380, sentinel-b ,[::1]:26381"})
    assert sentinel_addresses(settings) == [
        ("10.0.0.1", 26380),
        ("sentinel-b", 26379),
        ("::1", 26381),
    ]
    assert settings.redis_sentinel_service == "mymaster"


def test_a_sentinel_address_that_is_not_host_and_port_is_refused_by_name():
    with pytest.raises(ValueError, match="REDIS_SENTINELS: 'a:b'"):
        sentinel_addresses(Settings.from_env({"REDIS_SENTINELS": "a:b"}))
