"""Backups that restore: a consistent, sealed snapshot of everything the app keeps in Redis
(callbacks, accounts, the audit trail, closures and settings kept there), taken while the app
runs, and restored into an empty store with every erasure logged since applied again.

Consistent without holding Redis: the keys are found with SCAN and read (DUMP and expiry) in
pipelined batches of BATCH, each key WATCHed (WATCHED keys a connection) before it is read;
a final empty MULTI/EXEC on each connection succeeds only if none of its keys changed since,
and a SCAN after the last batch finds no key that was not read. The file is then the store
as it was at that instant; if anything changed meanwhile, the reading starts again
(ATTEMPTS times, then BackupProblem). Redis serves webhooks between batches, so a large
store never stalls a call (one script reading every key held it for as long as that took).

Sealed: the whole file is encrypted with DATA_KEY's first key (AES-GCM; sealing.py), and the
numbers inside were sealed already. A backup is only as safe as the key kept apart from it.

A restore never brings back a number erased after the backup was taken (erasures.py): each
keyed hash logged since is erased again; a backup older than the erasure log's horizon is
refused, as erasures made after it may no longer be in the log.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from ivr.store import keys
from ivr.store.connection import private_opener, scratch_store
from ivr.store.erasures import DAY, ErasureLog
from ivr.store.keys import Keys
from ivr.store.queue import CallbackQueue
from ivr.store.sealing import Sealer, Unreadable, lookup_check

MAGIC = b"helpline backup 1\n"
# Held only while a process runs: restoring them would stall the one that runs next.
LEFT_OUT = (keys.MIGRATING, keys.SCHEDULER_LOCK, keys.SCHEDULER_HEARTBEAT)
LEFT_OUT_PREFIXES = (keys.calling(""),)

# Keys read per round trip (a pipeline, not a transaction: webhooks' commands run between).
BATCH = 500
# Keys one connection WATCHes: the last WATCH of a connection takes Redis a few ms.
WATCHED = 1000
# Readings that may be overtaken by a write before the backup gives up (a busy store at
# night is rare; each attempt takes well under a second for 10 000 callbacks).
ATTEMPTS = 10


class BackupProblem(ValueError):
    """A backup that can't be restored here: the message says why."""


@dataclass(frozen=True)
class Restored:
    keys: int
    erased: int  # records of numbers erased since the backup was taken


def _binary(r: redis.Redis) -> redis.Redis:
    """A client of the same server that leaves values as bytes (DUMP's are binary)."""
    pool = r.connection_pool
    return redis.Redis(
        connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class,
            **{**pool.connection_kwargs, "decode_responses": False},
        )
    )


def _kept(key: str) -> bool:
    return key not in LEFT_OUT and not key.startswith(LEFT_OUT_PREFIXES)


def _entries(r: redis.Redis) -> list[list[Any]]:
    """Every kept key of the store at one instant: [name, expiry in ms, DUMP in base64]."""
    raw = _binary(r)
    try:
        for _ in range(ATTEMPTS):
            try:
                read = _consistent(raw)
            except redis.WatchError:
                continue
            return [
                [key.decode(), ttl, base64.b64encode(dump).decode("ascii")]
                for key, (ttl, dump) in read.items()
                if dump is not None
            ]
    finally:
        raw.close()
    raise BackupProblem(
        f"the store changed while each of {ATTEMPTS} readings was taken: try again when "
        "it is quieter (e.g. at night)"
    )


def _consistent(raw: redis.Redis) -> dict[bytes, tuple[int, bytes | None]]:
    """The kept keys, each WATCHed before it is read in a batch; raises WatchError if any of
    them changed before the end. Redis checks each new WATCH against every key that
    connection watches already, so a connection watches at most WATCHED keys (else each
    WATCH would hold Redis longer than the last, 50 ms each by 10 000 keys)."""
    read: dict[bytes, tuple[int, bytes | None]] = {}
    with contextlib.ExitStack() as stack:
        watchers: list[redis.client.Pipeline] = []
        watched = WATCHED
        while unread := [
            k
            for k in raw.scan_iter(keys.EVERY_KEY, count=BATCH)
            if k not in read and _kept(k.decode())
        ]:
            for start in range(0, len(unread), BATCH):
                batch = unread[start : start + BATCH]
                if watched + len(batch) > WATCHED:
                    watchers.append(stack.enter_context(raw.pipeline()))
                    watched = 0
                watchers[-1].watch(*batch)  # type: ignore[no-untyped-call]
                watched += len(batch)
                read.update(_read(raw, batch))
        # Every key read was unchanged from its reading until the first EXEC: the store as
        # it was then. Each EXEC raises WatchError if one of its keys changed.
        for watcher in watchers:
            watcher.multi()
            watcher.execute()
    return read


