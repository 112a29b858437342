"""The in-hours queue in Redis: who is waiting on the line, and each advisor's state.

A waiting caller is kept by CallSid with the time they joined, the last 3 digits of their
number, as the logs show it, and the language they chose (sealed, like every language a
person chose; absent for English) (the full number is never stored for a live caller: Twilio has it,
and a swap to a callback reads it from the call). Taking a caller is one Lua script, so two
advisors never take the same one; an advisor's state changes in a transaction that applies
core/livequeue.py's rules to what is stored.

A caller taken is "taken" while their advisor's phone rings, "bridging" once the advisor
pressed 1 and Twilio is moving them into a room of the two (docs/take-next.md), and
"bridged" once both are in it; until then, a given-back caller is "waiting" again, in the
place they joined in. A caller whose wait page stopped asking is "dropped", and restored to
their place if Twilio still holds them (`reconcile`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from redis.client import Pipeline
from redis.commands.core import Script

from ivr.core.languages import ENGLISH
from ivr.core.livequeue import (
    FREE,
    LIVE_FIRST,
    ON_CALL,
    ORDERS,
    RINGING,
    STALE,
    AdvisorState,
    StaleAfter,
    after_status,
    current,
)
from ivr.store import keys as key_names
from ivr.store.keys import Keys
from ivr.store.replies import maybe_text, table, texts
from ivr.store.sealing import Sealer

KEEP_LEFT_SECONDS = 3600  # a caller who left is remembered this long: their swap reads it
SEEN_STALE = timedelta(minutes=3)  # a caller whose wait page has not asked for this long is gone
HANDLED_KEPT = 20  # recent handling times kept for the estimate
WAITING, TAKEN, LEAVING, BRIDGED, LEFT = "waiting", "taken", "leaving", "bridged", "left"
BRIDGING, DROPPED = "bridging", "dropped"
ROOM_KEPT_SECONDS = 3 * 3600  # who is in a caller's room: longer than any call

_TAKE = """
-- Take one waiting caller for an advisor. KEYS: callers, caller; ARGV: sid, advisor, now
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
if redis.call('HGET', KEYS[2], 'state') ~= 'waiting' then return 0 end
redis.call('HSET', KEYS[2], 'state', 'taken', 'taken_by', ARGV[2], 'taken_at', ARGV[3])
return 1
"""

_BRIDGING = """
-- The advisor pressed 1 for this caller: theirs to put through, if they took them (or, rung
-- for a caller nobody has taken, the first to press 1). KEYS: callers, caller;
-- ARGV: sid, advisor, now
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local state = redis.call('HGET', KEYS[2], 'state')
local by = redis.call('HGET', KEYS[2], 'taken_by')
if state == 'waiting' or ((state == 'taken' or state == 'bridging') and by == ARGV[2]) then
  redis.call('HSET', KEYS[2], 'state', 'bridging', 'taken_by', ARGV[2], 'taken_at', ARGV[3])
  return 1
