"""Texts that arrive while the store is unreachable, kept on the web host's disk until it
answers again, then put into the queue exactly once.

A text is never lost because Redis is down. What is kept is what the queue would keep: the
number (sealed, as in the store: sealing.py), the MessageSid and what the text asked for (a
keyword or a safe time as read), never the body, except a text about when to call: its words
are kept (sealed) for the advisor, as a live text's are. Each entry is one JSON line, appended under
a file lock and fsynced before the person is told we have it. Replaying goes through the
same rules as a live text, once per MessageSid (the queue's own once-only key), in the order
the texts came, STOP included.

The file lock is only ever held for a read or a write of the file, never while the store is
asked anything, and it is taken without blocking (a worker serves many requests on one
thread: a blocking lock, or one held while a hung Redis is awaited, would freeze them all).
One replay runs at a time on a host (a lock of its own, skipped when busy), so the texts
go in in the order they came; an entry the rules refuse is set aside in failed.jsonl with an
ERROR in the log and never holds up the others.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from ivr.store import Unavailable
from ivr.store.connection import fsync_folder, private_folder, private_opener
from ivr.store.sealing import Sealer, looks_sealed

log = logging.getLogger(__name__)
_STORE_ERRORS = (Unavailable, ConnectionError, TimeoutError)

# A flood while the store is down must not fill the disk: past this, texts get the
# "unavailable" reply as before (each is still answered).
MAX_ENTRIES = 10_000
# How long an append waits for another worker's read or write of the file (each takes
# milliseconds); past it the text gets the "unavailable" reply rather than a frozen worker.
LOCK_WAIT_SECONDS = 3.0


@dataclass(frozen=True)
class Spooled:
    """One text taken while the store was down: kind is what keywords.interpret read
    (opt_out, request, plan, anytime, ambiguous, ask_time), replayed through the live
    path's rules; "held" in entries kept by an earlier version. `window` is a plan's
    Window.dumps(); `hour` and `minute` an ambiguous time; `words` the person's words about
    when to call (sealed on disk)."""

    sid: str
    number: str
    kind: str
    at: str  # ISO-8601: when it arrived
    window: str = ""
    hour: int | None = None
    media: tuple[str, ...] = ()  # its media's SIDs, to delete from Twilio once replayed
    helpline: str = ""  # the helpline it was sent to, by name ("": the default)
    urgent: bool = False  # it spoke of danger or despair: its callback is flagged urgent
    words: str = ""
    minute: int = 0

    @property
    def received(self) -> datetime:
        return datetime.fromisoformat(self.at)

    @property
    def key(self) -> tuple[str, str, str]:
        """Which line of the file this is (a retried text may be kept twice)."""
        return (self.sid, self.kind, self.at)


class SpoolFull(RuntimeError):
    """The spool holds MAX_ENTRIES texts already."""


class Spool:
    """The spool file of one data folder (0600, in a 0700 folder); each number in it sealed
    by `sealer`."""

    def __init__(self, data_dir: Path, sealer: Sealer) -> None:
        self.path = Path(data_dir) / "spool" / "texts.jsonl"
        self.sealer = sealer
        # Who has texts waiting (their lookup hashes), as of the file's last change.
        self._senders: tuple[tuple[int, int, int], frozenset[str]] | None = None

    def waiting(self) -> bool:
        """Cheap: whether anything is waiting to be replayed."""
        try:
            return self.path.stat().st_size > 0
        except OSError:
            return False

    def holds(self, number: str) -> bool:
        """Whether `number` has texts waiting: its new ones then join them, in order (a STOP
        never overtakes an earlier request, nor the reverse). Cheap while the spool is empty
        (one stat) and between changes (read once per change of the file). Should the file
        not be had, yes: the text is kept behind whatever may be there."""
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return False
        except OSError:
            return True
        if status.st_size == 0:
            return False
        version = (status.st_ino, status.st_mtime_ns, status.st_size)
        cached = self._senders
        if cached is None or cached[0] != version:
            try:
                with self._locked() as handle:
                    handle.seek(0)
                    senders = frozenset(self._senders_in(handle))
            except OSError:
                return True
            cached = self._senders = (version, senders)
        return self.sealer.lookup(number) in cached[1]

    def add(self, entry: Spooled) -> None:
        """Append and fsync: on disk before the person is told we have their text."""
        with self._locked() as handle:
            handle.seek(0)
            if sum(1 for _ in handle) >= MAX_ENTRIES:
                raise SpoolFull(f"{MAX_ENTRIES} texts are waiting already")
            handle.seek(0, os.SEEK_END)
            handle.write(self._line(entry))
            handle.flush()
            os.fsync(handle.fileno())

    def replay(self, apply: Callable[[Spooled], None]) -> int:
        """Hand each waiting text to `apply`, oldest first; how many went in.

        A store error (ConnectionError, TimeoutError, redis.RedisError's own) stops the
        replay there and the rest wait for the next try; any other error sets that entry
        aside in failed.jsonl. The file is read and rewritten under its lock, but the
        entries are applied without it, so texts kept meanwhile are appended as usual and
        stay. Replaying a text twice changes nothing (the queue knows its MessageSid)."""
        if not self.waiting():
            return 0
        with self._replaying() as alone:
            if not alone:
                return 0  # another worker of this host is replaying: it keeps the order
            with self._locked() as handle:
                handle.seek(0)
                entries = list(self._read(handle))
            settled: set[tuple[str, str, str]] = set()
            failed: list[Spooled] = []
            done = 0
            try:
                for entry in entries:
                    try:
                        apply(entry)
                    except _STORE_ERRORS:
                        raise
                    except Exception:
                        log.exception(
                            "sms %s: a kept text could not be applied; set aside in %s",
                            entry.sid,
                            self.failed_path.name,
                        )
                        failed.append(entry)
                    else:
                        done += 1
                    settled.add(entry.key)
            finally:
                if settled:
                    self._settle(settled, failed)
        if done:
            log.info("%d texts taken while the store was down are now in the queue", done)
        return done

    def reseal(self) -> int:
        """Seal every waiting entry again under the newest key (`helpline keys rotate`);
        how many there are."""
        if not self.waiting():
            return 0
        with self._locked() as handle:
            handle.seek(0)
            entries = list(self._read(handle))
            self._rewrite(entries)
        return len(entries)

    @property
    def failed_path(self) -> Path:
        return self.path.with_name("failed.jsonl")

    def _settle(self, settled: set[tuple[str, str, str]], failed: list[Spooled]) -> None:
        """Drop what was applied or set aside; keep what was appended meanwhile."""
        with self._locked() as handle:
            if failed:
                with open(self.failed_path, "a", encoding="utf-8", opener=private_opener) as out:
                    out.writelines(self._line(e) for e in failed)
                    out.flush()
                    os.fsync(out.fileno())
            handle.seek(0)
            self._rewrite([e for e in self._read(handle) if e.key not in settled])

    def _rewrite(self, entries: list[Spooled]) -> None:
        partial = self.path.with_suffix(".tmp")
        with open(partial, "w", encoding="utf-8", opener=private_opener) as out:
            out.writelines(self._line(e) for e in entries)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, self.path)
        fsync_folder(self.path.parent)

    def _line(self, entry: Spooled) -> str:
        sealed = {"number": self.sealer.seal(entry.number), "who": self.sealer.lookup(entry.number)}
        if entry.words:
            sealed["words"] = self.sealer.seal(entry.words)
        return json.dumps(asdict(entry) | sealed) + "\n"

    def _senders_in(self, handle: IO[str]) -> Iterator[str]:
        """Each waiting text's sender, as the number's keyed hash (`who`: no number opened;
        a line written before there was one is opened to learn it)."""
        for line in handle:
            if line.strip():
                try:
                    fields = json.loads(line)
                    number = fields["number"]
                    yield fields.get("who") or self.sealer.lookup(
                        self.sealer.open(number) if looks_sealed(number) else number
                    )
                except (ValueError, TypeError, KeyError):
                    continue  # _read logs it when the line is replayed

    def _read(self, handle: IO[str]) -> Iterator[Spooled]:
        """The entries, their numbers opened (one kept in clear by an earlier version is
        taken as it is, and sealed when the file is next rewritten)."""
        for line in handle:
            if line.strip():
                try:
                    fields = json.loads(line)
                    fields.pop("who", None)  # the sender's keyed hash, for holds()
                    number = fields["number"]
                    words = fields.get("words", "")
                    yield Spooled(
                        **fields
                        | {
                            "number": self.sealer.open(number) if looks_sealed(number) else number,
                            "media": tuple(fields.get("media", ())),
                            "words": self.sealer.open(words) if words else "",
                        }
                    )
                except (ValueError, TypeError, KeyError):
                    log.error("an unreadable line in the text spool was skipped")

    @contextmanager
    def _locked(self) -> Iterator[IO[str]]:
        """The spool file, opened for reading and appending, under an exclusive lock (the
        web workers of one host share it). The lock is a file of its own, so rewriting the
        spool never swaps the file a waiting worker has locked. Taken without blocking the
        worker: time.sleep yields to its other requests (gevent), and after
        LOCK_WAIT_SECONDS an OSError says the spool is not to be had."""
        private_folder(self.path.parent)
        with open(self.path.with_suffix(".lock"), "a", opener=private_opener) as lock:
            _take(lock, LOCK_WAIT_SECONDS)
            created = not self.path.exists()
            with open(self.path, "a+", encoding="utf-8", opener=private_opener) as handle:
                if created:
                    fsync_folder(self.path.parent)
                yield handle

    @contextmanager
    def _replaying(self) -> Iterator[bool]:
        """Whether this caller is the host's one replayer (False at once when another is)."""
        private_folder(self.path.parent)
        with open(self.path.with_name("replay.lock"), "a", opener=private_opener) as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True


def _take(lock: IO[str], wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise OSError("the text spool is locked by another worker") from None
            time.sleep(0.005)
