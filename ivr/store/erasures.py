"""The erasure log: which numbers were erased (STOP, or a subject's request), kept outside the
store so a restored backup never brings one back.

A backup holds what the store held when it was taken; a person who sent STOP (or asked to be
erased) after that must not reappear when it is restored. Every erasure is appended here,
fsynced before the store is changed, as the number's keyed hash (sealing.py: lookup) and the
time: never a number. `helpline restore` erases again each hash logged since the backup was
taken (backup.py).

The log is kept for BACKUP_KEEP_DAYS, as long as any backup may be kept: older lines are
dropped, and the first line says from when the log is complete (`since`). A backup taken
before that is refused: erasures made after it may be missing.

It lives in the data folder (ERASURE_LOG to put it elsewhere, e.g. storage every web host
shares: each host logs the STOPs it handled). `record_erasure` is the one call for anything
that erases a number.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ivr.config import Settings
from ivr.store.connection import fsync_folder, private_folder, private_opener
from ivr.store.sealing import Sealer

log = logging.getLogger(__name__)

DAY = 24 * 3600
# Clocks of different hosts differ a little: an erasure logged up to this long before a
# backup's time is applied too (erasing again what the backup may still hold costs nothing
# but a request made in those seconds).
SKEW_SECONDS = 600


class ErasureLog:
    """One erasure log file (0600, in a 0700 folder); times are the system's (seconds)."""

    def __init__(self, path: Path, keep_days: int) -> None:
        self.path = Path(path)
        self.keep_seconds = keep_days * DAY

    def record(self, h: str) -> None:
        """Append one erasure and fsync: on disk before the store forgets the number."""
        now = time.time()
        entry = json.dumps({"h": h, "at": now}) + "\n"
        with self._locked() as handle:
            handle.seek(0)
            first = handle.readline()
            if first and json.loads(first)["since"] < now - self.keep_seconds - DAY:
                self._prune(handle, now, entry)
                return
            if not first:  # complete from the start: nothing was erased before it
                handle.write(json.dumps({"since": 0}) + "\n")
            handle.write(entry)
            handle.flush()
            os.fsync(handle.fileno())
        if not first:
            fsync_folder(self.path.parent)

    def begin(self) -> None:
        """Start the log if it isn't there (a backup does): from then on a missing log means
        a lost one, and a restore refuses to go on without it."""
        with self._locked() as handle:
            handle.seek(0)
            if handle.readline():
                return
            handle.write(json.dumps({"since": 0}) + "\n")  # complete: nothing erased before
            handle.flush()
            os.fsync(handle.fileno())
        fsync_folder(self.path.parent)

    def since(self) -> float | None:
        """From when the log is complete (None: nothing was ever erased)."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                first = handle.readline()
        except FileNotFoundError:
            return None
        return float(json.loads(first)["since"]) if first else None

    def erased_since(self, at: float) -> set[str]:
        """The hashes erased at or after `at` (less SKEW_SECONDS)."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                entries = [json.loads(line) for line in handle if line.strip()]
        except FileNotFoundError:
            return set()
        return {e["h"] for e in entries if "h" in e and e["at"] >= at - SKEW_SECONDS}

    def _prune(self, handle: IO[str], now: float, entry: str) -> None:
        """Drop what is older than the horizon (the log is complete from there on), and add
        `entry`."""
        cutoff = now - self.keep_seconds
        handle.seek(0)
        kept = [e for e in map(json.loads, handle) if "h" in e and e["at"] >= cutoff]
        partial = self.path.with_suffix(".tmp")
        with open(partial, "w", encoding="utf-8", opener=private_opener) as out:
            out.write(json.dumps({"since": cutoff}) + "\n")
            out.writelines(json.dumps(e) + "\n" for e in kept)
            out.write(entry)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, self.path)
        fsync_folder(self.path.parent)

    @contextmanager
    def _locked(self) -> Iterator[IO[str]]:
        private_folder(self.path.parent)
        with open(self.path.with_suffix(".lock"), "a", opener=private_opener) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with open(self.path, "a+", encoding="utf-8", opener=private_opener) as handle:
                yield handle


def erasure_log(settings: Settings) -> ErasureLog:
    path = (
        Path(settings.erasure_log)
        if settings.erasure_log
        else Path(settings.data_dir) / "erasures" / "erasures.jsonl"
    )
    return ErasureLog(path, settings.backup_keep_days)


def record_erasure(log_file: ErasureLog, sealer: Sealer, number: str) -> None:
    """Log that `number` is being erased (STOP, `helpline data erase`): call it before
    erasing from the store, so no restore can bring the number back."""
    log_file.record(sealer.lookup(number))
