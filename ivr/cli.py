"""The `helpline` command (also `python -m ivr`): run, hours, check, simulate."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import click
import phonenumbers
import redis
from flask import Flask
from twilio.base.exceptions import TwilioException

from ivr import create_app
from ivr import demo as rehearse
from ivr.config import Settings
from ivr.content.closure_words import closure_message_warnings
from ivr.content.flows import Flows, load_flows
from ivr.content.helplines import Lines, load_lines
from ivr.content.review import Marked, Proposal, Replaced, Review, load_review, marked
from ivr.content.tomlfile import FlowFileError
from ivr.core.callbacks import STATUSES, Callback
from ivr.core.clock import clock_from, fixed_clock, in_words, parse_instant, system_clock
from ivr.core.crisis import unmatched
from ivr.core.keywords import OPT_IN, OPT_OUT, keyword
from ivr.core.phone import (
    EXAMPLE_INTERNATIONAL,
    EXAMPLE_NATIONAL,
    advisor_e164,
    mask,
    subject_number,
)
from ivr.core.phrases import when
from ivr.core.report import as_csv as report_csv
from ivr.core.report import as_text as report_text
from ivr.core.report import month_report, parse_month
from ivr.core.safetime import describe as describe_window
from ivr.jobs import scheduler
from ivr.jobs.tasks import Jobs, Report
from ivr.ops import content as published_content
from ivr.ops import subjects
from ivr.ops.checks import Problem, check_environment, check_settings
from ivr.ops.processes import AlreadyRunning, Child, RunLock, supervise
from ivr.ops.subjects import Found
from ivr.services import build_deployment, build_services, clock_for, line_settings
from ivr.simulate import SILENCE, Input, Speech, TwilioLikeClient, simulate_call
from ivr.store import audit, stats
from ivr.store.accounts import DEVICE_LINK_SECONDS, AccountError, Accounts
from ivr.store.backup import BackupProblem, restore, snapshot, write_backup
from ivr.store.closures import load_override
from ivr.store.connection import (
    SUPERVISED_ENV,
    Embedded,
    borrowed,
    connect,
    describe,
    stop_embedded,
)
from ivr.store.erasures import erasure_log
from ivr.store.keys import Keys
from ivr.store.migrations import migrate
from ivr.store.queue import CallbackQueue, erase_plain_simulation
from ivr.store.sealing import (
    KeyProblem,
    Sealer,
    Unreadable,
    check_keys,
    load_sealer,
    new_data_key,
    new_lookup_key,
    rewrite_append_only_file,
    rotate,
)
from ivr.store.spool import Spool
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
from ivr.web.report_page import last_month, render_report, report_name

PROJECT_DIR = Path(__file__).resolve().parent.parent
LONDON = ZoneInfo("Europe/London")


def _lines_or_exit(settings: Settings) -> Lines:
    try:
        return load_lines(settings.flows_dir)
    except FlowFileError as exc:
        raise click.ClickException(str(exc)) from None


def _flows_or_exit(settings: Settings) -> Flows:
    """The words and hours of settings.helpline (the default one if not set)."""
    lines = _lines_or_exit(settings)
    line = lines.named(settings.helpline) if settings.helpline else lines.default
    try:
        return load_flows(line.directory if line else settings.flows_dir, system_clock())
    except FlowFileError as exc:
        raise click.ClickException(str(exc)) from None


def _on_helpline(settings: Settings, chosen: str | None) -> Settings:
    """The settings as the helpline chosen by name or number (--helpline) sees them; the
    default helpline when none is chosen."""
    lines = _lines_or_exit(settings)
    line = lines.find(chosen) if chosen else lines.default
    if line is None:
        raise click.BadParameter(
            f"no helpline {chosen!r} (the helplines: {', '.join(lines.names)})",
            param_hint="--helpline",
        )
    return line_settings(settings, line)


def _keys_of(settings: Settings) -> Keys:
    """The store's keys of settings.helpline (set by _on_helpline)."""
    return Keys(settings.helpline or _lines_or_exit(settings).default.name)


helpline_option = click.option(
    "--helpline",
    "helpline_name",
    help="Which helpline, by name or number (flows/helplines.toml). Default: the first.",
)


def _instant(at: str | None, flows: Flows):
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


@click.group()
def main() -> None:
    """helpline front door: the phone and SMS entrance of the helpline."""


@main.command()
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
    settings = _on_helpline(Settings.from_env(), helpline_name)
    flows = _flows_or_exit(settings)
    instant = _instant(at, flows)
    override, source = None, "ignored"
    if not ignore_override:
        try:
            with borrowed(settings) as store:
                override = load_override(store, _keys_of(settings))
            source = "read"
        except redis.RedisError:
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
    click.echo(published_content.preview_note(settings), err=True)


@main.group()
def content() -> None:
    """The words and hours callers hear (flows/): publish them to the running app."""


