"""`helpline run` and `helpline scheduler`: the processes of an installation."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import click

from ivr.cli.common import PROJECT_DIR, helpline_command, lines_or_exit
from ivr.config import Settings
from ivr.content.flows import load_flows
from ivr.content.tomlfile import FlowFileError
from ivr.core.clock import system_clock
from ivr.core.phone import EXAMPLE_NATIONAL
from ivr.jobs import scheduler
from ivr.ops.logs import setup_logging
from ivr.ops.processes import AlreadyRunning, Child, RunLock, supervise
from ivr.store import Unavailable
from ivr.store.accounts import Accounts
from ivr.store.connection import SUPERVISED_ENV, Embedded, connect, describe
from ivr.store.sealing import KeyProblem, Unreadable, load_sealer
from ivr.twilio import webhooks


@click.command()
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
    setup_logging(settings.log_level, settings.log_format)  # its "[run]" lines as the children's
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
    click.echo(f"  Voice, 'A call comes in':     {webhooks.url(base, webhooks.VOICE)}")
    click.echo(f"  Messaging, 'A message comes in': {webhooks.url(base, webhooks.SMS)}")
    if not settings.public_base_url:
        click.echo(
            "  (Twilio reaches this machine only through a tunnel: set PUBLIC_BASE_URL "
            "to the tunnel's https address.)"
        )
    click.echo(f"The advisors' console: {webhooks.url(base, webhooks.CONSOLE)}")
    raise SystemExit(
        supervise(children, cwd=PROJECT_DIR, env=env, started=lambda: _first_account(settings))
    )


def _warn_if_flows_broken(settings: Settings) -> None:
    """A mistake in flows/ does not stop `run`: the web and the scheduler serve the last
    published words and hours (and stop only without one); said loudly here too."""
    try:
        for line in lines_or_exit(settings).all:
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
    except (Unavailable, KeyProblem, Unreadable):
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


@click.command("scheduler")
def scheduler_command() -> None:
    """Run the scheduler (one per installation; a second one waits as a standby)."""
    settings = Settings.from_env()
    try:
        scheduler.main(settings)  # broken flows/: the last published copy, else it stops
    except FlowFileError as exc:
        raise click.ClickException(str(exc)) from None
