"""Advisor accounts in Redis: argon2-hashed passwords, phone (sealed: sealing.py), supervisor
flag, on duty, and the account's session token (changed to end its sessions on every device
at once)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

import redis
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from redis.typing import EncodableT, FieldT

from ivr.core.phone import advisor_e164
from ivr.store import keys
from ivr.store.replies import maybe_text, table, text
from ivr.store.sealing import Sealer

DEVICE_LINK_SECONDS = 15 * 60
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._'-]{0,39}$")
# RFC 9106's low-memory profile (argon2-cffi's default: 64 MiB, 3 passes) in one lane: a check
# takes one core, never four (the sign-in pool, ops/hashpool.py, allows one check per core in
# the whole server). Hashes made with other parameters (four lanes, before issue 22) still
# verify, by the parameters they name, and are rehashed with these at the next sign-in.
PRODUCTION = replace(profiles.RFC_9106_LOW_MEMORY, parallelism=1)
# Hashers by PASSWORD_HASH_COST: production, and argon2-cffi's cheapest parameters, for the
# test suite only: a hash made at that cost is no protection, and a production hash checked
# at it is rehashed down to it.
HASHERS: dict[str, PasswordHasher] = {
    "production": PasswordHasher.from_parameters(PRODUCTION),
    "test": PasswordHasher.from_parameters(profiles.CHEAPEST),
}
_hasher = HASHERS["production"]


def use_password_cost(cost: str) -> None:
    """Hash and check console passwords at `cost` ("production", or "test" for the tests
    only) in this process from now on: the app does this at start from PASSWORD_HASH_COST."""
    global _hasher
    if cost not in HASHERS:
        raise ValueError(f"PASSWORD_HASH_COST must be one of {', '.join(HASHERS)}, not {cost!r}")
    _hasher = HASHERS[cost]


class AccountError(ValueError):
    """Why an account can't be created or changed, in words for the person doing it."""


@dataclass(frozen=True)
class Advisor:
    username: str
    name: str
    phone: str
    supervisor: bool
    on_duty: bool
    session: str = ""  # part of every console session of this account; a new one ends them all
    # The helplines (flows/helplines.toml names) whose callbacks and callers they take, and,
    # for a supervisor, whose queues, closures, advisors and figures they manage. None
    # given: the default helpline only (see serves).
    helplines: tuple[str, ...] = ()
    welsh: bool = False  # speaks Welsh: takes Welsh callers and callbacks first

    def serves(self, helpline: str, default: str) -> bool:
        return helpline in (self.helplines or (default,))


def username_for(name: str) -> str:
    return "-".join(name.lower().split())


def new_session_token() -> str:
    return secrets.token_urlsafe(16)


def _link_key(code: str) -> str | None:
    """Where a device link's code is kept (None: it cannot be one of ours)."""
    if not 20 <= len(code) <= 64:
        return None
    return _digest_key(code)


def _digest_key(code: str) -> str:
    """By the code's digest, so the store holds no usable link."""
    return keys.DEVICE_LINK + hashlib.sha256(code.encode()).hexdigest()


def check_hash(stored: str | None, password: str) -> tuple[bool, str | None]:
    """Whether `password` matches the stored hash, and a new hash when argon2's settings have
    changed since. With no hash (no such account) the same work is done: no hint that the
    name is wrong. Only CPU, no store: the part that runs in a pool."""
    if stored is None:
        _hasher.hash(password)
        return False, None
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False, None
    return True, (_hasher.hash(password) if _hasher.check_needs_rehash(stored) else None)


HashCheck = Callable[[str | None, str], tuple[bool, str | None]]
Runner = Callable[[HashCheck, str | None, str], tuple[bool, str | None]]