@content.command("publish")
def content_publish() -> None:
    """Check flows/ as the app does when it starts and make it what callers hear: every
    running web worker and the scheduler switch to it within seconds, no restart. A file
    with a mistake publishes nothing (callers hear what they heard before)."""
    settings = Settings.from_env()
    try:
        done = published_content.publish(settings, clock_for(settings))
    except (published_content.NotPublished, FlowFileError) as exc:
        raise click.ClickException(str(exc)) from None
    for line in published_content.publication_lines(done):
        click.echo(line)


@main.command()
@click.option(
    "--review",
    is_flag=True,
    help="Also list what waits for the helpline's approval, the law and safety first: lines "
    "marked APPROVAL NEEDED in flows/, and the proposals and replaced texts in "
    "flows/review.toml; the Welsh lines apart, for a Welsh speaker.",
)
@helpline_option
def check(review: bool, helpline_name: str | None) -> None:
    """Check flows/ (every helpline's folder) and the settings; exits non-zero when
    something would fail callers. --review lists one helpline's (default: the first)."""
    settings = _on_helpline(Settings.from_env(), helpline_name)
    lines = _lines_or_exit(settings)
    for line in lines.all:
        if line.name != settings.helpline:
            _flows_or_exit(replace(settings, helpline=line.name))
    if lines.source:
        click.echo(f"helplines: {lines.source} is valid ({', '.join(lines.names)})")
    flows = _flows_or_exit(settings)
    try:
        review_file = load_review(flows.directory)
    except FlowFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"flows: {flows.directory} is valid")
    _check_safety_examples(flows)
    if review:
        _print_review(marked(flows.directory), review_file)
    problems = [Problem("warning", w) for w in closure_message_warnings(flows)]
    problems += check_settings(settings) + check_environment(os.environ)
    errors = sum(p.level == "error" for p in problems)
    if settings.twilio_auth_token and settings.public_base_url and not errors:
        problems += _signature_round_trip(settings)
    for p in problems:
        click.echo(f"{p.level}: {p.message}", err=p.level == "error")
    if any(p.level == "error" for p in problems):
        raise SystemExit(1)
    click.echo("settings: no errors" + (f" ({len(problems)} warnings)" if problems else ""))


def _check_safety_examples(flows: Flows) -> None:
    """Every example in safety.toml (and cy/safety.toml) matches as written: staff who
    change a phrase hear at once what it broke."""
    examples = [
        (means, says)
        for language in (flows, flows.welsh)
        if language is not None
        for means, sentences in language.safety.examples.items()
        for says in sentences
    ]
    examples += [
        (means, says)
        for language in (flows, flows.welsh)
        if language is not None
        for says, means, _ in language.safety.borderline
    ]
    wrong = unmatched(flows.crisis, examples)
    for means, says, found in wrong:
        got = ", ".join(sorted(found)) or "nothing"
        should = "nothing" if means == "none" else means
        click.echo(f"error: safety.toml: {says!r} should match {should}, matches {got}", err=True)
    if wrong:
        raise SystemExit(1)
    click.echo(f"safety: {len(examples)} examples in safety.toml match as written")


def _wrapped(label: str, text: str) -> str:
    return textwrap.fill(
        text,
        width=92,
        initial_indent=f"    {label:<10}",
        subsequent_indent=" " * 14,
        break_on_hyphens=False,
    )


def _print_marks(marks: list[Marked]) -> None:
    for m in marks:
        click.echo(f"\n  {m.file}, line {m.line}")
        click.echo(_wrapped("Why:", m.why))
        click.echo(_wrapped("Text:", m.text))


def _print_proposals(proposals: list[Proposal]) -> None:
    for p in proposals:
        click.echo(f"\n  {p.id}: {p.where}")
        click.echo(_wrapped("Now:", p.current))
        click.echo(_wrapped("Proposed:", p.proposed))
        click.echo(_wrapped("Why:", p.reason))


def _print_replaced(replaced: list[Replaced]) -> None:
    for r in replaced:
        click.echo(f"\n  {r.id}: {r.where}")
        click.echo(_wrapped("Was:", r.advice_page))
        click.echo(_wrapped("Now:", r.now))
        click.echo(_wrapped("Why:", r.reason))


