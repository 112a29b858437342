"""The store's connections: before each command the pool asks a connection whether anything
is left unread or the server has closed it (PeekingParser answers with one non-blocking peek,
never poll(), which gevent turns into a trip through its hub), and a connection the server
closed is replaced without the command failing. Against the real test Redis."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import redis._parsers.hiredis as hiredis_parser
from redis.backoff import NoBackoff
from redis.retry import Retry

from ivr.config import Settings
from ivr.store.connection import PeekingParser, connect, start_embedded


@pytest.fixture
def client(store_settings: dict[str, object]) -> redis.Redis:
    return connect(Settings().override(store_settings))


def a_connection(client: redis.Redis) -> redis.Connection:
    conn = client.connection_pool.get_connection()
    assert isinstance(conn._parser, PeekingParser)
    return conn


def eventually(check, seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_quiet_connection_has_nothing_to_read(client) -> None:
    conn = a_connection(client)
    try:
        assert conn.can_read() is False
    finally:
        client.connection_pool.release(conn)


def test_a_reply_left_unread_is_seen(client) -> None:
    """A connection given back before its reply was read must not serve the next command
    (it would read the wrong answer): the pool's check sees the reply waiting."""
    conn = a_connection(client)
    try:
        conn.send_command("PING")
        assert eventually(conn.can_read)
        assert conn.read_response() in ("PONG", b"PONG", True)
        assert conn.can_read() is False
    finally:
        client.connection_pool.release(conn)


def closed(conn: redis.Connection) -> bool:
    try:
        conn.can_read()
    except redis.ConnectionError:
        return True
    return False


def test_a_connection_the_server_closed_is_seen_and_replaced(client, store) -> None:
    """Redis restarted, or a timeout closed the connection: the check raises, the pool
    connects afresh, and the command is answered."""
    conn = a_connection(client)
    conn.send_command("CLIENT", "ID")
    own_id = int(conn.read_response())
    client.connection_pool.release(conn)
    assert store.client_kill_filter(_id=str(own_id)) == 1
    assert eventually(lambda: closed(conn))
    conn.retry = Retry(NoBackoff(), 0)  # no second try to hide a check that missed it
    assert client.ping()  # the pool's check, then a fresh connection


def test_no_command_polls_the_socket(client, monkeypatch) -> None:
    """Under gunicorn's gevent worker select.poll is gevent's (watchers, a timer, a switch
    to the hub): the pool's check before each command never reaches redis-py's poll."""
    polled: list[float] = []
    library = hiredis_parser._socket_can_read

    def spy(sock: object, timeout: float) -> bool:
        if timeout == 0:  # (a pubsub elsewhere waiting for a message is no check)
            polled.append(timeout)
        return library(sock, timeout)

    monkeypatch.setattr(hiredis_parser, "_socket_can_read", spy)
    for _ in range(3):
        assert client.ping()
        assert client.set("hl:test:peek", "1") and client.get("hl:test:peek") == "1"
    assert polled == []


GEVENT_WORKER = """
from gevent import monkey
monkey.patch_all()
import select, sys, time
from ivr.config import Settings
from ivr.store.connection import connect

assert select.poll.__module__ == "gevent.select"  # patched, as in the gevent worker

def no_poll(*args, **kwargs):
    raise AssertionError("gevent's select.poll used before a command")

select.poll = no_poll
client = connect(Settings().override({"redis_url": sys.argv[1], "data_dir": sys.argv[2]}))
for _ in range(20):
    assert client.ping()
conn = client.connection_pool.get_connection()
assert conn.can_read() is False
conn.send_command("CLIENT", "ID")
conn.read_response()
conn.send_command("PING")
deadline = time.monotonic() + 2
while not conn.can_read():
    assert time.monotonic() < deadline, "a reply left unread was not seen"
    time.sleep(0.01)
print("ok")
"""


def test_under_gevent_no_command_goes_through_its_poll(store_settings, tmp_path) -> None:
    """The case the peek is for: sockets and select patched by gevent, as in gunicorn's
    gevent worker (a process of its own: patching is for good)."""
    url = str(store_settings.get("redis_url") or "")
    if not url:  # the session's embedded server (already started: its socket)
        url = f"unix://{start_embedded(Path(str(store_settings['data_dir'])))}"
    done = subprocess.run(
        [sys.executable, "-c", GEVENT_WORKER, url, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_a_wait_for_a_message_is_the_librarys_own(client) -> None:
    """A pubsub waiting for a message (the content watch's listener) waits as redis-py
    does: nothing arrives, nothing is returned, after the wait."""
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("hl:test:nothing")
    try:
        started = time.monotonic()
        assert pubsub.get_message(timeout=0.3) is None
        assert pubsub.get_message(timeout=0.3) is None
        assert time.monotonic() - started >= 0.25
    finally:
        pubsub.close()
