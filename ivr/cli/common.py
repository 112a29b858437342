"""What the commands share: the helpline chosen, its words and hours, the store and
its keys, refused in plain words when they can't be had."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from ivr.actions import publishing
from ivr.config import Settings
from ivr.content.flows import Flows, load_flows
from ivr.content.helplines import Lines, load_lines
from ivr.content.published import Published, load_files, snapshot
from ivr.content.tomlfile import FlowFileError
from ivr.core.clock import parse_instant, system_clock
from ivr.services import line_settings
from ivr.store.accounts import Accounts
from ivr.store.connection import connect
from ivr.store.keys import Keys
from ivr.store.sealing import KeyProblem, Sealer, check_keys, load_sealer

PROJECT_DIR = Path(__file__).resolve().parents[2]
LONDON = ZoneInfo("Europe/London")


def lines_or_exit(settings: Settings) -> Lines:
    try:
        return load_lines(settings.flows_dir)
    except FlowFileError as exc:
        raise click.ClickException(str(exc)) from None


def flows_or_exit(settings: Settings) -> Flows:
    """The words and hours of settings.helpline (the default one if not set), checked as
    start-up checks flows/, and not twice in a process for the same files on the same day
    (content.published.load_files). A mistake in another helpline's folder does not stop a
    command for this one (an operator exporting the fallback during an incident): then this
    helpline's folder alone is read, a mistake in it named, and the other one said as a
    warning (on stderr: an export's output stays as it is)."""
    lines = lines_or_exit(settings)
    line = lines.named(settings.helpline) if settings.helpline else lines.default
    if line is None:
        raise click.ClickException(
            f"no helpline {settings.helpline!r} (the helplines: {', '.join(lines.names)})"
        )
    now = system_clock()
    try:
        return load_files(snapshot(settings.flows_dir), settings.flows_dir, now).flows[line.name]
    except FlowFileError as elsewhere:
        mistake = elsewhere  # said below if this helpline's own folder is sound
    try:
        flows = load_flows(line.directory, now)
    except FlowFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Warning: flows/ has a mistake outside this helpline's words ({mistake}); "
        "these are used as they are, but until it is fixed a publish is refused and a "
        "restart serves the copy published last",
        err=True,
    )
    return flows


def on_helpline(settings: Settings, chosen: str | None) -> Settings:
    """The settings as the helpline chosen by name or number (--helpline) sees them; the
    default helpline when none is chosen."""
    lines = lines_or_exit(settings)
    line = lines.find(chosen) if chosen else lines.default
    if line is None:
        raise click.BadParameter(
            f"no helpline {chosen!r} (the helplines: {', '.join(lines.names)})",
            param_hint="--helpline",
        )
    return line_settings(settings, line)


def keys_of(settings: Settings) -> Keys:
    """The store's keys of settings.helpline (set by on_helpline)."""
    return Keys(settings.helpline or lines_or_exit(settings).default.name)


helpline_option = click.option(
    "--helpline",
    "helpline_name",
    help="Which helpline, by name or number (flows/helplines.toml). Default: the first.",
)


def parse_at(at: str | None, flows: Flows):
    if at is None:
        return system_clock()
    try:
        return parse_instant(at, flows.hours.timezone)
    except ValueError:
        raise click.BadParameter(
            f"{at!r} is not ISO-8601, e.g. 2026-12-25T11:00", param_hint="--at"
        ) from None


def helpline_command(
    argv0: str | None = None, cwd: str | None = None, on_path: str | None = None
) -> str:
    """This command as the person can type it from where they are: `helpline` when that is
    on the PATH, else its path (`.venv/bin/helpline`), so printed advice works as printed."""
    argv0 = argv0 or sys.argv[0]
    if on_path is None and argv0 == sys.argv[0]:
        on_path = shutil.which("helpline")
    if Path(argv0).name != "helpline":  # run as python -m ivr
        return f"{_as_typed(sys.executable, cwd)} -m ivr"
    if on_path and Path(on_path).resolve() == Path(argv0).resolve():
        return "helpline"
    return _as_typed(argv0, cwd)


def _as_typed(path: str, cwd: str | None) -> str:
    """`path` relative to the current folder when it is inside it."""
    try:
        return str(Path(path).relative_to(cwd or os.getcwd()))
    except ValueError:
        return path


def sealer_or_exit(settings: Settings) -> Sealer:
    try:
        return load_sealer(settings)
    except KeyProblem as exc:
        raise click.ClickException(str(exc)) from None


def sealed_store(settings: Settings) -> tuple[Any, Sealer]:
    """The store and the keys its numbers are sealed with (refused if they are not); the
    client is typed Any, as nothing outside ivr/store names Redis."""
    store, sealer = connect(settings), sealer_or_exit(settings)
    try:
        check_keys(store, sealer)
    except KeyProblem as exc:
        raise click.ClickException(str(exc)) from None
    return store, sealer


def accounts() -> Accounts:
    return Accounts(*sealed_store(Settings.from_env()))


def published_when(record: Published) -> str:
    return f"published {record.published_at.astimezone(LONDON):%-d %B %Y at %H:%M}"


def preview_note(settings: Settings) -> str:
    """Whether the edited files a preview shows are what callers hear, and what differs."""
    seen = publishing.preview(settings)
    record = seen.published
    if not seen.readable:
        return "(shown: the edited files in flows/; the published version could not be read)"
    if record is None:
        return (
            "(shown: the edited files in flows/; nothing is published yet: the web publishes "
            "them when it starts, or run helpline content publish)"
        )
    if seen.live:
        return (
            f"(shown: the edited files, the same as the published version {record.short}, "
            f"{published_when(record)}: what callers hear)"
        )
    return (
        f"(shown: the edited files in flows/, not yet published: callers hear version "
        f"{record.short}, {published_when(record)}. Differences: "
        f"{', '.join(seen.differences)}. "
        "To make them live: helpline content publish)"
    )
