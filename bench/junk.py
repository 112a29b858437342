"""Connections that send requests the server must refuse, as fast as each connection can:
64 KB junk forms with a fake signature, or well-formed calls signed wrongly (issue 22).

Each connection sends a request, reads the whole answer, and sends the next (keep-alive,
opening a new connection whenever the server closes one); loopback only, bounded in
connections and time, every connection closed at the end.
"""

from __future__ import annotations

import asyncio
import base64
import random
import string
import time
from collections import Counter

from bench.slow import loopback

JUNK_BYTES = 65_000
JUNK_FIELDS = 12_000
READ_TIMEOUT = 20.0  # an answer slower than this counts as "no answer"


def junk_form(fields: int = JUNK_FIELDS, size: int = JUNK_BYTES, seed: int = 22) -> bytes:
    """`fields` empty fields (`abc=&...`) in exactly `size` bytes: three-letter names, the
    last field's value padding the rest."""
    rng = random.Random(seed)
    letters = string.ascii_letters
    names = ("".join(rng.choices(letters, k=3)) for _ in range(fields - 1))
    body = "&".join(f"{name}=" for name in names) + "&zz="
    if len(body) > size:
        raise ValueError(f"{fields} fields need more than {size} bytes")
    return (body + "x" * (size - len(body))).encode()


def fake_signature(rng: random.Random | None = None) -> str:
    """Looks like Twilio's (base64 of an HMAC-SHA1, 20 bytes) but signs nothing."""
    rng = rng or random.Random()
    return base64.b64encode(rng.randbytes(20)).decode()


def post(host: str, port: int, path: str, body: bytes, signature: str) -> bytes:
    """One whole HTTP/1.1 request, keep-alive."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nX-Twilio-Signature: {signature}\r\n\r\n"
    )
    return head.encode() + body


async def _answer(reader: asyncio.StreamReader) -> tuple[str, bool]:
    """The status code of one answer, read whole, and whether the server keeps the
    connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ")[1] if " " in lines[0] else "?"
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
    }
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() != "close"


async def _connection(host: str, port: int, requests: list[bytes], until: float, seen: Counter):
    turn = random.randrange(len(requests))
    while time.monotonic() < until:
        writer = None
        try:
            reader, writer = await asyncio.open_connection(host, port)
            keep = True
            while keep and time.monotonic() < until:
                turn = (turn + 1) % len(requests)
                writer.write(requests[turn])
                await writer.drain()
                status, keep = await asyncio.wait_for(_answer(reader), READ_TIMEOUT)
                seen[status] += 1
        except TimeoutError:
            seen["no answer"] += 1
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            seen["closed"] += 1  # the server ended the connection mid-request: open another
            await asyncio.sleep(0.01)
        finally:
            if writer is not None:
                writer.close()


async def flood(
    host: str, port: int, requests: list[bytes], connections: int, seconds: float
) -> dict[str, object]:
    """`connections` connections, each sending `requests` (in turn) as fast as the server
    answers, for `seconds`; what the server answered."""
    loopback(host)
    seen: Counter = Counter()
    began = time.monotonic()
    until = began + seconds
    await asyncio.gather(
        *(_connection(host, port, requests, until, seen) for _ in range(connections))
    )
    elapsed = time.monotonic() - began
    answered = sum(n for status, n in seen.items() if status.isdigit())
    return {
        "connections": connections,
        "seconds": elapsed,
        "answers": dict(seen),
        "per_second": answered / elapsed if elapsed else 0.0,
    }


def ready() -> bool:
    """Run first in the flooding process, so it has started and imported this module before
    the probes begin."""
    return True


def flood_here(
    host: str, port: int, requests: list[bytes], connections: int, seconds: float
) -> dict[str, object]:
    """flood() on an event loop of its own: run in another process, so a flood that keeps
    its loop busy never delays the probes' own sending and reading (which would be charged
    to the server)."""
    return asyncio.run(flood(host, port, requests, connections, seconds))
