"""Slow clients, as an attacker (or a very bad network) would send them: requests whose headers,
or whose body, arrive a few bytes every couple of seconds. Used by `make bench` and the tests.

Bounded: a fixed number of connections, for a fixed time, to a loopback address only. Each
connection the server cuts off is opened again until the time is up, so the pressure holds.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Cut:
    """How one slow connection ended."""

    kind: str  # "headers" (never finishes its headers) or "body" (never finishes its body)
    held: float  # seconds from connecting until the server closed it, or until we stopped
    answer: str  # the status line the server sent before closing ("" if none)
    by_server: bool  # False: still open when the time was up


def loopback(host: str) -> str:
    """The address of `host`, which must be on this machine (never traffic elsewhere)."""
    address = socket.getaddrinfo(host, None)[0][4][0]
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError(f"slow clients only target loopback addresses, not {host}")
    return address


def opening(kind: str, host: str) -> bytes:
    start = f"POST /voice HTTP/1.1\r\nHost: {host}\r\n"
    if kind == "headers":
        return start.encode()
    return (
        start + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\n"
    ).encode()


async def one(kind: str, host: str, port: int, every: float, until: float) -> Cut:
    """One slow connection: its opening, then one more line (or byte) every `every` s."""
    began = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:  # refused: the listen queue is full, or the server is gone
        await asyncio.sleep(max(0.0, min(every, until - time.monotonic())))
        return Cut(kind, time.monotonic() - began, f"not connected: {exc}", True)
    writer.write(opening(kind, host))
    answered = asyncio.ensure_future(reader.read(200))
    try:
        sent = 0
        while time.monotonic() < until:
            done, _ = await asyncio.wait({answered}, timeout=min(every, until - time.monotonic()))
            if done:
                return Cut(kind, time.monotonic() - began, status_line(answered), True)
            sent += 1
            writer.write(f"X-Slow-{sent}: 1\r\n".encode() if kind == "headers" else b"a")
            try:
                await writer.drain()
            except ConnectionError:
                answer = status_line(answered) if answered.done() else ""
                return Cut(kind, time.monotonic() - began, answer, True)
        return Cut(kind, time.monotonic() - began, "", False)
    finally:
        answered.cancel()
        writer.close()


def status_line(answered: asyncio.Future) -> str:
    try:
        return answered.result().split(b"\r\n", 1)[0].decode("latin-1")
    except (ConnectionError, asyncio.CancelledError):
        return ""


async def hold(kind: str, host: str, port: int, every: float, until: float) -> list[Cut]:
    """Keep one slow connection open until `until`, opening another whenever one is cut."""
    cuts = []
    while time.monotonic() < until - 0.1:
        cuts.append(await one(kind, host, port, every, until))
    return cuts


async def slow_clients(
    host: str, port: int, headers: int, bodies: int, seconds: float, every: float = 2.0
) -> list[Cut]:
    """`headers` slow-header and `bodies` slow-body connections held for `seconds`."""
    address = loopback(host)
    until = time.monotonic() + seconds
    tasks = [
        hold(kind, address, port, every, until)
        for kind, count in (("headers", headers), ("body", bodies))
        for _ in range(count)
    ]
    return [cut for cuts in await asyncio.gather(*tasks) for cut in cuts]