def _print_review(marks: list[Marked], review: Review) -> None:
    """What waits for the helpline's approval, in words a non-developer can follow: the law
    and safety first (to be checked before anything else, with a legal adviser), then the
    other English wording, then the Welsh for a Welsh speaker."""
    first = [m for m in marks if m.kind]
    first_proposals = [p for p in review.proposals if p.kind]
    first_replaced = [r for r in review.replaced if r.kind]
    english = [m for m in marks if not m.kind and not m.welsh]
    welsh = [m for m in marks if not m.kind and m.welsh]
    proposals = [p for p in review.proposals if not p.kind]
    replaced = [r for r in review.replaced if not r.kind]
    click.echo("\nWAITING FOR THE HELPLINE'S APPROVAL")
    total = len(first) + len(first_proposals) + len(first_replaced)
    click.echo(
        f"\n1. The law and safety ({total}): check these first, the law with your legal "
        "adviser (English and Welsh)"
    )
    click.echo(f"\n  In use now, marked APPROVAL NEEDED ({len(first)}):")
    _print_marks(first)
    click.echo(f"\n  The advice page's texts they replace ({len(first_replaced)}):")
    _print_replaced(first_replaced)
    click.echo(f"\n  Proposals, not in use until approved ({len(first_proposals)}):")
    _print_proposals(first_proposals)
    click.echo(
        f"\n2. Other lines marked APPROVAL NEEDED ({len(english) + len(replaced)}): in use now"
    )
    _print_marks(english)
    _print_replaced(replaced)
    click.echo(f"\n3. Other proposals in review.toml ({len(proposals)}): not in use until approved")
    _print_proposals(proposals)
    click.echo(
        f"\n4. Welsh, for a Welsh speaker at the helpline ({len(welsh)}): in use once Welsh is "
        "on (the Welsh lines on the law and safety are under 1)"
    )
    _print_marks(welsh)
    click.echo("")


def _signature_round_trip(settings: Settings):
    """Sign a request for PUBLIC_BASE_URL/voice as Twilio would and check the app accepts it."""
    from ivr.ops.checks import Problem

    app = create_app(serving=False)
    response = TwilioLikeClient(app, {"CallSid": "CAcheck", "From": "anonymous"}).post("/voice")
    if response.status_code == 403:
        return [
            Problem(
                "error",
                "a request signed for PUBLIC_BASE_URL/voice was rejected: "
                "check PUBLIC_BASE_URL and TRUSTED_PROXIES",
            )
        ]
    return []


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


@main.group()
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
    lines = _lines_or_exit(settings)
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
    flows = _flows_or_exit(settings)
    instant = _instant(at, flows)
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
    click.echo(published_content.preview_note(settings), err=True)


@main.command()
@click.option(
    "--host",
    default=lambda: os.environ.get("HOST") or "127.0.0.1",
    show_default="HOST, else 127.0.0.1: this machine only",
)
@click.option(
    "--port", type=int, default=lambda: int(os.environ.get("PORT", "5000")), show_default="5000"
)
def run(host: str, port: int) -> None:
    """Run the embedded Redis (unless REDIS_URL is set), the web server (gunicorn, as the
    Procfile does) and the scheduler together, each restarted if it dies; print the webhook
    URLs. Ctrl-C, SIGTERM or closing the terminal stops everything."""
    settings = Settings.from_env()
    _warn_if_flows_broken(settings)
    lock = RunLock(settings.data_dir)
    try:
        lock.acquire(port)
    except AlreadyRunning as exc:
        raise click.ClickException(str(exc)) from None
    if not _port_free(host, port):
        raise click.ClickException(
            f"port {port} on {host} is in use by another program: "
            "stop it, or choose another with --port"
        )
    env = {**os.environ, "HELPLINE_DATA_DIR": str(Path(settings.data_dir).resolve())}
    children = []
    if settings.embedded_store:
        redis_server = Embedded(Path(settings.data_dir))
        if redis_server.answers():
            raise click.ClickException(
                f"an embedded Redis is already running in "
                f"{redis_server.folder}: stop what started it first"
            )
        children.append(
            Child("redis", redis_server.command(), ready=redis_server.ready, umask=0o077)
        )
        env[SUPERVISED_ENV] = "1"  # the children connect; this process restarts the server
    children += [
        Child(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "wsgi:app",
                "--bind",
                f"{host}:{port}",
            ],
            essential=True,
        ),
        Child("scheduler", [sys.executable, "-m", "ivr", "scheduler"]),
    ]
    click.echo(f"Store: {describe(settings)}")
    base = settings.public_base_url or f"http://{host}:{port}"
    click.echo("Paste these into your Twilio number's configuration (HTTP POST):")
    click.echo(f"  Voice, 'A call comes in':     {base}/voice")
    click.echo(f"  Messaging, 'A message comes in': {base}/sms")
    if not settings.public_base_url:
        click.echo(
            "  (Twilio reaches this machine only through a tunnel: set PUBLIC_BASE_URL "
            "to the tunnel's https address.)"
        )
    click.echo(f"The advisors' console: {base}/console/")
    raise SystemExit(
        supervise(children, cwd=PROJECT_DIR, env=env, started=lambda: _first_account(settings))
    )


