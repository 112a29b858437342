"""The `helpline` command (also `python -m ivr`), a module per group of commands: staff's
(hours, content, check, simulate, callbacks, data, advisors, report, demo) and operators'
(run, scheduler, jobs, keys, backup and restore, twilio, fallback)."""

from __future__ import annotations

import click

from ivr.cli import (
    advisors,
    backups,
    callbacks,
    check,
    content,
    data,
    demo,
    hours,
    jobs,
    keys,
    report,
    run,
    simulate,
    twilio,
)
from ivr.cli.common import helpline_command

__all__ = ["helpline_command", "main"]


@click.group()
def main() -> None:
    """helpline front door: the phone and SMS entrance of the helpline."""


for command in (
    hours.hours,
    content.content,
    check.check,
    simulate.simulate,
    run.run,
    jobs.jobs,
    run.scheduler_command,
    callbacks.callbacks,
    data.data,
    demo.demo,
    report.report,
    advisors.advisors,
    keys.keys,
    backups.backup_command,
    backups.restore_command,
    twilio.twilio,
    twilio.fallback,
):
    main.add_command(command)
