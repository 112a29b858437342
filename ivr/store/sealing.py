"""Phone numbers sealed at rest, and looked up by a keyed hash.

Every number the app keeps (a callback's, one keyed in during a call, an advisor's phone, a
text kept on disk while the store is down) is sealed with an authenticated cipher before it
is written, with an authenticated cipher: `cryptography`'s AES-GCM (256-bit keys, a random
96-bit nonce per value). Several keys are held at once, so keys can be rotated while the app
runs: the first key seals, every key opens. What the Lua scripts read (statuses, due times,
the safe-time window) stays in clear.

Why not Fernet: its token for a phone number is 100 characters, past Redis's 64-byte limit
for a small hash's values, and a callback record then takes 1.4 kB instead of a few hundred
bytes. A sealed number here is "~" and url-safe base64 of key id (2 bytes), nonce, cipher
text and tag: 59 characters for a UK mobile, 63 at most for any E.164 number.

A number is found again by its keyed hash, `lookup()`: HMAC-SHA256 under a key of its own,
in key names (`cb:open:<h>`, `cb:num:<h>`, the flood counters). An unkeyed hash of a phone
number is no protection (there are only about 10^10 UK numbers to try); the lookup key must
stay the same for as long as the store holds those names (see `helpline keys`).

The keys: DATA_KEY (32 random bytes each, url-safe base64, comma-separated, newest first)
and LOOKUP_KEY. With an
external store the app refuses to start without them (`load_sealer`); with the embedded store
each is generated once into <data folder>/secrets/, outside the Redis folder, 0600.

`store/migrations.py` (version 4) sealed what earlier versions kept in clear; `rotate()`
here re-seals everything under the newest key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import redis
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from redis.client import NEVER_DECODE

from ivr.config import Settings
from ivr.store import keys
from ivr.store.connection import private_folder
from ivr.store.keys import Keys
from ivr.store.replies import maybe_text, table

log = logging.getLogger(__name__)

# Every sealed value starts so; no phone number does (a value kept in clear by an earlier
# version is told apart by it).
TOKEN_PREFIX = "~"
KEY_BYTES = 32
KEY_ID_BYTES = 2
NONCE_BYTES = 12
# The keyed hash kept in key names: 96 bits (no two of the world's numbers collide), in 16
# url-safe base64 characters (hex would take 24).
LOOKUP_BYTES = 12
MIN_LOOKUP_KEY = 32
PRIVATE_FILE = 0o600
# What the store's own check holds (keys.KEY_CHECK): sealed and hashed once, so a process
# started with other keys than the store was written with refuses to run.
_CHECK = "helpline key check"


class KeyProblem(ValueError):
    """DATA_KEY or LOOKUP_KEY is missing or unusable: the message says what to do."""


class KeyMismatch(KeyProblem):
    """The keys given are not those the store was sealed and keyed with."""


class Unreadable(ValueError):
    """A sealed value that none of the keys opens."""


def new_data_key() -> str:
    return _b64(secrets.token_bytes(KEY_BYTES))


def new_lookup_key() -> str:
    return secrets.token_urlsafe(32)


def looks_sealed(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key_id(key: bytes) -> bytes:
    """Which key sealed a value (so opening tries that one): a hash's first bytes, which
    say nothing about the key."""
    return hashlib.sha256(b"helpline key id" + key).digest()[:KEY_ID_BYTES]


class Sealer:
    """Seal and open with the data keys (the first seals, all open); hash with the lookup
    key. Built once per process (services.py) and handed to the store's objects."""

    def __init__(self, data_keys: Sequence[str], lookup_key: str) -> None:
        if not data_keys:
            raise KeyProblem("DATA_KEY holds no key")
        self._keys: list[tuple[bytes, AESGCM]] = []
        for text in data_keys:
            try:
                key = _unb64(text.strip())
            except (ValueError, binascii.Error):
                key = b""
            if len(key) != KEY_BYTES:
                raise KeyProblem(
                    "DATA_KEY must be keys of 32 random bytes in url-safe base64 (43 "
                    "characters), comma-separated, newest first: `helpline keys new` prints one"
                )
            self._keys.append((_key_id(key), AESGCM(key)))
        if len(lookup_key.strip()) < MIN_LOOKUP_KEY:
            raise KeyProblem(
                f"LOOKUP_KEY must be at least {MIN_LOOKUP_KEY} characters: "
                "`helpline keys new` prints one"
            )
        # Keyed once (its padded key blocks hashed), copied for each number: a text looks
        # its sender up at least once.
        self._keyed_lookup = hmac.new(lookup_key.strip().encode(), digestmod=hashlib.sha256)

    @property
    def key_count(self) -> int:
        return len(self._keys)

    def seal(self, plain: str) -> str:
        return TOKEN_PREFIX + _b64(self.seal_bytes(plain.encode()))

    def seal_bytes(self, plain: bytes) -> bytes:
        """Key id, nonce, cipher text and tag (a backup: backup.py)."""
        key_id, cipher = self._keys[0]
        nonce = secrets.token_bytes(NONCE_BYTES)
        return key_id + nonce + cipher.encrypt(nonce, plain, None)

    def open_bytes(self, data: bytes) -> bytes:
        """What seal_bytes sealed; Unreadable if no key opens it."""
        return self._opened_bytes(data)[1]

    def open(self, sealed: str) -> str:
        """The plain text; Unreadable if no key opens it (or it was never sealed)."""
        return self._opened(sealed)[1]

    def reseal(self, value: str) -> str | None:
        """`value` sealed under the newest key; None if it already is. A value in clear (kept
        by an earlier version) is sealed; one no key opens raises Unreadable."""
        if not looks_sealed(value):
            return self.seal(value)
        which, plain = self._opened(value)
        return None if which == 0 else self.seal(plain)

    def _opened(self, sealed: str) -> tuple[int, str]:
        """Which key opens `sealed` (0: the newest), and what it holds."""
        try:
            data = _unb64(sealed.removeprefix(TOKEN_PREFIX)) if looks_sealed(sealed) else b""
        except (ValueError, binascii.Error):
            data = b""
        which, plain = self._opened_bytes(data)
        try:
            return which, plain.decode()
        except UnicodeError:
            raise Unreadable("a sealed value that is not text") from None

    def _opened_bytes(self, data: bytes) -> tuple[int, bytes]:
        key_id = data[:KEY_ID_BYTES]
        nonce = data[KEY_ID_BYTES : KEY_ID_BYTES + NONCE_BYTES]
        body = data[KEY_ID_BYTES + NONCE_BYTES :]
        for which, (own_id, cipher) in enumerate(self._keys):
            if own_id == key_id and len(nonce) == NONCE_BYTES:
                with contextlib.suppress(InvalidTag):
                    return which, cipher.decrypt(nonce, body, None)
        raise Unreadable(
            "a sealed value could not be opened with DATA_KEY: was a key removed "
            "before `helpline keys rotate` had finished?"
        )

    def lookup(self, number: str) -> str:
        """The number's keyed hash, for key names: the same for the same number, and of no
        use without LOOKUP_KEY."""
        mac = self._keyed_lookup.copy()
        mac.update(number.encode())
        digest = mac.digest()
        return base64.urlsafe_b64encode(digest[:LOOKUP_BYTES]).decode("ascii")


