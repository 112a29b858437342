"""`helpline simulate call|sms`: the real webhooks in-process, at any instant."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from datetime import datetime
from xml.etree import ElementTree

import click
import phonenumbers
from flask import Flask

from ivr import create_app
from ivr.cli.common import flows_or_exit, lines_or_exit, parse_at, preview_note
from ivr.config import Settings
from ivr.core.clock import fixed_clock
from ivr.core.keywords import OPT_IN, OPT_OUT, keyword
from ivr.services import line_settings
from ivr.simulate import SILENCE, Input, Speech, TwilioLikeClient, simulate_call
from ivr.store.keys import Keys
from ivr.store.queue import erase_plain_simulation
from ivr.twilio import webhooks

# What `simulate` makes is kept apart from real records and never reaches Twilio (Settings.
# simulated); its default number is from Ofcom's drama range, which no stranger answers.
DRAMA_MOBILE = "07700 900123"


def as_twilio_sends(number: str) -> str:
    """A number as staff type it ("07700 900123") as Twilio gives it (+447700900123);
    anything else (anonymous, a short code) as it is."""
    try:
        parsed = phonenumbers.parse(number, "GB")
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _simulation() -> dict[str, object]:
    return {"simulated": True, "log_level": os.environ.get("LOG_LEVEL", "ERROR")}


session_option = click.option(
    "--session",
    default="",
    help="Go on with the simulated conversation of this name (several texts or calls, e.g. "
    '"call me back please" then "after 5pm"). Without it, each run starts clean: it sees '
    "the real store's settings, closures and advisors, but no earlier simulation.",
)


def _simulated_app(instant: datetime, session: str) -> Flask:
    """The app as a simulation runs it; a plain run first clears the plain runs' records."""
    app = create_app(
        {**_simulation(), "simulation_session": session}, clock=fixed_clock(instant), serving=False
    )
    if not session:
        h = app.extensions["helpline"]
        for name in h.lines.names:
            erase_plain_simulation(h.redis, Keys(name))
    return app


@click.group()
def simulate() -> None:
    """Run the real webhooks in-process at any instant. What a simulation asks for is kept
    apart from real callbacks (never released, dialled or counted; erased nightly)."""


