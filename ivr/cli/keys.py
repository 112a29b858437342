"""`helpline keys new|rotate`: the keys that seal numbers at rest."""

from __future__ import annotations

import click

from ivr.cli.common import helpline_command, sealed_store
from ivr.config import Settings
from ivr.store.sealing import new_data_key, new_lookup_key, rewrite_append_only_file, rotate
from ivr.store.spool import Spool


@click.group()
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
    store, sealer = sealed_store(settings)
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
