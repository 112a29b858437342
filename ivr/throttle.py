"""Slowing repeated failed sign-ins, per account and per address, with growing delays.

No lock-out a stranger could keep an advisor in: an account's delay stays short (at most
ACCOUNT_CAP seconds) and does not apply on a device the advisor has signed in from before
(a "known device" cookie, as OWASP suggests), while an address that keeps failing waits
far longer."""

from __future__ import annotations

import redis

WINDOW_SECONDS = 15 * 60
FREE_TRIES = 3
ACCOUNT_CAP = 30
ADDRESS_CAP = 15 * 60


def backoff(failures: int, cap: int) -> int:
    """Seconds to wait after `failures` failures in a row: 0, 0, 0, 1, 2, 4, 8… up to cap."""
    return 0 if failures < FREE_TRIES else min(2 ** (failures - FREE_TRIES), cap)


class SignInThrottle:
    def __init__(self, r: redis.Redis) -> None:
        self.r = r

    def _keys(self, account: str, address: str,
              known_device: bool = False) -> list[tuple[str, int]]:
        keys = [(f"addr:{address}", ADDRESS_CAP)]
        if not known_device:
            keys.append((f"acct:{account.lower()}", ACCOUNT_CAP))
        return keys

    def wait(self, account: str, address: str, known_device: bool = False) -> int:
        """Seconds before another try is allowed (0: go ahead)."""
        ttls = [self.r.ttl(f"hl:signin:wait:{k}")
                for k, _ in self._keys(account, address, known_device)]
        return max([t for t in ttls if t and t > 0], default=0)

    def failed(self, account: str, address: str, known_device: bool = False) -> None:
        for key, cap in self._keys(account, address, known_device):
            failures = self.r.incr(f"hl:signin:fail:{key}")
            self.r.expire(f"hl:signin:fail:{key}", WINDOW_SECONDS)
            delay = backoff(failures, cap)
            if delay:
                self.r.set(f"hl:signin:wait:{key}", 1, ex=delay)

    def succeeded(self, account: str, address: str) -> None:
        for key, _ in self._keys(account, address):
            self.r.delete(f"hl:signin:fail:{key}", f"hl:signin:wait:{key}")
