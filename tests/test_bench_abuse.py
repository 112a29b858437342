"""The pressures `make bench` applies (bench/junk.py, bench/abuse.py) are what issue 22
describes: checked here on their own, with no server. What the server does under them is
measured by the benchmark, never asserted in a timed test."""

from __future__ import annotations

import asyncio
import base64
import random
from urllib.parse import parse_qsl

import pytest

from bench import abuse, junk, run


def test_a_junk_form_is_65_000_bytes_of_12_000_empty_fields() -> None:
    form = junk.junk_form()
    assert len(form) == 65_000
    fields = parse_qsl(form.decode(), keep_blank_values=True)
    assert len(fields) == 12_000
    assert sum(1 for _, value in fields if value == "") == 11_999  # the last one pads


def test_too_many_fields_for_the_size_is_refused() -> None:
    with pytest.raises(ValueError):
        junk.junk_form(fields=20_000, size=65_000)


def test_a_fake_signature_looks_like_twilios() -> None:
    signature = junk.fake_signature(random.Random(1))
    assert len(base64.b64decode(signature)) == 20  # an HMAC-SHA1's size


def test_a_request_is_whole_and_kept_alive() -> None:
    request = junk.post("127.0.0.1", 8000, "/voice", b"a=1", "c2ln")
    head, body = request.split(b"\r\n\r\n")
    assert head.startswith(b"POST /voice HTTP/1.1\r\n")
    assert b"Content-Length: 3" in head and b"X-Twilio-Signature: c2ln" in head
    assert b"Connection: close" not in head and body == b"a=1"


@pytest.mark.parametrize(
    ("answer", "status", "keep"),
    [
        (b"HTTP/1.1 403 FORBIDDEN\r\nContent-Length: 5\r\n\r\nnope!", "403", True),
        (b"HTTP/1.1 400 BAD\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", "400", False),
    ],
)
def test_an_answer_is_read_whole(answer: bytes, status: str, keep: bool) -> None:
    async def read() -> tuple[str, bool]:
        reader = asyncio.StreamReader()
        reader.feed_data(answer + b"HTTP/1.1 200 OK")  # the next answer stays unread
        return await junk._answer(reader)

    assert asyncio.run(read()) == (status, keep)


def test_flooding_only_targets_this_machine() -> None:
    with pytest.raises(ValueError):
        asyncio.run(junk.flood("192.0.2.1", 80, [b""], 1, 0.1))


def test_sign_ins_come_from_one_address_from_many_or_spoofed() -> None:
    rng = random.Random(3)
    one = {abuse.SIGN_IN_FROM["one address"](0, n, rng) for n in range(50)}
    many = {abuse.SIGN_IN_FROM["a different address each"](0, n, rng) for n in range(50)}
    spoofed = [abuse.SIGN_IN_FROM["spoofed X-Forwarded-For"](0, n, rng) for n in range(50)]
    assert len(one) == 1 and len(many) == 50
    # Each names a different address first; our proxy's entry (the last) is always the same.
    assert len({s.split(", ")[0] for s in spoofed}) > 40
    assert {s.split(", ")[-1] for s in spoofed} == {abuse.REAL_ADDRESS}


@pytest.mark.parametrize(
    ("name", "ratio", "cell"),
    [
        ("voice", 0.56, "≥ 0.55 met (≥ 0.7: missed)"),
        ("voice", 0.40, "≥ 0.55 MISSED (≥ 0.7: missed)"),
        ("sms", 0.25, "≥ 0.25 met (≥ 0.5: missed)"),
        ("menu", 0.71, "none (≥ 0.7: met)"),
    ],
)
def test_the_ratio_targets_are_issue_24s_beside_the_earlier_ones(
    name: str, ratio: float, cell: str
) -> None:
    assert run.target_cell(name, ratio) == cell
