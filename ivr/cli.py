"""The `helpline` command (also `python -m ivr`): run, hours, check, simulate."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path
from xml.etree import ElementTree

import click

from ivr import create_app, scheduler
from ivr.callbacks import STATUSES, Callback
from ivr.checks import check_settings
from ivr.clock import fixed_clock, parse_instant, system_clock
from ivr.config import Settings
from ivr.flows import Flows, load_flows
from ivr.phone import mask
from ivr.phrases import when
from ivr.queue import CallbackQueue
from ivr.simulate import SILENCE, TwilioLikeClient, simulate_call
from ivr.store import connect, describe, start_embedded
from ivr.supervise import supervise
from ivr.tomlfile import FlowFileError

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _flows_or_exit(settings: Settings) -> Flows:
    try:
        return load_flows(settings.flows_dir, system_clock())
    except FlowFileError as exc:
        raise click.ClickException(str(exc)) from None


def _instant(at: str | None, flows: Flows):
    if at is None:
        return system_clock()
    try:
        return parse_instant(at, flows.hours.timezone)
    except ValueError:
        raise click.BadParameter(f"{at!r} is not ISO-8601, e.g. 2026-12-25T11:00",
                                 param_hint="--at") from None


@click.group()
def main() -> None:
    """helpline front door: the phone and SMS entrance of the helpline."""


@main.command()
@click.option("--at", help="An instant, ISO-8601 (UK local time without an offset).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def hours(at: str | None, as_json: bool) -> None:
    """Is the helpline open (now, or --at), until when, and when does it next open?"""
    flows = _flows_or_exit(Settings.from_env())
    instant = _instant(at, flows)
    status = flows.hours.status(instant)
    if as_json:
        click.echo(json.dumps(status.as_json(), indent=2))
        return
    local = instant.astimezone(flows.hours.timezone)
    click.echo(f"At {local:%A %-d %B %Y %H:%M %Z}:")
    phrase = when(status.next_opening, instant, flows.hours, flows.phrases)
    if status.open:
        click.echo(f"  open, closes at {status.closes_at:%H:%M}; next opens {phrase}")
    else:
        reason = status.reason.kind.replace("_", " ")
        detail = f": {status.reason.text}" if status.reason.text else ""
        click.echo(f"  closed ({reason}{detail}); opens {phrase}")


@main.command()
def check() -> None:
    """Check flows/ and the settings; exits non-zero when something would fail callers."""
    settings = Settings.from_env()
    flows = _flows_or_exit(settings)
    click.echo(f"flows: {flows.directory} is valid")
    problems = check_settings(settings)
    if settings.twilio_auth_token and settings.public_base_url:
        problems += _signature_round_trip(settings)
    for p in problems:
        click.echo(f"{p.level}: {p.message}", err=p.level == "error")
    errors = sum(p.level == "error" for p in problems)
    if errors:
        raise SystemExit(1)
    click.echo("settings: no errors" + (f" ({len(problems)} warnings)" if problems else ""))


def _signature_round_trip(settings: Settings):
    """Sign a request for PUBLIC_BASE_URL/voice as Twilio would and check the app accepts it."""
    from ivr.checks import Problem

    app = create_app()
    response = TwilioLikeClient(app, {"CallSid": "CAcheck", "From": "anonymous"}).post("/voice")
    if response.status_code == 403:
        return [Problem("error", "a request signed for PUBLIC_BASE_URL/voice was rejected: "
                        "check PUBLIC_BASE_URL and TRUSTED_PROXIES")]
    return []


@main.group()
def simulate() -> None:
    """Run the real webhooks in-process at any instant."""


@simulate.command("call")
@click.option("--at", help="When the call happens, ISO-8601 (UK local time without offset).")
@click.option("--from", "caller", default="+447700900123", show_default=True,
              help="The caller's number (or anonymous).")
@click.option("--to", "called", default="+441234567890", show_default=True,
              help="The helpline's number.")
@click.option("--press", "presses", multiple=True,
              help=f"A key to press at each menu, in order; repeatable. {SILENCE} for silence.")
@click.option("--dial-status", default="no-answer", show_default=True,
              type=click.Choice(["completed", "no-answer", "busy", "failed"]),
              help="How the advisors' phones answer, if the caller asks for an advisor.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable transcript.")
def simulate_call_command(at, caller, called, presses, dial_status, as_json) -> None:
    """Call the helpline and print what the caller hears and presses, in order."""
    settings = Settings.from_env()
    flows = _flows_or_exit(settings)
    instant = _instant(at, flows)
    app = create_app({"log_level": os.environ.get("LOG_LEVEL", "ERROR")},
                     clock=fixed_clock(instant))
    transcript = simulate_call(app, presses, caller, called, dial_status)
    if as_json:
        click.echo(json.dumps({"at": instant.isoformat(), "events": transcript.events},
                              indent=2))
        return
    local = instant.astimezone(flows.hours.timezone)
    click.echo(f"Call at {local:%A %-d %B %Y %H:%M %Z}")
    for line in transcript.lines():
        click.echo(f"  {line}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=lambda: int(os.environ.get("PORT", "5000")), show_default="5000")
def run(host: str, port: int) -> None:
    """Run web (gunicorn, as the Procfile does) and scheduler together, on the embedded Redis
    unless REDIS_URL is set; print the webhook URLs. Ctrl-C stops everything."""
    settings = Settings.from_env()
    _flows_or_exit(settings)
    if not settings.redis_url:
        start_embedded(settings.data_dir)  # this process owns the embedded server's lifetime
    click.echo(f"Store: {describe(settings)}")
    base = settings.public_base_url or f"http://{host}:{port}"
    click.echo("Paste these into your Twilio number's configuration (HTTP POST):")
    click.echo(f"  Voice, 'A call comes in':     {base}/voice")
    click.echo(f"  Messaging, 'A message comes in': {base}/sms")
    if not settings.public_base_url:
        click.echo("  (Twilio reaches this machine only through a tunnel: set PUBLIC_BASE_URL "
                   "to the tunnel's https address.)")
    web = [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"{host}:{port}",
           "--workers", os.environ.get("WEB_CONCURRENCY", "2"), "--timeout", "10"]
    scheduler = [sys.executable, "-m", "ivr", "scheduler"]
    raise SystemExit(supervise({"web": web, "scheduler": scheduler}, cwd=PROJECT_DIR))


@main.command("scheduler")
def scheduler_command() -> None:
    """Run the scheduler (one per installation; a second one waits as a standby)."""
    settings = Settings.from_env()
    _flows_or_exit(settings)
    scheduler.main(settings)


@main.group()
def callbacks() -> None:
    """See and manage waiting callbacks (numbers masked unless --reveal)."""


def _queue(settings: Settings) -> CallbackQueue:
    return CallbackQueue(connect(settings))


def _callback_json(cb: Callback, reveal: bool) -> dict[str, object]:
    return {"id": cb.id, "status": cb.status, "source": cb.source,
            "number": cb.number if reveal else mask(cb.number),
            "requested_at": cb.requested_at.isoformat(), "due": cb.due_at.isoformat(),
            "preferred": cb.preferred, "voicemail": cb.voicemail, "attempts": cb.attempts}


@callbacks.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only callbacks in this state.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--reveal", is_flag=True, help="Show full phone numbers.")
def callbacks_list(status: str | None, as_json: bool, reveal: bool) -> None:
    settings = Settings.from_env()
    items = [_callback_json(cb, reveal) for cb in
             _queue(settings).all((status,) if status else STATUSES)]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("No callbacks" + (f" {status}" if status else "") + ".")
    for item in items:
        click.echo(f"{item['id']}  {item['status']:<9}  {item['number']:<14}  due {item['due']}  "
                   f"{item['source']}" + (f"  after {item['preferred']}" if item["preferred"]
                                          else ""))


@callbacks.command("show")
@click.argument("callback_id")
@click.option("--reveal", is_flag=True, help="Show the full phone number.")
def callbacks_show(callback_id: str, reveal: bool) -> None:
    cb = _queue(Settings.from_env()).get(callback_id)
    if cb is None:
        raise click.ClickException(f"no callback {callback_id}")
    click.echo(json.dumps(_callback_json(cb, reveal), indent=2))


@callbacks.command("cancel")
@click.argument("callback_id")
def callbacks_cancel(callback_id: str) -> None:
    if not _queue(Settings.from_env()).cancel(callback_id, system_clock()):
        raise click.ClickException(f"no open callback {callback_id}")
    click.echo(f"cancelled {callback_id}")


@simulate.command("sms")
@click.option("--at", help="When the text arrives, ISO-8601 (UK local time without offset).")
@click.option("--from", "sender", required=True, help="The sender's number.")
@click.option("--body", required=True, help="The message.")
def simulate_sms_command(at: str | None, sender: str, body: str) -> None:
    """Send one text through the real webhook, against the configured store; print the reply."""
    flows = _flows_or_exit(Settings.from_env())
    app = create_app({"log_level": os.environ.get("LOG_LEVEL", "ERROR")},
                     clock=fixed_clock(_instant(at, flows)))
    client = TwilioLikeClient(app, {"MessageSid": "SM" + uuid.uuid4().hex, "From": sender,
                                    "To": "+441234567890", "Body": body, "NumMedia": "0"})
    response = client.post("/sms")
    replies = [m.text or "" for m in ElementTree.fromstring(response.get_data(as_text=True))
               .iter("Message")]
    for text in replies or ["(no reply)"]:
        click.echo(text)
