"""The published words and hours in the store, and each process's live copy of them.

`helpline content publish` keeps the checked text of flows/ under one key and announces it
on a channel; each web worker and the scheduler hold a ContentWatch that switches to a new
copy as soon as it is announced, and re-reads the version every few seconds should an
announcement be lost. A copy this version of the app can't check is refused: the process
keeps serving what it has and raises the alarm (health, metrics, the supervisor's console).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import redis

from ivr.content.flows import Flows
from ivr.content.published import (
    CONTENT_FORMAT,
    Loaded,
    Published,
    load_files,
    version_of,
)
from ivr.content.tomlfile import FlowFileError
from ivr.store.keys import CONTENT, CONTENT_PUBLISHED
from ivr.store.replies import maybe_text, table

log = logging.getLogger(__name__)

# How often a process re-reads the published version, should an announcement be lost: a
# publish is heard everywhere within this (and at once when announced).
WATCH_SECONDS = 2.0


def read_published(r: redis.Redis) -> Published | None:
    """The published copy, or None; a store error is raised, and ValueError for a record
    this app can't read."""
    data = table(r.hgetall(CONTENT))
    if not data:
        return None
    try:
        files = json.loads(data["files"])
        return Published(
            {str(k): str(v) for k, v in files.items()},
            data["version"],
            datetime.fromisoformat(data["published_at"]),
            int(data.get("format", "1")),
        )
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the published copy is not readable: {exc!r}") from exc


def publish_files(r: redis.Redis, files: Mapping[str, str], at: datetime) -> Published:
    """Keep `files` (checked by the caller) as the published copy and announce it."""
    record = Published(dict(files), version_of(files), at)
    pipe = r.pipeline(transaction=True)
    pipe.hset(
        CONTENT,
        mapping={
            "files": json.dumps(record.files, ensure_ascii=False, sort_keys=True),
            "version": record.version,
            "published_at": at.isoformat(),
            "format": str(CONTENT_FORMAT),
        },
    )
    pipe.publish(CONTENT_PUBLISHED, record.version)
    pipe.execute()
    return record


def check_published(record: Published, flows_dir: Path, now: datetime) -> Loaded:
    """The copy loaded and checked by this version of the app (FlowFileError if it fails,
    naming the file as under `flows_dir`)."""
    if record.format > CONTENT_FORMAT:
        raise FlowFileError(
            Path("the published copy"),
            None,
            f"it was published by a newer version of the app (format {record.format})",
        )
    return load_files(record.files, flows_dir, now)


@dataclass(frozen=True)
class Serving:
    """What a process serves: the checked content, its version, the published copy it came
    from (None: the files as they were at start, not published), and the alarm if any."""

    loaded: Loaded
    version: str
    published: Published | None = None
    problem: str | None = None


class ContentWatch:
    """This process's words and hours: the published copy, switched to when a new one is
    announced or seen (a listener thread, started with the first read). `seconds` 0: the
    content it started with, for good (commands, simulations)."""

    def __init__(
        self,
        store: redis.Redis,
        serving: Serving,
        flows_dir: Path,
        clock: Callable[[], datetime],
        seconds: float = WATCH_SECONDS,
        unpublished: Mapping[str, str] | None = None,
    ) -> None:
        self.store, self.flows_dir, self.clock, self.seconds = store, flows_dir, clock, seconds
        self._serving = serving
        self._first = serving.loaded.flows  # a helpline a later copy lacks keeps these
        # Files that were fine at start while the store was down: published once it is back,
        # unless someone published since.
        self._unpublished = unpublished
        self._started = clock()
        self._refused: str | None = None
        self._changed: list[Callable[[], None]] = []
        self._listening = False
        self.following = True  # until stop(): the listener ends when it sees it False
        self._lock = threading.Lock()

    @property
    def serving(self) -> Serving:
        self._listen()
        return self._serving

    def flows(self, name: str) -> Flows:
        """The checked flows of helpline `name`, as published now (asked four times a call:
        `serving` and its listener check written out)."""
        if not self._listening:
            self._listen()
        found = self._serving.loaded.flows.get(name)
        return found if found is not None else self._first[name]

    def follow(self) -> None:
        """Start following publishes now, rather than at the first read."""
        self._listen()

    def stop(self) -> None:
        """Stop following publishes (an app done with, before the collector frees it): the
        listener ends when it next wakes, checking nothing, so a copy published later is
        not read and checked for an app nobody uses."""
        self.following = False

    def on_change(self, hook: Callable[[], None]) -> None:
        """Call `hook` after each switch to a new copy (the scheduler replans its opening)."""
        self._changed.append(hook)

    def refresh(self) -> None:
        """Switch to the published copy if it is new and passes this app's checks; else keep
        what is served and say why (once per copy). A store error is raised."""
        version = maybe_text(self.store.hget(CONTENT, "version"))
        if self._unpublished is not None:
            version = self._publish_unpublished(version)
        if version is None or version in (self._serving.version, self._refused):
            return
        try:
            record = read_published(self.store)
            if record is None:
                return
            loaded = check_published(record, self.flows_dir, self.clock())
        except (ValueError, FlowFileError) as exc:
            self._refuse(version, str(exc))
            return
        with self._lock:
            self._serving = Serving(
                Loaded(loaded.lines, {**self._first, **loaded.flows}), record.version, record
            )
            self._refused = None
        if set(loaded.flows) != set(self._first):
            log.warning(
                "the published helplines.toml lists other helplines than this process "
                "started with: restart to take them on"
            )
        log.info(
            "now serving the words and hours published %s (version %s)",
            record.published_at.isoformat(timespec="seconds"),
            record.short,
        )
        for hook in self._changed:
            try:
                hook()
            except Exception:
                log.exception("after switching to new words and hours")

    def _publish_unpublished(self, version: str | None) -> str | None:
        files = self._unpublished
        assert files is not None
        record = read_published(self.store) if version is not None else None
        if record is None or record.published_at <= self._started:
            mine = publish_files(self.store, files, self._started)
            version = mine.version
            with self._lock:
                if mine.version == self._serving.version:
                    self._serving = replace(self._serving, published=mine)
            log.info("published the words and hours this process started with (store back)")
        self._unpublished = None
        return version

    def _refuse(self, version: str, why: str) -> None:
        problem = (
            f"the published words and hours (version {version[:12]}) fail this version of "
            f"the app's checks: {why}. Callers still hear the version before it "
            f"({self._serving.version[:12]}): fix flows/ and run helpline content publish"
        )
        log.error("%s", problem)
        with self._lock:
            self._refused = version
            self._serving = replace(self._serving, problem=problem)

    def _listen(self) -> None:
        if self._listening or self.seconds <= 0:
            return
        self._listening = True
        threading.Thread(
            target=_listener, args=(weakref.ref(self),), name="content-watch", daemon=True
        ).start()


def _listener(watched: weakref.ref[ContentWatch]) -> None:
    """Refresh on every announcement, and every few seconds anyway; after a lost connection,
    listen again. Ends with the watch it serves (an app no longer used), or when stopped."""
    while (watch := watched()) is not None and watch.following:
        seconds, store = watch.seconds, watch.store
        del watch
        try:
            pubsub = store.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(CONTENT_PUBLISHED)
            while (watch := watched()) is not None and watch.following:
                watch.refresh()
                del watch
                pubsub.get_message(timeout=seconds)
            pubsub.close()
        except redis.RedisError:
            time.sleep(1)
        except Exception:
            log.exception("while watching for published words and hours")
            time.sleep(seconds)
