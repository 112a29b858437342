"""`helpline demo`: a rehearsal on a throw-away store."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import click

from ivr import create_app
from ivr import demo as rehearse
from ivr.cli.common import LONDON, flows_or_exit, parse_at
from ivr.config import Settings
from ivr.core.clock import clock_from
from ivr.store.connection import stop_embedded
from ivr.twilio import webhooks


@click.command()
@click.option(
    "--at", help="The rehearsal's start, ISO-8601 (UK time without offset); now if not given."
)
@click.option("--port", type=int, default=5055, show_default=True)
def demo(at: str | None, port: int) -> None:
    """A rehearsal: the whole app, console included, from a chosen instant on, on a
    throw-away data folder with sample callers, an advisor and a supervisor. Nothing in it is
    real: no call is placed, no text sent, and it is all gone when it stops (Ctrl-C)."""
    settings = Settings.from_env()
    flows = flows_or_exit(settings)
    start = parse_at(at, flows)
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
                f"  The console: {webhooks.url(base, webhooks.CONSOLE)}\n"
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
