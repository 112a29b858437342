"""Slowing and capping failed sign-ins: a stranger gets only a few guesses an hour at an
account, and can never keep its advisor out.

Every try is counted in two buckets of the last hour's tries:
- its address (an IPv6 address by its /64): growing delays, 1 s doubling up to 15 minutes;
- its account, split by device: a device the account has signed in from before (its "known
  device" cookie) has a bucket of its own; every other device shares one. Both have short
  growing delays (up to 30 s); the shared one also has an hourly cap. Past NEW_DEVICE_CAP
  failures in an hour, devices the account does not know are refused until the hour has
  passed, while its known devices still sign in, and a supervisor can trust a new one.

The rules are plain functions of the tries' times and the time now; SignInThrottle keeps the
times in Redis and records each try before its password is checked, so tries made at the
same moment see each other."""

from __future__ import annotations

import ipaddress
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from ivr.store.keys import signin_account, signin_address

HOUR = 3600
FREE_TRIES = 3
ACCOUNT_CAP = 30  # the longest delay on an account (seconds)
ADDRESS_CAP = 15 * 60  # the longest delay on an address
NEW_DEVICE_CAP = 5  # failures in an hour from devices an account does not know, before refusal


def backoff(failures: int, cap: int) -> int:
    """Seconds to wait after `failures` failures in a row: 0, 0, 0, 1, 2, 4, 8… up to cap."""
    return 0 if failures < FREE_TRIES else min(2 ** (failures - FREE_TRIES), cap)


def delay(times: Sequence[float], cap: int, now: float) -> int:
    """Seconds still to wait after these tries (oldest first), counted from the latest. None
    while tries are free: a try made at the same moment may have read the clock a little
    after this one (it is then in this one's future) and still reached Redis first."""
    wait = backoff(len(times), cap)
    if wait == 0:
        return 0
    return max(0, math.ceil(times[-1] + wait - now))


@dataclass(frozen=True)
class Attempt:
    """One sign-in try: the account, the address it came from, and the device's id when the
    account knows the device (None: a device it has not signed in from)."""

    account: str
    address: str
    device: str | None = None


@dataclass(frozen=True)
class Verdict:
    wait: int = 0  # seconds before a try is allowed (0: go ahead)
    new_devices_refused: bool = False  # past the account's hourly cap for unknown devices

    @property
    def refused(self) -> bool:
        return self.wait > 0


def verdict(
    address: Sequence[float], account: Sequence[float], known_device: bool, now: float
) -> Verdict:
    """May a try go ahead now, given the last hour's tries (oldest first) from its address
    and in its account bucket (the known device's own, or the one unknown devices share)?"""
    wait = max(delay(address, ADDRESS_CAP, now), delay(account, ACCOUNT_CAP, now))
    if not known_device and len(account) >= NEW_DEVICE_CAP:
        # Refused until enough of the hour's failures have aged out to leave room for one.
        until = account[len(account) - NEW_DEVICE_CAP] + HOUR
        return Verdict(max(wait, math.ceil(until - now), 1), new_devices_refused=True)
    return Verdict(wait)


def address_key(remote_addr: str | None) -> str:
    """The address a try is counted under: IPv4 as it is, IPv6 by its /64 (one subscriber's
    network hands out more addresses than anyone could count)."""
    try:
        ip = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return "unknown"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _keys(attempt: Attempt) -> dict[str, str]:
    account = attempt.account.lower()
    device = f"device:{attempt.device}" if attempt.device else "new-devices"
    return {"address": signin_address(attempt.address), "account": signin_account(account, device)}


class SignInThrottle:
    """The buckets in Redis, one sorted set of try times each (each try a random member)."""

    def __init__(self, r: redis.Redis) -> None:
        self.r = r

    def begin(self, attempt: Attempt, now: float) -> tuple[Verdict, str]:
        """The verdict on a try, and its ticket: the try is recorded (as a failure, until
        cancelled or succeeded) in the same transaction that reads the earlier ones."""
        ticket = secrets.token_hex(8)
        keys = _keys(attempt)
        pipe = self.r.pipeline(transaction=True)
        for key in keys.values():
            pipe.zremrangebyscore(key, "-inf", now - HOUR)
            pipe.zrange(key, 0, -1, withscores=True)
            pipe.zadd(key, {ticket: now})
            pipe.expire(key, HOUR)
        results = pipe.execute()
        times = {name: [score for _, score in results[4 * i + 1]] for i, name in enumerate(keys)}
        return verdict(times["address"], times["account"], attempt.device is not None, now), ticket

    def cancel(self, attempt: Attempt, ticket: str) -> None:
        """The try was refused before its password was checked: it was no guess."""
        for key in _keys(attempt).values():
            self.r.zrem(key, ticket)

    def succeeded(self, attempt: Attempt, ticket: str) -> None:
        """The right password: the address and this device start afresh. Failures from
        unknown devices stay counted: an advisor signing in must not give a stranger new
        guesses."""
        keys = _keys(attempt)
        if attempt.device:
            self.r.delete(keys["address"], keys["account"])
        else:
            self.r.delete(keys["address"])
            self.r.zrem(keys["account"], ticket)