def _read(raw: redis.Redis, batch: list[bytes]) -> dict[bytes, tuple[int, bytes | None]]:
    """One batch's expiries (ms; -1: none, -2: gone) and DUMPs, in one round trip."""
    with raw.pipeline(transaction=False) as pipe:
        for key in batch:
            pipe.pttl(key)
            pipe.dump(key)
        values = pipe.execute()
    return {key: (int(values[2 * i]), values[2 * i + 1]) for i, key in enumerate(batch)}


def _write(r: redis.Redis, entries: list[list[Any]]) -> None:
    raw = _binary(r)
    try:
        with raw.pipeline(transaction=False) as pipe:
            for key, ttl, dump in entries:
                if ttl != -2:
                    pipe.restore(key, max(ttl, 0), base64.b64decode(dump))
            pipe.execute()
    finally:
        raw.close()


def snapshot(r: redis.Redis, sealer: Sealer) -> tuple[bytes, int]:
    """The backup file's bytes, and how many keys it holds."""
    taken_at = time.time()  # before the snapshot: erasures from then on are applied again
    entries = _entries(r)
    payload = {"taken_at": taken_at, "lookup": lookup_check(sealer), "keys": entries}
    sealed = sealer.seal_bytes(zlib.compress(json.dumps(payload).encode(), 6))
    return MAGIC + sealed, len(entries)


def write_backup(path: Path, data: bytes) -> None:
    """Written aside and moved into place (0600): a backup is either whole or not there."""
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "wb", opener=private_opener) as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)


def restore(
    r: redis.Redis,
    sealer: Sealer,
    data: bytes,
    erasures: ErasureLog,
    helpline: Keys,
    others: Sequence[Keys] = (),
    without_erasure_log: bool = False,
) -> Restored:
    """Put a backup into an empty store with every number erased since erased again first,
    in `helpline` and the `others` (every helpline of the deployment): the erased records
    never reach the store's files. Refused when the erasure
    log is missing (a lost server's log is lost with it, and a restore without it would
    bring back everyone who sent STOP since), unless `without_erasure_log` says to go on."""
    if not data.startswith(MAGIC):
        raise BackupProblem("this is not a helpline backup")
    try:
        payload = json.loads(zlib.decompress(sealer.open_bytes(data[len(MAGIC) :])))
    except Unreadable:
        raise BackupProblem(
            "DATA_KEY does not open this backup: it was sealed with another key (give the "
            "key it was taken with, after the newest, comma-separated)"
        ) from None
    if payload["lookup"] != lookup_check(sealer):
        raise BackupProblem("LOOKUP_KEY is not the key this backup's numbers were hashed with")
    if not erasures.path.exists() and not without_erasure_log:
        raise BackupProblem(
            f"the erasure log ({erasures.path}) is missing, so numbers erased since this backup "
            "was taken (STOP, subject requests) would come back. Put the log back (set "
            "ERASURE_LOG to where it is kept), or, only if no number can have been erased "
            "since the backup, add --without-erasure-log"
        )
    taken_at = float(payload["taken_at"])
    since = erasures.since()
    oldest = time.time() - erasures.keep_seconds
    if taken_at < oldest or (since is not None and taken_at < since):
        raise BackupProblem(
            f"this backup was taken {(time.time() - taken_at) / DAY:.1f} days ago, before "
            f"what the erasure log still covers (BACKUP_KEEP_DAYS: "
            f"{erasures.keep_seconds // DAY}): numbers erased since might come back. Use a "
            "newer backup."
        )
    present = [k for k in r.scan_iter(keys.EVERY_KEY, count=1000) if k != keys.KEY_CHECK]
    if present:
        raise BackupProblem(
            f"the store is not empty ({len(present)} keys): restore only into an empty store"
        )
    # Erased first, in a scratch store that writes nothing to disk; only what is left is
    # written to the real store, so no erased record ever reaches its append-only file.
    try:
        erased_since = erasures.erased_since(taken_at, sealer)
    except Unreadable:
        raise BackupProblem(
            f"DATA_KEY does not open every erasure logged since this backup ({erasures.path}): "
            "give the keys in use since it was taken, newest first, comma-separated"
        ) from None
    with scratch_store() as scratch:
        _write(scratch, payload["keys"])
        erased = sum(
            max(CallbackQueue(scratch, sealer, each).erase_lookup(h), 0)
            for each in (helpline, *others)
            for h in erased_since
        )
        scratch.delete(keys.ERASED)
        left = _entries(scratch)
    r.delete(keys.KEY_CHECK)  # the backup's own check comes back with it
    _write(r, left)
    return Restored(len(payload["keys"]), erased)
