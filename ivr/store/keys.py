"""Every Redis key the app uses, named here and nowhere else (tests/test_layers.py checks).

Designed for what is coming: several helplines may share one store, so what belongs to one
helpline lives under its own part, `hl:{helpline}:`, and the keys one script touches
together share a prefix. People (advisors, sign-in) and the scheduler serve every helpline,
so they are not under one.

  hl:schema                               version of this layout (migrations.py)
  hl:migrating                            held while a migration runs
  hl:keys                                 the keys' check: a process with other keys stops
  hl:{helpline}:cb:{id}                   hash: one callback (queue.py); its number sealed
  hl:{helpline}:cb:held|scheduled|due|slots|claimed|ended
                                          zsets: where each callback is (queue.py)
  hl:{helpline}:cb:open:{h}               the number's one open callback (h: the number's
                                          keyed hash, sealing.py: lookup)
  hl:{helpline}:cb:num:{h}                hash: every callback id of the number (STOP erases)
  hl:{helpline}:seen:{MessageSid}         a message already handled (Twilio retries)
  hl:{helpline}:sms:rate:{h}, :quiet:{h}  a number's flood counter and quiet period
  hl:{helpline}:call:{CallSid}:number     a number keyed in during a call (minutes), sealed
  hl:{helpline}:live:callers              zset: callers waiting in the queue (live.py), by join
  hl:{helpline}:live:caller:{CallSid}     hash: one waiting caller (masked number, no number;
                                          the language they chose, sealed)
  hl:{helpline}:live:room:{CallSid}       set: the call legs in the room a caller is put through
                                          in (their own and the advisor's), while it lasts
  hl:{helpline}:live:handled, :settings   recent handling times; the supervisor's queue rules
  hl:{helpline}:closure                   a supervisor's closure; closure:changed, its channel
  hl:{helpline}:stats:{date}              the day's counters (no numbers), kept 40 days
  hl:{helpline}:stats:{date}:waits, :answer   lists of seconds: waits for a callback, times
                                          to answer from the queue (stats.py)
  hl:{helpline}:stats:month:{yyyy-mm}     the month's: its days added once each (26 months)
  hl:{helpline}:audit                     stream: who did what (numbers masked)
  hl:{helpline}:opening:{iso}, nightly:{date}   once-only marks of the scheduler's jobs
  hl:{helpline}:sim:…                     what `helpline simulate` made: the same keys, apart
                                          (never released, listed or counted; purged nightly);
                                          each plain run clears it first
  hl:{helpline}:sim:@{name}:…             a named simulation session (--session NAME)
  hl:advisors, hl:adv:{username}          advisor accounts (accounts.py), phones sealed
  hl:advstate:{username}                  an advisor's state: free, ringing, on a call (live.py)
  hl:signin:addr:{a}, hl:signin:acct:{u}:{d}, hl:signin:trust:{digest}   sign-in throttle
  hl:console:calling:{username}           one "Take next" at a time
  hl:scheduler:lock, hl:scheduler:heartbeat, hl:apscheduler:jobs, hl:apscheduler:run_times
  hl:purge                                inbound messages and media to delete from Twilio
  hl:content                              hash: the published words and hours (flows/'s files,
                                          their version, time, format); content:published,
                                          the channel that announces a new one (published.py)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

ROOT = "hl:"
EVERY_KEY = f"{ROOT}*"  # SCAN's pattern for every key of the app (backup, restore)
DEFAULT_HELPLINE = "main"

SCHEMA = "hl:schema"
MIGRATING = "hl:migrating"
KEY_CHECK = "hl:keys"
ADVISORS = "hl:advisors"
ADVISOR = "hl:adv:"  # + username
DEVICE_LINK = "hl:signin:trust:"  # + digest
SCHEDULER_LOCK = "hl:scheduler:lock"
SCHEDULER_HEARTBEAT = "hl:scheduler:heartbeat"
APSCHEDULER_JOBS = "hl:apscheduler:jobs"
APSCHEDULER_RUN_TIMES = "hl:apscheduler:run_times"
PURGE = "hl:purge"
# Set when anything personal is erased, taken by the next scheduler tick, which asks Redis to
# rewrite its append-only file without it (store/compaction.py).
ERASED = "hl:erased"
CONTENT = "hl:content"
CONTENT_PUBLISHED = "hl:content:published"


def advisor(username: str) -> str:
    return f"{ADVISOR}{username}"


def signin_address(address: str) -> str:
    return f"hl:signin:addr:{address}"


def signin_account(account: str, device: str) -> str:
    return f"hl:signin:acct:{account}:{device}"


def calling(username: str) -> str:
    return f"hl:console:calling:{username}"


def advisor_state(username: str) -> str:
    return f"hl:advstate:{username}"


SESSION_MARK = "@"  # hl:{helpline}:sim:@{name}:… a named simulation session


@dataclass(frozen=True)
class Keys:
    """The keys of one helpline, or of its simulated twin (`helpline simulate`'s records: a
    simulated "2pm" must never change a real person's safe time)."""

    helpline: str = DEFAULT_HELPLINE
    simulated: bool = False
    session: str = ""  # a simulation's --session NAME: its records apart from other runs'

    @property
    def base(self) -> str:
        if not self.simulated:
            return f"{ROOT}{self.helpline}:"
        return f"{ROOT}{self.helpline}:sim:" + (
            f"{SESSION_MARK}{self.session}:" if self.session else ""
        )

    @property
    def sessions(self) -> str:
        """The prefix of every named simulation session's records."""
        return f"{ROOT}{self.helpline}:sim:{SESSION_MARK}"

    def in_session(self, name: str) -> Keys:
        """The simulated records of one named session (`helpline simulate --session NAME`)."""
        return Keys(self.helpline, simulated=True, session=name)

    @property
    def real(self) -> Keys:
        return Keys(self.helpline)

    @property
    def simulation(self) -> Keys:
        return Keys(self.helpline, simulated=True)

    @property
    def cb(self) -> str:
        """The prefix of every callback key (the Lua scripts build the rest)."""
        return f"{self.base}cb:"

    def callback(self, callback_id: str) -> str:
        return f"{self.cb}{callback_id}"

    def is_callback(self, key: str) -> bool:
        """Whether `key` is one callback's record (its id: 16 hex digits, queue.py)."""
        return re.fullmatch(re.escape(self.cb) + "[0-9a-f]{16}", key) is not None

    def place(self, name: str) -> str:
        """held, scheduled, due, slots, claimed or ended."""
        return f"{self.cb}{name}"

    def open(self, h: str) -> str:
        return f"{self.cb}open:{h}"

    def numbers(self, h: str) -> str:
        return f"{self.cb}num:{h}"

    def language(self, h: str) -> str:
        """The language a person chose (CYMRAEG), sealed, by their number's keyed hash."""
        return f"{self.cb}lang:{h}"

    def seen(self, message_sid: str) -> str:
        return f"{self.base}seen:{message_sid}"

    def flood(self, h: str) -> tuple[str, str]:
        """The number's flood counter and its quiet period."""
        return f"{self.base}sms:rate:{h}", f"{self.base}sms:quiet:{h}"

    def keyed_number(self, call_sid: str) -> str:
        return f"{self.base}call:{call_sid}:number"

    def asked_callback(self, call_sid: str) -> str:
        """A callback a call has asked for (its number confirmed), until its last answer
        stores it or the call ends: then it is kept, held for a safe time."""
        return f"{self.base}call:{call_sid}:asked"

    def call_in_crisis(self, call_sid: str) -> str:
        """Set while a call that spoke of danger or despair goes on: a callback it asks for
        is flagged urgent."""
        return f"{self.base}call:{call_sid}:urgent"

    @property
    def live(self) -> str:
        """The prefix of the in-hours queue's keys (live.py)."""
        return f"{self.base}live:"

    @property
    def live_callers(self) -> str:
        return f"{self.live}callers"

    @property
    def live_handled(self) -> str:
        return f"{self.live}handled"

    @property
    def live_settings(self) -> str:
        """The supervisor's queue rules (read from the real helpline's, live.py)."""
        return f"{self.live}settings"

    def live_caller(self, call_sid: str) -> str:
        return f"{self.live}caller:{call_sid}"

    def live_room(self, call_sid: str) -> str:
        """Who is in the conference a waiting caller is put through in (voice_queue.py)."""
        return f"{self.live}room:{call_sid}"

    @property
    def closure(self) -> str:
        return f"{self.base}closure"

    @property
    def closure_changed(self) -> str:
        return f"{self.base}closure:changed"

    def stats(self, day: date) -> str:
        return f"{self.base}stats:{day.isoformat()}"

    def stats_waits(self, day: date) -> str:
        return f"{self.stats(day)}:waits"

    def stats_answers(self, day: date) -> str:
        return f"{self.stats(day)}:answer"

    def stats_month(self, month: str) -> str:
        """`month`: "2026-11"."""
        return f"{self.base}stats:month:{month}"

    @property
    def audit(self) -> str:
        return f"{self.base}audit"

    def opening(self, opened_iso: str) -> str:
        return f"{self.base}opening:{opened_iso}"

    def nightly(self, day: date) -> str:
        return f"{self.base}nightly:{day.isoformat()}"


DEFAULT = Keys()


# Keys of version 2 of the layout, before helplines had a part of their own: the migration
# to version 3 moves each under the default helpline's part (old prefix -> new prefix).
V2_TO_V3 = (
    ("hl:cb:", "cb:"),
    ("hl:seen:", "seen:"),
    ("hl:sms:", "sms:"),
    ("hl:call:", "call:"),
    ("hl:stats:", "stats:"),
    ("hl:opening:", "opening:"),
    ("hl:nightly:", "nightly:"),
)
V2_RENAMED = (("hl:override", "closure"), ("hl:audit", "audit"))

# Version 3 named a number's keys by an unkeyed hash (sha256, 24 hex digits), which anyone can
# work out from a number: version 4 names them by the keyed hash (32) and drops these.
V3_HASHED = re.compile(r"^hl:[^:]+:(cb:open|cb:num|sms:rate|sms:quiet):[0-9a-f]{24}$")