def _warn_if_flows_broken(settings: Settings) -> None:
    """A mistake in flows/ does not stop `run`: the web and the scheduler serve the last
    published words and hours (and stop only without one); said loudly here too."""
    try:
        for line in _lines_or_exit(settings).all:
            load_flows(line.directory, system_clock())
    except (FlowFileError, click.ClickException) as exc:
        click.echo(
            f"!!! flows/ has a mistake: {exc}\n"
            "!!! Callers hear the last published words and hours until it is fixed "
            "(then: helpline check, helpline content publish). Without a published copy, "
            "the web server cannot start.",
            err=True,
        )


def _first_account(settings: Settings) -> None:
    """Once the store is up: if nobody can sign in to the console yet, say how to start."""
    try:
        nobody = not Accounts(connect(settings), load_sealer(settings)).all()
    except (redis.RedisError, KeyProblem, Unreadable):
        return
    if nobody:
        click.echo(
            "No advisor account yet. Create the first supervisor (the password is asked for):\n"
            f'  {helpline_command()} advisors add "Your Name" --phone "{EXAMPLE_NATIONAL}" '
            "--supervisor",
        )


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


@main.group()
def jobs() -> None:
    """The scheduler's jobs, one at a time, for staff and tests."""


@jobs.command("run")
@click.argument("job", type=click.Choice(["opening", "tick", "nightly"]))
@click.option(
    "--at",
    help="Run as if at this instant, ISO-8601 (UK local time without an offset). Default: now.",
)
@click.option(
    "--apply", is_flag=True, help="Make the changes. Without it, only say what the job would do."
)
@click.option(
    "--yes",
    is_flag=True,
    help="With --apply and an --at other than now: yes, change the real store.",
)
@helpline_option
def jobs_run(job: str, at: str | None, apply: bool, yes: bool, helpline_name: str | None) -> None:
    """Run one scheduler job once, at an instant, against the configured store: the same
    code the scheduler runs (for one helpline: --helpline, default the first). Texts are
    only sent when the job runs for now; otherwise they are printed."""
    settings = _on_helpline(Settings.from_env(), helpline_name)
    flows = _flows_or_exit(settings)
    instant = _instant(at, flows)
    for_now = at is None or abs((instant - system_clock()).total_seconds()) < 60
    with borrowed(settings) as store:
        ctx = build_services(settings, fixed_clock(instant), upgrade=False)
        if apply and not for_now and not yes:
            report = getattr(Jobs(ctx, apply=False), job)(instant)
            _print_report(job, instant, flows, report)
            raise click.ClickException(
                "this would change the real store as if it were another time (people's "
                "requests are in it): add --yes to apply"
            )
        if apply:
            migrate(store, instant, flows.hours, settings, ctx.sealer)  # as the scheduler does
        report = getattr(Jobs(ctx, apply=apply, send=for_now), job)(instant)
    _print_report(job, instant, flows, report)


def _print_report(job: str, instant, flows: Flows, report: Report) -> None:
    local = instant.astimezone(flows.hours.timezone)
    verb = "ran" if report.applied else "would run (dry run: add --apply to make changes)"
    click.echo(f"{job} at {local:%A %-d %B %Y %H:%M %Z}: {verb}")
    for line in report.lines or ["nothing to do"]:
        click.echo(f"  {line}")


@main.command("scheduler")
def scheduler_command() -> None:
    """Run the scheduler (one per installation; a second one waits as a standby)."""
    settings = Settings.from_env()
    try:
        scheduler.main(settings)  # broken flows/: the last published copy, else it stops
    except FlowFileError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def callbacks() -> None:
    """See and manage waiting callbacks (numbers masked unless --reveal)."""


def _sealer(settings: Settings) -> Sealer:
    try:
        return load_sealer(settings)
    except KeyProblem as exc:
        raise click.ClickException(str(exc)) from None


def _sealed_store(settings: Settings) -> tuple[redis.Redis, Sealer]:
    """The store and the keys its numbers are sealed with (refused if they are not)."""
    store, sealer = connect(settings), _sealer(settings)
    try:
        check_keys(store, sealer)
    except KeyProblem as exc:
        raise click.ClickException(str(exc)) from None
    return store, sealer


def _queues(settings: Settings, every: bool = False) -> list[CallbackQueue]:
    """settings.helpline's real callbacks, and those `helpline simulate` made (kept
    apart); with `every`, every helpline's."""
    store, sealer = _sealed_store(settings)
    names = _lines_or_exit(settings).names if every else (_keys_of(settings).helpline,)
    return [
        CallbackQueue(store, sealer, keys)
        for name in names
        for keys in (Keys(name), Keys(name).simulation)
    ]


def _callback_json(cb: Callback, reveal: bool, simulated: bool = False) -> dict[str, object]:
    """Times in UK local time (with their offset), as staff read them."""
    return {
        "simulated": simulated,
        "id": cb.id,
        "status": cb.status,
        "source": cb.source,
        "number": cb.number if reveal else mask(cb.number),
        "requested_at": cb.requested_at.astimezone(LONDON).isoformat(),
        "due": cb.due_at.astimezone(LONDON).isoformat(),
        "safe_time": describe_window(cb.plan) if cb.plan is not None else None,
        "missed_days": cb.count.missed,
        "voicemail": cb.voicemail,
        "attempts": cb.attempts,
        "language": cb.language,
        # their own words about when to call: theirs to see on a subject access request
        # (--reveal), else only how many texts are kept
        "their_words": list(cb.words) if reveal else len(cb.words),
    }


