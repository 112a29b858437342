"""The callback queue in Redis: the single source of truth, changed only by Lua scripts.

Layout (prefix "hl:"):
  cb:{id}             hash: one callback (number, source, times, status, attempts...)
  cb:scheduled        zset id -> due time: waiting for the helpline to open
  cb:due              zset id -> request time: ready to call, oldest request first
  cb:claimed          zset id -> claim time: an advisor is calling
  cb:ended            zset id -> end time: done, cancelled or expired (erased after retention)
  cb:open:{h}         id of the number's one open callback (h = hash of the number)
  cb:num:{h}          set of every id for the number (to erase all on opt-out)
  seen:{MessageSid}   the callback id a message created: Twilio's retries change nothing
Each script checks the status it expects, so no two processes can both take, release or
cancel one callback.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from ivr.callbacks import Callback

P = "hl:"
SEEN_TTL_SECONDS = 3 * 24 * 3600
BATCH = 500


def number_key(number: str) -> str:
    """The number's hash, for key names: numbers stay out of key listings and logs."""
    return hashlib.sha256(number.encode()).hexdigest()[:24]


def _ts(at: datetime) -> float:
    return at.timestamp()


def _dt(value: str | None) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value else None


_REQUEST = """
-- KEYS: open_key, num_set, seen_key (or ""); ARGV: id, number, source, requested, due,
-- preferred, voicemail, due_now, seen_ttl, number hash
local open_key, num_set, seen_key = KEYS[1], KEYS[2], KEYS[3]
if seen_key ~= '' then
  local earlier = redis.call('GET', seen_key)
  if earlier then return {earlier, 'repeat', redis.call('HGET', 'hl:cb:' .. earlier, 'due_at')} end
end
local existing = redis.call('GET', open_key)
if existing and redis.call('EXISTS', 'hl:cb:' .. existing) == 1 then
  if seen_key ~= '' then redis.call('SET', seen_key, existing, 'EX', ARGV[9]) end
  return {existing, 'existing', redis.call('HGET', 'hl:cb:' .. existing, 'due_at')}
end
local id = ARGV[1]
redis.call('HSET', 'hl:cb:' .. id, 'number', ARGV[2], 'source', ARGV[3],
  'requested_at', ARGV[4], 'due_at', ARGV[5], 'preferred', ARGV[6], 'voicemail', ARGV[7],
  'attempts', 0, 'status', ARGV[8] == '1' and 'due' or 'scheduled', 'h', ARGV[10])
if ARGV[8] == '1' then
  redis.call('ZADD', 'hl:cb:due', ARGV[4], id)
else
  redis.call('ZADD', 'hl:cb:scheduled', ARGV[5], id)
end
redis.call('SET', open_key, id)
redis.call('SADD', num_set, id)
if seen_key ~= '' then redis.call('SET', seen_key, id, 'EX', ARGV[9]) end
return {id, 'new', ARGV[5]}
"""

_RESCHEDULE = """
-- Move an open callback to a new due time (a preferred time was given). ARGV: id, due,
-- preferred, due_now
local key = 'hl:cb:' .. ARGV[1]
local status = redis.call('HGET', key, 'status')
if status ~= 'scheduled' and status ~= 'due' then return 0 end
redis.call('HSET', key, 'due_at', ARGV[2], 'preferred', ARGV[3])
redis.call('ZREM', 'hl:cb:scheduled', ARGV[1])
redis.call('ZREM', 'hl:cb:due', ARGV[1])
if ARGV[4] == '1' then
  redis.call('HSET', key, 'status', 'due')
  redis.call('ZADD', 'hl:cb:due', redis.call('HGET', key, 'requested_at'), ARGV[1])
else
  redis.call('HSET', key, 'status', 'scheduled')
  redis.call('ZADD', 'hl:cb:scheduled', ARGV[2], ARGV[1])
end
return 1
"""

_RELEASE = """
-- Move up to ARGV[2] scheduled callbacks due by ARGV[1] to the due queue, oldest request first.
local ids = redis.call('ZRANGEBYSCORE', 'hl:cb:scheduled', '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  redis.call('ZREM', 'hl:cb:scheduled', id)
  local key = 'hl:cb:' .. id
  if redis.call('HGET', key, 'status') == 'scheduled' then
    redis.call('HSET', key, 'status', 'due')
    redis.call('ZADD', 'hl:cb:due', redis.call('HGET', key, 'requested_at'), id)
  end
end
return #ids
"""

