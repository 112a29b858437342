"""Publishing the words and hours, and whether a preview shows what callers hear.

`publish` checks flows/ exactly as start-up does (content/published.py) and, if it passes,
keeps it in the store as the published version (store/published.py): every web worker and
the scheduler switch to it within seconds. `helpline hours` and `simulate` show the edited
files; `preview` says whether those are what callers hear, and what differs. Both take the
settings, not the services: publishing is what gives the services their words and hours
(services.py publishes at start the same way), and a preview must work with flows/ broken.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.config import Settings
from ivr.content.published import Published, differences, load_files, snapshot, version_of
from ivr.content.tomlfile import FlowFileError
from ivr.core.clock import Clock
from ivr.store import Unavailable
from ivr.store.connection import borrowed
from ivr.store.published import check_published, publish_files, read_published


class NotPublished(Exception):
    """Nothing changed for callers; the message says why, in staff's words."""


@dataclass(frozen=True)
class Publication:
    record: Published
    before: Published | None
    changed: list[str]  # the files that differ from the copy before
    fallback_stale: bool  # Twilio's fallback still says the hours before


def publish(settings: Settings, clock: Clock) -> Publication:
    """Check flows/ and publish it; NotPublished (nothing changed live) if it fails a check
    or the store can't be reached."""
    files = snapshot(settings.flows_dir)
    now = clock()
    try:
        loaded = load_files(files, settings.flows_dir, now)
    except FlowFileError as exc:
        raise NotPublished(
            f"{exc}\nNothing was published: callers hear what they heard before. "
            "Correct the file, then run this again."
        ) from None
    try:
        with borrowed(settings) as store:
            try:
                before = read_published(store)
            except ValueError:
                before = None
            if before is not None and before.version == version_of(files):
                return Publication(before, before, [], False)
            record = publish_files(store, files, now)
    except Unavailable as exc:
        raise NotPublished(
            f"the store could not be reached ({exc}): nothing was published"
        ) from None
    changed = differences(before.files, files) if before else sorted(files)
    stale = any(name.endswith("hours.toml") for name in changed)
    if before is not None and not stale:
        try:
            old = check_published(before, settings.flows_dir, now).flows
            stale = any(
                name in old and old[name].fallback_lines() != flows.fallback_lines()
                for name, flows in loaded.flows.items()
            )
        except FlowFileError:
            stale = True
    return Publication(record, before, changed, stale)


@dataclass(frozen=True)
class Preview:
    """Whether the edited files in flows/ are what callers hear."""

    published: Published | None  # None: nothing published yet, or unreadable (see readable)
    readable: bool  # False: the published version could not be read
    live: bool  # the edited files are the published version: what callers hear
    differences: list[str]  # the edited files that differ from the published version


def preview(settings: Settings) -> Preview:
    """What a preview of the edited files (`helpline hours`, `simulate`) shows, against
    what callers hear: the published version, read from the store."""
    files = snapshot(settings.flows_dir)
    try:
        with borrowed(settings) as store:
            record = read_published(store)
    except (Unavailable, ValueError):
        return Preview(None, False, False, [])
    if record is None or record.version == version_of(files):
        return Preview(record, True, record is not None, [])
    return Preview(record, True, False, differences(record.files, files))