def inline(check: HashCheck, stored: str | None, password: str) -> tuple[bool, str | None]:
    return check(stored, password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")


class Accounts:
    def __init__(self, r: redis.Redis, sealer: Sealer) -> None:
        self.r = r
        self.sealer = sealer

    def add(
        self,
        name: str,
        phone: str,
        password: str,
        supervisor: bool = False,
        drama: bool = False,
        helplines: tuple[str, ...] = (),
        welsh: bool = False,
    ) -> Advisor:
        """`drama`: a rehearsal's sample advisor may have a drama number (nobody's phone).
        `helplines`: the names of the helplines they serve (none: the default one). `welsh`:
        they speak Welsh."""
        if not _NAME.match(name.strip()):
            raise AccountError("a name is 1 to 40 letters, digits, spaces, dots or dashes")
        try:  # "07400 123456" as typed; Twilio dials "+447400123456"
            phone = advisor_e164(phone, drama=drama)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        check_password(password)
        username = username_for(name)
        fields: dict[FieldT, EncodableT] = {
            "name": name.strip(),
            "phone": self.sealer.seal(phone),
            "hash": _hasher.hash(password),
            "supervisor": int(supervisor),
            "on_duty": 0,
            "session": new_session_token(),
            "helplines": ",".join(helplines),
            "welsh": int(welsh),
        }
        if not self.r.hsetnx(keys.advisor(username), "name", fields["name"]):
            raise AccountError(f"there is already an advisor called {username}")
        self.r.hset(keys.advisor(username), mapping=fields)
        self.r.sadd(keys.ADVISORS, username)
        advisor = self.get(username)
        if advisor is None:  # removed by someone else in the moment since it was written
            raise AccountError(f"the account {username} was removed as it was being made")
        return advisor

    def get(self, username: str) -> Advisor | None:
        data = table(self.r.hgetall(keys.advisor(username)))
        if not data or "hash" not in data:
            return None
        return Advisor(
            username,
            data["name"],
            self.sealer.open(data["phone"]),
            data.get("supervisor") == "1",
            data.get("on_duty") == "1",
            data.get("session", ""),
            tuple(name for name in data.get("helplines", "").split(",") if name),
            data.get("welsh") == "1",
        )

    def all(self) -> list[Advisor]:
        found = (self.get(text(u)) for u in sorted(self.r.smembers(keys.ADVISORS)))
        return [a for a in found if a is not None]

    def remove(self, username: str) -> bool:
        """Remove the account, and with it every session it has (its token goes too)."""
        self.r.srem(keys.ADVISORS, username)
        return bool(self.r.delete(keys.advisor(username)))

    def set_password(self, username: str, password: str) -> None:
        """A new password ends every session of the account: whoever knew the old one may
        have signed in with it."""
        check_password(password)
        if not self.r.exists(keys.advisor(username)):
            raise AccountError(f"no advisor {username}")
        self.r.hset(
            keys.advisor(username),
            mapping={"hash": _hasher.hash(password), "session": new_session_token()},
        )

    def end_sessions(self, username: str) -> bool:
        """Sign the account out on every device at once (False: no such account)."""
        if not self.r.exists(keys.advisor(username)):
            return False
        self.r.hset(keys.advisor(username), "session", new_session_token())
        return True

    def verify(self, username: str, password: str, run: Runner = inline) -> Advisor | None:
        """The advisor if the password is right (rehashing when argon2's settings changed).
        `run` runs the argon2 part, e.g. in the sign-in pool; the store is read here."""
        stored = maybe_text(self.r.hget(keys.advisor(username), "hash"))
        matches, rehashed = run(check_hash, stored, password)
        if not matches:
            return None
        if rehashed:
            self.r.hset(keys.advisor(username), "hash", rehashed)
        return self.get(username)

    def set_helplines(self, username: str, helplines: tuple[str, ...]) -> None:
        """The helplines they serve from now on (none: the default one)."""
        if not self.r.exists(keys.advisor(username)):
            raise AccountError(f"no advisor {username}")
        self.r.hset(keys.advisor(username), "helplines", ",".join(helplines))

    def set_on_duty(self, username: str, on_duty: bool) -> None:
        if self.r.exists(keys.advisor(username)):
            self.r.hset(keys.advisor(username), "on_duty", int(on_duty))

    def on_duty_phones(self, helpline: str | None = None, default: str = "") -> list[str]:
        """Phones of advisors on duty (of `helpline` only, when given)."""
        return [
            a.phone
            for a in self.all()
            if a.on_duty and (helpline is None or a.serves(helpline, default))
        ]

    def device_link(self, username: str) -> str | None:
        """A code that makes one more device known to the account (so the hourly cap on new
        devices does not hold it out): single use, for DEVICE_LINK_SECONDS. None: no such
        account."""
        if not self.r.exists(keys.advisor(username)):
            return None
        code = secrets.token_urlsafe(24)
        self.r.set(_digest_key(code), username, ex=DEVICE_LINK_SECONDS)
        return code

    def device_link_account(self, code: str) -> str | None:
        """The account a device link is for, while it is unused and unexpired."""
        key = _link_key(code)
        return maybe_text(self.r.get(key)) if key else None

    def use_device_link(self, code: str) -> str | None:
        """The account a device link is for, once: the link is gone afterwards."""
        key = _link_key(code)
        return maybe_text(self.r.getdel(key)) if key else None
