"""Erasure that leaves nothing readable on disk: after a number is erased (STOP, a subject's
request, the retention period), Redis is asked to rewrite its append-only file.

Redis's append-only file is a log of every write: a record deleted from memory is still in
the file, sealed, and opens with the data key. BGREWRITEAOF writes a new file from what is in
memory now and drops the old one (Redis 7 drops the old base and increment files; 6.2
replaces the one file), so once it has run nothing erased is left in the embedded store's
folder. Erasing only flags the store (`keys.ERASED`); the scheduler's next tick takes the
flag and asks for the rewrite, so a flood of STOPs costs one rewrite a tick, not one each.
Why not a key per person destroyed on erasure (crypto-shredding): see docs/erasure.md.
"""

from __future__ import annotations

import logging

import redis

from ivr.store import keys

log = logging.getLogger(__name__)


def erased(r: redis.Redis) -> None:
    """Note that something personal was erased: the next tick rewrites the file without it.
    Never raises: the erasure itself has been done, and the nightly pass flags again."""
    try:
        r.set(keys.ERASED, "1")
    except redis.RedisError as exc:
        log.warning("could not flag an erasure for the append-only file's rewrite: %s", exc)


def rewrite_if_erased(r: redis.Redis) -> str:
    """Ask Redis to rewrite its append-only file if anything was erased since the last time;
    what happened, in words. A rewrite already running began before the erasure, so the flag
    stays for the next tick. A server that refuses the command (a managed service) is
    reported: the operator's part is in docs/erasure.md."""
    if not r.delete(keys.ERASED):
        return ""
    try:
        r.bgrewriteaof()
    except redis.ResponseError as exc:
        if "already in progress" in str(exc):
            r.set(keys.ERASED, "1")
            return "a rewrite of the append-only file is already running: asking again next tick"
        log.error(
            "Redis refused to rewrite its append-only file (%s): erased records stay readable "
            "in its files with the data key until it is rewritten; see docs/erasure.md",
            exc,
        )
        return "Redis refused to rewrite its append-only file"
    return "asked Redis to rewrite its append-only file without what was erased"
