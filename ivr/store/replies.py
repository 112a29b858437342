"""Redis replies as our client gives them: text.

redis-py declares every reply as `bytes | str` (and lists and hashes of them), whatever the
client's `decode_responses`. connect() always sets decode_responses=True, so each reply the
app reads is `str`; these say so to the type checker, and return their argument unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast


def text(reply: bytes | str) -> str:
    return cast(str, reply)  # decode_responses=True: redis-py's type also allows bytes


def maybe_text(reply: bytes | str | None) -> str | None:
    return cast("str | None", reply)  # decode_responses=True: redis-py's type also allows bytes


def texts(reply: Sequence[object]) -> list[str]:
    """A list reply of members (ZRANGE and ZRANGEBYSCORE without scores, LRANGE)."""
    return cast(list[str], reply)  # decode_responses=True; no scores asked, so no pairs


def table(reply: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """An HGETALL reply."""
    return cast(dict[str, str], reply)  # decode_responses=True: redis-py's type allows bytes
