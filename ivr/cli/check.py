"""`helpline check`: flows/ and the settings, and what waits for approval (--review)."""

from __future__ import annotations

import os
import textwrap
from dataclasses import replace

import click

from ivr import create_app
from ivr.cli.common import flows_or_exit, helpline_option, lines_or_exit, on_helpline
from ivr.config import Settings
from ivr.content.closure_words import closure_message_warnings
from ivr.content.flows import Flows
from ivr.content.review import Marked, Proposal, Replaced, Review, load_review, marked
from ivr.content.tomlfile import FlowFileError
from ivr.core.crisis import unmatched
from ivr.core.stopping import unmatched_stop
from ivr.ops.checks import Problem, check_environment, check_settings
from ivr.simulate import TwilioLikeClient
from ivr.twilio import webhooks


@click.command()
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
    settings = on_helpline(Settings.from_env(), helpline_name)
    lines = lines_or_exit(settings)
    for line in lines.all:
        if line.name != settings.helpline:
            flows_or_exit(replace(settings, helpline=line.name))
    if lines.source:
        click.echo(f"helplines: {lines.source} is valid ({', '.join(lines.names)})")
    flows = flows_or_exit(settings)
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
    stops = [
        e for language in (flows, flows.welsh) if language for e in language.safety.stop_examples
    ]
    wrong_stops = unmatched_stop(flows.stop, stops)
    for _, says, heard in wrong_stops:
        should = "not " if heard else ""
        click.echo(f"error: safety.toml [stop]: {says!r} should {should}be heard as stop", err=True)
    if wrong or wrong_stops:
        raise SystemExit(1)
    click.echo(f"safety: {len(examples) + len(stops)} examples in safety.toml match as written")


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
    response = TwilioLikeClient(app, {"CallSid": "CAcheck", "From": "anonymous"}).post(
        webhooks.path(webhooks.VOICE)
    )
    if response.status_code == 403:
        return [
            Problem(
                "error",
                "a request signed for PUBLIC_BASE_URL/voice was rejected: "
                "check PUBLIC_BASE_URL and TRUSTED_PROXIES",
            )
        ]
    return []