# ------------------------------------------------------------------ the keys


def key_file(data_dir: Path, name: str) -> Path:
    """Where a generated key lives: <data folder>/secrets/, apart from the Redis files, so
    copying those (a backup, a shared volume, a disk image of redis/) never copies a key."""
    return Path(data_dir) / "secrets" / name


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    """What `path` holds, or `make()` written there first (0600, folder 0700). Workers
    starting at once agree: each writes its own candidate aside and links it into place;
    the first link wins and every worker reads the winner."""
    private_folder(path.parent)
    if not path.exists():
        candidate = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(make() + "\n")
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(candidate, path)
        finally:
            candidate.unlink(missing_ok=True)
    path.chmod(PRIVATE_FILE)
    return path.read_text(encoding="ascii").strip()


def load_sealer(settings: Settings) -> Sealer:
    """The sealer from DATA_KEY and LOOKUP_KEY. Either not set: with the embedded store, the
    one generated into the data folder's secrets/ (made on first use); with any other store,
    a KeyProblem naming what to set (several hosts must share the keys, and a key written
    beside the data would protect nothing)."""
    data, lookup = settings.data_key, settings.lookup_key
    missing = [name for name, given in (("DATA_KEY", data), ("LOOKUP_KEY", lookup)) if not given]
    if missing and not settings.embedded_store:
        raise KeyProblem(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set. "
            "Phone numbers are sealed in the store with DATA_KEY and looked up by a hash "
            "under LOOKUP_KEY; with an external store (REDIS_URL) the app does not generate "
            "them: set both, the same on every process, from `helpline keys new`, and keep "
            "them apart from the store and its backups."
        )
    if not data:
        data = tuple(read_or_create(key_file(settings.data_dir, "data_key"), new_data_key).split())
    if not lookup:
        lookup = read_or_create(key_file(settings.data_dir, "lookup_key"), new_lookup_key)
    return Sealer(data, lookup)


