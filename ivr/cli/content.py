"""`helpline content publish`: make the words and hours in flows/ what callers hear."""

from __future__ import annotations

import click

from ivr.actions import publishing
from ivr.cli.common import published_when
from ivr.config import Settings
from ivr.content.tomlfile import FlowFileError
from ivr.services import clock_for
from ivr.store.published import WATCH_SECONDS


@click.group()
def content() -> None:
    """The words and hours callers hear (flows/): publish them to the running app."""


@content.command("publish")
def content_publish() -> None:
    """Check flows/ as the app does when it starts and make it what callers hear: every
    running web worker and the scheduler switch to it within seconds, no restart. A file
    with a mistake publishes nothing (callers hear what they heard before)."""
    settings = Settings.from_env()
    try:
        done = publishing.publish(settings, clock_for(settings))
    except (publishing.NotPublished, FlowFileError) as exc:
        raise click.ClickException(str(exc)) from None
    for line in _publication_lines(done):
        click.echo(line)


def _publication_lines(done: publishing.Publication) -> list[str]:
    """What `helpline content publish` says."""
    if done.before is done.record:
        return [
            f"Already published: version {done.record.short}, {published_when(done.record)}. "
            "Callers hear flows/ as it is."
        ]
    said = [
        f"Published version {done.record.short}, {published_when(done.record)}: every running "
        f"web worker and the scheduler switch to it within {WATCH_SECONDS * 2:.0f} seconds, "
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
