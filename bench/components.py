"""Where a webhook's own time goes, in-process: the WSGI app called directly (no server, no
network), the floor app beside it, and the same app with one part switched off at a time.
What a part costs is the difference; the ratio targets are missed by what remains.

A measurement for the benchmark only: the parts switched off here stay on in production.
"""

from __future__ import annotations

import io
import itertools
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from twilio.request_validator import RequestValidator

TOKEN = "0123456789abcdef0123456789abcdef"
BASE = "https://helpline.example.org"
CALL = {
    "CallSid": "CA" + "a" * 32,
    "AccountSid": "AC" + "0" * 32,
    "From": "+447400123456",
    "To": "+441234567890",
    "CallStatus": "ringing",
}
TEXT = {
    "MessageSid": "SM" + "b" * 32,
    "AccountSid": "AC" + "0" * 32,
    "From": "+447400123456",
    "To": "+441234567890",
    "Body": "hello",
    "NumMedia": "0",
}
EVENING = datetime(2026, 11, 25, 19, 0, tzinfo=ZoneInfo("Europe/London"))
ROUNDS, CALLS = 5, 2000
# Issue 24: /voice in-process at most 4× the floor (330 µs on its 80 µs floor).
VOICE_TIMES_FLOOR, VOICE_US = 4, 330


def environ(path: str, fields: dict[str, str], signed: bool) -> Callable[[], dict]:
    """A fresh WSGI environ for each POST like Twilio's (signed for BASE + path); a text
    comes from a new number each time, as a first request does (prepared beforehand)."""
    validator = RequestValidator(TOKEN)
    prepared = []
    for n in range(ROUNDS * CALLS + 200 if "MessageSid" in fields else 1):
        sent = dict(fields)
        if "MessageSid" in fields:
            sent |= {"From": f"+4474{n:08d}", "MessageSid": f"SM{n:032x}"}
        prepared.append((urlencode(sent).encode(), validator.compute_signature(BASE + path, sent)))
    turn = itertools.count()

    def make() -> dict:
        body, signature = prepared[next(turn) % len(prepared)]
        env = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "RAW_URI": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "helpline.example.org",
            "SERVER_PORT": "443",
            "wsgi.url_scheme": "https",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.errors": io.StringIO(),
        }
        if signed:
            env["HTTP_X_TWILIO_SIGNATURE"] = signature
        return env

    return make


def per_call_us(app: Callable, make: Callable[[], dict]) -> float:
    """Median over ROUNDS of the time per call, in microseconds."""
    return statistics.median(_rounds(app, make))


def beside_floor(
    floor: Callable, floor_make: Callable[[], dict], app: Callable, make: Callable[[], dict]
) -> tuple[float, float, float]:
    """The floor's and the app's µs per call, and how many floors the app costs: rounds of
    one then the other, each ratio taken within its round (a shared machine's speed moves
    between rounds: the floor read 39 to 71 µs in four runs of one day), then the medians."""
    _rounds(floor, floor_make, rounds=0)
    _rounds(app, make, rounds=0)
    floors, apps = [], []
    for _ in range(ROUNDS):
        floors += _rounds(floor, floor_make, rounds=1, warm=0)
        apps += _rounds(app, make, rounds=1, warm=0)
    times = statistics.median(a / f for a, f in zip(apps, floors, strict=True))
    return statistics.median(floors), statistics.median(apps), times


def _rounds(
    app: Callable, make: Callable[[], dict], rounds: int = ROUNDS, warm: int = 200
) -> list[float]:
    """µs per call in each of `rounds` rounds of CALLS calls, after `warm` calls."""

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        assert status.startswith("200"), status

    for _ in range(warm):
        b"".join(app(make(), start_response))
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(CALLS):
            b"".join(app(make(), start_response))
        times.append((time.perf_counter() - started) / CALLS * 1e6)
    return times