def lookup_check(sealer: Sealer) -> str:
    """What the store's check holds for LOOKUP_KEY (a backup carries it, so a restore with
    another lookup key is refused before anything is written)."""
    return sealer.lookup(_CHECK)


def check_keys(r: redis.Redis, sealer: Sealer) -> None:
    """The store's own check (keys.KEY_CHECK), written the first time: refuse to go on with
    keys the store was not written with. A wrong DATA_KEY would leave every callback
    unreadable; a wrong LOOKUP_KEY, worse, would go unnoticed: a second open callback per
    number, and a STOP that erases nothing."""
    r.hsetnx(keys.KEY_CHECK, "data", sealer.seal(_CHECK))
    r.hsetnx(keys.KEY_CHECK, "lookup", sealer.lookup(_CHECK))
    stored = table(r.hgetall(keys.KEY_CHECK))
    try:
        opened = sealer.open(stored.get("data", ""))
    except Unreadable:
        opened = ""
    if opened != _CHECK:
        raise KeyMismatch(
            "DATA_KEY does not open what the store holds: it was sealed with another key. "
            "Set DATA_KEY to the keys it was written with (an older key may follow the "
            "newest, comma-separated)."
        )
    if stored.get("lookup") != sealer.lookup(_CHECK):
        raise KeyMismatch(
            "LOOKUP_KEY is not the key the store's numbers were hashed with: callbacks would "
            "not be found by number (nor erased by STOP). Set the LOOKUP_KEY it was written "
            "with (README: why the lookup key is not rotated like DATA_KEY)."
        )


# ------------------------------------------------------------------ rotation

# Replace one sealed value if it is still what was read. KEYS: the key; ARGV: the hash's
# field ("": a string, whose expiry is kept), the value read, the new value.
_SWAP = """
if ARGV[1] == '' then
  if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
  redis.call('SET', KEYS[1], ARGV[3], 'KEEPTTL')
else
  if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
return 1
"""


@dataclass(frozen=True)
class Place:
    """Where a sealed value is kept: a key, and the field of its hash ("" for a string)."""

    key: str
    field: str = ""


def sealed_places(r: redis.Redis, helpline: Keys) -> Iterator[Place]:
    """Every place in the store that holds a sealed value (keys.py names them)."""
    for key in r.scan_iter(helpline.cb + "*", count=1000):
        if helpline.is_callback(key):
            yield Place(key, "number")
    for key in r.scan_iter(helpline.keyed_number("*"), count=1000):
        yield Place(key)
    for key in r.scan_iter(keys.ADVISOR + "*", count=1000):
        yield Place(key, "phone")
    yield Place(keys.KEY_CHECK, "data")


def swap_script(r: redis.Redis) -> Callable[..., object]:
    """The compare-and-swap of one sealed value (for reseal_place)."""
    return r.register_script(_SWAP)