end
return 0
"""

_GIVE_BACK = """
-- The advisor's phone was not answered, or they left before the bridge: the caller waits
-- on, in their place. KEYS: callers, caller; ARGV: sid, advisor. Returns the state they
-- were in ("" if they were not this advisor's).
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return '' end
local state = redis.call('HGET', KEYS[2], 'state')
if state ~= 'taken' and state ~= 'bridging' then return '' end
if redis.call('HGET', KEYS[2], 'taken_by') ~= ARGV[2] then return '' end
redis.call('HSET', KEYS[2], 'state', 'waiting')
redis.call('HDEL', KEYS[2], 'taken_by', 'taken_at')
return state
"""

_RESTORE = """
-- Twilio still holds a caller our list dropped: back in the place they joined in.
-- KEYS: callers, caller; ARGV: sid, now
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
if redis.call('HGET', KEYS[2], 'state') ~= 'dropped' then return 0 end
local joined = redis.call('HGET', KEYS[2], 'joined')
redis.call('HSET', KEYS[2], 'state', 'waiting', 'seen', ARGV[2])
redis.call('HDEL', KEYS[2], 'ended', 'taken_by', 'taken_at', 'why')
redis.call('PERSIST', KEYS[2])
redis.call('ZADD', KEYS[1], joined, ARGV[1])
return 1
"""

_END = """
-- The caller is no longer waiting. KEYS: callers, caller; ARGV: sid, state, now, keep,
-- advisor (or ""). Returns the state they were in ("" if not waiting).
local was = redis.call('HGET', KEYS[2], 'state') or ''
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return '' end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'state', ARGV[2], 'ended', ARGV[3])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[2], 'answered_by', ARGV[5]) end
redis.call('EXPIRE', KEYS[2], ARGV[4])
return was
"""


def _ts(at: datetime) -> float:
    return at.timestamp()


def _dt(value: str | None) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value else None


@dataclass(frozen=True)
class Caller:
    """A caller in (or just out of) the queue."""

    call_sid: str
    joined: datetime
    masked: str
    state: str
    why: str = ""  # why they are leaving for a callback (livequeue.WHY_LEAVE)
    taken_by: str = ""
    seen: datetime | None = None
    ended: datetime | None = None
    language: str = ENGLISH  # the language they chose: their Twilio queue, shown to advisors


@dataclass(frozen=True)
class Rules:
    """The supervisor's queue rules (the settings' defaults until one is set)."""

    max_wait: timedelta
    order: str = LIVE_FIRST


class LiveQueue:
    """Callers waiting on the line, for one helpline."""

    def __init__(
        self, client: redis.Redis, keys: Keys | None = None, sealer: Sealer | None = None
    ) -> None:
        self.r = client
        self.keys = keys or Keys()
        self.sealer = sealer  # without it, only English callers can be kept
        self.callers_key = self.keys.live_callers
        self._take: Script = client.register_script(_TAKE)
        self._bridging: Script = client.register_script(_BRIDGING)
        self._give_back: Script = client.register_script(_GIVE_BACK)
        self._restore: Script = client.register_script(_RESTORE)
        self._end: Script = client.register_script(_END)

    def join(self, call_sid: str, now: datetime, masked: str, language: str = ENGLISH) -> datetime:
        """Add a caller (once: a retried request keeps the first time); when they joined."""
        key = self.keys.live_caller(call_sid)
        pipe = self.r.pipeline()
        pipe.hsetnx(key, "joined", _ts(now))
        pipe.hsetnx(key, "state", WAITING)
        pipe.hset(key, mapping={"masked": masked, "seen": _ts(now)})
        if language != ENGLISH:
            if self.sealer is None:
                raise ValueError("a caller's language is kept sealed: this queue has no sealer")
            pipe.hset(key, "language", self.sealer.seal(language))
        pipe.persist(key)
        pipe.execute()
        joined = _dt(maybe_text(self.r.hget(key, "joined"))) or now
        self.r.zadd(self.callers_key, {call_sid: _ts(joined)}, nx=True)
        return joined

    def seen(self, call_sid: str, now: datetime) -> Caller | None:
        """The wait page asked for this caller now; their record (None: not in the queue)."""
        if self.r.zscore(self.callers_key, call_sid) is None:
            return None
        self.r.hset(self.keys.live_caller(call_sid), "seen", _ts(now))
        return self.caller(call_sid)

    def caller(self, call_sid: str) -> Caller | None:
        data = table(self.r.hgetall(self.keys.live_caller(call_sid)))
        if "joined" not in data:
            return None
        return Caller(
            call_sid,
            _dt(data["joined"]) or datetime.fromtimestamp(0, UTC),
            data.get("masked", ""),
            data.get("state", WAITING),
            data.get("why", ""),
            data.get("taken_by", ""),
            _dt(data.get("seen")),
            _dt(data.get("ended")),
            self._language(data.get("language", "")),
        )

    def _language(self, sealed: str) -> str:
        if not sealed or self.sealer is None:
            return ENGLISH
        return self.sealer.open(sealed)

    def waiting(self, now: datetime) -> list[Caller]:
        """Callers in the queue, longest waiting first; one whose wait page has not asked
        for SEEN_STALE has gone without Twilio telling us, and is dropped from the list."""
        found = []
        for sid in texts(self.r.zrange(self.callers_key, 0, -1)):
            caller = self.caller(sid)
            if caller is None or caller.seen is None or now - caller.seen > SEEN_STALE:
                self.end(sid, DROPPED, now)  # restored if Twilio still holds them
                continue
            found.append(caller)
        return found

    def take(self, call_sid: str, advisor: str, now: datetime) -> bool:
        """Atomically take a waiting caller for `advisor`: never two advisors for one."""
        return bool(
            self._take(
                keys=[self.callers_key, self.keys.live_caller(call_sid)],
                args=[call_sid, advisor, _ts(now)],
            )
        )

    def bridging(self, call_sid: str, advisor: str, now: datetime) -> bool:
        """`advisor` pressed 1: the caller is theirs to put through (False: someone else's,
        or no longer waiting)."""
        return bool(
            self._bridging(
                keys=[self.callers_key, self.keys.live_caller(call_sid)],
                args=[call_sid, advisor, _ts(now)],
            )
        )

    def give_back(self, call_sid: str, advisor: str) -> str:
        """The caller `advisor` took (or was putting through) waits on in their place; the
        state they were in ("" if they were not this advisor's: nothing changed)."""
        was = self._give_back(
            keys=[self.callers_key, self.keys.live_caller(call_sid)], args=[call_sid, advisor]
        )
        return str(was or "")

    def reconcile(self, call_sid: str, now: datetime, joined: datetime, language: str) -> bool:
        """Twilio holds `call_sid` in the queue (its wait page asks, or the queue's members
        list it) but our list does not: a caller dropped as stale gets the place they joined
        in back, one we never knew (the store lost them) joins as of `joined`. False when
        they are in the list already, or ended for good (bridged, left)."""
        key = self.keys.live_caller(call_sid)
        if self._restore(keys=[self.callers_key, key], args=[call_sid, _ts(now)]):
            return True
        if self.r.exists(key):
            return False
        self.join(call_sid, joined, "", language)
        self.r.hset(key, "seen", _ts(now))
        return True

    def in_room(self, call_sid: str, leg: str, joined: bool) -> set[str]:
        """A call leg joined (or left) the room the caller `call_sid` is put through in;
        who is in it now."""
        key = self.keys.live_room(call_sid)
        pipe = self.r.pipeline()
        if joined:
            pipe.sadd(key, leg)
        else:
            pipe.srem(key, leg)
        pipe.expire(key, ROOM_KEPT_SECONDS)
        pipe.smembers(key)
        return set(texts(pipe.execute()[-1]))

    def leaving(self, call_sid: str, why: str) -> bool:
        """The caller is about to leave the queue for a callback (their choice, or the max
        wait, closing...): the Enqueue's action reads why."""
        key = self.keys.live_caller(call_sid)
        if not self.r.exists(key):
            return False
        self.r.hset(key, mapping={"why": why})
        return True

    def end(self, call_sid: str, state: str, now: datetime, advisor: str = "") -> str:
        """The caller is no longer waiting (`state`: bridged or left); the state they were
        in, "" if they were not waiting (already ended: once only)."""
        was = self._end(
            keys=[self.callers_key, self.keys.live_caller(call_sid)],
            args=[call_sid, state, _ts(now), KEEP_LEFT_SECONDS, advisor],
        )
        return str(was or "")

    def position(self, call_sid: str) -> int | None:
        rank = self.r.zrank(self.callers_key, call_sid)
        return None if rank is None else int(str(rank)) + 1

    def size(self) -> int:
        return int(self.r.zcard(self.callers_key))

    def record_handled(self, seconds: float) -> None:
        """One more answered call's length, for the estimate (the last HANDLED_KEPT)."""
        key = self.keys.live_handled
        pipe = self.r.pipeline()
        pipe.lpush(key, int(seconds))
        pipe.ltrim(key, 0, HANDLED_KEPT - 1)
        pipe.execute()

    def handled(self) -> list[float]:
        return [float(v) for v in self.r.lrange(self.keys.live_handled, 0, -1)]

    def rules(self, default_max_wait: timedelta, default_order: str = LIVE_FIRST) -> Rules:
        """The supervisor's rules, else the settings' (QUEUE_MAX_WAIT_MINUTES, QUEUE_ORDER)."""
        # A simulation follows the real rules (it never sets any).
        data = table(self.r.hgetall(self.keys.real.live_settings))
        minutes = data.get("max_wait_minutes", "")
        order = data.get("order", "")
        return Rules(
            timedelta(minutes=int(minutes)) if minutes.isdigit() else default_max_wait,
            order if order in ORDERS else default_order,
        )

    def set_rules(self, max_wait_minutes: int, order: str) -> None:
        if order not in ORDERS or not 1 <= max_wait_minutes <= 120:
            raise ValueError("max wait is 1 to 120 minutes; order is live_first or by_wait")
        self.r.hset(
            self.keys.live_settings,
            mapping={"max_wait_minutes": max_wait_minutes, "order": order},
        )


class AdvisorStates:
    """Each advisor's state (free, ringing, on a call, wrap-up), as their calls' status
    callbacks say; advisors serve every helpline, so these are kept per person."""

    def __init__(self, client: redis.Redis, live: LiveQueue, stale: StaleAfter = STALE) -> None:
        self.r = client
        self.live = live
        self.stale = stale

    def get(self, username: str) -> AdvisorState:
        data = table(self.r.hgetall(key_names.advisor_state(username)))
        return AdvisorState(data.get("state", FREE), _dt(data.get("since")))

    def now_in(self, username: str, now: datetime) -> str:
        """The state as it stands now (a stale one is free)."""
        return current(self.get(username), now, self.stale)

    def set(self, username: str, state: str, now: datetime) -> None:
        self.r.hset(key_names.advisor_state(username), mapping={"state": state, "since": _ts(now)})

    def _change(
        self, username: str, now: datetime, rule: Callable[[str], str | None]
    ) -> tuple[AdvisorState, str, str | None]:
        """Apply `rule` to the advisor's current state in one transaction (retried if the
        state changed meanwhile): the stored state, the current one, and the new one (None:
        unchanged)."""
        key = key_names.advisor_state(username)

        seen: list[tuple[AdvisorState, str, str | None]] = []

        def change(pipe: Pipeline) -> None:
            data = table(pipe.hgetall(key))
            was = AdvisorState(data.get("state", FREE), _dt(data.get("since")))
            state = current(was, now, self.stale)
            after = rule(state)
            pipe.multi()
            if after is not None:
                pipe.hset(key, mapping={"state": after, "since": _ts(now)})
            seen.append((was, state, after))  # the last try is the one that took

        self.r.transaction(change, key)
        return seen[-1]

    def follow(self, username: str, call_status: str, now: datetime) -> str:
        """Apply a status callback of one of the advisor's call legs; the new state. An
        answered call that ends gives its length to the estimate."""
        was, state, after = self._change(
            username, now, lambda state: after_status(state, call_status)
        )
        if after is None:
            return state
        if state == ON_CALL and after != ON_CALL and was.since is not None:
            self.live.record_handled((now - was.since).total_seconds())
        return after

    def reserve(self, usernames: list[str], now: datetime) -> list[str]:
        """Of `usernames`, those free now, each made "ringing" at once (so two callers
        arriving together don't both ring one advisor)."""
        return [
            username
            for username in usernames
            if self._change(username, now, lambda state: RINGING if state == FREE else None)[2]
        ]
