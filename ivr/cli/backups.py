"""`helpline backup` and `helpline restore`."""

from __future__ import annotations

from pathlib import Path

import click

from ivr.cli.common import lines_or_exit, sealed_store, sealer_or_exit
from ivr.config import Settings
from ivr.store.backup import BackupProblem, restore, snapshot, write_backup
from ivr.store.connection import connect
from ivr.store.erasures import erasure_log
from ivr.store.keys import Keys


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path) -> None:
    """Write a consistent, sealed snapshot of everything the app keeps to FILE, while it
    runs. Keep it away from the keys (DATA_KEY opens it)."""
    settings = Settings.from_env()
    store, sealer = sealed_store(settings)
    erasure_log(settings).begin()  # a restore needs it: one kept from the first backup on
    try:
        data, count = snapshot(store, sealer)
    except BackupProblem as exc:  # the store kept changing: no file is written
        raise click.ClickException(str(exc)) from None
    write_backup(file, data)
    click.echo(f"backed up {count} keys to {file} ({len(data)} bytes, sealed with DATA_KEY)")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--without-erasure-log",
    is_flag=True,
    help="Go on although the erasure log is missing (only if nobody can have been erased "
    "since the backup: anyone erased since would come back).",
)
def restore_command(file: Path, without_erasure_log: bool) -> None:
    """Restore FILE into an empty store, then erase again every number erased (STOP, or a
    subject's request) since it was taken."""
    settings = Settings.from_env()
    store, sealer = connect(settings), sealer_or_exit(settings)
    try:
        names = lines_or_exit(settings).names
        done = restore(
            store,
            sealer,
            file.read_bytes(),
            erasure_log(settings),
            Keys(names[0]),
            [Keys(name) for name in names[1:]],
            without_erasure_log,
        )
    except BackupProblem as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"restored {done.keys} keys from {file}; {done.erased} records of numbers erased "
        "since it was taken were erased again"
    )
