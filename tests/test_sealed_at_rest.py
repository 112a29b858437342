"""Nothing readable at rest without the key: every phone number the app keeps (callbacks, a
number keyed in during a call, advisors' phones, texts kept on disk while Redis is down) is
sealed in Redis and in the spool, and looked up by a keyed hash. The files of the data folder
are searched byte by byte for each number in every form a person would write it.

Tests that search files run their own embedded Redis in their own data folder (the
session's holds other tests' numbers)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import stat
import threading
from pathlib import Path

import pytest
import redis

import ivr.store.connection
from ivr import create_app
from ivr.config import Settings
from ivr.content.flows import DEFAULT_DIR, load_flows
from ivr.store.accounts import Accounts
from ivr.store.backup import snapshot, write_backup
from ivr.store.connection import connect, start_embedded, stop_embedded
from ivr.store.keys import Keys
from ivr.store.migrations import SCHEMA_KEY, migrate
from ivr.store.queue import CallbackQueue
from ivr.store.sealing import (
    LOOKUP_BYTES,
    KeyMismatch,
    KeyProblem,
    Sealer,
    Unreadable,
    check_keys,
    new_data_key,
    new_lookup_key,
    rotate,
    sealed_values,
)
from ivr.web.sms import replay_spool
from tests.common import (
    DATA_KEY,
    LOOKUP_KEY,
    SEALER,
    SECRET_KEY,
    london,
    request_callback,
    send,
    twilio_client,
    write_v3,
)

TEXTED = tuple(f"+4474001234{60 + i}" for i in range(10))
SPOOLED = ("+447400123470", "+447400123471")  # texted while Redis is down
KEYED = "+447400123472"  # keyed in by a withheld caller
ADVISOR = "+447400123473"
EVERY_NUMBER = (*TEXTED, *SPOOLED, KEYED, ADVISOR)
OPEN = "2026-11-25T11:00"
GENERATED = {"redis_url": "", "data_key": (), "lookup_key": ""}  # the embedded store's own


def national(number: str) -> str:
    return "0" + number.removeprefix("+44")


def forms(number: str) -> list[str]:
    """+447400123460, 447400123460, 07400123460 and 07400 123 460."""
    n = national(number)
    return [number, number[1:], n, f"{n[:5]} {n[5:8]} {n[8:]}"]


def grep(folder: Path, numbers: tuple[str, ...]) -> dict[str, list[str]]:
    """Each form of each number found in any file under `folder`: the files it is in."""
    found: dict[str, list[str]] = {}
    files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
    assert files, f"nothing to search in {folder}"
    for path in files:
        data = path.read_bytes()
        for number in numbers:
            for form in forms(number):
                if form.encode() in data:
                    found.setdefault(form, []).append(str(path.relative_to(folder)))
    return found


@pytest.fixture
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A data folder with its own embedded Redis, owned by this test (stopped at its end)."""
    monkeypatch.setattr(ivr.store.connection, "_owned", {})
    data_dir = tmp_path / "data"
    start_embedded(data_dir)
    yield data_dir
    stop_embedded(data_dir)


def test_numbers_texted_keyed_in_given_and_spooled_are_nowhere_in_the_data_folder(
    make_app, own_store
):
    """Found: ten texts, then `grep` of the data folder: every number, in every form, was in
    appendonly.aof. Searched: the AOF, the spool, the erasure log and a backup."""
    app = make_app(at=OPEN, data_dir=own_store, **GENERATED)
    h = app.extensions["helpline"]
    for n, number in enumerate(TEXTED):
        send(app, "after 2pm" if n % 2 else "hello", sender=number)
    call = twilio_client(app, caller="anonymous")
    assert call.post("/voice/callback/check", {"Digits": national(KEYED)}).status_code == 200
    h.accounts.add("Robin Lee", ADVISOR, "a long enough password")
    send(app, "STOP", sender=TEXTED[-1])  # logged for restores, by keyed hash
    assert {cb.number for cb in h.queue.all()} == set(TEXTED[:-1])
    assert [a.phone for a in h.accounts.all()] == [ADVISOR]
    backup, _ = snapshot(h.redis, h.sealer)
    write_backup(own_store / "helpline.backup", backup)
    assert (own_store / "erasures" / "erasures.jsonl").exists()

    stop_embedded(own_store)  # Redis goes down: texts are kept on the web host's disk
    for number in SPOOLED:
        assert "We have it" in send(app, "hello", sender=number)[0]
    assert h.spool.waiting()

    assert grep(own_store, EVERY_NUMBER) == {}
    assert any((own_store / "redis").rglob("*.aof"))

    start_embedded(own_store)
    with app.app_context():
        assert replay_spool() == 2
    assert {cb.number for cb in h.queue.all()} == {*TEXTED[:-1], *SPOOLED}


