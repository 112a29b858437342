"""The callback queue in Redis: the single source of truth, changed only by Lua scripts.

One hash per callback and sorted sets for where each is (keys.py names them: held, scheduled,
due, slots, claimed, ended), the number's one open callback and all its callbacks, and the
MessageSids already handled. Each script checks the status it expects, so no two processes
can both take, release or cancel one callback. Who may claim, finish or give back one is
decided here and only here, atomically (_CLAIM_ONE, _FINISH, _UNCLAIM, _RETURN_STALE);
tests/test_claims.py carries the rule as a table, and core/claims.may_claim, which picks what
Take next asks for, agrees with it.

Each record counts the times it was put in the scheduled queue and the times it was released
from there: a release takes one scheduled placing, so released never exceeds scheduled, and
anything that released a callback twice (the chaos run kills processes to look for it) shows.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from string import Template
from typing import Any

import redis
from redis.commands.core import Script
from redis.typing import EncodableT, FieldT

from ivr.content.flows import ENGLISH
from ivr.core.callbacks import Callback
from ivr.core.claims import ANYONE
from ivr.core.expiry import Count
from ivr.core.promise import Placement
from ivr.core.safetime import Window
from ivr.store import compaction
from ivr.store.keys import Keys
from ivr.store.replication import NotReplicated, Replicas, acknowledged
from ivr.store.replies import maybe_text, table, texts
from ivr.store.sealing import Sealer

log = logging.getLogger(__name__)
SEEN_TTL_SECONDS = 3 * 24 * 3600
WORDS_KEPT, WORDS_MAX = 3, 320  # a person's last texts about timing, each at most 2 texts long
BATCH = 500
WAITING = ("held", "scheduled", "due")
URGENT = "1"  # a callback's sealed "urgent" field, when set


def _ts(at: datetime | None) -> float | str:
    return at.timestamp() if at else ""


def _dt(value: str | None) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value else None


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


# Put one callback into the place its status says (it is in none when this runs).
_PLACE = """
local function place(id, key, status)
  if status == 'held' then
    redis.call('ZADD', '${cb}held', redis.call('HGET', key, 'requested_at'), id)
    return
  end
  redis.call('ZADD', '${cb}slots', redis.call('HGET', key, 'slot_end'), id)
  if status == 'due' then
    redis.call('ZADD', '${cb}due', redis.call('HGET', key, 'requested_at'), id)
  else
    redis.call('ZADD', '${cb}scheduled', redis.call('HGET', key, 'due_at'), id)
    redis.call('HINCRBY', key, 'times_scheduled', 1)
  end
end
local function unplace(id)
  for _, name in ipairs({'held', 'scheduled', 'due', 'slots', 'claimed'}) do
    redis.call('ZREM', '${cb}' .. name, id)
  end
end
"""

# A number's flood counter: more than `limit` texts in `window` seconds and replies pause for
# `quiet` seconds (the requests themselves are still taken).
_FLOOD = """
local function too_many(rate_key, quiet_key, window, limit, quiet)
  redis.call('SET', rate_key, 0, 'EX', window, 'NX')
  local count = redis.call('INCR', rate_key)
  if redis.call('EXISTS', quiet_key) == 1 then return 1 end
  if count > tonumber(limit) then
    redis.call('SET', quiet_key, 1, 'EX', quiet)
    return 1
  end
  return 0
end
"""

_TOO_MANY = (
    _FLOOD
    + """
