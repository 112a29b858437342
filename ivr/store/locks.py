"""Short locks: one of something at a time (one "Take next" per advisor), held while it runs,
released by their holder only (a token), and gone by themselves if the holder dies."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import redis

from ivr.store.keys import calling

TAKE_NEXT_SECONDS = 30  # far longer than a Take next takes, and not long enough to trap anyone

_RELEASE = """
-- Release the lock KEYS[1] if ARGV[1] still holds it (not one taken since it expired).
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@contextmanager
def held(r: redis.Redis, key: str, seconds: int) -> Iterator[bool]:
    """Hold `key` for the block, at most `seconds`: yields whether this holder got it (False:
    someone else holds it, and the block must not act)."""
    token = secrets.token_hex(8)
    got = bool(r.set(key, token, nx=True, ex=seconds))
    try:
        yield got
    finally:
        if got:
            r.register_script(_RELEASE)(keys=[key], args=[token])


def taking_next(r: redis.Redis, username: str) -> AbstractContextManager[bool]:
    """One "Take next" at a time per advisor: a double click must not claim two callbacks."""
    return held(r, calling(username), TAKE_NEXT_SECONDS)
