"""Publishing the words and hours, and saying whether a preview shows what callers hear.

`helpline content publish` checks flows/ exactly as start-up does (content/published.py) and,
if it passes, keeps it in the store as the published version (store/published.py): every web
worker and the scheduler switch to it within seconds. `helpline hours` and `simulate` show the
edited files; these say whether those are what callers hear, and what differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ivr.config import Settings
from ivr.content.published import Published, differences, load_files, snapshot, version_of
from ivr.content.tomlfile import FlowFileError
from ivr.core.clock import Clock
from ivr.store import Unavailable
from ivr.store.connection import borrowed
from ivr.store.published import WATCH_SECONDS, check_published, publish_files, read_published

LONDON = ZoneInfo("Europe/London")


class NotPublished(Exception):
    """Nothing changed for callers; the message says why, in staff's words."""


@dataclass(frozen=True)
class Publication:
    record: Published
    before: Published | None
    changed: list[str]  # the files that differ from the copy before
    fallback_stale: bool  # Twilio's fallback still says the hours before


def _when(record: Published) -> str:
    return f"published {record.published_at.astimezone(LONDON):%-d %B %Y at %H:%M}"


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


def publication_lines(done: Publication) -> list[str]:
    """What `helpline content publish` says."""
    if done.before is done.record:
        return [
            f"Already published: version {done.record.short}, {_when(done.record)}. "
            "Callers hear flows/ as it is."
        ]
    said = [
        f"Published version {done.record.short}, {_when(done.record)}: every running web "
        f"worker and the scheduler switch to it within {WATCH_SECONDS * 2:.0f} seconds, "
        "no restart needed.",
        "  Changed: " + (", ".join(done.changed) or "nothing"),
    ]
    if done.fallback_stale:
        said.append(
            "  The hours changed: Twilio's fallback (what callers hear if this app can't be "
            "reached) still gives the old ones. Run helpline fallback export, host the files "
            "again, then helpline twilio configure --fallback-url ... ."
        )
    return said


def preview_note(settings: Settings) -> str:
    """Whether the edited files a preview shows are what callers hear, and what differs."""
    files = snapshot(settings.flows_dir)
    try:
        with borrowed(settings) as store:
            record = read_published(store)
    except (Unavailable, ValueError):
        return "(shown: the edited files in flows/; the published version could not be read)"
    if record is None:
        return (
            "(shown: the edited files in flows/; nothing is published yet: the web publishes "
            "them when it starts, or run helpline content publish)"
        )
    if record.version == version_of(files):
        return (
            f"(shown: the edited files, the same as the published version {record.short}, "
            f"{_when(record)}: what callers hear)"
        )
    return (
        f"(shown: the edited files in flows/, not yet published: callers hear version "
        f"{record.short}, {_when(record)}. Differences: "
        f"{', '.join(differences(record.files, files))}. "
        "To make them live: helpline content publish)"
    )
