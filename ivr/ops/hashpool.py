"""Password checks off the request path: at most a few at once, each in a real OS thread.

An argon2 check costs 64 MiB and a few hundred milliseconds of CPU. Under gunicorn's gevent
worker, run on the worker's own thread it would stop every connection that worker serves,
calls included, until it is done; handed to gevent's pool of OS threads, argon2's C code runs
outside the GIL while the worker goes on answering. Without gevent each request already has
a thread of its own (gunicorn's sync or threaded workers, Flask's server and test client),
so the check runs there. Either way the pool is small and never queues: a sign-in that
finds every slot taken is told at once to try again, with no hash done."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")


class Busy(Exception):
    """Every slot is taken: the sign-in is refused now rather than kept waiting."""


def gevent_threads() -> Any | None:
    """gevent's pool of OS threads when this process runs under gevent (monkey-patched, as
    gunicorn's gevent worker does), else None. gevent is only looked at if already imported,
    so this works where it is not installed."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("threading"):
        return None
    import gevent

    return gevent.get_hub().threadpool


class HashPool:
    """`size` slots for password checks in this process."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"SIGNIN_POOL_SIZE must be at least 1, not {size}")
        self.size = size
        self._slots = threading.BoundedSemaphore(size)

    def run(self, check: Callable[..., R], *args: object) -> R:
        """check(*args) in a free slot, off the event loop under gevent; Busy when none is
        free."""
        if not self._slots.acquire(blocking=False):
            raise Busy
        try:
            threads = gevent_threads()
            if threads is None:
                return check(*args)
            if threads.maxsize < self.size:
                threads.maxsize = self.size
            return threads.apply(check, args)
        finally:
            self._slots.release()