_END = """
-- End one callback: ARGV: id, new status, now, allowed statuses (space separated)
local key = 'hl:cb:' .. ARGV[1]
local status = redis.call('HGET', key, 'status')
if not status or not string.find(' ' .. ARGV[4] .. ' ', ' ' .. status .. ' ', 1, true) then
  return 0
end
redis.call('HSET', key, 'status', ARGV[2], 'ended_at', ARGV[3])
redis.call('ZREM', 'hl:cb:scheduled', ARGV[1])
redis.call('ZREM', 'hl:cb:due', ARGV[1])
redis.call('ZREM', 'hl:cb:claimed', ARGV[1])
redis.call('ZADD', 'hl:cb:ended', ARGV[3], ARGV[1])
local open_key = 'hl:cb:open:' .. redis.call('HGET', key, 'h')
if redis.call('GET', open_key) == ARGV[1] then redis.call('DEL', open_key) end
return 1
"""

_ERASE_NUMBER = """
-- Erase every record of one number (opt-out). KEYS: open_key, num_set
local ids = redis.call('SMEMBERS', KEYS[2])
for _, id in ipairs(ids) do
  redis.call('DEL', 'hl:cb:' .. id)
  redis.call('ZREM', 'hl:cb:scheduled', id)
  redis.call('ZREM', 'hl:cb:due', id)
  redis.call('ZREM', 'hl:cb:claimed', id)
  redis.call('ZREM', 'hl:cb:ended', id)
end
redis.call('DEL', KEYS[1], KEYS[2])
return #ids
"""

_ERASE_ENDED = """
-- Erase up to ARGV[2] records that ended before ARGV[1].
local ids = redis.call('ZRANGEBYSCORE', 'hl:cb:ended', '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  local key = 'hl:cb:' .. id
  local h = redis.call('HGET', key, 'h')
  if h then redis.call('SREM', 'hl:cb:num:' .. h, id) end
  redis.call('DEL', key)
  redis.call('ZREM', 'hl:cb:ended', id)
end
return #ids
"""


_CLAIM = """
-- The oldest due callback, for one advisor. ARGV: advisor, now
while true do
  local popped = redis.call('ZPOPMIN', 'hl:cb:due')
  if #popped == 0 then return false end
  local id = popped[1]
  local key = 'hl:cb:' .. id
  if redis.call('HGET', key, 'status') == 'due' then
    redis.call('HSET', key, 'status', 'claimed', 'claimed_by', ARGV[1], 'claimed_at', ARGV[2],
      'call_state', 'claimed', 'caller_connected', 0)
    redis.call('ZADD', 'hl:cb:claimed', ARGV[2], id)
    return id
  end
end
"""

_FINISH = """
-- Record an outcome of a claimed callback. ARGV: id, advisor ('*': anyone), outcome,
-- new status (done, expired or scheduled), now, due (for scheduled)
local key = 'hl:cb:' .. ARGV[1]
if redis.call('HGET', key, 'status') ~= 'claimed' then return 0 end
if ARGV[2] ~= '*' and redis.call('HGET', key, 'claimed_by') ~= ARGV[2] then return 0 end
redis.call('ZREM', 'hl:cb:claimed', ARGV[1])
redis.call('HINCRBY', key, 'attempts', 1)
redis.call('HSET', key, 'status', ARGV[4], 'outcome', ARGV[3], 'call_state', 'ended')
redis.call('HDEL', key, 'claimed_by', 'claimed_at')
if ARGV[4] == 'scheduled' then
  redis.call('HSET', key, 'due_at', ARGV[6])
  redis.call('ZADD', 'hl:cb:scheduled', ARGV[6], ARGV[1])
else
  redis.call('HSET', key, 'ended_at', ARGV[5])
  redis.call('ZADD', 'hl:cb:ended', ARGV[5], ARGV[1])
  local open_key = 'hl:cb:open:' .. redis.call('HGET', key, 'h')
  if redis.call('GET', open_key) == ARGV[1] then redis.call('DEL', open_key) end
end
return 1
"""

