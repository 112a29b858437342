"""Password checks off the request path: one at a time per core in the whole server, each in
a real OS thread, the last slot kept for devices an advisor has already signed in from.

An argon2 check costs 64 MiB and a few hundred milliseconds of one core (one lane:
accounts.py). Were every worker to run several at once, a flood of sign-ins would take every
core from the calls (issue 22: 2 workers x 2 checks x 4 lanes on 2 cores held calls up to
5.8 s). So the bound is the server's, not a worker's: each slot is a lock file in the data
folder, held (flock) by whichever process is checking a password in it; gunicorn's workers
share the folder, and a worker that dies lets go of its slot with its file descriptors.

The last slot only takes a sign-in from a device that the account has signed in from before,
or that a supervisor trusted (the console's known-device cookie, web/console/signin.py): a
flood of strangers can fill the others, never keep an advisor out. A sign-in that finds no
slot free is told at once to try again (Busy), with no hash done: no queue.

Under gunicorn's gevent worker, a check run on the worker's own thread would stop every
connection that worker serves, calls included, until it is done; handed to a pool of OS
threads, argon2's C code runs outside the GIL while the worker goes on answering, and those
threads run at a lower CPU priority (Linux: HASH_NICE) so that answering a call comes first.
Without gevent each request already has a thread of its own (gunicorn's sync or threaded
workers, Flask's server and test client), so the check runs there."""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

R = TypeVar("R")

HASH_NICE = 10  # how much less CPU priority a hashing thread has than the worker answering calls


class Busy(Exception):
    """Every slot this sign-in may use is taken: refused now rather than kept waiting."""


def cores() -> int:
    """The cores this process may run on (a container's CPU set, not the whole machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_size() -> int:
    """One check at a time per core, and never fewer than two: one for anyone, one kept."""
    return max(2, cores())


def under_gevent() -> bool:
    """Whether this process runs under gevent (monkey-patched, as gunicorn's gevent worker
    does). gevent is only looked at if already imported, so this works where it is not
    installed."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("threading"))


def _lower_priority(nice: int) -> None:
    """This OS thread at `nice` (Linux keeps a nice value per thread; elsewhere it would be
    the whole process's, so nothing is done)."""
    if sys.platform == "linux" and os.getpriority(os.PRIO_PROCESS, 0) < nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)


class HashPool:
    """`size` slots for password checks in every process that shares `folder`; the last one
    only for known devices."""

    def __init__(self, size: int, folder: Path) -> None:
        if size < 2:
            raise ValueError(
                f"SIGNIN_POOL_SIZE must be at least 2 (one kept for known devices), not {size}"
            )
        self.size = size
        self.folder = folder
        self._threads: Any | None = None  # this process's gevent ThreadPool, made on first use
        self._threads_pid = 0
        self._nice = min(19, os.getpriority(os.PRIO_PROCESS, 0) + HASH_NICE)

    @classmethod
    def for_server(cls, size: int, data_dir: Path) -> HashPool:
        """The pool of SIGNIN_POOL_SIZE (0: default_size()) slots under the data folder,
        shared by every worker of the server."""
        return cls(size or default_size(), data_dir / "signin-slots")

    def slots(self, known_device: bool) -> range:
        """The slots a sign-in may take: every one for a known device, all but the last for
        anyone else."""
        return range(self.size if known_device else self.size - 1)

    @contextmanager
    def slot(self, known_device: bool = False) -> Iterator[int]:
        """Hold a free slot (its number) while inside; Busy at once when none is free."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for number in self.slots(known_device):
            fd = os.open(self.folder / f"slot-{number}", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield number
            finally:
                os.close(fd)  # lets go of the lock
            return
        raise Busy

    def runner(self, known_device: bool) -> Callable[..., Any]:
        """run() for one sign-in, as Accounts.verify takes it."""

        def run(check: Callable[..., R], *args: object) -> R:
            return self.run(check, *args, known_device=known_device)

        return run

    def run(self, check: Callable[..., R], *args: object, known_device: bool = False) -> R:
        """check(*args) in a free slot, off the event loop under gevent; Busy when none is
        free."""
        with self.slot(known_device):
            if not under_gevent():
                return check(*args)
            return self._gevent_pool().apply(self._niced, (check, *args))

    def _niced(self, check: Callable[..., R], *args: object) -> R:
        _lower_priority(self._nice)
        return check(*args)

    def _gevent_pool(self) -> Any:
        """A thread per slot, this process's own (not the hub's, which also resolves names):
        a check never waits for a thread. Made again in a forked child."""
        if self._threads is None or self._threads_pid != os.getpid():
            from gevent.threadpool import ThreadPool

            self._threads, self._threads_pid = ThreadPool(self.size), os.getpid()
        return self._threads
