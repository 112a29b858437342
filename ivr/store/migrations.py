"""Versioned upgrades of what is stored, run once at start-up by the web app and the scheduler.

Callbacks waiting during a deploy must never be lost or left unreadable. Each upgrade is a
pure function of one stored record (tested on records in the previous format) applied by a
script that changes a record only if it is still in the old format, so several processes
starting at once can all run it: each record is upgraded exactly once.

One process upgrades at a time (a lock in the store); the others wait for it, so nobody
serves from a half-upgraded store.

Versions:
  1  a callback's safe time is "preferred" ("HH:MM", not before); it expires 7 calendar
     days after the request.
  2  a callback has a plan (a safe-time window), the end of its current slot, and counts
     the opening days it was not reached (see expiry.py, promise.py).
  3  what belongs to a helpline is under its own part of the key space (keys.py): the keys
     of version 2 move under the default helpline's. Version 1 and 2 keys are named here
     as they were, since that is what the upgrades read.
  4  every number is sealed and each number's keys are named by its keyed hash (sealing.py):
     version 3 kept numbers in clear (callbacks, numbers keyed in during a call, advisors'
     phones) and named their keys by an unkeyed hash. Afterwards the append-only file is
     rewritten, so the numbers in clear leave the disk too.
"""

from __future__ import annotations

import logging
import re
import secrets
import time as time_module
from datetime import UTC, date, datetime, time, timedelta

import redis

from ivr.config import Settings
from ivr.core.hours import OpeningHours, usual_span
from ivr.core.promise import first_slot
from ivr.core.safetime import ANYTIME, Window
from ivr.store import keys
from ivr.store.keys import Keys
from ivr.store.replies import table
from ivr.store.sealing import (
    Sealer,
    check_keys,
    looks_sealed,
    reseal_place,
    rewrite_append_only_file,
    sealed_places,
    swap_script,
)

log = logging.getLogger(__name__)

SCHEMA_KEY = keys.SCHEMA
VERSION = 4
WAIT_SECONDS = 120  # for another process's upgrade to finish
_RECORD = re.compile(r"^hl:cb:[0-9a-f]{16}$")  # a callback under version 1 and 2 names

_TO_V2 = """
-- KEYS: the record; ARGV: id, then field, value pairs. Only a record still without a plan.
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 or redis.call('HEXISTS', key, 'plan') == 1 then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
redis.call('HDEL', key, 'preferred')
local status = redis.call('HGET', key, 'status')
if status == 'scheduled' then
  redis.call('ZADD', 'hl:cb:scheduled', redis.call('HGET', key, 'due_at'), ARGV[1])
end
if status == 'scheduled' or status == 'due' then
  redis.call('ZADD', 'hl:cb:slots', redis.call('HGET', key, 'slot_end'), ARGV[1])
end
return 1
"""


def to_v2(
    fields: dict[str, str], now: datetime, hours: OpeningHours, settings: Settings
) -> dict[str, str]:
    """The fields a version-1 record gains. Its "HH:MM" becomes a window from that time, but
    never later than the old rules called (30 minutes before closing: what the person was
    told then). Its expiry is recounted in opening days since it was due, and it keeps at
    least one more day: nothing waiting is lost by an upgrade."""
    plan = ANYTIME
    if fields.get("preferred"):
        latest_start = (
            datetime.combine(date(2000, 1, 1), usual_span(hours.config)[1]) - settings.min_slot
        ).time()
        plan = Window(earliest=min(time.fromisoformat(fields["preferred"]), latest_start))
    new = {"plan": plan.dumps()}
    status = fields.get("status", "")
    if status not in ("scheduled", "due", "claimed"):
        return new
    due = datetime.fromtimestamp(float(fields["due_at"]), UTC)
    slot = first_slot(max(due, now) if status != "scheduled" else due, plan, hours)
    if status == "scheduled" and slot is not None:
        new["due_at"] = str(max(due, slot.start).timestamp())
        new["slot_end"] = str(slot.end.timestamp())
    elif status == "due" and slot is not None and slot.start <= now:
        new["slot_end"] = str(slot.end.timestamp())
    else:
        new["slot_end"] = str(now.timestamp())  # the next tick gives it its next slot
    yesterday = now.astimezone(hours.timezone).date() - timedelta(days=1)
    start = max(due, datetime.fromtimestamp(float(fields["requested_at"]), UTC))
    day = start.astimezone(hours.timezone).date()
    missed = 0
    while day <= yesterday:
        missed += hours.day(day).session is not None
        day += timedelta(days=1)
    new["missed"] = str(min(missed, settings.callback_expiry_opening_days - 1))
    new["counted"] = yesterday.isoformat()
    new["claimable_on"] = ""
    return new


