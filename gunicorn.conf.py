"""gunicorn settings shared by the Procfile, `helpline run` and the benchmarks.

Prometheus' multiprocess mode needs a folder for the workers' metric files, named before any
worker imports prometheus_client, and cleaned when a worker exits."""

import os
import shutil
from pathlib import Path

data_dir = Path(os.environ.get("HELPLINE_DATA_DIR") or Path(__file__).resolve().parent / "var")
metrics_dir = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR",
                                         str((data_dir / "prometheus").resolve())))

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = 10  # Twilio gives a webhook 15 s; a stuck worker is recycled before that
accesslog = None  # request lines come from the app, masked, with Twilio SIDs


def on_starting(server):
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