def test_the_embedded_store_keys_are_generated_once_outside_its_folder_for_the_app_alone(
    make_app, own_store
):
    first = make_app(at=OPEN, data_dir=own_store, **GENERATED)
    send(first, "hello", sender=TEXTED[0])
    again = make_app(at=OPEN, data_dir=own_store, **GENERATED)  # a restart reads the same
    assert again.extensions["helpline"].queue.open_for(TEXTED[0]) is not None
    secrets = own_store / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    for name in ("data_key", "lookup_key"):
        assert stat.S_IMODE((secrets / name).stat().st_mode) == 0o600
    assert not list((own_store / "redis").rglob("*key*"))


def test_a_store_migrated_from_numbers_in_clear_keeps_none_on_disk(own_store):
    """Version 3 kept numbers in clear; the upgrade seals them and rewrites the append-only
    file, so the old plaintext leaves the disk."""
    r = connect(Settings(data_dir=own_store))
    r.set(SCHEMA_KEY, 3)
    for n, number in enumerate(TEXTED[:3]):
        write_v3(r, f"{n:x}" * 16, number)
    r.set(Keys().keyed_number("CA" + "1" * 32), KEYED, ex=600)
    r.hset("hl:adv:robin", mapping={"name": "Robin", "phone": ADVISOR, "hash": "h"})
    assert grep(own_store, (*TEXTED[:3], KEYED, ADVISOR)) != {}  # as it was

    migrate(r, london(OPEN), load_flows(DEFAULT_DIR, london(OPEN)).hours, Settings(), SEALER)

    assert grep(own_store, (*TEXTED[:3], KEYED, ADVISOR)) == {}
    assert [cb.number for cb in CallbackQueue(r, SEALER).all()] == list(TEXTED[:3])


# ------------------------------------------------------------------ the keys


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"data_key": (), "lookup_key": ""}, "DATA_KEY and LOOKUP_KEY are not set"),
        ({"data_key": (DATA_KEY,), "lookup_key": ""}, "LOOKUP_KEY is not set"),
        ({"data_key": (), "lookup_key": LOOKUP_KEY}, "DATA_KEY is not set"),
    ],
)
def test_an_external_store_without_the_keys_is_refused_at_start(given, named):
    """Several hosts share an external store, and a key generated beside it would protect
    nothing: the app does not start (nor does it reach the store to find out)."""
    settings = {"redis_url": "redis://127.0.0.1:1", "secret_key": SECRET_KEY, **given}
    with pytest.raises(KeyProblem, match=named):
        create_app(settings)


