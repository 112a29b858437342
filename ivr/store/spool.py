"""Texts that arrive while the store is unreachable, kept on the web host's disk until it
answers again, then put into the queue exactly once.

A text is never lost because Redis is down. What is kept is what the queue would keep: the
number, the MessageSid and what the text asked for (a keyword or a safe time as read), never
the body. Each entry is one JSON line, appended under a file lock and fsynced before the
person is told we have it. Replaying goes through the same rules as a live text, once per
MessageSid (the queue's own once-only key), in the order the texts came, STOP included.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from ivr.store.connection import private_folder, private_opener

log = logging.getLogger(__name__)

# A flood while the store is down must not fill the disk: past this, texts get the
# "unavailable" reply as before (each is still answered).
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Spooled:
    """One text taken while the store was down: kind is opt_out, request, plan, anytime,
    ambiguous or ask_time; `window` is a plan's Window.dumps(); `hour` an ambiguous hour."""

    sid: str
    number: str
    kind: str
    at: str  # ISO-8601: when it arrived
    window: str = ""
    hour: int | None = None

    @property
    def received(self) -> datetime:
        return datetime.fromisoformat(self.at)


class SpoolFull(RuntimeError):
    """The spool holds MAX_ENTRIES texts already."""


class Spool:
    """The spool file of one data folder (0600, in a 0700 folder)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "spool" / "texts.jsonl"

    def waiting(self) -> bool:
        """Cheap: whether anything is waiting to be replayed."""
        try:
            return self.path.stat().st_size > 0
        except OSError:
            return False

    def add(self, entry: Spooled) -> None:
        """Append and fsync: on disk before the person is told we have their text."""
        with self._locked() as handle:
            handle.seek(0)
            if sum(1 for _ in handle) >= MAX_ENTRIES:
                raise SpoolFull(f"{MAX_ENTRIES} texts are waiting already")
            handle.seek(0, os.SEEK_END)
            handle.write(json.dumps(asdict(entry)) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def replay(self, apply: Callable[[Spooled], None]) -> int:
        """Hand each waiting text to `apply`, oldest first, and keep only those not yet
        applied (an error, such as the store failing again, stops the replay there). The
        file is rewritten safely: a crash leaves either the old or the new list, and
        replaying a text twice changes nothing (the queue knows its MessageSid)."""
        if not self.waiting():
            return 0
        with self._locked() as handle:
            handle.seek(0)
            entries = list(_read(handle))
            done = 0
            try:
                for entry in entries:
                    apply(entry)
                    done += 1
            finally:
                if done:
                    self._rewrite(entries[done:])
        if done:
            log.info("%d texts taken while the store was down are now in the queue", done)
        return done

    def _rewrite(self, entries: list[Spooled]) -> None:
        partial = self.path.with_suffix(".tmp")
        with open(partial, "w", encoding="utf-8", opener=private_opener) as out:
            out.writelines(json.dumps(asdict(e)) + "\n" for e in entries)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, self.path)
        _fsync_folder(self.path.parent)

    @contextmanager
    def _locked(self) -> Iterator[IO[str]]:
        """The spool file, opened for reading and appending, under an exclusive lock (the
        web workers of one host share it). The lock is a file of its own, so rewriting the
        spool never swaps the file a waiting worker has locked."""
        private_folder(self.path.parent)
        with open(self.path.with_suffix(".lock"), "a", opener=private_opener) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            created = not self.path.exists()
            with open(self.path, "a+", encoding="utf-8", opener=private_opener) as handle:
                if created:
                    _fsync_folder(self.path.parent)
                yield handle


def _read(handle: IO[str]) -> Iterator[Spooled]:
    for line in handle:
        if line.strip():
            try:
                yield Spooled(**json.loads(line))
            except (ValueError, TypeError):
                log.error("an unreadable line in the text spool was skipped")


def _fsync_folder(folder: Path) -> None:
    """A new or renamed file survives a crash only once its folder is on disk too."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
