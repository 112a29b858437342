"""`helpline data show|erase`: a person's subject requests."""

from __future__ import annotations

import json
from datetime import datetime

import click

from ivr.actions import subjects
from ivr.actions.subjects import Found
from ivr.cli.callbacks import callback_json
from ivr.cli.common import LONDON
from ivr.config import Settings
from ivr.core.clock import in_words
from ivr.core.phone import subject_number
from ivr.services import build_deployment
from ivr.store.connection import borrowed


@click.group()
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
        "callbacks": [callback_json(cb, reveal=True) for cb in held.callbacks],
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
        item = callback_json(cb, reveal=True)
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