def reseal_place(r: redis.Redis, swap: Callable[..., object], place: Place, sealer: Sealer) -> bool:
    """Seal one place's value under the newest key, unless it changed meanwhile (then it was
    written afresh, by a process sealing with the newest key or about to: read it again).
    Whether it was changed here."""
    for _ in range(5):
        value = (
            maybe_text(r.hget(place.key, place.field))
            if place.field
            else maybe_text(r.get(place.key))
        )
        if value is None:
            return False  # gone meanwhile (ended, erased, the call over)
        new = sealer.reseal(value)
        if new is None:
            return False
        if swap(keys=[place.key], args=[place.field, value, new]):
            return True
    raise RuntimeError(f"{place.key} kept changing while it was being re-sealed")


def _text(value: bytes | None) -> str | None:
    """A value read as bytes, as text; None when it is not text (a pickle, say)."""
    try:
        return None if value is None else value.decode()
    except UnicodeDecodeError:
        return None


def _raw(r: redis.Redis, *command: str) -> object:
    """A command's reply as bytes, whatever the client decodes."""
    return r.execute_command(*command, **{NEVER_DECODE: True})  # type: ignore[no-untyped-call]


def sealed_values(r: redis.Redis, skipped: list[Place] | None = None) -> Iterator[Place]:
    """Every sealed value in the store, wherever it is: any helpline, simulated records,
    fields added since (a person's language, say). Found by what it looks like, not by a
    list of places, so a rotation can never leave one under a key about to be dropped.
    Values read as bytes: others keep records here too (the scheduler's pickled jobs),
    which are not text; those go to `skipped`, untouched."""
    for key in r.scan_iter(keys.ROOT + "*", count=1000):
        kind = maybe_text(r.type(key))
        if kind == "string":
            value = _text(cast("bytes | None", _raw(r, "GET", key)))
            if value is None:
                if skipped is not None:
                    skipped.append(Place(key))
            elif looks_sealed(value):
                yield Place(key)
        elif kind == "hash":
            for field, data in cast(dict[bytes, bytes], _raw(r, "HGETALL", key)).items():
                name, value = _text(field), _text(data)
                if name is None or value is None:
                    if skipped is not None:
                        skipped.append(Place(key, name or repr(field)))
                elif looks_sealed(value):
                    yield Place(key, name)


@dataclass(frozen=True)
class Rotated:
    """What a rotation did: values re-sealed, passes over the store, and values left alone
    because the sealer did not write them (not text, or sealed under no key it holds)."""

    changed: int
    passes: int
    skipped: int


def rotate(r: redis.Redis, sealer: Sealer) -> Rotated:
    """Re-seal every sealed value in the store under the newest key, the app running
    (each value is swapped only if unchanged since it was read). Passes until one finds
    nothing left to do. Only what the sealer wrote is sealed again: anything else is
    skipped and counted."""
    swap = swap_script(r)
    total = 0
    for passes in range(1, 6):
        skipped: list[Place] = []
        changed = 0
        for place in sealed_values(r, skipped):
            try:
                changed += reseal_place(r, swap, place, sealer)
            except Unreadable:
                skipped.append(place)
        total += changed
        if not changed:
            if skipped:
                log.warning(
                    "keys rotate left %d values alone (not sealed by this app's keys), "
                    "under keys such as %s",
                    len(skipped),
                    ", ".join(sorted({p.key for p in skipped})[:3]),
                )
            return Rotated(total, passes, len(skipped))
    raise RuntimeError(
        "values sealed under an older key keep appearing: a process still seals with one "
        "(is the new key first in DATA_KEY everywhere?)"
    )


def rewrite_append_only_file(r: redis.Redis, wait_seconds: float = 120.0) -> bool:
    """BGREWRITEAOF, and wait for it: the new file holds only what is in memory now, so
    values written before (in clear, or sealed under a retired key) leave the disk. False
    (and a warning) where the server refuses it or takes too long."""
    try:
        r.bgrewriteaof()
    except redis.ResponseError as exc:
        if "already in progress" not in str(exc):
            log.warning("the store refused BGREWRITEAOF (%s): rewrite its files yourself", exc)
            return False
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        info = r.info("persistence")
        if not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled"):
            if info.get("aof_last_bgrewrite_status", "ok") != "ok":
                log.warning("the store's append-only file rewrite failed: see its log")
                return False
            return True
        time.sleep(0.05)
    log.warning("the store's append-only file is still being rewritten after %d s", wait_seconds)
    return False
