"""gunicorn settings shared by the Procfile, `helpline run`, the tests and the benchmarks.

Serving model: gevent workers. Each connection is a greenlet, so a client that sends its
request slowly holds a greenlet (a few KiB), not a worker; a request's headers must arrive
within HEADER_SECONDS (HelplineWorker, below) and its body within ivr/serving.py's
BODY_SECONDS, whatever the client does. The worker class lives here, not in the ivr
package: the master loads it before forking, and importing ivr there would import urllib3
(through twilio) before gevent patches ssl, leaving the workers' HTTPS calls to Twilio's API
unpatched, blocking every connection of the worker.

Prometheus' multiprocess mode needs a folder for the workers' metric files, named before any
worker imports prometheus_client, and cleaned when a worker exits."""

import os
import shutil
from pathlib import Path

import gevent
from gunicorn.glogging import Logger
from gunicorn.workers.ggevent import GeventWorker

# Light: the standard library and phonenumbers, nothing that imports ssl before gevent patches.
from ivr.ops.logs import Summarised, flush_summaries, mask_handlers

# From a connection's accept (or the end of its previous response) to the end of the next
# request's headers. Twilio sends a request at once; a client slower than this is cut off.
HEADER_SECONDS = 5


class HelplineWorker(GeventWorker):
    """gunicorn's gevent worker with an explicit deadline on reading request headers.

    gunicorn reads each request's headers, the first on a connection included, inside the
    worker's timeout_ctx() when keepalive is on; for the gevent worker that is a
    gevent.Timeout of `keepalive` seconds that closes the connection when it runs out. Here
    the deadline is HEADER_SECONDS, and a configuration without keepalive, where gunicorn
    reads headers with no deadline at all, is refused."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.cfg.keepalive:
            raise RuntimeError(
                "keepalive must be above 0: without it gunicorn reads request "
                "headers with no deadline"
            )

    def timeout_ctx(self) -> gevent.Timeout:
        return gevent.Timeout(HEADER_SECONDS, False)


# How gunicorn's worker starts the line for a request it refuses itself, before the app sees
# it (a malformed request line or header: gunicorn/workers/base.py, handle_error).
INVALID_REQUEST = "Invalid request from ip="


class MaskedLogger(Logger):
    """gunicorn's own lines (its error log, and the access log if one is turned on) in the
    app's format and through the same masking: a request with a header such as
    `Bad Header 07411222903` is logged by gunicorn before any of our code sees it. The
    requests gunicorn refuses itself are summed up as the app's refusals are (the first at
    once, then one line a minute with the count) and counted in
    helpline_rejected_requests_total (reason invalid_http, group other): 300 bad headers
    were 300 lines, and no count."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            mask_handlers(logger, os.environ.get("LOG_FORMAT", "json").lower())
        self.refusals = Summarised(self.error_log)

    def warning(self, msg, *args, **kwargs) -> None:
        if isinstance(msg, str) and msg.startswith(INVALID_REQUEST):
            # Imported here, in a worker that has loaded the app (and gevent patched ssl).
            from ivr.ops.metrics import count_rejected

            count_rejected("", "invalid_http")
            self.refusals.note("invalid_http", "%s", msg % args if args else msg)
            return
        super().warning(msg, *args, **kwargs)


data_dir = Path(os.environ.get("HELPLINE_DATA_DIR") or Path(__file__).resolve().parent / "var")
metrics_dir = Path(
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str((data_dir / "prometheus").resolve()))
)

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = HelplineWorker
worker_connections = 1000  # connections (greenlets) per worker
keepalive = HEADER_SECONDS  # an idle keep-alive connection waits under the same deadline
timeout = 10  # a worker whose loop is blocked this long is recycled, before Twilio's 15 s
accesslog = None  # request lines come from the app, masked, with Twilio SIDs
logger_class = MaskedLogger
control_socket_disable = True  # unused; one path per user, shared by every gunicorn running


def on_starting(server):
    # Whatever the workers write under the data folder (metric files, texts kept while Redis
    # is down) is the app's user's alone (gunicorn's own `umask` covers only its sockets).
    os.umask(0o077)
    shutil.rmtree(metrics_dir, ignore_errors=True)
    for folder in (data_dir, metrics_dir):
        if not folder.exists():
            folder.mkdir(parents=True)
            folder.chmod(0o700)


def post_request(worker, req, environ, resp):
    """A request refused unread (ivr/serving.py) ends its connection: gunicorn would otherwise
    read and discard the rest of its body before the next request."""
    if environ.get("helpline.close_connection"):
        req.must_close = True


def worker_exit(server, worker):
    """The refusals counted since their last line are written before the worker goes."""
    flush_summaries()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
