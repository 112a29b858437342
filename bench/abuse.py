"""What must not crowd out callers, measured against the real server while signed /voice probes
keep coming (bench.probe): slow clients holding connections open (bench.slow), and a burst of
console sign-in attempts, each costing an argon2 hash.

The server needs TRUSTED_PROXIES=1 (each attempt comes from its own address, as in the
issue, so the per-address throttle does not stop them before they hash) and COOKIE_SECURE=0
(the console's cookies over plain http on loopback)."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from urllib.parse import urlsplit

import aiohttp

from bench.probe import probes, summary
from bench.slow import Cut, slow_clients

PROBE_RATE = 20  # new calls a second
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
NETWORKS = ("203.0.113", "198.51.100", "192.0.2")


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
    session: aiohttp.ClientSession, base: str, token: str, burst: int, n: int
) -> tuple[float, int]:
    """One wrong sign-in from its own address (one of 250 in burst 0, 1 or 2's documentation
    range; only a header value); when it was answered, and its status."""
    address = f"{NETWORKS[burst % len(NETWORKS)]}.{n % 250 + 1}"
    async with session.post(
        base + "/console/login",
        allow_redirects=False,
        data={"csrf_token": token, "name": f"storm-{burst}-{n}", "password": "wrong"},
        headers={"X-Forwarded-For": address},
    ) as response:
        await response.read()
        return time.monotonic(), response.status


async def burst(base: str, attempts: int, number: int) -> tuple[float, list[tuple[float, int]]]:
    """`attempts` sign-ins sent at once, each on its own new connection; when they were sent,
    and when each was answered with what."""
    pages = await asyncio.gather(*(sign_in_page(base) for _ in range(attempts)))
    try:
        began = time.monotonic()
        return began, list(
            await asyncio.gather(
                *(attempt(s, base, token, number, n) for n, (s, token) in enumerate(pages))
            )
        )
    finally:
        await asyncio.gather(*(s.close() for s, _ in pages))


async def sign_in_storm(
    base: str, calls: list[dict[str, str]], attempts: int, bursts: int, gap: float = 2.0
) -> dict[str, object]:
    """Probes throughout `bursts` bursts of `attempts` sign-ins at once, `gap` seconds apart.
    The probes that count are those sent while a burst was being answered. Which worker
    takes which sign-in is up to the server, so one burst alone is a matter of luck: the
    bursts are pooled."""
    stop = asyncio.Event()

    async def storms() -> list[tuple[float, float, Counter]]:
        done = []
        for number in range(bursts):
            await asyncio.sleep(gap)
            began, answered = await burst(base, attempts, number)
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
    }
