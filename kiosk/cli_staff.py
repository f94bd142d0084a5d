"""`kiosk staff ...`: staff accounts for the console, made at the kiosk itself."""

from __future__ import annotations

from pathlib import Path

import click

from sync.i18n import tr

from .local_db import open_local
from .settings import load_settings
from .staff import accounts


@click.group()
def staff() -> None:
    """Staff accounts of the village staff console."""


@staff.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(accounts.ROLES), default="staff", show_default=True,
              help="staff: notices and duties; admin: also accounts and settings.")  # fmt: skip
@click.option("--data", "data", type=click.Path(file_okay=False), help="Data directory (default KIOSK_DATA_DIR).")
@click.password_option(help="Asked for twice when not given (it never appears on screen).")
def add(name: str, role: str, data: str | None, password: str) -> None:
    """Create a staff account NAME."""
    db = open_local(Path(data or load_settings()["DATA_DIR"]))
    try:
        account = accounts.add(db, name, role, password, actor="(command line)")
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from None
    finally:
        db.close()
    click.echo(tr("Account {name} ({role}) created.", name=account.name, role=account.role))


@staff.command("list")
@click.option("--data", "data", type=click.Path(file_okay=False), help="Data directory (default KIOSK_DATA_DIR).")
def list_accounts(data: str | None) -> None:
    """List the staff accounts."""
    db = open_local(Path(data or load_settings()["DATA_DIR"]))
    try:
        for row in accounts.all_accounts(db):
            state = tr("disabled") if row["disabled"] else ""
            click.echo(f"{row['name']}\t{row['role']}\t{row['created_at']}\t{state}".rstrip())
    finally:
        db.close()
