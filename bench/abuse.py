"""What must not crowd out callers, measured against the real server while signed /voice probes
keep coming (bench.probe): slow clients holding connections open (bench.slow), connections
sending junk forms or badly signed calls as fast as they can (bench.junk), and bursts of
console sign-in attempts, each costing an argon2 hash unless refused first.

The server needs TRUSTED_PROXIES=1 with loopback among TRUSTED_PROXY_ADDRESSES (the default):
the bench then stands in for the proxy, and X-Forwarded-For is how a sign-in comes from one
address, each from its own, or with a spoofed address (see SIGN_IN_FROM); and COOKIE_SECURE=0 (the
console's cookies over plain http on loopback)."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import urlsplit

import aiohttp

from bench import junk
from bench.probe import probes, summary
from bench.requests import voice_call
from bench.slow import Cut, slow_clients

PROBE_RATE = 20  # new calls a second
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
NETWORKS = ("203.0.113", "198.51.100", "192.0.2")
ONE_ADDRESS = "192.0.2.200"  # documentation ranges (RFC 5737): only ever a header value
REAL_ADDRESS = "198.51.100.250"  # the spoofer's own address, as the proxy appends it


def _one(burst: int, n: int, rng: random.Random) -> str:
    return ONE_ADDRESS


def _many(burst: int, n: int, rng: random.Random) -> str:
    """One of 250 addresses in burst 0, 1 or 2's documentation range, one per sign-in."""
    return f"{NETWORKS[burst % len(NETWORKS)]}.{n % 250 + 1}"


def _spoofed(burst: int, n: int, rng: random.Random) -> str:
    """Whatever the sender wrote (a random address each time), then the address our proxy
    saw, appended by it: with TRUSTED_PROXIES=1 only the last one may count."""
    return f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.1, {REAL_ADDRESS}"


# Where a burst's sign-ins come from: their X-Forwarded-For, as our one trusted proxy sends it.
SIGN_IN_FROM: dict[str, Callable[[int, int, random.Random], str]] = {
    "one address": _one,
    "a different address each": _many,
    "spoofed X-Forwarded-For": _spoofed,
}


async def slow(
    base: str, calls: list[dict[str, str]], headers: int, bodies: int, seconds: float
) -> dict[str, object]:
    """Probes while `headers` slow-header and `bodies` slow-body connections are held."""
    parts = urlsplit(base)
    cuts, probed = await asyncio.gather(
        slow_clients(parts.hostname or "", parts.port or 80, headers, bodies, seconds),
        probes(base, calls, PROBE_RATE, seconds),
    )
    return {
        "probes": summary(probed),
        "headers": cut_summary(cuts, "headers"),
        "body": cut_summary(cuts, "body"),
        "seconds": seconds,
    }


def cut_summary(cuts: list[Cut], kind: str) -> dict[str, object]:
    """How the server ended the slow connections of one kind."""
    mine = [c for c in cuts if c.kind == kind]
    by_server = [c for c in mine if c.by_server]
    answers = Counter(c.answer or "closed, no answer" for c in by_server)
    return {
        "opened": len(mine),
        "cut": len(by_server),
        "max_held_s": max((c.held for c in by_server), default=0.0),
        "longest_open_s": max((c.held for c in mine), default=0.0),
        "answers": dict(answers),
    }


async def sign_in_page(base: str) -> tuple[aiohttp.ClientSession, str]:
    """A session (its own cookies) holding the sign-in form's CSRF token. Its sign-in comes on
    a new connection, as from another machine: the server chooses the worker then."""
    session = aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), connector=aiohttp.TCPConnector(force_close=True)
    )
    async with session.get(base + "/console/login") as response:
        token = CSRF.search(await response.text())
    if token is None:
        await session.close()
        raise RuntimeError("no CSRF token on the sign-in page")
    return session, token.group(1)


async def attempt(
    session: aiohttp.ClientSession, base: str, token: str, forwarded_for: str
) -> tuple[float, int]:
    """One wrong sign-in with a random user name, from `forwarded_for` (only a header value);
    when it was answered, and its status."""
    async with session.post(
        base + "/console/login",
        allow_redirects=False,
        data={"csrf_token": token, "name": secrets.token_hex(6), "password": "wrong"},
        headers={"X-Forwarded-For": forwarded_for},
    ) as response:
        await response.read()
        return time.monotonic(), response.status


