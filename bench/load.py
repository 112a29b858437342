"""`make load`: 60 seconds of mixed traffic at 200 requests per second against gunicorn plus
the scheduler, then checks that nothing failed and nothing was lost or doubled.

Traffic: calls walking the tree, texts from many numbers (some send two or three), and
Twilio-style retries of the same MessageSid. wrk sends the requests in order from one thread
(so we know which were sent), at a constant rate. Exits non-zero on any failure.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import redis

from bench import requests as req
from bench.server import serving

SECONDS = int(os.environ.get("LOAD_SECONDS", "60"))
RATE = int(os.environ.get("LOAD_RATE", "200"))
CONNECTIONS = 20
IN_FLIGHT_MARGIN = CONNECTIONS * 2


def traffic(base: str, total: int, seed: int = 11) -> tuple[list[dict], list[int | None]]:
    """The requests in sending order, and for each the texting number it carries (or None)."""
    rng = random.Random(seed)
    requests: list[dict] = []
    numbers: list[int | None] = []
    call = text_id = 0
    next_number = 0
    while len(requests) < total:
        kind = rng.random()
        if kind < 0.45:  # a call walking the closed tree: greeting, steps, next step
            call += 1
            walk = [
                req.voice_call(base, call),
                req.voice_menu(base, call, "2"),
                req.signed(
                    base,
                    "/voice/page/step1/choice?tries=0",
                    {"CallSid": f"CA{call:032x}", "Digits": "8", "From": req.mobile(call)},
                ),
            ]
            requests += walk
            numbers += [None] * len(walk)
        else:  # a text: usually a new number, sometimes the same number again
            if next_number and rng.random() < 0.3:
                number = rng.randrange(next_number)
            else:
                number, next_number = next_number, next_number + 1
            text_id += 1
            message = req.text(base, text_id, number, rng.choice(["hello", "2pm", "please"]))
            copies = 2 if rng.random() < 0.1 else 1  # Twilio retrying the same MessageSid
            requests += [message] * copies
            numbers += [number] * copies
    return requests[:total], numbers[:total]


def main() -> int:
    total = SECONDS * RATE + CONNECTIONS * 10
    with tempfile.TemporaryDirectory(prefix="helpline-load-") as tmp:
        work = Path(tmp)
        data = work / "data"
        with serving("wsgi:app", data, with_scheduler=True, SMS_RATE_LIMIT="1000") as (base, _):
            from ivr.config import Settings
            from ivr.store.closures import close_line
            from ivr.store.connection import start_embedded
            from ivr.store.queue import CallbackQueue
            from ivr.store.sealing import load_sealer

            r = redis.Redis(unix_socket_path=start_embedded(data), decode_responses=True)
            close_line(r, "Closed for the load test.", None)  # the closed tree, every call
            requests, numbers = traffic(base, total)
            script = work / "load.lua"
            # Each connection waits out its share of a second, less a typical answer time.
            req.write_lua(requests, script, delay_ms=1000 * CONNECTIONS / RATE - 3)
            out = subprocess.run(
                [
                    "wrk",
                    "-t1",
                    f"-c{CONNECTIONS}",
                    f"-d{SECONDS}s",
                    "--latency",
                    "-s",
                    str(script),
                    base,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(
                next(
                    line for line in out.stdout.splitlines() if line.startswith("RESULT ")
                ).removeprefix("RESULT ")
            )
            sent = result["answered"]
            texted = {n for n in numbers[: max(0, sent - IN_FLIGHT_MARGIN)] if n is not None}
            maybe = {n for n in numbers[: sent + IN_FLIGHT_MARGIN] if n is not None}
            per_number = Counter(
                cb.number for cb in CallbackQueue(r, load_sealer(Settings(data_dir=data))).all()
            )
    problems = []
    if result["bad_status"] or result["errors"] or result["timeouts"]:
        problems.append(
            f"{result['bad_status']} non-200 answers, {result['errors']} errors, "
            f"{result['timeouts']} timeouts"
        )
    if result["bad_body"]:
        problems.append(f"{result['bad_body']} answers without TwiML")
    doubled = [n for n, c in per_number.items() if c > 1]
    if doubled:
        problems.append(f"{len(doubled)} numbers have more than one callback")
    lost = [n for n in texted if per_number.get(req.mobile(n), 0) != 1]
    if lost:
        problems.append(f"{len(lost)} texting numbers have no callback")
    unexpected = set(per_number) - {req.mobile(n) for n in maybe}
    if unexpected:
        problems.append(f"{len(unexpected)} callbacks for numbers that never texted")
    if result["rps"] < RATE * 0.9:
        print(
            f"note: wrk reached {result['rps']:.0f} requests/s of the {RATE} asked for: the "
            "machine (shared with wrk) could not keep the rate; the checks still apply"
        )
    print(
        json.dumps(
            {
                "seconds": SECONDS,
                "target_rate": RATE,
                **result,
                "texting_numbers": len(texted),
                "callbacks": sum(per_number.values()),
            },
            indent=2,
        )
    )
    for problem in problems:
        print(f"FAIL: {problem}")
    print("load test passed" if not problems else "load test FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