def test_check_names_the_missing_keys_of_an_external_store(cli, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1")
    monkeypatch.setenv("SECRET_KEY", SECRET_KEY)
    monkeypatch.delenv("LOOKUP_KEY")
    result = cli("check")
    assert "LOOKUP_KEY not set" in result.output
    assert result.exit_code != 0


@pytest.mark.parametrize(
    ("data_key", "lookup_key"),
    [
        ("not a key", LOOKUP_KEY),
        (new_data_key()[:-2], LOOKUP_KEY),
        (new_data_key(), "short"),
    ],
    ids=["data key not a key", "data key cut short", "lookup key too short"],  # stable ids:
)  # make fast's sample and shares are dealt by id, the same in every process
def test_unusable_keys_are_refused_with_what_to_do(data_key, lookup_key):
    with pytest.raises(KeyProblem, match="helpline keys new"):
        Sealer((data_key,), lookup_key)


@pytest.mark.parametrize(
    "other", [{"data_key": (new_data_key(),)}, {"lookup_key": new_lookup_key()}]
)
def test_keys_other_than_the_stores_are_refused(make_app, other):
    """A wrong DATA_KEY would leave every callback unreadable; a wrong LOOKUP_KEY, worse,
    would go unnoticed: a second open callback per number, and a STOP that erases nothing."""
    send(make_app(), "hello", sender=TEXTED[0])
    with pytest.raises(KeyMismatch):
        make_app(**other)


def test_a_sealed_number_is_not_the_number_and_opens_only_with_a_key_that_sealed_it():
    sealed = SEALER.seal(TEXTED[0])
    assert TEXTED[0] not in sealed and national(TEXTED[0]) not in sealed
    assert sealed != SEALER.seal(TEXTED[0])  # a fresh nonce each time
    assert len(sealed) <= 64  # Redis keeps a small hash compact up to 64 bytes a value
    assert SEALER.open(sealed) == TEXTED[0]
    with pytest.raises(Unreadable):
        Sealer((new_data_key(),), LOOKUP_KEY).open(sealed)
    assert SEALER.lookup(TEXTED[0]) != Sealer((DATA_KEY,), new_lookup_key()).lookup(TEXTED[0])


def test_a_numbers_lookup_is_the_keyed_hash_stored_keys_are_named_by() -> None:
    """Every key name of a number rests on this hash: the same for the same number, however
    many numbers were looked up before it (the keyed HMAC is copied, never written to)."""
    key = LOOKUP_KEY.strip().encode()
    for number in (*TEXTED, TEXTED[0]):
        digest = hmac.new(key, number.encode(), hashlib.sha256).digest()[:LOOKUP_BYTES]
        assert SEALER.lookup(number) == base64.urlsafe_b64encode(digest).decode()


def test_keys_rotate_while_the_app_reads_and_writes(store):
    """`helpline keys rotate`: every value re-sealed under the new key while other processes
    read (with both keys) and write (with the new one first); nothing unreadable meanwhile,
    and afterwards the old key can go."""
    new = new_data_key()
    both = Sealer((new, DATA_KEY), LOOKUP_KEY)
    old_queue = CallbackQueue(store, SEALER)
    check_keys(store, SEALER)
    numbers = [f"+4474009{n:05d}" for n in range(300)]
    for number in numbers:
        request(old_queue, number)
    Accounts(store, SEALER).add("Robin Lee", ADVISOR, "a long enough password")

    problems: list[BaseException] = []
    done = threading.Event()

    def read_and_write() -> None:
        queue = CallbackQueue(redis.Redis(connection_pool=store.connection_pool), both)
        n = 0
        try:
            while not done.is_set():
                assert len({cb.number for cb in queue.all()}) >= 300
                request(queue, f"+4474008{n:05d}")
                n += 1
        except BaseException as exc:  # noqa: BLE001  # reported by the test below
            problems.append(exc)

    others = [threading.Thread(target=read_and_write) for _ in range(2)]
    for thread in others:
        thread.start()
    try:
        changed = rotate(store, both).changed
    finally:
        done.set()
        for thread in others:
            thread.join()
    assert problems == []
    assert changed >= 300 + 1 + 1  # the callbacks, the advisor's phone, the keys' check

    only_new = Sealer((new,), LOOKUP_KEY)
    check_keys(store, only_new)
    assert {cb.number for cb in CallbackQueue(store, only_new).all()} >= set(numbers)
    assert Accounts(store, only_new).get("robin-lee").phone == ADVISOR


def test_helpline_keys_rotate_reseals_the_store(cli, store, monkeypatch):
    check_keys(store, SEALER)  # as the app does when it starts
    request(CallbackQueue(store, SEALER), TEXTED[0])
    new = new_data_key()
    monkeypatch.setenv("DATA_KEY", f"{new},{DATA_KEY}")
    result = cli("keys", "rotate")
    assert result.exit_code == 0, result.output
    assert "re-sealed 2 values" in result.output  # the callback and the keys' check
    assert CallbackQueue(store, Sealer((new,), LOOKUP_KEY)).open_for(TEXTED[0]) is not None


def test_helpline_keys_new_prints_keys_the_app_takes(cli):
    lines = dict(line.split("=", 1) for line in cli("keys", "new").stdout.splitlines())
    Sealer((lines["DATA_KEY"],), lines["LOOKUP_KEY"])


def request(queue: CallbackQueue, number: str):
    at = london(OPEN)
    return request_callback(queue, number, "sms", at, at)


def test_rotation_leaves_no_value_under_the_old_key_wherever_it_is(store):
    """Found: `keys rotate` re-sealed numbers only, by a list of places: a person's chosen
    language (its own key, and in their callback) and simulated records stayed under the old
    key, and once it was dropped their callbacks could not be read and their texts failed."""
    real = CallbackQueue(store, SEALER)
    welsh = request(real, TEXTED[0]).callback_id
    real.set_language(TEXTED[0], "cy")
    real.set_callback_language(welsh, "cy")
    simulated = CallbackQueue(store, SEALER, Keys().simulation)
    request(simulated, TEXTED[1])
    simulated.set_language(TEXTED[1], "cy")
    check_keys(store, SEALER)

    new = new_data_key()
    rotate(store, Sealer((new, DATA_KEY), LOOKUP_KEY))

    only_new = Sealer((new,), LOOKUP_KEY)
    assert [place for place in sealed_values(store) if not opens(only_new, store, place)] == []
    assert CallbackQueue(store, only_new).get(welsh).language == "cy"
    assert CallbackQueue(store, only_new).language_of(TEXTED[0]) == "cy"
    assert CallbackQueue(store, only_new, Keys().simulation).language_of(TEXTED[1]) == "cy"
    assert CallbackQueue(store, only_new, Keys().simulation).open_for(TEXTED[1]) is not None


def opens(sealer: Sealer, store, place) -> bool:
    value = store.hget(place.key, place.field) if place.field else store.get(place.key)
    try:
        sealer.open(value)
    except Unreadable:
        return False
    return True
