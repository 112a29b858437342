"""`helpline twilio configure|check|verify` and `helpline fallback export`: the
Twilio number pointed at this app, and the safe answer when it is down."""

from __future__ import annotations

from pathlib import Path

import click
from twilio.base.exceptions import TwilioException

from ivr.cli.common import accounts, flows_or_exit
from ivr.config import Settings
from ivr.core.phone import mask
from ivr.twilio.rest import rest_client
from ivr.twilio.setup import (
    NumberNotFound,
    Wanted,
    compare,
    configure,
    export_fallback,
    find_number,
)
from ivr.twilio.verify import (
    LIVE_ONLY,
    Finding,
    ask_app,
    call_with_greeting,
    greeting_twiml,
    number_findings,
)


@click.group()
def twilio() -> None:
    """Point the Twilio number at this app, and check it."""


def _client():
    client = rest_client(Settings.from_env())
    if client is None:
        raise click.ClickException("set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN first")
    return client


def _wanted(base_url: str | None, fallback_url: str | None) -> Wanted:
    base = base_url or Settings.from_env().public_base_url
    if not base:
        raise click.ClickException("give --base-url (or set PUBLIC_BASE_URL)")
    return Wanted.for_base(base, fallback_url)


@twilio.command("configure")
@click.option("--number", required=True, help="The helpline's Twilio number, E.164.")
@click.option("--base-url", help="This app's public https address (default PUBLIC_BASE_URL).")
@click.option("--fallback-url", help="Where `helpline fallback export` files are hosted.")
def twilio_configure(number: str, base_url: str | None, fallback_url: str | None) -> None:
    """Set the number's Voice and Messaging webhooks (and fallbacks) through the REST API."""
    wanted = _wanted(base_url, fallback_url)
    try:
        sid = configure(_client(), number, wanted)
    except (NumberNotFound, TwilioException) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{number} ({sid}): voice {wanted.voice_url}, messaging {wanted.sms_url}")
    if wanted.voice_fallback_url:
        click.echo(f"  fallbacks: {wanted.voice_fallback_url}, {wanted.sms_fallback_url}")
    else:
        click.echo(
            "  no fallback URLs: give --fallback-url so callers get the safety line "
            "even when this host is down"
        )


@twilio.command("check")
@click.option("--number", required=True, help="The helpline's Twilio number, E.164.")
@click.option("--base-url", help="This app's public https address (default PUBLIC_BASE_URL).")
@click.option("--fallback-url", help="Where the fallback files are hosted.")
def twilio_check(number: str, base_url: str | None, fallback_url: str | None) -> None:
    """Say what the number is set to and whether it matches."""
    try:
        rows = compare(_client(), number, _wanted(base_url, fallback_url))
    except (NumberNotFound, TwilioException) as exc:
        raise click.ClickException(str(exc)) from None
    for name, want, have, ok in rows:
        click.echo(
            f"{'ok ' if ok else 'BAD'} {name}: {have or '(not set)'}"
            + ("" if ok else f" (should be {want})")
        )
    if not all(ok for *_, ok in rows):
        raise SystemExit(1)


@twilio.command("verify")
@click.option("--number", required=True, help="The helpline's Twilio number, E.164.")
@click.option("--fallback-url", help="Where the fallback files are hosted.")
@click.option("--call", "advisor", help="Ring this advisor's stored phone with the greeting.")
def twilio_verify(number: str, fallback_url: str | None, advisor: str | None) -> None:
    """The go-live check: the number's configuration as Twilio holds it, one signed request
    to this app through PUBLIC_BASE_URL (counted nowhere), what only a real call can
    confirm, and with --call one real call to an advisor's stored phone."""
    settings = Settings.from_env()
    if not settings.public_base_url:
        raise click.ClickException("set PUBLIC_BASE_URL: the address Twilio calls this app on")
    wanted = _wanted(None, fallback_url)
    client = _client()
    flows = flows_or_exit(settings)
    phone = None
    if advisor:  # a stored phone only, never a typed number: checked before anything runs
        found = accounts().get(advisor)
        if found is None:
            raise click.ClickException(f"no advisor {advisor!r}: see helpline advisors list")
        phone = found.phone
    try:
        record = find_number(client, number)
    except (NumberNotFound, TwilioException) as exc:
        raise click.ClickException(str(exc)) from None
    findings = number_findings(record, wanted)
    click.echo(f"The number {number}, as Twilio has it:")
    _show(findings)
    answer = ask_app(
        settings.public_base_url, settings.twilio_auth_token, number, flows.voice.safety
    )
    click.echo(f"\nThe app at {settings.public_base_url}, asked as Twilio would (not counted):")
    _show(answer)
    click.echo("\nConfirm on a real phone before going live:")
    for item in LIVE_ONLY:
        click.echo(f"[ ] {item}")
    if phone is not None:
        if not settings.helpline_number:
            raise click.ClickException("set HELPLINE_NUMBER: advisors are rung from it")
        try:
            sid = call_with_greeting(client, settings, phone, greeting_twiml(flows, settings))
        except TwilioException as exc:
            raise click.ClickException(f"the call to {advisor} failed: {exc}") from None
        click.echo(f"\nRinging {advisor} on {mask(phone)} with the greeting (call {sid}).")
    if not all(f.ok for f in (*findings, *answer)):
        raise SystemExit(1)


def _show(findings: list[Finding]) -> None:
    for f in findings:
        click.echo(f"{'BAD' if not f.ok else 'WARN' if f.warning else 'ok '} {f.what}")


@click.group()
def fallback() -> None:
    """The safe answer Twilio uses when this host is down."""


@fallback.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def fallback_export(directory: Path) -> None:
    """Write voice.xml and sms.xml to host anywhere (then: twilio configure --fallback-url)."""
    settings = Settings.from_env()
    for path in export_fallback(flows_or_exit(settings), settings, directory):
        click.echo(f"wrote {path}")
