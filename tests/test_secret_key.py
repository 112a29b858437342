"""The key that signs console cookies is never in Redis (its append-only file lies beside
callers' numbers): given as SECRET_KEY, required with an external store, or generated once
into a file only the app's user can read."""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ivr.config import Settings
from ivr.ops.secret_key import MissingSecretKey, load_secret_key, secret_key_file
from ivr.store.connection import stop_embedded
from tests.common import add_advisor, signed_in, twilio_client
from tests.conftest import AppFactory


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most servers run under (files 644, folders 755 unless asked otherwise)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def embedded(store_settings: dict[str, object], tmp_path: Path) -> Iterator[dict[str, object]]:
    """Settings for the embedded store: the test one, or (when the tests run on REDIS_URL) one
    started here and stopped afterwards."""
    if not store_settings.get("redis_url"):
        yield dict(store_settings)
        return
    settings = {"redis_url": "", "data_dir": tmp_path / "data"}
    yield settings
    stop_embedded(settings["data_dir"])


def everything_in(r: redis.Redis) -> str:
    """Every key and every value in the store, as text."""
    parts: list[str] = []
    for key in r.scan_iter("*"):
        kind = r.type(key)
        value = {
            "string": lambda k: r.get(k),
            "hash": r.hgetall,
            "set": r.smembers,
            "zset": lambda k: r.zrange(k, 0, -1, withscores=True),
            "list": lambda k: r.lrange(k, 0, -1),
            "stream": lambda k: r.xrange(k),
        }[kind](key)
        parts.append(f"{key} {value!r}")
    return "\n".join(parts)


def test_the_generated_key_is_nowhere_in_the_store(make_app: AppFactory, embedded) -> None:
    app = make_app(secret_key="", cookie_secure=False, **embedded)
    store = app.extensions["helpline"].redis
    add_advisor(store, "Alex")
    client = signed_in(app, "Alex")
    assert client.get("/console/").status_code == 200  # the key signs real sessions
    twilio_client(app).post("/voice")
    key = app.secret_key
    assert key == secret_key_file(Path(embedded["data_dir"])).read_text().strip()
    dump = everything_in(store)
    assert "hl:adv:alex" in dump  # the dump really holds the store's contents
    assert key not in dump


def test_an_external_store_without_secret_key_refuses_to_start(
    make_app: AppFactory, store: redis.Redis, store_settings
) -> None:
    url = store_settings.get("redis_url") or (
        "unix://" + store.connection_pool.connection_kwargs["path"]
    )
    with pytest.raises(MissingSecretKey) as refused:
        make_app(secret_key="", redis_url=url)
    assert "SECRET_KEY is not set" in str(refused.value)
    assert "REDIS_URL" in str(refused.value)
    assert make_app(secret_key="x" * 64, redis_url=url).secret_key == "x" * 64


def test_an_external_store_is_anything_but_the_embedded_one() -> None:
    assert Settings(redis_url="").embedded_store
    for url in ("redis://localhost:6379/0", "rediss://h:6380", "unix:///tmp/redis.sock"):
        assert not Settings(redis_url=url).embedded_store
        with pytest.raises(MissingSecretKey):
            load_secret_key(Settings(redis_url=url))


def test_secret_key_when_set_is_used_as_given(tmp_path: Path) -> None:
    settings = Settings(secret_key="given", data_dir=tmp_path / "data")
    assert load_secret_key(settings) == "given"
    assert not (tmp_path / "data").exists()  # nothing generated, nothing written


def test_the_generated_key_file_is_private_and_apart_from_redis(
    tmp_path: Path, usual_umask, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    key = load_secret_key(settings)
    path = secret_key_file(data)
    assert path == data / "secrets" / "secret_key"
    assert "redis" not in path.relative_to(data).parts
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(data) == 0o700  # the data folder, made by the app
    assert len(key) >= 64
    assert load_secret_key(settings) == key  # once: the same key at every start
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret_key"]  # nothing left over
    assert any(
        "SECRET_KEY" in r.getMessage() and "production" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
    )


def test_a_loose_secrets_folder_or_file_is_made_private(tmp_path: Path, usual_umask) -> None:
    path = secret_key_file(tmp_path)
    path.parent.mkdir(mode=0o755)
    path.write_text("k" * 64)
    path.chmod(0o644)
    assert load_secret_key(Settings(data_dir=tmp_path)) == "k" * 64
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_an_unusable_key_file_stops_start_up(tmp_path: Path) -> None:
    path = secret_key_file(tmp_path)
    path.parent.mkdir()
    path.write_text("short")
    with pytest.raises(MissingSecretKey, match="delete it"):
        load_secret_key(Settings(data_dir=tmp_path))


def test_workers_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = secret_key_file(tmp_path)
    keys: list[str] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        keys.append(load_secret_key(Settings(data_dir=tmp_path)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret_key"]


def test_check_names_a_missing_secret_key_with_an_external_store(cli, monkeypatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")  # never reached: settings alone
    monkeypatch.delenv("SECRET_KEY", raising=False)
    result = cli("check")
    assert result.exit_code == 1
    assert "error: SECRET_KEY is not set" in result.output
    monkeypatch.setenv("SECRET_KEY", "s" * 64)
    assert "SECRET_KEY" not in cli("check").output