_RETURN_STALE = """
-- Claims older than ARGV[1] go back to the due queue, unless the caller was connected (then
-- the call happened: it waits for an outcome rather than being called twice).
local ids = redis.call('ZRANGEBYSCORE', 'hl:cb:claimed', '-inf', ARGV[1])
local returned = 0
for _, id in ipairs(ids) do
  local key = 'hl:cb:' .. id
  if redis.call('HGET', key, 'caller_connected') ~= '1' then
    redis.call('ZREM', 'hl:cb:claimed', id)
    redis.call('HSET', key, 'status', 'due', 'call_state', '')
    redis.call('HDEL', key, 'claimed_by', 'claimed_at')
    redis.call('ZADD', 'hl:cb:due', redis.call('HGET', key, 'requested_at'), id)
    returned = returned + 1
  end
end
return returned
"""


_UNCLAIM = """
-- ARGV: id, advisor
local key = 'hl:cb:' .. ARGV[1]
if redis.call('HGET', key, 'status') ~= 'claimed' then return 0 end
if redis.call('HGET', key, 'claimed_by') ~= ARGV[2] then return 0 end
redis.call('ZREM', 'hl:cb:claimed', ARGV[1])
redis.call('HSET', key, 'status', 'due', 'call_state', '')
redis.call('HDEL', key, 'claimed_by', 'claimed_at')
redis.call('ZADD', 'hl:cb:due', redis.call('HGET', key, 'requested_at'), ARGV[1])
return 1
"""


@dataclass(frozen=True)
class Requested:
    """The outcome of asking for a callback: which one, and whether it is new."""

    callback_id: str
    outcome: str  # new, existing (the number already had one open), repeat (same MessageSid)
    due_at: datetime | None = None  # when that callback is due (None if it has since gone)