def measure() -> dict[str, dict[str, float]]:
    """µs per call: the floor, each webhook whole, and without one part at a time."""
    from bench.floor_app import app as floor
    from bench.peer_app import app as peer
    from ivr import create_app
    from ivr.core.clock import fixed_clock
    from ivr.ops import metrics
    from ivr.store import stats

    logging.getLogger().handlers.clear()
    with tempfile.TemporaryDirectory(prefix="helpline-components-") as tmp:

        def app(**settings: object):
            config = {
                "twilio_auth_token": TOKEN,
                "public_base_url": BASE,
                "data_dir": Path(tmp),
                "redis_url": "",
                "log_level": "INFO",
                "log_format": "json",
                **settings,
            }
            built = create_app(config, clock=fixed_clock(EVENING))
            logging.getLogger().handlers[0].stream = io.StringIO()  # formatted, not printed
            return built

        def fresh(
            path: str, fields: dict[str, str], **settings: object
        ) -> tuple[Callable, Callable]:
            """A fresh app on an emptied store (every text a first one), and its requests."""
            built = app(**settings)
            built.extensions["helpline"].redis.flushdb()
            return built, environ(path, fields, bool(settings.get("twilio_auth_token", TOKEN)))

        def timed(path: str, fields: dict[str, str], **settings: object) -> float:
            """µs per call of a fresh app."""
            return per_call_us(*fresh(path, fields, **settings))

        results: dict[str, dict[str, float]] = {}
        floor_call = (floor.wsgi_app, environ("/voice", CALL, signed=False))
        peer_us = per_call_us(peer.wsgi_app, environ("/voice", CALL, signed=False))
        for name, path, fields in (("voice", "/voice", CALL), ("sms", "/sms", TEXT)):
            floor_us, whole, times = beside_floor(*floor_call, *fresh(path, fields))
            results[name] = {"floor": floor_us, "peer": peer_us, "whole": whole, "times": times}
            results[name]["without signature check"] = timed(path, fields, twilio_auth_token="")
            results[name]["without the request log line"] = timed(path, fields, log_level="WARNING")
            observe, metrics.LATENCY.labels = metrics.LATENCY.labels, _no_histogram
            try:
                results[name]["without the latency histogram"] = timed(path, fields)
            finally:
                metrics.LATENCY.labels = observe
            client = app().extensions["helpline"].redis
            results[name]["a Redis read (round trip)"] = _round_trip_us(
                client.exists, "hl:bench:none"
            )
            results[name]["a Redis write (round trip, fsync)"] = _round_trip_us(
                client.incr, "hl:bench:counter"
            )
        stats.flush()
    return results


def _round_trip_us(command: Callable[[str], object], key: str) -> float:
    for _ in range(100):
        command(key)
    started = time.perf_counter()
    for _ in range(CALLS):
        command(key)
    return (time.perf_counter() - started) / CALLS * 1e6


class _NoHistogram:
    def observe(self, _seconds: float) -> None:
        pass


def _no_histogram(*_labels: str) -> _NoHistogram:
    return _NoHistogram()


def report(results: dict[str, dict[str, float]]) -> list[str]:
    lines = [
        "## Where a webhook's own time goes",
        "",
        "In-process (the WSGI app called directly, no server or network; median of "
        f"{ROUNDS} rounds of {CALLS:,} calls), µs per call. A part's cost is the whole "
        "minus the whole without it. Every part stays on in production.",
        "",
        "| | closed-hours call (/voice) | new callback text (/sms) |",
        "| --- | --- | --- |",
    ]
    voice, sms = results["voice"], results["sms"]
    lines.append(
        f"| floor (bare Flask, constant TwiML) | {voice['floor']:.0f} | {sms['floor']:.0f} |"
    )
    lines.append(
        f"| peer: Twilio's sample IVR, first route (bench/peer_app.py) | {voice['peer']:.0f} | |"
    )
    lines.append(f"| the webhook, whole | {voice['whole']:.0f} | {sms['whole']:.0f} |")
    for part in (
        "without signature check",
        "without the request log line",
        "without the latency histogram",
    ):
        lines.append(
            f"| {part.removeprefix('without ')} | "
            f"{voice['whole'] - voice[part]:.0f} | {sms['whole'] - sms[part]:.0f} |"
        )
    lines.append(
        f"| a Redis read; a Redis write with fsync (a new text makes one write, a "
        f"call none) | | {sms['a Redis read (round trip)']:.0f}; "
        f"{sms['a Redis write (round trip, fsync)']:.0f} |"
    )
    lines.append(
        f"| ratio floor / whole (in-process, within each round) | {1 / voice['times']:.2f} | "
        f"{1 / sms['times']:.2f} |"
    )
    times = voice["times"]
    met = "met" if times <= VOICE_TIMES_FLOOR else "MISSED"
    lines += [
        "",
        f"/voice in-process: {voice['whole']:.0f} µs, {times:.2f}× the floor's "
        f"{voice['floor']:.0f} µs (rounds of each in turn, the median of each round's ratio; "
        f"issue 24's target: at most "
        f"{VOICE_TIMES_FLOOR}× the floor, about {VOICE_US} µs on the machine it was measured "
        f"on: {met}).",
    ]
    return lines


if __name__ == "__main__":
    print("\n".join(report(measure())))
