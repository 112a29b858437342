"""Signed calls to /voice at a constant rate, each on a new connection, as Twilio opens them,
timing each answer. Open loop: a probe is sent on schedule whether or not earlier ones were
answered, so a stalled server shows in the latencies instead of slowing the probes down."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from bench.slow import loopback

GIVE_UP_SECONDS = 20  # past Twilio's 15 s: a probe not answered by then is a failed call


@dataclass(frozen=True)
class Probe:
    sent: float  # time.monotonic() when it was sent
    seconds: float  # until the whole answer was in (GIVE_UP_SECONDS when there was none)
    ok: bool  # a 200 with TwiML


async def one(session: aiohttp.ClientSession, base: str, signed: dict[str, str]) -> Probe:
    sent = time.monotonic()
    try:
        async with session.post(
            base + signed["path"],
            data=signed["body"],
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signed["sig"],
            },
        ) as response:
            body = await response.text()
        ok = response.status == 200 and "<Response" in body
        return Probe(sent, time.monotonic() - sent, ok)
    except (TimeoutError, aiohttp.ClientError):
        return Probe(sent, GIVE_UP_SECONDS, False)


async def probes(
    base: str,
    requests: list[dict[str, str]],
    rate: float,
    seconds: float,
    stop: asyncio.Event | None = None,
) -> list[Probe]:
    """`rate` probes a second for `seconds` (or until `stop` is set), cycling through
    `requests` (bench.requests)."""
    loopback(urlsplit(base).hostname or "")
    connector = aiohttp.TCPConnector(force_close=True, limit=0)
    timeout = aiohttp.ClientTimeout(total=GIVE_UP_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start, tasks = time.monotonic(), []
        for i in range(int(rate * seconds)):
            if stop is not None and stop.is_set():
                break
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.ensure_future(one(session, base, requests[i % len(requests)])))
        return list(await asyncio.gather(*tasks))


def summary(results: list[Probe]) -> dict[str, float]:
    """Count, p50, p99 and max in ms (nearest rank), and how many were not a 200 with TwiML."""
    ms = sorted(p.seconds * 1000 for p in results) or [float("nan")]

    def rank(q: float) -> float:
        return ms[min(len(ms) - 1, int(q * len(ms)))]

    return {
        "count": len(results),
        "p50_ms": rank(0.50),
        "p99_ms": rank(0.99),
        "max_ms": ms[-1],
        "bad": sum(not p.ok for p in results),
    }
