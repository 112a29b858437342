"""`helpline hours`: is the line open, as callers hear it."""

from __future__ import annotations

import json

import click

from ivr.cli.common import (
    flows_or_exit,
    helpline_option,
    keys_of,
    on_helpline,
    parse_at,
    preview_note,
)
from ivr.config import Settings
from ivr.core.phrases import when
from ivr.store import Unavailable
from ivr.store.closures import load_override
from ivr.store.connection import borrowed


@click.command()
@click.option("--at", help="An instant, ISO-8601 (UK local time without an offset).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--ignore-override",
    is_flag=True,
    help="The calendar alone (hours.toml), leaving out a supervisor's closure.",
)
@helpline_option
def hours(at: str | None, as_json: bool, ignore_override: bool, helpline_name: str | None) -> None:
    """Is the helpline open (now, or --at), until when, and when does it next open? What
    callers hear: a supervisor's closure counts when the store can be read."""
    settings = on_helpline(Settings.from_env(), helpline_name)
    flows = flows_or_exit(settings)
    instant = parse_at(at, flows)
    override, source = None, "ignored"
    if not ignore_override:
        try:
            with borrowed(settings) as store:
                override = load_override(store, keys_of(settings))
            source = "read"
        except Unavailable:
            source = "unreachable"
    status = flows.hours.status_with(instant, override)
    supervisor = override is not None and override.active(instant)
    applies = "supervisor" if supervisor else "calendar"
    if as_json:
        click.echo(json.dumps({**status.as_json(), "applies": applies, "store": source}, indent=2))
        return
    local = instant.astimezone(flows.hours.timezone)
    click.echo(f"At {local:%A %-d %B %Y %H:%M %Z}:")
    phrase = (
        when(status.next_opening, instant, flows.hours, flows.phrases)
        if status.reopening_known
        else "when a supervisor reopens the line"
    )
    if status.open:
        click.echo(f"  open, closes at {status.closes_at:%H:%M}; next opens {phrase}")
    else:
        reason = (
            "closed by a supervisor"
            if supervisor
            else (status.reason.kind.replace("_", " ") if status.reason else "closed")
        )
        detail = f": {status.reason.text}" if status.reason and status.reason.text else ""
        click.echo(f"  closed ({reason}{detail}); opens {phrase}")
    click.echo(
        {
            "read": "  (what callers hear: the calendar"
            + (
                " and a supervisor's closure)"
                if supervisor
                else "; no supervisor's closure is set)"
            ),
            "unreachable": "  (the store could not be read: a supervisor's closure, if "
            "any, is not shown; callers hear the calendar too)",
            "ignored": "  (the calendar alone: --ignore-override)",
        }[source]
    )
    click.echo(preview_note(settings), err=True)
