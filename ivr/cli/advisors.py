"""`helpline advisors ...`: the console's accounts."""

from __future__ import annotations

import os

import click

from ivr.cli.common import accounts, helpline_command, lines_or_exit, on_helpline, sealer_or_exit
from ivr.config import Settings
from ivr.core.clock import system_clock
from ivr.core.phone import EXAMPLE_INTERNATIONAL, EXAMPLE_NATIONAL, advisor_e164, mask
from ivr.store import audit
from ivr.store.accounts import DEVICE_LINK_SECONDS, AccountError, Accounts
from ivr.store.connection import borrowed
from ivr.twilio import webhooks


@click.group()
def advisors() -> None:
    """Advisor accounts for the console (passwords are asked for, never typed as options)."""


@advisors.command("add")
@click.argument("name")
@click.option(
    "--phone",
    required=True,
    help=f"Their phone, e.g. {EXAMPLE_NATIONAL} or {EXAMPLE_INTERNATIONAL}.",
)
@click.option("--supervisor", is_flag=True, help="May close the line and manage advisors.")
@click.option(
    "--helpline",
    "helpline_names",
    multiple=True,
    help="A helpline they serve, by name or number; repeatable. Default: the first.",
)
@click.option("--welsh", is_flag=True, help="Speaks Welsh: takes Welsh callers first.")
def advisors_add(
    name: str, phone: str, supervisor: bool, helpline_names: tuple[str, ...], welsh: bool
) -> None:
    """Add an advisor (a supervisor, with --supervisor) for one or more helplines."""
    try:  # what can be checked is, before anyone types a password
        phone = advisor_e164(phone)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    settings = Settings.from_env()
    served = tuple(on_helpline(settings, n).helpline for n in helpline_names)
    default = lines_or_exit(settings).default.name
    served = () if served in ((), (default,)) else tuple(dict.fromkeys(served))
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        advisor = accounts().add(name, phone, password, supervisor, helplines=served, welsh=welsh)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"added {advisor.username}"
        + (" (supervisor)" if supervisor else "")
        + (", speaks Welsh" if welsh else "")
        + (f" for {', '.join(served)}" if served else "")
    )


@advisors.command("list")
def advisors_list() -> None:
    found = accounts().all()
    if not found:
        click.echo(
            f'No advisors yet: {helpline_command()} advisors add NAME --phone "07400 123456"'
        )
    for a in found:
        click.echo(
            f"{a.username:<20} {a.name:<24} {mask(a.phone):<10} "
            f"{'supervisor' if a.supervisor else 'advisor':<10} "
            f"{'on duty' if a.on_duty else 'off duty'}"
            + ("  speaks Welsh" if a.welsh else "")
            + (f"  {', '.join(a.helplines)}" if a.helplines else "")
        )


@advisors.command("remove")
@click.argument("username")
def advisors_remove(username: str) -> None:
    if not accounts().remove(username):
        raise click.ClickException(f"no advisor {username}")
    click.echo(f"removed {username}")


@advisors.command("set-password")
@click.argument("username")
def advisors_set_password(username: str) -> None:
    password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        accounts().set_password(username, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"password changed for {username}")


@advisors.command("trust-device")
@click.argument("username")
def advisors_trust_device(username: str) -> None:
    """Print a one-time link that lets USERNAME's new device sign in even while the account
    refuses new devices (too many wrong passwords): for when no supervisor can."""
    settings = Settings.from_env()
    with borrowed(settings) as client:
        code = Accounts(client, sealer_or_exit(settings)).device_link(username)
        if code is not None:
            audit.record(
                client, system_clock(), "command line", f"made a device link for {username}"
            )
    if code is None:
        raise click.ClickException(f"no advisor {username}")
    base = settings.public_base_url or (
        f"http://{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or 5000}"
    )
    click.echo(webhooks.url(base, webhooks.TRUST_DEVICE, code=code))
    if not settings.public_base_url:
        click.echo(
            f"(That is this machine's address, as `{helpline_command()} run` serves it. For "
            "a device elsewhere, set PUBLIC_BASE_URL to the console's public address and run "
            "this again.)"
        )
    click.echo(
        f"Give it to {username} yourself. It works once, on one device, for "
        f"{DEVICE_LINK_SECONDS // 60} minutes."
    )