@callbacks.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only callbacks in this state.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--reveal", is_flag=True, help="Show full phone numbers.")
@helpline_option
def callbacks_list(
    status: str | None, as_json: bool, reveal: bool, helpline_name: str | None
) -> None:
    """One helpline's callbacks (--helpline; default: the first)."""
    settings = _on_helpline(Settings.from_env(), helpline_name)
    statuses = (status,) if status else STATUSES
    found = [
        (cb, queue.keys.simulated) for queue in _queues(settings) for cb in queue.all(statuses)
    ]
    if as_json:
        click.echo(json.dumps([_callback_json(cb, reveal, sim) for cb, sim in found], indent=2))
        return
    if not found:
        click.echo("No callbacks" + (f" {status}" if status else "") + ".")
    for cb, simulated in found:
        click.echo(
            f"{cb.id}  {cb.status:<9}  {_number(cb, reveal):<14}  "
            f"due {in_words(cb.due_at, LONDON)}  {_SOURCE_WORDS.get(cb.source, cb.source)}"
            f"  safe time: {describe_window(cb.plan) if cb.plan else 'not given yet'}"
            + ("  (simulated: never called)" if simulated else "")
        )


_SOURCE_WORDS = {"sms": "by text", "voice": "by phone"}


def _number(cb: Callback, reveal: bool) -> str:
    return cb.number if reveal else mask(cb.number)


def _callback_words(cb: Callback, reveal: bool, simulated: bool) -> list[str]:
    """One callback as staff read it (UK local times in words)."""
    return [
        f"Callback {cb.id}: {cb.status}, {_number(cb, reveal)}"
        + (" (simulated: never called)" if simulated else ""),
        f"  asked {in_words(cb.requested_at, LONDON)}, {_SOURCE_WORDS.get(cb.source, cb.source)}",
        f"  due {in_words(cb.due_at, LONDON)}",
        f"  safe time: {describe_window(cb.plan) if cb.plan is not None else 'not given yet'}",
        f"  tries: {cb.attempts}; opening days missed: {cb.count.missed}; "
        f"voicemail: {'yes' if cb.voicemail else 'no'}; "
        f"language: {'Welsh' if cb.language == 'cy' else 'English'}",
    ]


