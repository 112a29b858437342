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

from bench.probe import Probe, probes, summary
from bench.slow import Cut, slow_clients

PROBE_RATE = 20  # new calls a second
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


async def slow(base: str, calls: list[dict[str, str]], headers: int, bodies: int,
               seconds: float) -> dict[str, object]:
    """Probes while `headers` slow-header and `bodies` slow-body connections are held."""
    parts = urlsplit(base)
    cuts, probed = await asyncio.gather(
        slow_clients(parts.hostname or "", parts.port or 80, headers, bodies, seconds),
        probes(base, calls, PROBE_RATE, seconds))
    return {"probes": summary(probed), "headers": cut_summary(cuts, "headers"),
            "body": cut_summary(cuts, "body"), "seconds": seconds}


def cut_summary(cuts: list[Cut], kind: str) -> dict[str, object]:
    """How the server ended the slow connections of one kind."""
    mine = [c for c in cuts if c.kind == kind]
    by_server = [c for c in mine if c.by_server]
    answers = Counter(c.answer or "closed, no answer" for c in by_server)
    return {"opened": len(mine), "cut": len(by_server),
            "max_held_s": max((c.held for c in by_server), default=0.0),
            "longest_open_s": max((c.held for c in mine), default=0.0), "answers": dict(answers)}


async def sign_in_page(base: str) -> tuple[aiohttp.ClientSession, str]:
    """A session (its own cookies) holding the sign-in form's CSRF token."""
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.get(base + "/console/login") as response:
        token = CSRF.search(await response.text())
    if token is None:
        await session.close()
        raise RuntimeError("no CSRF token on the sign-in page")
    return session, token.group(1)


async def attempt(session: aiohttp.ClientSession, base: str, token: str,
                  n: int) -> tuple[float, int]:
    """One wrong sign-in from its own address; when it was answered, and its status."""
    async with session.post(base + "/console/login", allow_redirects=False, data={
            "csrf_token": token, "name": f"storm-{n}", "password": f"wrong-{n}"},
            headers={"X-Forwarded-For": f"203.0.113.{n % 250 + 1}"}) as response:
        await response.read()
        return time.monotonic(), response.status


async def sign_in_storm(base: str, calls: list[dict[str, str]], attempts: int,
                        seconds: float, start_after: float = 2.0) -> dict[str, object]:
    """Probes for `seconds`; `start_after` seconds in, `attempts` sign-ins arrive at once.
    The probes that count are those sent while the sign-ins were being answered."""
    pages = await asyncio.gather(*(sign_in_page(base) for _ in range(attempts)))
    try:
        async def storm() -> tuple[float, list[tuple[float, int]]]:
            await asyncio.sleep(start_after)
            began = time.monotonic()
            return began, list(await asyncio.gather(
                *(attempt(s, base, token, n) for n, (s, token) in enumerate(pages))))

        probed, (began, answered) = await asyncio.gather(
            probes(base, calls, PROBE_RATE, seconds), storm())
    finally:
        await asyncio.gather(*(s.close() for s, _ in pages))
    ended = max(at for at, _ in answered)
    during: list[Probe] = [p for p in probed if began <= p.sent <= ended]
    statuses = Counter(str(status) for _, status in answered)
    return {"probes": summary(during), "all_probes": summary(probed),
            "storm_s": ended - began, "statuses": dict(statuses), "attempts": attempts}
