"""`helpline jobs run`: one scheduler job, once, for staff and tests."""

from __future__ import annotations

import click

from ivr.cli.common import flows_or_exit, helpline_option, on_helpline, parse_at
from ivr.config import Settings
from ivr.content.flows import Flows
from ivr.core.clock import fixed_clock, system_clock
from ivr.jobs.tasks import Jobs, Report
from ivr.services import build_services
from ivr.store.connection import borrowed
from ivr.store.migrations import migrate


@click.group()
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
    settings = on_helpline(Settings.from_env(), helpline_name)
    flows = flows_or_exit(settings)
    instant = parse_at(at, flows)
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