@callbacks.command("show")
@click.argument("callback_id")
@click.option("--reveal", is_flag=True, help="Show the full phone number.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def callbacks_show(callback_id: str, reveal: bool, as_json: bool) -> None:
    for queue in _queues(Settings.from_env(), every=True):
        cb = queue.get(callback_id)
        if cb is not None:
            if as_json:
                click.echo(json.dumps(_callback_json(cb, reveal, queue.keys.simulated), indent=2))
            else:
                click.echo("\n".join(_callback_words(cb, reveal, queue.keys.simulated)))
            return
    raise click.ClickException(f"no callback {callback_id}")


@callbacks.command("cancel")
@click.argument("callback_id")
def callbacks_cancel(callback_id: str) -> None:
    queues = _queues(Settings.from_env(), every=True)
    if not any(q.cancel(callback_id, system_clock()) for q in queues):
        raise click.ClickException(f"no open callback {callback_id}")
    click.echo(f"cancelled {callback_id}")


# ------------------------------------------------------------------ subject requests


@main.group()
def data() -> None:
    """A person's subject requests: what we hold about their number, and erasing it."""


def _subject(words: tuple[str, ...]) -> str:
    number = subject_number(" ".join(words))
    if number is None:
        raise click.BadParameter(
            f"{' '.join(words)!r} is not a phone number: give it as 07700 900123 or "
            "+44 7700 900123",
            param_hint="NUMBER",
        )
    return number


def _local(at: datetime | None) -> str:
    return in_words(at, LONDON) if at else "(no time)"


def _instant_of(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _found_json(found: Found, bodies: bool) -> dict[str, object]:
    held = found.held
    return {
        "number": found.number,
        "callbacks": [_callback_json(cb, reveal=True) for cb in held.callbacks],
        "open_callback": held.open_callback,
        "texts_counted_now": held.texts_counted,
        "replies_paused": held.replies_paused,
        "languages_chosen": held.languages,
        "opted_out": OPT_OUT_NOTE,
        "advisor_accounts": held.advisor_accounts,
        "staff_notes": held.audit,
        "twilio": None
        if found.twilio is None
        else [
            {
                "kind": r.kind,
                "sid": r.sid,
                "direction": r.direction,
                "from": r.from_,
                "to": r.to,
                "at": r.at.astimezone(LONDON).isoformat() if r.at else None,
                "status": r.status,
                **(
                    {"body": r.body if bodies else f"{len(r.body)} characters", "media": r.media}
                    if r.kind == "message"
                    else {"duration_seconds": r.duration}
                ),
            }
            for r in found.twilio
        ],
        "twilio_problem": found.twilio_problem or None,
    }


OPT_OUT_NOTE = (
    "not recorded by us: STOP erases everything we hold; Twilio keeps its own opt-out "
    "and sends the number nothing until it texts START"
)


@data.command("show")
@click.argument("number", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable, for the reply.")
@click.option("--bodies", is_flag=True, help="Print message bodies Twilio still holds.")
def data_show(number: tuple[str, ...], as_json: bool, bodies: bool) -> None:
    """What is held about NUMBER (07700 900123 or +44 7700 900123): its callbacks, with
    their safe times, statuses and what staff did, and its calls and messages in Twilio's
    logs. For a member of staff answering a subject access request."""
    subject = _subject(number)
    settings = Settings.from_env()
    with borrowed(settings):
        every = build_deployment(settings, upgrade=False).all()
        found = subjects.show(every[0], subject, also=every[1:])
    if as_json:
        click.echo(json.dumps(_found_json(found, bodies), indent=2))
        return
    held = found.held
    click.echo(f"What the helpline holds about {subject}")
    click.echo(f"\nCallbacks: {len(held.callbacks) or 'none'}")
    for cb in held.callbacks:
        item = _callback_json(cb, reveal=True)
        click.echo(
            f"  {cb.id}  {cb.status:<9}  asked by {'text' if cb.source == 'sms' else 'call'} "
            f"{_local(cb.requested_at)}, due {_local(cb.due_at)}, safe time: "
            f"{item['safe_time'] or 'not given yet'}, voicemail {'yes' if cb.voicemail else 'no'}"
            f", {cb.attempts} calls made, {cb.count.missed} opening days missed"
            + (f", last outcome {cb.outcome}" if cb.outcome else "")
        )
        for entry in (e for e in held.audit if e.get("callback") == cb.id):
            click.echo(
                f"      {_local(_instant_of(entry.get('at')))}  {entry.get('actor')}: "
                f"{entry.get('action')}" + (f" ({entry['detail']})" if entry.get("detail") else "")
            )
    click.echo(f"Open callback: {held.open_callback or 'none'}")
    chosen = ", ".join(f"{lang} ({line})" for line, lang in held.languages.items())
    click.echo(f"Language chosen for texts: {chosen or 'English (none chosen)'}")
    click.echo(
        f"Texts counted in the current flood window: {held.texts_counted}; replies paused: "
        f"{'yes' if held.replies_paused else 'no'}"
    )
    click.echo(f"Opted out: {OPT_OUT_NOTE}")
    click.echo(f"Advisor accounts with this phone: {', '.join(held.advisor_accounts) or 'none'}")
    if found.twilio is None:
        click.echo(f"\nTwilio's logs: {found.twilio_problem}")
        return
    click.echo(f"\nTwilio's logs: {len(found.twilio) or 'nothing'}")
    for r in found.twilio:
        what = (
            f"{r.media} media, body "
            + (repr(r.body) if bodies else f"{len(r.body)} characters" if r.body else "deleted")
            if r.kind == "message"
            else f"{r.duration or 0} s"
        )
        click.echo(
            f"  {_local(r.at)}  {r.kind:<7}  {r.direction:<13}  from {r.from_} to {r.to}  "
            f"{r.status}, {what}  {r.sid}"
        )


@data.command("erase")
@click.argument("number", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
def data_erase(number: tuple[str, ...], yes: bool) -> None:
    """Erase what is held about NUMBER, as if it had texted STOP (its callbacks are
    cancelled and erased), and delete its calls and messages from Twilio's logs. Logged in
    the audit trail without the number."""
    subject = _subject(number)
    if not yes:
        click.confirm(
            f"Erase every callback of {subject} and delete its calls and messages from "
            "Twilio? This can't be undone",
            abort=True,
        )
    settings = Settings.from_env()
    with borrowed(settings):
        every = build_deployment(settings, upgrade=False).all()
        done = subjects.erase(every[0], subject, also=every[1:])
    click.echo(f"erased {done.callbacks} callback records")
    if every[0].twilio is None:  # nothing to retry until the credentials are set
        click.echo(
            "Twilio's copies (its call and message logs) are not deleted: that needs "
            "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN set, then this command again."
        )
        return
    if done.twilio is None:
        raise click.ClickException(f"{done.twilio_problem}; run it again to delete them")
    click.echo(f"deleted {done.twilio.deleted} calls and messages from Twilio")
    if done.twilio.not_deleted:
        raise click.ClickException(
            f"Twilio did not delete {len(done.twilio.not_deleted)} (in progress, or "
            f"refused): {', '.join(done.twilio.not_deleted)}; run it again later"
        )


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
    flows = _flows_or_exit(settings)
    app = _simulated_app(_instant(at, flows), session)
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
    response = client.post("/sms")
    replies = [
        m.text or ""
        for m in ElementTree.fromstring(response.get_data(as_text=True)).iter("Message")
    ]
    for text in replies or [_why_no_reply(body)]:
        click.echo(text)
    click.echo(published_content.preview_note(settings), err=True)


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


# ------------------------------------------------------------------ rehearsal


@main.command()
@click.option(
    "--at", help="The rehearsal's start, ISO-8601 (UK time without offset); now if not given."
)
@click.option("--port", type=int, default=5055, show_default=True)
def demo(at: str | None, port: int) -> None:
    """A rehearsal: the whole app, console included, from a chosen instant on, on a
    throw-away data folder with sample callers, an advisor and a supervisor. Nothing in it is
    real: no call is placed, no text sent, and it is all gone when it stops (Ctrl-C)."""
    settings = Settings.from_env()
    flows = _flows_or_exit(settings)
    start = _instant(at, flows)
    left = rehearse.remove_abandoned(Path(tempfile.gettempdir()))
    if left:
        click.echo(f"Removed {len(left)} folders left by earlier rehearsals that were killed.")
    with tempfile.TemporaryDirectory(prefix=rehearse.FOLDER_PREFIX) as folder:
        rehearse.claim(Path(folder))
        rehearsal = {
            "data_dir": Path(folder),
            "redis_url": "",  # never the real store, whatever the environment says
            "redis_sentinels": (),
            "rehearsal": True,
            "cookie_secure": False,  # served over http on this machine only
            "secret_key": secrets.token_hex(32),
            "public_base_url": "",
            "log_level": os.environ.get("LOG_LEVEL", "WARNING"),
        }
        try:
            app = create_app(rehearsal, clock=clock_from(start))
            seeded = rehearse.seed(app.extensions["helpline"], start)
            base = f"http://127.0.0.1:{port}"
            names = f'"{rehearse.ADVISOR[0]}" or "{rehearse.SUPERVISOR[0]}"'
            said = (
                f"Rehearsal from {start.astimezone(LONDON):%A %-d %B %Y %H:%M}: "
                "nothing here is real.\n"
                f"  The console: {base}/console/\n"
                f"  Sign in as {names}, password {seeded.password}\n"
                f"  {seeded.callbacks} sample callers are waiting. "
                "Ctrl-C ends the rehearsal and erases everything in it."
            )
            closed = rehearse.closed_notice(flows.hours, start)
            if closed:
                said = f"{closed}\n{said}"
            rehearse.serve(app, "127.0.0.1", port, ready=lambda: click.echo(said))
        finally:
            stop_embedded(Path(folder))
    click.echo("The rehearsal has ended: everything in it is erased.")


# ------------------------------------------------------------------ reports


@main.command()
@click.option("--month", help="The month, e.g. 2026-11 (default: last month).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), help="Write a page to print.")
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False),
    help="Write a spreadsheet: figures, units, numbers.",
)
@helpline_option
def report(
    month: str | None, html_file: str | None, csv_file: str | None, helpline_name: str | None
) -> None:
    """A month's figures for funders: calls in and out of hours, menu choices, callbacks
    asked for, reached and expired, waits, busiest hours. No phone numbers. One helpline's
    (--helpline; default: the first)."""
    settings = _on_helpline(Settings.from_env(), helpline_name)
    services = build_services(settings, upgrade=False)
    now = services.clock().astimezone(services.flows.hours.timezone)
    try:
        first = parse_month(month) if month else last_month(now.date())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    figures = month_report(
        first,
        stats.month(services.redis, first, now.date(), services.keys),
        now.date(),
        report_name(services.line, services.lines),
    )
    if csv_file:
        Path(csv_file).write_text(report_csv(figures), encoding="utf-8")
        click.echo(f"wrote {csv_file}")
    if html_file:
        app = create_app({"log_level": "ERROR"}, serving=False)
        with app.test_request_context():
            Path(html_file).write_text(render_report(figures, now, standalone=True), "utf-8")
        click.echo(f"wrote {html_file} (open it in a browser and print, or save as PDF)")
    if not (csv_file or html_file):
        click.echo(report_text(figures), nl=False)


# ------------------------------------------------------------------ advisors


@main.group()
def advisors() -> None:
    """Advisor accounts for the console (passwords are asked for, never typed as options)."""


def _accounts() -> Accounts:
    return Accounts(*_sealed_store(Settings.from_env()))


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
    served = tuple(_on_helpline(settings, n).helpline for n in helpline_names)
    default = _lines_or_exit(settings).default.name
    served = () if served in ((), (default,)) else tuple(dict.fromkeys(served))
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        advisor = _accounts().add(name, phone, password, supervisor, helplines=served, welsh=welsh)
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
    found = _accounts().all()
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
    if not _accounts().remove(username):
        raise click.ClickException(f"no advisor {username}")
    click.echo(f"removed {username}")


@advisors.command("set-password")
@click.argument("username")
def advisors_set_password(username: str) -> None:
    password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        _accounts().set_password(username, password)
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
        code = Accounts(client, _sealer(settings)).device_link(username)
        if code is not None:
            audit.record(
                client, system_clock(), "command line", f"made a device link for {username}"
            )
    if code is None:
        raise click.ClickException(f"no advisor {username}")
    base = settings.public_base_url or (
        f"http://{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or 5000}"
    )
    click.echo(f"{base}/console/trust/{code}")
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


# ------------------------------------------------------------------ keys


@main.group()
def keys() -> None:
    """The keys that seal phone numbers at rest (DATA_KEY) and find them (LOOKUP_KEY)."""


@keys.command("new")
def keys_new() -> None:
    """Print a new DATA_KEY and LOOKUP_KEY (for a new installation, or a new data key to
    put first in DATA_KEY before `helpline keys rotate`)."""
    click.echo(f"DATA_KEY={new_data_key()}")
    click.echo(f"LOOKUP_KEY={new_lookup_key()}")
    click.echo(
        "# Keep them where the app's settings are kept, never beside the store or its "
        "backups. To rotate DATA_KEY: put the new key first (DATA_KEY=new,old) on every "
        f"process, restart them, run `{helpline_command()} keys rotate`, then drop the old key. "
        "LOOKUP_KEY is not rotated while the app runs (see README).",
        err=True,
    )


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-seal every number in the store (and this host's text spool) under DATA_KEY's first
    key, while the app runs; the older keys keep opening them until this has finished."""
    settings = Settings.from_env()
    store, sealer = _sealed_store(settings)
    if sealer.key_count < 2:
        click.echo("DATA_KEY holds one key: everything is re-sealed under it anyway", err=True)
    try:
        rotated = rotate(store, sealer)  # every helpline's, simulated ones too
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    spooled = Spool(settings.data_dir, sealer).reseal()
    rewritten = rewrite_append_only_file(store)
    click.echo(
        f"re-sealed {rotated.changed} values in the store ({rotated.passes} passes) and "
        f"{spooled} kept texts; "
        + (
            f"{rotated.skipped} values the app did not seal (the scheduler's jobs, say) were "
            "left alone; "
            if rotated.skipped
            else ""
        )
        + (
            "the append-only file is rewritten: the older keys can be dropped from DATA_KEY"
            if rewritten
            else "the store's append-only file could not be rewritten: values sealed under "
            "the older keys may stay on its disk until it is"
        )
    )


# ------------------------------------------------------------------ backups


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path) -> None:
    """Write a consistent, sealed snapshot of everything the app keeps to FILE, while it
    runs. Keep it away from the keys (DATA_KEY opens it)."""
    settings = Settings.from_env()
    store, sealer = _sealed_store(settings)
    erasure_log(settings).begin()  # a restore needs it: one kept from the first backup on
    data, count = snapshot(store, sealer)
    write_backup(file, data)
    click.echo(f"backed up {count} keys to {file} ({len(data)} bytes, sealed with DATA_KEY)")


@main.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--without-erasure-log",
    is_flag=True,
    help="Go on although the erasure log is missing (only if nobody can have been erased "
    "since the backup: anyone erased since would come back).",
)
def restore_command(file: Path, without_erasure_log: bool) -> None:
    """Restore FILE into an empty store, then erase again every number erased (STOP, or a
    subject's request) since it was taken."""
    settings = Settings.from_env()
    store, sealer = connect(settings), _sealer(settings)
    try:
        names = _lines_or_exit(settings).names
        done = restore(
            store,
            sealer,
            file.read_bytes(),
            erasure_log(settings),
            Keys(names[0]),
            [Keys(name) for name in names[1:]],
            without_erasure_log,
        )
    except BackupProblem as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"restored {done.keys} keys from {file}; {done.erased} records of numbers erased "
        "since it was taken were erased again"
    )


# ------------------------------------------------------------------ Twilio set-up


@main.group()
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
    flows = _flows_or_exit(settings)
    phone = None
    if advisor:  # a stored phone only, never a typed number: checked before anything runs
        found = _accounts().get(advisor)
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


@main.group()
def fallback() -> None:
    """The safe answer Twilio uses when this host is down."""


@fallback.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def fallback_export(directory: Path) -> None:
    """Write voice.xml and sms.xml to host anywhere (then: twilio configure --fallback-url)."""
    settings = Settings.from_env()
    for path in export_fallback(_flows_or_exit(settings), settings, directory):
        click.echo(f"wrote {path}")