class CallbackQueue:
    """Callback records and their queues in Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self.r = client
        self._request = client.register_script(_REQUEST)
        self._reschedule = client.register_script(_RESCHEDULE)
        self._release = client.register_script(_RELEASE)
        self._end = client.register_script(_END)
        self._erase_number = client.register_script(_ERASE_NUMBER)
        self._erase_ended = client.register_script(_ERASE_ENDED)
        self._claim = client.register_script(_CLAIM)
        self._finish = client.register_script(_FINISH)
        self._return_stale = client.register_script(_RETURN_STALE)
        self._unclaim = client.register_script(_UNCLAIM)

    def request(self, number: str, source: str, now: datetime, due: datetime,
                preferred: str | None = None, voicemail: bool = False,
                message_sid: str = "") -> Requested:
        """Store a callback for `number` unless it has one open (or this message was seen)."""
        h = number_key(number)
        callback_id = secrets.token_hex(8)
        due_now = due <= now
        result = self._request(
            keys=[f"{P}cb:open:{h}", f"{P}cb:num:{h}",
                  f"{P}seen:{message_sid}" if message_sid else ""],
            args=[callback_id, number, source, _ts(now), _ts(due), preferred or "",
                  int(voicemail), int(due_now), SEEN_TTL_SECONDS, h])
        return Requested(result[0], result[1], _dt(result[2]) if len(result) > 2 else None)

    def reschedule(self, callback_id: str, due: datetime, preferred: str | None,
                   now: datetime) -> bool:
        return bool(self._reschedule(args=[callback_id, _ts(due), preferred or "",
                                           int(due <= now)]))

    def release(self, now: datetime) -> int:
        """Move every scheduled callback due by `now` to the due queue; how many moved."""
        return _in_batches(self._release, now)

    def end(self, callback_id: str, status: str, now: datetime,
            allowed: tuple[str, ...] = ("scheduled", "due", "claimed")) -> bool:
        return bool(self._end(args=[callback_id, status, _ts(now), " ".join(allowed)]))

    def cancel(self, callback_id: str, now: datetime) -> bool:
        return self.end(callback_id, "cancelled", now)

    def erase_number(self, number: str) -> int:
        """Cancel and erase everything stored about `number` (opt-out)."""
        h = number_key(number)
        return self._erase_number(keys=[f"{P}cb:open:{h}", f"{P}cb:num:{h}"])

    def expire(self, requested_before: datetime, now: datetime) -> int:
        """Expire waiting callbacks requested before `requested_before`."""
        expired = 0
        for callback in self.all(("scheduled", "due")):
            if callback.requested_at < requested_before and self.end(
                    callback.id, "expired", now, ("scheduled", "due")):
                expired += 1
        return expired

    def erase_ended(self, ended_before: datetime) -> int:
        return _in_batches(self._erase_ended, ended_before)

    def close_unrecorded_claims(self, claimed_before: datetime, now: datetime) -> int:
        """End claims older than `claimed_before` that nobody recorded an outcome for."""
        stale = self.r.zrangebyscore(f"{P}cb:claimed", "-inf", _ts(claimed_before))
        return sum(self.finish(i, "*", "not_recorded", "done", now) for i in stale)

    def set_voicemail(self, callback_id: str, allowed: bool) -> None:
        """Whether a voicemail may be left (the person's latest answer)."""
        if self.r.exists(f"{P}cb:{callback_id}"):
            self.r.hset(f"{P}cb:{callback_id}", "voicemail", int(allowed))

    def has_open(self, number: str) -> bool:
        return bool(self.r.exists(f"{P}cb:open:{number_key(number)}"))

    def open_for(self, number: str) -> Callback | None:
        callback_id = self.r.get(f"{P}cb:open:{number_key(number)}")
        return self.get(callback_id) if callback_id else None

    def get(self, callback_id: str) -> Callback | None:
        data = self.r.hgetall(f"{P}cb:{callback_id}")
        return _callback(callback_id, data) if data else None

    def ids(self, status: str) -> list[str]:
        """Ids in one state, in queue order."""
        if status in ("scheduled", "due", "claimed"):
            return self.r.zrange(f"{P}cb:{status}", 0, -1)
        return [i for i in self.r.zrange(f"{P}cb:ended", 0, -1)
                if self.r.hget(f"{P}cb:{i}", "status") == status]

    def all(self, statuses: tuple[str, ...] = ("scheduled", "due", "claimed", "done",
                                                "cancelled", "expired")) -> Iterator[Callback]:
        seen: set[str] = set()
        for status in statuses:
            for callback_id in self.ids(status):
                if callback_id not in seen:
                    seen.add(callback_id)
                    callback = self.get(callback_id)
                    if callback is not None:
                        yield callback

    def claim(self, advisor: str, now: datetime) -> Callback | None:
        """Atomically take the oldest due callback: two advisors never get the same one."""
        callback_id = self._claim(args=[advisor, _ts(now)])
        return self.get(callback_id) if callback_id else None

    def finish(self, callback_id: str, advisor: str, outcome: str, status: str,
               now: datetime, due: datetime | None = None) -> bool:
        """Record an outcome of a claimed callback; False if it isn't this advisor's claim."""
        return bool(self._finish(args=[callback_id, advisor, outcome, status, _ts(now),
                                       _ts(due) if due else ""]))

    def unclaim(self, callback_id: str, advisor: str) -> bool:
        """Give a claim back to the due queue (the advisor's phone could not be rung)."""
        return bool(self._unclaim(args=[callback_id, advisor]))

    def return_stale_claims(self, claimed_before: datetime) -> int:
        return self._return_stale(args=[_ts(claimed_before)])

    def set_call_state(self, callback_id: str, state: str, caller_connected: bool = False) -> None:
        """What the console shows: ringing, connected, machine, ended. Only for a claim."""
        key = f"{P}cb:{callback_id}"
        if self.r.hget(key, "status") != "claimed":
            return
        fields: dict[str, str | int] = {"call_state": state}
        if caller_connected:
            fields["caller_connected"] = 1
        self.r.hset(key, mapping=fields)

    def claimed_by(self, advisor: str) -> list[Callback]:
        found = (self.get(i) for i in self.r.zrange(f"{P}cb:claimed", 0, -1))
        return [cb for cb in found if cb and cb.claimed_by == advisor]

    def counts(self) -> dict[str, int]:
        return {name: self.r.zcard(f"{P}cb:{name}")
                for name in ("scheduled", "due", "claimed", "ended")}


def _in_batches(script, cutoff: datetime) -> int:
    """Run a script that handles at most BATCH items up to `cutoff` until it handles fewer
    (short scripts keep Redis answering other clients in between); the total handled."""
    total = 0
    while True:
        count = script(args=[_ts(cutoff), BATCH])
        total += count
        if count < BATCH:
            return total


def _callback(callback_id: str, data: dict[str, str]) -> Callback:
    return Callback(
        id=callback_id, number=data["number"], source=data["source"],
        requested_at=_dt(data["requested_at"]), due_at=_dt(data["due_at"]),
        status=data["status"], preferred=data.get("preferred") or None,
        voicemail=data.get("voicemail") == "1", attempts=int(data.get("attempts", 0)),
        claimed_by=data.get("claimed_by") or None, call_state=data.get("call_state") or None,
        outcome=data.get("outcome") or None)
