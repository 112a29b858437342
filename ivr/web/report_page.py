"""The funders' report as a print-ready page: one A4 page a month, the same figures as
`helpline report` (core/report.py), served to supervisors and written by the command line."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import render_template

from ivr.content.helplines import Line, Lines
from ivr.core.report import MonthReport, calls, figures, hour_span

MONTHS_OFFERED = 24


def months_before(today: date, count: int = MONTHS_OFFERED) -> list[tuple[str, str]]:
    """("2026-10", "October 2026") for the month in progress and the `count` before it."""
    months, first = [], today.replace(day=1)
    for _ in range(count + 1):
        months.append((first.strftime("%Y-%m"), first.strftime("%B %Y")))
        first = (first - timedelta(days=1)).replace(day=1)
    return months


def report_name(line: Line, lines: Lines) -> str:
    """The name a report carries: the helpline's title (flows/helplines.toml), else its name
    among several; "" for a deployment's one unnamed line."""
    return line.title or (line.name if len(lines.all) > 1 else "")


def last_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def render_report(report: MonthReport, now: datetime, standalone: bool) -> str:
    """The page; `standalone` leaves out the console's controls (a file to send or print)."""
    return render_template(
        "console/report.html",
        report=report,
        figures=figures(report),
        hour_span=hour_span,
        calls=calls,
        top=max(report.calls_by_hour) or 1,
        made=f"{now:%-d %B %Y at %H:%M}",
        months=months_before(now.date()),
        standalone=standalone,
    )
