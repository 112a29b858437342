"""`helpline report`: a month's figures for funders."""

from __future__ import annotations

from pathlib import Path

import click

from ivr import create_app
from ivr.cli.common import helpline_option, on_helpline
from ivr.config import Settings
from ivr.core.report import as_csv as report_csv
from ivr.core.report import as_text as report_text
from ivr.core.report import month_report, parse_month
from ivr.services import build_services
from ivr.store import stats
from ivr.web.report_page import last_month, render_report, report_name


@click.command()
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
    settings = on_helpline(Settings.from_env(), helpline_name)
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
