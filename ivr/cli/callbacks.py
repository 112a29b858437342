"""`helpline callbacks list|show|cancel`: the waiting callbacks, numbers masked."""

from __future__ import annotations

import json

import click

from ivr.cli.common import (
    LONDON,
    helpline_option,
    keys_of,
    lines_or_exit,
    on_helpline,
    sealed_store,
)
from ivr.config import Settings
from ivr.core.callbacks import STATUSES, Callback
from ivr.core.clock import in_words, system_clock
from ivr.core.phone import mask
from ivr.core.safetime import describe as describe_window
from ivr.store.keys import Keys
from ivr.store.queue import CallbackQueue


@click.group()
def callbacks() -> None:
    """See and manage waiting callbacks (numbers masked unless --reveal)."""


def _queues(settings: Settings, every: bool = False) -> list[CallbackQueue]:
    """settings.helpline's real callbacks, and those `helpline simulate` made (kept
    apart); with `every`, every helpline's."""
    store, sealer = sealed_store(settings)
    names = lines_or_exit(settings).names if every else (keys_of(settings).helpline,)
    return [
        CallbackQueue(store, sealer, keys)
        for name in names
        for keys in (Keys(name), Keys(name).simulation)
    ]


def callback_json(cb: Callback, reveal: bool, simulated: bool = False) -> dict[str, object]:
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
    settings = on_helpline(Settings.from_env(), helpline_name)
    statuses = (status,) if status else STATUSES
    found = [
        (cb, queue.keys.simulated) for queue in _queues(settings) for cb in queue.all(statuses)
    ]
    if as_json:
        click.echo(json.dumps([callback_json(cb, reveal, sim) for cb, sim in found], indent=2))
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
                click.echo(json.dumps(callback_json(cb, reveal, queue.keys.simulated), indent=2))
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
