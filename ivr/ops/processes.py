"""`helpline run`'s process manager: the embedded Redis, the web server and the scheduler,
started in order, restarted when one dies, and all stopped together.

Each child runs in a session of its own, so closing the terminal (SIGHUP to the terminal's
process group) reaches only this manager, which then stops them all and waits for them;
gunicorn would read a SIGHUP of its own as "reload" and carry on. Each child also stops by
itself if this manager dies (the parent-death signal), so a crash leaves nothing running.
Its own lines ("[run] redis exited...") go through logging, in the log format the children
write (JSON by default), not printed in among them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ivr.store.connection import RUN_LOCK, die_with_parent, private_folder

log = logging.getLogger(__name__)
RESTART_DELAY_SECONDS = 1
MAX_RESTART_DELAY_SECONDS = 30
READY_SECONDS = 60
STOP_SECONDS = 15
# The web server dying at once, again and again (a broken setting), ends the run: there is
# nothing to serve. Anything else that does (Redis on a full disk, say) is restarted with
# a growing pause, for ever: the web server keeps answering calls (with its fallbacks and
# the spool) while it is down, and that is worth more than a clean exit.
QUICK_EXIT_SECONDS = 5
QUICK_EXITS = 3


@dataclass
class Child:
    """One supervised process: its command, and (optionally) how to tell it is ready before
    the next child starts."""

    name: str
    command: list[str]
    ready: Callable[[], bool] | None = None
    umask: int = -1
    essential: bool = False  # its crash-looping ends the run
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    quick_exits: int = 0
    restart_at: float | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def restart_delay(self) -> float:
        """1 s, then twice as long after each quick exit in a row, up to 30 s."""
        return min(
            RESTART_DELAY_SECONDS * 2 ** max(self.quick_exits - 1, 0), MAX_RESTART_DELAY_SECONDS
        )


class AlreadyRunning(RuntimeError):
    """Another `helpline run` holds the data folder."""


class RunLock:
    """One `helpline run` per data folder: a lock the operating system releases when the
    process ends, however it ends, holding the pid and port for the next one to report."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / RUN_LOCK
        self.file: IO[str] | None = None

    def acquire(self, port: int) -> None:
        private_folder(self.path.parent)
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the whole run
        self.path.chmod(0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            try:
                held = json.loads(handle.read() or "{}")
            except ValueError:
                held = {}
            handle.close()
            raise AlreadyRunning(
                f"already running (pid {held.get('pid', '?')}, port "
                f"{held.get('port', '?')}): stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "port": port}))
        handle.flush()
        self.file = handle


def supervise(
    children: list[Child],
    cwd: Path,
    env: Mapping[str, str],
    started: Callable[[], None] | None = None,
) -> int:
    """Start every child in order (each ready before the next), then call `started`; restart
    one that dies (after a pause that grows while it keeps dying at once); on SIGTERM, SIGINT
    or SIGHUP stop them all, last started first, and wait for them. Non-zero when an
    essential child kept failing at start."""
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    failed = None
    try:
        for child in children:
            if stopping:
                break
            _start(child, cwd, env)
        if started is not None and not stopping:
            started()
        while not stopping and failed is None:
            time.sleep(0.2)
            for child in children:
                if stopping or child.process is None or child.process.poll() is None:
                    continue
                if child.restart_at is None:
                    quick = time.monotonic() - child.started < QUICK_EXIT_SECONDS
                    child.quick_exits = child.quick_exits + 1 if quick else 0
                    if child.essential and child.quick_exits >= QUICK_EXITS:
                        log.error(
                            "[run] %s keeps exiting at once (%s): stopping",
                            child.name,
                            child.process.returncode,
                        )
                        failed = child.name
                        break
                    delay = child.restart_delay()
                    log.warning(
                        "[run] %s exited (%s); restarting in %g s",
                        child.name,
                        child.process.returncode,
                        delay,
                    )
                    child.restart_at = time.monotonic() + delay
                elif time.monotonic() >= child.restart_at:
                    child.restart_at = None
                    _start(child, cwd, env)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
        for child in reversed(children):
            _stop(child)
    return 1 if failed else 0


def _start(child: Child, cwd: Path, env: Mapping[str, str]) -> None:
    child.process = subprocess.Popen(
        child.command,
        cwd=cwd,
        env={**env, **child.env},
        start_new_session=True,
        preexec_fn=die_with_parent,
        umask=child.umask,
    )
    child.started = time.monotonic()
    if child.ready is None:
        return
    deadline = time.monotonic() + READY_SECONDS
    while not child.ready() and time.monotonic() < deadline:
        if child.process.poll() is not None:
            return  # the loop restarts it
        time.sleep(0.05)


def _stop(child: Child) -> None:
    """SIGTERM to the child (gunicorn then stops its workers gracefully, Redis writes its
    files), then the whole of its process group if it does not end in time."""
    process = child.process
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        log.warning("%s did not stop: killing it", child.name)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # anything of its group still running
    process.wait()
