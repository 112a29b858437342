"""The erasure log: which numbers were erased (STOP, or a subject's request), kept outside the
store so a restored backup never brings one back.

A backup holds what the store held when it was taken; a person who sent STOP (or asked to be
erased) after that must not reappear when it is restored. Every erasure is appended here,
fsynced before the store is changed, as the number's keyed hash (sealing.py: lookup),
sealed with DATA_KEY, and the time: never a number, and never a hash anyone holding
LOOKUP_KEY could test numbers against (docs/erasure.md says why sealed, not a slow hash).
`helpline restore` opens each entry logged since the backup was taken and erases that hash
again (backup.py). Entries written in the clear by earlier versions are still applied, and
sealed when the log is next rewritten (at the latest, the next erasure).

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

    def record(self, h: str, sealer: Sealer) -> None:
        """Append one erasure, sealed, and fsync: on disk before the store forgets the number.
        The log is rewritten instead when its oldest entries are past the horizon, or when it
        holds hashes in the clear (from before they were sealed)."""
        now = time.time()
        entry = json.dumps({"s": sealer.seal(h), "at": now}) + "\n"
        with self._locked() as handle:
            handle.seek(0)
            first = handle.readline()
            if first and (
                json.loads(first)["since"] < now - self.keep_seconds - DAY
                or any('"h"' in line for line in handle)
            ):
                self._prune(handle, now, entry, sealer)
                return
            handle.seek(0, os.SEEK_END)
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

    def erased_since(self, at: float, sealer: Sealer) -> set[str]:
        """The hashes erased at or after `at` (less SKEW_SECONDS). Only those entries are
        opened, so a DATA_KEY dropped after a rotation matters only to backups taken with it
        (which need it anyway); an entry in range that no key opens raises Unreadable: a
        restore that skipped it would bring that person back."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                entries = [json.loads(line) for line in handle if line.strip()]
        except FileNotFoundError:
            return set()
        wanted = [e for e in entries if "at" in e and e["at"] >= at - SKEW_SECONDS]
        return {sealer.open(e["s"]) if "s" in e else e["h"] for e in wanted}

    def _prune(self, handle: IO[str], now: float, entry: str, sealer: Sealer) -> None:
        """Drop what is older than the horizon (the log is complete from there on), seal any
        hash kept in the clear, and add `entry`."""
        cutoff = now - self.keep_seconds
        handle.seek(0)
        kept = [
            {"s": sealer.seal(e["h"]), "at": e["at"]} if "h" in e else e
            for e in map(json.loads, handle)
            if "at" in e and e["at"] >= cutoff
        ]
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
    log_file.record(sealer.lookup(number), sealer)
