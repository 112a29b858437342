"""`helpline run` keeps the web server and the scheduler running side by side."""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)
RESTART_DELAY_SECONDS = 2


def supervise(commands: dict[str, list[str]], cwd: Path) -> int:
    """Start every command; restart one that dies; stop all on Ctrl-C or SIGTERM."""
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    running = {name: subprocess.Popen(cmd, cwd=cwd) for name, cmd in commands.items()}
    try:
        while not stopping:
            time.sleep(0.5)
            for name, process in list(running.items()):
                if process.poll() is not None and not stopping:
                    print(f"[run] {name} exited ({process.returncode}); restarting", flush=True)
                    time.sleep(RESTART_DELAY_SECONDS)
                    running[name] = subprocess.Popen(commands[name], cwd=cwd)
    finally:
        for process in running.values():
            if process.poll() is None:
                process.terminate()
        for process in running.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0