class InOrder(click.Command):
    """Keeps the order in which options were given (ctx.meta["order"], their names): click
    gathers each repeatable option's values, but not how two of them interleave, and
    `--press 2 --say "I'm scared" --press 8` means those three, in that order."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        _, _, order = self.make_parser(ctx).parse_args(args=list(args))
        ctx.meta["order"] = [param.name for param in order]
        return super().parse_args(ctx, args)


def _called(settings: Settings, called: str) -> tuple[Settings, str]:
    """--to: the helpline it reaches (its settings) and the number Twilio would send as
    `To`. A helpline's name becomes its first number; a number of none of them reaches the
    default helpline, as a real call would."""
    lines = lines_or_exit(settings)
    line = lines.find(called)
    if line is None:
        return line_settings(settings, lines.default), as_twilio_sends(called)
    number = called if called in line.numbers else as_twilio_sends(called)
    if number not in line.numbers:  # by name
        number = line.numbers[0] if line.numbers else "+441234567890"
    return line_settings(settings, line), number


def _in_order(
    order: list[str], values: dict[str, tuple[str, ...]], make: dict[str, Callable[[str], Input]]
) -> list[Input]:
    """The values of the options in `make`, in the order they were given."""
    queues = {name: list(values[name]) for name in make}
    return [make[name](queues[name].pop(0)) for name in order if name in make]


@simulate.command("call", cls=InOrder)
@click.option("--at", help="When the call happens, ISO-8601 (UK local time without offset).")
@click.option(
    "--from",
    "caller",
    default=DRAMA_MOBILE,
    show_default=True,
    help="The caller's number (or anonymous).",
)
@click.option(
    "--to",
    "called",
    default="+441234567890",
    show_default=True,
    help="The number called: a helpline's number or name (flows/helplines.toml); any other "
    "number is answered by the default helpline.",
)
@click.option(
    "--press",
    "presses",
    multiple=True,
    help=f"A key to press at each menu, in order; repeatable. {SILENCE} for silence.",
)
@click.option(
    "--say",
    "sayings",
    multiple=True,
    help="Something to say at a menu instead of pressing a key; repeatable, taken in "
    "order with --press.",
)
@click.option(
    "--dial-status",
    default="no-answer",
    show_default=True,
    type=click.Choice(["completed", "no-answer", "busy", "failed"]),
    help="How the advisors' phones answer, if the caller asks for an advisor.",
)
@click.option(
    "--advisors",
    type=click.Choice(["free", "busy", "none"]),
    default=None,
    help="Pretend one console advisor is on duty and free or busy (a busy one means the "
    "caller waits in the queue), or that nobody is on duty. In this command only: the store "
    "that routes real callers is not read or changed for advisors, and the simulated caller "
    "waits apart from real ones. Without it, the store's advisors count.",
)
@click.option(
    "--language",
    type=click.Choice(["en", "cy"]),
    default=None,
    help="Start with the choice of English or Welsh and choose this one (cy: Welsh), "
    "whether or not Welsh is switched on (flows/languages.toml), so staff and the Welsh "
    "approver can hear it before callers do.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable transcript.")
@session_option
def simulate_call_command(
    at, caller, called, presses, sayings, dial_status, advisors, language, as_json, session
) -> None:
    """Call the helpline and print what the caller hears, presses and says, in order."""
    inputs = _in_order(
        click.get_current_context().meta["order"],
        {"presses": presses, "sayings": sayings},
        {"presses": str, "sayings": Speech},
    )
    settings, called = _called(Settings.from_env(), called)
    flows = flows_or_exit(settings)
    instant = parse_at(at, flows)
    app = _simulated_app(instant, session)
    try:
        transcript = simulate_call(
            app, inputs, as_twilio_sends(caller), called, dial_status, advisors, language
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps({"at": instant.isoformat(), "events": transcript.events}, indent=2))
        return
    local = instant.astimezone(flows.hours.timezone)
    click.echo(f"Call at {local:%A %-d %B %Y %H:%M %Z}")
    for line in transcript.lines():
        click.echo(f"  {line}")
    click.echo(preview_note(settings), err=True)


@simulate.command("sms")
@click.option("--at", help="When the text arrives, ISO-8601 (UK local time without offset).")
@click.option(
    "--from", "sender", default=DRAMA_MOBILE, show_default=True, help="The sender's number."
)
@click.option("--body", required=True, help="The message.")
@click.option(
    "--to",
    "called",
    default="+441234567890",
    show_default=True,
    help="The number texted: a helpline's number or name (flows/helplines.toml).",
)
@session_option
def simulate_sms_command(at: str | None, sender: str, body: str, called: str, session: str) -> None:
    """Send one text through the real webhook, against the configured store; print the reply."""
    settings, called = _called(Settings.from_env(), called)
    flows = flows_or_exit(settings)
    app = _simulated_app(parse_at(at, flows), session)
    client = TwilioLikeClient(
        app,
        {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "From": as_twilio_sends(sender),
            "To": called,
            "Body": body,
            "NumMedia": "0",
        },
    )
    response = client.post(webhooks.path(webhooks.SMS))
    replies = [
        m.text or ""
        for m in ElementTree.fromstring(response.get_data(as_text=True)).iter("Message")
    ]
    for text in replies or [_why_no_reply(body)]:
        click.echo(text)
    click.echo(preview_note(settings), err=True)


def _why_no_reply(body: str) -> str:
    """What an empty answer means, for staff trying the webhook."""
    if keyword(body) in OPT_OUT:
        return "(no reply from us: opt-out. Twilio answers this itself; nothing is kept)"
    if keyword(body) in OPT_IN:
        return "(no reply from us: opt-in. Twilio answers this itself)"
    return (
        "(no reply: this number sent many texts in a short time, so replies to it are paused "
        "for a while: SMS_RATE_LIMIT, SMS_QUIET_SECONDS)"
    )