-- KEYS: rate_key, quiet_key; ARGV: window, limit, quiet
return too_many(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
"""
)

_REQUEST = (
    _PLACE
    + _FLOOD
    + """
-- KEYS: open_key, num_set, seen_key (or ""), rate_key and quiet_key (or "": no counting);
-- ARGV: id, number (sealed), source, requested, due, slot_end, plan, voicemail, status,
-- seen_ttl, number hash, claimable_on, flood window, limit, quiet, swapped (asked for from
-- the queue: requested is when the caller joined it). A text's flood counter and its
-- request are one script: one write, one fsync, one round trip.
local open_key, num_set, seen_key = KEYS[1], KEYS[2], KEYS[3]
local quiet = 0
if KEYS[4] ~= '' then quiet = too_many(KEYS[4], KEYS[5], ARGV[13], ARGV[14], ARGV[15]) end
if seen_key ~= '' then
  local earlier = redis.call('GET', seen_key)
  if earlier then
    -- written again (same value, fresh expiry) so that a WAIT after this counts the
    -- write that stored it, even on a connection that has written nothing yet
    redis.call('SET', seen_key, earlier, 'EX', ARGV[10])
    return {earlier, 'repeat', redis.call('HGET', '${cb}' .. earlier, 'due_at'), quiet}
  end
end
local existing = redis.call('GET', open_key)
if existing and redis.call('EXISTS', '${cb}' .. existing) == 1 then
  if seen_key ~= '' then redis.call('SET', seen_key, existing, 'EX', ARGV[10]) end
  return {existing, 'existing', redis.call('HGET', '${cb}' .. existing, 'due_at'), quiet}
end
local id = ARGV[1]
local key = '${cb}' .. id
redis.call('HSET', key, 'number', ARGV[2], 'source', ARGV[3], 'requested_at', ARGV[4],
  'due_at', ARGV[5], 'slot_end', ARGV[6], 'plan', ARGV[7], 'voicemail', ARGV[8],
  'attempts', 0, 'status', ARGV[9], 'h', ARGV[11], 'claimable_on', ARGV[12], 'missed', 0,
  'swapped', ARGV[16])
place(id, key, ARGV[9])
redis.call('SET', open_key, id)
redis.call('HSET', num_set, id, 1)
if seen_key ~= '' then redis.call('SET', seen_key, id, 'EX', ARGV[10]) end
return {id, 'new', ARGV[5], quiet}
"""
)

_REPLAN = (
    _PLACE
    + """
-- A new safe time (or its promise) for a waiting callback. ARGV: id, plan, due, slot_end,
-- status, claimable_on. A callback being called now keeps the plan and its place for the
-- next attempt: if the call is given back, it goes there, not to the due queue.
local key = '${cb}' .. ARGV[1]
local status = redis.call('HGET', key, 'status')
if status == 'claimed' then
  redis.call('HSET', key, 'plan', ARGV[2], 'due_at', ARGV[3], 'slot_end', ARGV[4],
    'replanned', 1)
  return 2
end
if status ~= 'held' and status ~= 'scheduled' and status ~= 'due' then return 0 end
unplace(ARGV[1])
redis.call('HSET', key, 'plan', ARGV[2], 'due_at', ARGV[3], 'slot_end', ARGV[4],
  'status', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', key, 'claimable_on', ARGV[6]) end
-- Held (we ask for a safe time, due_at being when): its days count from now (expiry.py).
if ARGV[5] == 'held' then redis.call('HSET', key, 'missed', 0, 'counted', '') end
place(ARGV[1], key, ARGV[5])
return 1
"""
)

_RELEASE = """
-- Move up to ARGV[2] scheduled callbacks due by ARGV[1], whose slot has not ended, to the
-- due queue (oldest request first); how many were looked at, and the ids moved. They became
-- claimable on day ARGV[3] if enough of their slot is left: ARGV[4] seconds, or all of it
-- when the slot is shorter (expiry.py).
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', '${cb}scheduled', '-inf', now, 'LIMIT', 0, ARGV[2])
local moved = {}
for _, id in ipairs(ids) do
  local key = '${cb}' .. id
  local fields = redis.call('HMGET', key, 'status', 'slot_end', 'due_at')
  local slot_end = tonumber(fields[2])
  if fields[1] ~= 'scheduled' then
    redis.call('ZREM', '${cb}scheduled', id)
  elseif slot_end > now then
    redis.call('ZREM', '${cb}scheduled', id)
    redis.call('HSET', key, 'status', 'due')
    redis.call('HINCRBY', key, 'times_released', 1)
    if slot_end - now >= math.min(tonumber(ARGV[4]), slot_end - tonumber(fields[3])) then
      redis.call('HSET', key, 'claimable_on', ARGV[3])
    end
    redis.call('ZADD', '${cb}due', redis.call('HGET', key, 'requested_at'), id)
    moved[#moved + 1] = id
  end
end
return {#ids, moved}
"""

_END = (
    _PLACE
    + """
-- End one callback: ARGV: id, new status, now, allowed statuses (space separated), and
-- optionally why (outcome), and the count it ended on (missed, counted: what the log says)
local key = '${cb}' .. ARGV[1]
local status = redis.call('HGET', key, 'status')
if not status or not string.find(' ' .. ARGV[4] .. ' ', ' ' .. status .. ' ', 1, true) then
  return 0
end
redis.call('HSET', key, 'status', ARGV[2], 'ended_at', ARGV[3])
if ARGV[5] and ARGV[5] ~= '' then redis.call('HSET', key, 'outcome', ARGV[5]) end
if ARGV[6] and ARGV[6] ~= '' then redis.call('HSET', key, 'missed', ARGV[6], 'counted', ARGV[7]) end
unplace(ARGV[1])
redis.call('ZADD', '${cb}ended', ARGV[3], ARGV[1])
local open_key = '${cb}open:' .. redis.call('HGET', key, 'h')
if redis.call('GET', open_key) == ARGV[1] then redis.call('DEL', open_key) end
return 1
"""
)

_ERASE_NUMBER = (
    _PLACE
    + """
-- Erase every record of one number (opt-out), once per message. KEYS: open_key, num_set,
-- seen_key (or ""); ARGV: seen_ttl
if KEYS[3] ~= '' then
  if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
  redis.call('SET', KEYS[3], 'opt-out', 'EX', ARGV[1])
end
local ids = redis.call('HKEYS', KEYS[2])
for _, id in ipairs(ids) do
  redis.call('DEL', '${cb}' .. id)
  unplace(id)
  redis.call('ZREM', '${cb}ended', id)
end
redis.call('DEL', KEYS[1], KEYS[2])
return #ids
"""
)

_ERASE_ENDED = """
-- Erase up to ARGV[2] records that ended before ARGV[1].
local ids = redis.call('ZRANGEBYSCORE', '${cb}ended', '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  local key = '${cb}' .. id
  local h = redis.call('HGET', key, 'h')
  if h then redis.call('HDEL', '${cb}num:' .. h, id) end
  redis.call('DEL', key)
  redis.call('ZREM', '${cb}ended', id)
end
return #ids
"""


# Who may claim, finish or give back a callback: the rule (tests/test_claims.py: RULES).
_CLAIM = """
-- The oldest due callback whose slot has not ended, for one advisor. ARGV: advisor, now
local offset = 0
while true do
  local ids = redis.call('ZRANGE', '${cb}due', offset, offset + 49)
  if #ids == 0 then return false end
  for _, id in ipairs(ids) do
    local key = '${cb}' .. id
    local fields = redis.call('HMGET', key, 'status', 'slot_end')
    if fields[1] == 'due' and tonumber(fields[2]) > tonumber(ARGV[2]) then
      redis.call('ZREM', '${cb}due', id)
      redis.call('ZREM', '${cb}slots', id)
      redis.call('HSET', key, 'status', 'claimed', 'claimed_by', ARGV[1], 'claimed_at', ARGV[2],
        'call_state', 'claimed', 'caller_connected', 0)
      redis.call('ZADD', '${cb}claimed', ARGV[2], id)
      return id
    end
  end
  offset = offset + 50
end
"""

_CLAIM_ONE = """
-- One particular due callback (the one list's head), for one advisor, by the same rule as
-- _CLAIM (claims.may_claim). ARGV: id, advisor, now
local key = '${cb}' .. ARGV[1]
local fields = redis.call('HMGET', key, 'status', 'slot_end')
if fields[1] ~= 'due' or not fields[2] or tonumber(fields[2]) <= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZREM', '${cb}due', ARGV[1])
redis.call('ZREM', '${cb}slots', ARGV[1])
redis.call('HSET', key, 'status', 'claimed', 'claimed_by', ARGV[2], 'claimed_at', ARGV[3],
  'call_state', 'claimed', 'caller_connected', 0)
redis.call('ZADD', '${cb}claimed', ARGV[3], ARGV[1])
return 1
"""

_FINISH = """
-- Record an outcome of a claimed callback. ARGV: id, advisor ('*': anyone), outcome,
-- new status (done, expired or scheduled), now, due and slot end (for scheduled)
local key = '${cb}' .. ARGV[1]
if redis.call('HGET', key, 'status') ~= 'claimed' then return 0 end
if ARGV[2] ~= '*' and redis.call('HGET', key, 'claimed_by') ~= ARGV[2] then return 0 end
redis.call('ZREM', '${cb}claimed', ARGV[1])
redis.call('HINCRBY', key, 'attempts', 1)
redis.call('HSET', key, 'status', ARGV[4], 'outcome', ARGV[3], 'call_state', 'ended')
redis.call('HDEL', key, 'claimed_by', 'claimed_at', 'replanned')
if ARGV[4] == 'scheduled' then
  redis.call('HSET', key, 'due_at', ARGV[6], 'slot_end', ARGV[7])
  redis.call('ZADD', '${cb}scheduled', ARGV[6], ARGV[1])
  redis.call('HINCRBY', key, 'times_scheduled', 1)
  redis.call('ZADD', '${cb}slots', ARGV[7], ARGV[1])
else
  redis.call('HSET', key, 'ended_at', ARGV[5])
  redis.call('ZADD', '${cb}ended', ARGV[5], ARGV[1])
  local open_key = '${cb}open:' .. redis.call('HGET', key, 'h')
  if redis.call('GET', open_key) == ARGV[1] then redis.call('DEL', open_key) end
end
return 1
"""

# A claim given back goes to the due queue again (the scheduler moves it on if its slot
# ended), or, when the person gave a new safe time during the call, to that time.
_BACK_TO_DUE = """
local function back_to_due(id, key)
  redis.call('ZREM', '${cb}claimed', id)
  redis.call('HDEL', key, 'claimed_by', 'claimed_at')
  redis.call('ZADD', '${cb}slots', redis.call('HGET', key, 'slot_end'), id)
  if redis.call('HGET', key, 'replanned') == '1' then
    redis.call('HDEL', key, 'replanned')
    redis.call('HSET', key, 'status', 'scheduled', 'call_state', '')
    redis.call('ZADD', '${cb}scheduled', redis.call('HGET', key, 'due_at'), id)
    redis.call('HINCRBY', key, 'times_scheduled', 1)
  else
    redis.call('HSET', key, 'status', 'due', 'call_state', '')
    redis.call('ZADD', '${cb}due', redis.call('HGET', key, 'requested_at'), id)
  end
end
"""

_RETURN_STALE = (
    _BACK_TO_DUE
    + """
-- Claims older than ARGV[1] go back to the due queue, unless the caller was connected (then
-- the call happened: it waits for an outcome rather than being called twice).
local ids = redis.call('ZRANGEBYSCORE', '${cb}claimed', '-inf', ARGV[1])
local returned = 0
for _, id in ipairs(ids) do
  local key = '${cb}' .. id
  if redis.call('HGET', key, 'caller_connected') ~= '1' then
    back_to_due(id, key)
    returned = returned + 1
  end
end
return returned
"""
)


_UNCLAIM = (
    _BACK_TO_DUE
    + """
-- ARGV: id, advisor
local key = '${cb}' .. ARGV[1]
if redis.call('HGET', key, 'status') ~= 'claimed' then return 0 end
if redis.call('HGET', key, 'claimed_by') ~= ARGV[2] then return 0 end
back_to_due(ARGV[1], key)
return 1
"""
)

_SET_IF_THERE = """
-- Set fields of a callback that still exists (never makes a record of a few fields out of
-- one ended and erased meanwhile). ARGV: field, value, field, value...
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

_COUNT = """
-- The expiry count of a waiting callback. ARGV: id, missed, counted
local key = '${cb}' .. ARGV[1]
local status = redis.call('HGET', key, 'status')
if status ~= 'held' and status ~= 'scheduled' and status ~= 'due' then return 0 end
redis.call('HSET', key, 'missed', ARGV[2], 'counted', ARGV[3])
return 1
"""

_KEEP = """
-- A supervisor keeps an overdue callback: it is asked about again only after another
-- decision period from now (expiry.to_decide). ARGV: id
local key = '${cb}' .. ARGV[1]
local status = redis.call('HGET', key, 'status')
if status ~= 'scheduled' and status ~= 'due' then return 0 end
redis.call('HSET', key, 'kept', redis.call('HGET', key, 'missed') or 0)
return 1
"""


@dataclass(frozen=True)
class Requested:
    """The outcome of asking for a callback: which one, and whether it is new."""

    callback_id: str
    outcome: str  # new, existing (the number already had one open), repeat (same MessageSid)
    due_at: datetime | None = None  # when that callback is due (None if it has since gone)
    quiet: bool = False  # the number has sent too many texts: don't reply for a while


@dataclass(frozen=True)
class Asked:
    """A callback asked for on a call, not yet stored: the number they confirmed, whether a
    voicemail is all right (no until they say so), and the call's language."""

    number: str
    voicemail: bool
    language: str


@dataclass(frozen=True)
class Flood:
    """More than `limit` texts from a number within `window_seconds`: replies pause for
    `quiet_seconds` (nothing is lost; SMS pumping and loops cost us nothing)."""

    limit: int
    window_seconds: int
    quiet_seconds: int

    def args(self) -> list[int]:
        return [self.window_seconds, self.limit, self.quiet_seconds]


class CallbackQueue:
    """Callback records and their queues in Redis. Each number is sealed by `sealer` and
    found by its keyed hash (sealing.py); nothing else in a record is secret."""

    def __init__(
        self,
        client: redis.Redis,
        sealer: Sealer,
        keys: Keys | None = None,
        replicas: Replicas | None = None,
    ) -> None:
        self.r = client
        self.sealer = sealer
        self.keys = keys or Keys()
        self.replicas = replicas or Replicas()

        def script(source: str) -> Script:
            """A Lua script with this helpline's callback prefix written in (${cb})."""
            return client.register_script(Template(source).substitute(cb=self.keys.cb))

        self._request = script(_REQUEST)
        self._too_many = script(_TOO_MANY)
        self._replan = script(_REPLAN)
        self._release = script(_RELEASE)
        self._end = script(_END)
        self._erase_number = script(_ERASE_NUMBER)
        self._erase_ended = script(_ERASE_ENDED)
        self._claim = script(_CLAIM)
        self._claim_one = script(_CLAIM_ONE)
        self._finish = script(_FINISH)
        self._return_stale = script(_RETURN_STALE)
        self._unclaim = script(_UNCLAIM)
        self._count = script(_COUNT)
        self._keep = script(_KEEP)
        self._set_if_there = script(_SET_IF_THERE)

    def _acknowledged(
        self, script: Script, keys: list[str] | None = None, args: list[EncodableT] | None = None
    ) -> Any:
        """A write a promise rests on: held by the replicas asked for, or NotReplicated."""
        return acknowledged(self.r, self.replicas, script, keys or [], args or [])

    def request(
        self,
        number: str,
        source: str,
        now: datetime,
        place: Placement,
        plan: Window | None,
        voicemail: bool = False,
        message_sid: str = "",
        flood: Flood | None = None,
        swapped: bool = False,
    ) -> Requested:
        """Store a callback for `number` unless it has one open (or this message was seen).
        `plan` is the safe-time window (None while held for one). With `flood`, the text is
        counted too (in the same script). `swapped`: asked for by a caller leaving the queue,
        `now` being when they joined it (their place)."""
        h = self.sealer.lookup(number)
        callback_id = secrets.token_hex(8)
        rate_keys = list(self.keys.flood(h)) if flood else ["", ""]
        result = self._acknowledged(
            self._request,
            keys=[
                self.keys.open(h),
                self.keys.numbers(h),
                self.keys.seen(message_sid) if message_sid else "",
                *rate_keys,
            ],
            args=[
                callback_id,
                self.sealer.seal(number),
                source,
                _ts(now),
                _ts(place.due),
                _ts(place.slot_end),
                plan.dumps() if plan else "",
                int(voicemail),
                place.status,
                SEEN_TTL_SECONDS,
                h,
                place.claimable_on.isoformat() if place.claimable_on else "",
                *(flood.args() if flood else ["", "", ""]),
                int(swapped),
            ],
        )
        return Requested(result[0], result[1], _dt(result[2]), result[3] == 1)

    def too_many(self, number: str, flood: Flood) -> bool:
        """Count a text from `number` that stores nothing (HELP, STEPS...): too many?"""
        h = self.sealer.lookup(number)
        return int(self._too_many(keys=list(self.keys.flood(h)), args=flood.args())) == 1

    def replan(self, callback_id: str, plan: Window | None, place: Placement) -> str:
        """Give a waiting callback a new plan and place; "moved", "noted" (it is being called
        now: the plan is kept for a later attempt) or "gone"."""
        done = self._acknowledged(
            self._replan,
            args=[
                callback_id,
                plan.dumps() if plan else "",
                _ts(place.due),
                _ts(place.slot_end),
                place.status,
                place.claimable_on.isoformat() if place.claimable_on else "",
            ],
        )
        return {1: "moved", 2: "noted"}.get(done, "gone")

    def release(
        self, now: datetime, today: date, enough: timedelta = timedelta(minutes=30)
    ) -> list[str]:
        """Move every scheduled callback due by `now` (whose slot has not ended) to the due
        queue; the ids moved (with replicas, those a replica holds). `today` (the local
        date) is remembered for expiry when at least `enough` of the slot is left (or all
        of a shorter slot). Each id is moved by
        one script run, once: a second scheduler, or a second pass, finds it gone. A release
        the replicas did not acknowledge is done all the same and logged as such (it is no
        promise to anyone; if a failover loses it, the next leader's pass does it again)."""
        moved: list[str] = []
        while True:
            args: list[EncodableT] = [_ts(now), BATCH, today.isoformat(), enough.total_seconds()]
            try:
                looked, ids = self._acknowledged(self._release, args=args)
                moved += texts(ids)
            except NotReplicated as exc:
                looked, ids = exc.result
                if ids:
                    log.warning("released, not yet on a replica (%s): %s", exc, ", ".join(ids))
            if int(looked) < BATCH:
                return moved

    def due_to_release(self, now: datetime) -> list[str]:
        """What release() would move now (for a dry run)."""
        ids = texts(self.r.zrangebyscore(self.keys.place("scheduled"), "-inf", _ts(now)))
        return [
            i
            for i in ids
            if float(self.r.hget(self.keys.callback(i), "slot_end") or 0) > now.timestamp()
        ]

    def release_counts(self, callback_id: str) -> tuple[int, int]:
        """How many times the callback was scheduled, and how many times released: the
        second is never above the first (each release takes one scheduled placing)."""
        scheduled, released = self.r.hmget(
            self.keys.callback(callback_id), ["times_scheduled", "times_released"]
        )
        return int(scheduled or 0), int(released or 0)

    def slot_ended(self, now: datetime) -> list[Callback]:
        """Scheduled or due callbacks whose slot has ended: the scheduler gives each its next
        slot."""
        ended = texts(self.r.zrangebyscore(self.keys.place("slots"), "-inf", _ts(now)))
        found = (self.get(i) for i in ended)
        return [cb for cb in found if cb and cb.status in ("scheduled", "due")]

    def end(
        self,
        callback_id: str,
        status: str,
        now: datetime,
        allowed: tuple[str, ...] = ("held", "scheduled", "due", "claimed"),
        outcome: str = "",
        count: Count | None = None,
    ) -> bool:
        """End a callback in one of the `allowed` statuses; `outcome` says why, and `count`
        is the expiry count it ended on, stored with it (the record says what the log said)."""
        return bool(
            self._acknowledged(
                self._end,
                args=[
                    callback_id,
                    status,
                    _ts(now),
                    " ".join(allowed),
                    outcome,
                    count.missed if count else "",
                    count.counted.isoformat() if count and count.counted else "",
                ],
            )
        )

    def keep(self, callback_id: str) -> bool:
        """A supervisor keeps an overdue callback waiting (False if it is no longer waiting
        to be called: taken or ended)."""
        return bool(self._acknowledged(self._keep, args=[callback_id]))

    def cancel(self, callback_id: str, now: datetime) -> bool:
        return self.end(callback_id, "cancelled", now)

    def erase_number(self, number: str, message_sid: str = "") -> int:
        """Cancel and erase everything stored about `number` (opt-out); how many records.
        With a MessageSid, only the first time that message is seen (-1 after: a Twilio
        retry, or a kept text replayed twice, must not erase a request made since)."""
        return self.erase_lookup(self.sealer.lookup(number), message_sid)

    def erase_lookup(self, h: str, message_sid: str = "") -> int:
        """erase_number by the number's keyed hash (a restore applying the erasure log);
        the language the person chose goes with it."""
        erased = int(
            self._acknowledged(
                self._erase_number,
                keys=[
                    self.keys.open(h),
                    self.keys.numbers(h),
                    self.keys.seen(message_sid) if message_sid else "",
                ],
                args=[SEEN_TTL_SECONDS],
            )
        )
        if erased >= 0:
            # The language chosen and the flood counters (keyed by the same hash) go too, and
            # the append-only file is rewritten without any of it (compaction.py).
            self.r.delete(self.keys.language(h), *self.keys.flood(h))
            compaction.erased(self.r)
        return erased

    def set_language(self, number: str, language: str) -> None:
        """The language `number` chose for replies (personal data: sealed; English is the
        absence of a choice, so nothing is kept for it)."""
        key = self.keys.language(self.sealer.lookup(number))
        if language == ENGLISH:
            self.r.delete(key)
        else:
            self.r.set(key, self.sealer.seal(language))

    def language_of(self, number: str) -> str:
        """The language `number` chose (English unless they chose another)."""
        sealed = maybe_text(self.r.get(self.keys.language(self.sealer.lookup(number))))
        return self.sealer.open(sealed) if sealed else ENGLISH

    def set_callback_language(self, callback_id: str, language: str) -> None:
        """The language a callback was asked in, sealed in its record (shown to advisors);
        English is the absence of one."""
        key = self.keys.callback(callback_id)
        if language == ENGLISH:
            self.r.hdel(key, "language")
        elif self.r.exists(key):
            self.r.hset(key, "language", self.sealer.seal(language))

    def set_urgent(self, callback_id: str) -> None:
        """Flag a callback whose text spoke of danger or despair: shown to the advisor and
        taken first. Sealed in its record (what a person said of themselves is theirs),
        erased with it."""
        key = self.keys.callback(callback_id)
        if self.r.exists(key):
            self.r.hset(key, "urgent", self.sealer.seal(URGENT))

    def keep_words(self, callback_id: str, words: str) -> None:
        """A person's own words about when to call, kept with their callback (sealed like the
        number, erased with the record, never logged) for the advisor to read beside the
        window: the last WORDS_KEPT such texts, each cut to WORDS_MAX characters."""
        key = self.keys.callback(callback_id)
        sealed = maybe_text(self.r.hget(key, "words"))
        earlier: list[str] = json.loads(self.sealer.open(sealed)) if sealed else []
        kept = [*earlier, words[:WORDS_MAX]][-WORDS_KEPT:]
        self._set_if_there(keys=[key], args=["words", self.sealer.seal(json.dumps(kept))])

    def mark_plan_given(self, callback_id: str) -> None:
        """The person gave this callback's plan (even "ANYTIME"): it is theirs, not a default."""
        self._set_if_there(keys=[self.keys.callback(callback_id)], args=["given", 1])

    def set_count(self, callback_id: str, count: Count) -> bool:
        """Store a waiting callback's expiry count (see expiry.py)."""
        return bool(
            self._count(
                args=[callback_id, count.missed, count.counted.isoformat() if count.counted else ""]
            )
        )

    def erase_ended(self, ended_before: datetime) -> int:
        total = 0
        while True:
            erased = int(self._erase_ended(args=[_ts(ended_before), BATCH]))
            total += erased
            if erased < BATCH:
                if total:
                    compaction.erased(self.r)
                return total

    def close_unrecorded_claims(self, claimed_before: datetime, now: datetime) -> int:
        """End claims older than `claimed_before` that nobody recorded an outcome for."""
        return sum(
            self.finish(i, ANYONE, "not_recorded", "done", now)
            for i in self.unrecorded_claims(claimed_before)
        )

    def unrecorded_claims(self, claimed_before: datetime) -> list[str]:
        return texts(self.r.zrangebyscore(self.keys.place("claimed"), "-inf", _ts(claimed_before)))

    def set_voicemail(self, callback_id: str, allowed: bool) -> None:
        """Whether a voicemail may be left (the person's latest answer)."""
        if self.r.exists(self.keys.callback(callback_id)):
            self.r.hset(self.keys.callback(callback_id), "voicemail", int(allowed))

    def has_open(self, number: str) -> bool:
        return bool(self.r.exists(self.keys.open(self.sealer.lookup(number))))

    def open_for(self, number: str) -> Callback | None:
        callback_id = maybe_text(self.r.get(self.keys.open(self.sealer.lookup(number))))
        return self.get(callback_id) if callback_id else None

    def get(self, callback_id: str) -> Callback | None:
        data = table(self.r.hgetall(self.keys.callback(callback_id)))
        if not data:
            return None
        language = self.sealer.open(data["language"]) if data.get("language") else ENGLISH
        urgent = bool(data.get("urgent")) and self.sealer.open(data["urgent"]) == URGENT
        words = tuple(json.loads(self.sealer.open(data["words"]))) if data.get("words") else ()
        return _callback(
            callback_id, data, self.sealer.open(data["number"]), language, urgent, words
        )

    def keep_keyed(self, call_sid: str, number: str, seconds: int) -> None:
        """A number keyed in (or offered) during a call, kept sealed while the caller decides."""
        self.r.set(self.keys.keyed_number(call_sid), self.sealer.seal(number), ex=seconds)

    def keyed(self, call_sid: str) -> str | None:
        sealed = maybe_text(self.r.get(self.keys.keyed_number(call_sid)))
        return self.sealer.open(sealed) if sealed else None

    def note_call_in_crisis(self, call_sid: str, seconds: int) -> None:
        """This call spoke of danger or despair (sealed, like all a person says of
        themselves; gone when the call is long over)."""
        self.r.set(self.keys.call_in_crisis(call_sid), self.sealer.seal(URGENT), ex=seconds)

    def call_in_crisis(self, call_sid: str) -> bool:
        sealed = maybe_text(self.r.get(self.keys.call_in_crisis(call_sid)))
        return sealed is not None and self.sealer.open(sealed) == URGENT

    def forget_keyed(self, call_sid: str) -> None:
        self.r.delete(self.keys.keyed_number(call_sid))

    def keep_asked(self, call_sid: str, asked: Asked, seconds: int) -> None:
        """What a call has asked of a callback so far (sealed), for when it ends unfinished."""
        sealed = self.sealer.seal(f"{asked.number} {int(asked.voicemail)} {asked.language}")
        self.r.set(self.keys.asked_callback(call_sid), sealed, ex=seconds)

    def asked(self, call_sid: str) -> Asked | None:
        sealed = maybe_text(self.r.get(self.keys.asked_callback(call_sid)))
        if not sealed:
            return None
        number, voicemail, language = self.sealer.open(sealed).split(" ")
        return Asked(number, voicemail == "1", language)

    def forget_asked(self, call_sid: str) -> None:
        self.r.delete(self.keys.asked_callback(call_sid))

    def ids(self, status: str) -> list[str]:
        """Ids in one state, in queue order."""
        if status in ("held", "scheduled", "due", "claimed"):
            return texts(self.r.zrange(self.keys.place(status), 0, -1))
        return [
            i
            for i in texts(self.r.zrange(self.keys.place("ended"), 0, -1))
            if self.r.hget(self.keys.callback(i), "status") == status
        ]

    def all(
        self,
        statuses: tuple[str, ...] = (
            "held",
            "scheduled",
            "due",
            "claimed",
            "done",
            "cancelled",
            "expired",
        ),
    ) -> Iterator[Callback]:
        seen: set[str] = set()
        for status in statuses:
            for callback_id in self.ids(status):
                if callback_id not in seen:
                    seen.add(callback_id)
                    callback = self.get(callback_id)
                    if callback is not None:
                        yield callback

    def claim(self, advisor: str, now: datetime) -> Callback | None:
        """Atomically take the oldest due callback whose slot has not ended: two advisors
        never get the same one, and nobody is called outside their safe window."""
        callback_id = self._acknowledged(self._claim, args=[advisor, _ts(now)])
        return self.get(callback_id) if callback_id else None

    def claim_one(self, callback_id: str, advisor: str, now: datetime) -> Callback | None:
        """Atomically take this callback if it may be claimed (claims.may_claim): two
        advisors taking the one list's head at once never both get it."""
        if not self._claim_one(args=[callback_id, advisor, _ts(now)]):
            return None
        return self.get(callback_id)

    def finish(
        self,
        callback_id: str,
        advisor: str,
        outcome: str,
        status: str,
        now: datetime,
        place: Placement | None = None,
    ) -> bool:
        """Record an outcome of a claimed callback; False if it isn't this advisor's claim.
        A retry (status scheduled) goes to `place`."""
        return bool(
            self._acknowledged(
                self._finish,
                args=[
                    callback_id,
                    advisor,
                    outcome,
                    status,
                    _ts(now),
                    _ts(place.due) if place else "",
                    _ts(place.slot_end) if place else "",
                ],
            )
        )

    def unclaim(self, callback_id: str, advisor: str) -> bool:
        """Give a claim back to the due queue (the advisor's phone could not be rung)."""
        return bool(self._acknowledged(self._unclaim, args=[callback_id, advisor]))

    def return_stale_claims(self, claimed_before: datetime) -> int:
        return int(self._return_stale(args=[_ts(claimed_before)]))

    def stale_claims(self, claimed_before: datetime) -> list[str]:
        """What return_stale_claims() would return (for a dry run)."""
        return [
            i
            for i in self.unrecorded_claims(claimed_before)
            if self.r.hget(self.keys.callback(i), "caller_connected") != "1"
        ]

    def set_call_state(self, callback_id: str, state: str, caller_connected: bool = False) -> None:
        """What the console shows: ringing, connected, machine, ended. Only for a claim."""
        key = self.keys.callback(callback_id)
        if self.r.hget(key, "status") != "claimed":
            return
        fields: dict[FieldT, EncodableT] = {"call_state": state}
        if caller_connected:
            fields["caller_connected"] = 1
        self.r.hset(key, mapping=fields)

    def claimed_by(self, advisor: str) -> list[Callback]:
        found = (self.get(i) for i in texts(self.r.zrange(self.keys.place("claimed"), 0, -1)))
        return [cb for cb in found if cb and cb.claimed_by == advisor]

    def counts(self) -> dict[str, int]:
        return {
            name: self.r.zcard(self.keys.place(name))
            for name in ("held", "scheduled", "due", "claimed", "ended")
        }


def _plan(data: dict[str, str]) -> Window | None:
    """The stored plan; None while held."""
    return Window.loads(data["plan"]) if data.get("plan") else None


def _callback(
    callback_id: str,
    data: dict[str, str],
    number: str,
    language: str = "en",
    urgent: bool = False,
    words: tuple[str, ...] = (),
) -> Callback:
    return Callback(
        id=callback_id,
        number=number,
        source=data["source"],
        requested_at=_need(_dt(data["requested_at"])),
        due_at=_need(_dt(data["due_at"])),
        status=data["status"],
        plan=_plan(data),
        slot_end=_dt(data.get("slot_end")),
        voicemail=data.get("voicemail") == "1",
        attempts=int(data.get("attempts", 0)),
        claimed_by=data.get("claimed_by") or None,
        claimed_at=_dt(data.get("claimed_at")),
        caller_connected=data.get("caller_connected") == "1",
        call_state=data.get("call_state") or None,
        outcome=data.get("outcome") or None,
        swapped=data.get("swapped") == "1",
        language=language,
        urgent=urgent,
        words=words,
        plan_given=data.get("given") == "1",
        count=Count(
            int(data.get("missed") or 0),
            _day(data.get("counted")),
            _day(data.get("claimable_on")),
            int(data.get("kept") or 0),
        ),
    )


def _need(at: datetime | None) -> datetime:
    if at is None:
        raise ValueError("a callback record is missing a time")
    return at


def erase_simulated(r: redis.Redis, keys: Keys) -> int:
    """Erase everything `helpline simulate` made for this helpline (keys.simulation): run
    nightly, so nothing simulated lives longer than a day."""
    erased = 0
    for batch in _batches(r.scan_iter(keys.simulation.base + "*", count=1000), 500):
        erased += int(r.unlink(*batch))
    return erased


def erase_plain_simulation(r: redis.Redis, keys: Keys) -> int:
    """Erase what earlier plain `helpline simulate` runs made for this helpline (named
    sessions stay): each plain run starts clean."""
    erased = 0
    found = (k for k in r.scan_iter(keys.simulation.base + "*", count=1000))
    ours = (k for k in found if not k.startswith(keys.sessions))
    for batch in _batches(ours, 500):
        erased += int(r.unlink(*batch))
    return erased


def _batches(items: Iterator[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