_TO_V4 = """
-- KEYS: the record, its open key and number set under the old hash, and under the new;
-- ARGV: id, the old hash (as read), the new, the number sealed. Only a record unchanged
-- since it was read; the open key moves with it (RENAME keeps any expiry), and its id from
-- the old number set to the new hash (a hash of ids: small hashes are packed, small sets of
-- strings are not).
if redis.call('HGET', KEYS[1], 'h') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'number', ARGV[4], 'h', ARGV[3])
if KEYS[2] ~= KEYS[4] then
  if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('RENAME', KEYS[2], KEYS[4]) end
  redis.call('SREM', KEYS[3], ARGV[1])
  redis.call('HSET', KEYS[5], ARGV[1], 1)
end
return 1
"""


def v3_name(key: str, helpline: Keys) -> str | None:
    """Where a version-2 key goes in version 3 (None: it stays, or it is not ours)."""
    for old, part in keys.V2_TO_V3:
        if key.startswith(old):
            return helpline.base + part + key.removeprefix(old)
    return next((helpline.base + part for old, part in keys.V2_RENAMED if key == old), None)


def migrate(
    r: redis.Redis, now: datetime, hours: OpeningHours, settings: Settings, sealer: Sealer
) -> int:
    """Bring the store to VERSION; how many records were changed. A store with no version
    is version 1 if it holds callbacks, else new. Another process already upgrading is
    waited for. First of all, a store sealed with other keys than `sealer`'s is refused
    (KeyMismatch)."""
    check_keys(r, sealer)
    stored = r.get(SCHEMA_KEY)
    if stored is not None and int(stored) >= VERSION:
        return 0
    token = secrets.token_hex(8)
    if not r.set(keys.MIGRATING, token, nx=True, ex=WAIT_SECONDS):
        _wait_for_upgrade(r)
        return 0
    try:
        version = (
            int(stored)
            if stored is not None
            else (1 if next(r.scan_iter("hl:cb:*", count=1000), None) else VERSION)
        )
        changed = 0
        if version < 2:
            changed += _to_v2(r, now, hours, settings)
            r.set(SCHEMA_KEY, 2)
        if version < 3:
            changed += _to_v3(r, Keys())
            r.set(SCHEMA_KEY, 3)
        if version < 4:
            changed += _to_v4(r, Keys(), sealer)
        r.set(SCHEMA_KEY, VERSION)
        if changed:
            log.info("store upgraded to version %d: %d records changed", VERSION, changed)
        return changed
    finally:
        if r.get(keys.MIGRATING) == token:
            r.delete(keys.MIGRATING)


def _wait_for_upgrade(r: redis.Redis) -> None:
    deadline = time_module.monotonic() + WAIT_SECONDS
    while time_module.monotonic() < deadline:
        stored = r.get(SCHEMA_KEY)
        if (stored is not None and int(stored) >= VERSION) or not r.exists(keys.MIGRATING):
            return
        time_module.sleep(0.05)
    log.warning("another process has been upgrading the store for %d s", WAIT_SECONDS)


def _to_v2(r: redis.Redis, now: datetime, hours: OpeningHours, settings: Settings) -> int:
    upgrade = r.register_script(_TO_V2)
    upgraded = 0
    for key in r.scan_iter("hl:cb:*", count=1000):
        if not _RECORD.match(key):
            continue
        fields = table(r.hgetall(key))
        if not fields or "plan" in fields:
            continue
        new = to_v2(fields, now, hours, settings)
        pairs = [item for pair in new.items() for item in pair]
        upgraded += upgrade(keys=[key], args=[key.removeprefix("hl:cb:"), *pairs])
    return upgraded


def _to_v3(r: redis.Redis, helpline: Keys) -> int:
    """Each version-2 key to its place under the default helpline (RENAME keeps its
    expiry); the console's old generated secret, no longer used, is dropped."""
    moved = 0
    for key in list(r.scan_iter("hl:*", count=1000)):
        new = v3_name(key, helpline)
        if new is not None and r.renamenx(key, new):
            moved += 1
    r.delete("hl:secret_key")
    return moved


def _to_v4(r: redis.Redis, helpline: Keys, sealer: Sealer) -> int:
    """Seal every number kept in clear, name each number's keys by its keyed hash, drop the
    version-3 names left (flood counters of a few minutes, and keys of records already
    gone), then rewrite the append-only file."""
    upgrade = r.register_script(_TO_V4)
    changed = 0
    for key in list(r.scan_iter(helpline.cb + "*", count=1000)):
        if not helpline.is_callback(key):
            continue
        fields = table(r.hgetall(key))
        number = fields.get("number", "")
        if not number:
            continue
        plain = sealer.open(number) if looks_sealed(number) else number
        old, new = fields.get("h", ""), sealer.lookup(plain)
        if old == new and looks_sealed(number):
            continue
        callback_id = key.removeprefix(helpline.cb)
        changed += upgrade(
            keys=[key, helpline.open(old), helpline.numbers(old)]
            + [helpline.open(new), helpline.numbers(new)],
            args=[callback_id, old, new, sealer.seal(plain)],
        )
    swap = swap_script(r)
    changed += sum(reseal_place(r, swap, place, sealer) for place in sealed_places(r, helpline))
    for key in list(r.scan_iter(helpline.base + "*", count=1000)):
        if keys.V3_HASHED.match(key):
            changed += r.delete(key)
    rewrite_append_only_file(r)
    return changed