async def burst(
    base: str, attempts: int, number: int, source: str = "a different address each"
) -> tuple[float, list[tuple[float, int]]]:
    """`attempts` sign-ins sent at once, each on its own new connection, from where `source`
    (SIGN_IN_FROM) says; when they were sent, and when each was answered with what."""
    pages = await asyncio.gather(*(sign_in_page(base) for _ in range(attempts)))
    rng = random.Random(number)
    addresses = [SIGN_IN_FROM[source](number, n, rng) for n in range(attempts)]
    try:
        began = time.monotonic()
        return began, list(
            await asyncio.gather(
                *(
                    attempt(s, base, token, address)
                    for (s, token), address in zip(pages, addresses, strict=True)
                )
            )
        )
    finally:
        await asyncio.gather(*(s.close() for s, _ in pages))


async def sign_in_storm(
    base: str,
    calls: list[dict[str, str]],
    attempts: int,
    bursts: int,
    gap: float = 2.0,
    source: str = "a different address each",
) -> dict[str, object]:
    """Probes throughout `bursts` bursts of `attempts` sign-ins at once, `gap` seconds apart,
    from where `source` says (SIGN_IN_FROM). The probes that count are those sent while a
    burst was being answered. Which worker takes which sign-in is up to the server, so one
    burst alone is a matter of luck: the bursts are pooled."""
    stop = asyncio.Event()

    async def storms() -> list[tuple[float, float, Counter]]:
        done = []
        for number in range(bursts):
            await asyncio.sleep(gap)
            began, answered = await burst(base, attempts, number, source)
            done.append(
                (
                    began,
                    max(at for at, _ in answered),
                    Counter(str(status) for _, status in answered),
                )
            )
        await asyncio.sleep(gap)
        stop.set()
        return done

    probed, done = await asyncio.gather(probes(base, calls, PROBE_RATE, 600, stop), storms())
    during = [p for p in probed if any(began <= p.sent <= ended for began, ended, _ in done)]
    return {
        "probes": summary(during),
        "all_probes": summary(probed),
        "storm_s": [round(ended - began, 1) for began, ended, _ in done],
        "statuses": dict(sum((c for _, _, c in done), Counter())),
        "attempts": attempts,
        "bursts": bursts,
        "source": source,
    }


def junk_requests(host: str, port: int, count: int = 8) -> list[bytes]:
    """64 KB junk forms (12 000 empty fields) to /voice, each with a fake signature."""
    rng = random.Random(22)
    return [
        junk.post(host, port, "/voice", junk.junk_form(seed=i), junk.fake_signature(rng))
        for i in range(count)
    ]


def badly_signed_requests(base: str, host: str, port: int, count: int = 200) -> list[bytes]:
    """Well-formed calls to /voice, as Twilio would send them, signed with the wrong key."""
    rng = random.Random(50)
    return [
        junk.post(host, port, "/voice", voice_call(base, 10_000 + i)["body"].encode(), sig)
        for i, sig in ((i, junk.fake_signature(rng)) for i in range(count))
    ]


async def settle(base: str, call: dict[str, str], seconds: float = 30.0) -> float:
    """Wait until a signed call is answered within 200 ms again (the server has worked
    through what the last pressure left queued), at most `seconds`; how long it took."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        (probe,) = await probes(base, [call], 1, 1)
        if probe.ok and probe.seconds < 0.2:
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - began


async def refused(
    base: str, calls: list[dict[str, str]], requests: list[bytes], connections: int, seconds: float
) -> dict[str, object]:
    """Probes while `connections` connections send `requests` as fast as they can (from
    another process: see junk.flood_here)."""
    parts = urlsplit(base)
    context = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        await loop.run_in_executor(pool, junk.ready)  # the process is up: the flood starts at once
        flooding = loop.run_in_executor(
            pool,
            junk.flood_here,
            parts.hostname or "",
            parts.port or 80,
            requests,
            connections,
            seconds,
        )
        flooded, probed = await asyncio.gather(flooding, probes(base, calls, PROBE_RATE, seconds))
    return {"probes": summary(probed), "flood": flooded}
