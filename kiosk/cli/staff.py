"""`kiosk staff ...`: staff accounts for the console, made at the kiosk itself."""

from __future__ import annotations

import click

from kiosk.cli.options import DATA, data_folder
from kiosk.data import accounts
from kiosk.data.local_db import open_local
from kiosk.settings import load_settings
from sync.contract.i18n import tr


@click.group()
def staff() -> None:
    """Staff accounts of the village staff console."""


@staff.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(accounts.ROLES), default="staff", show_default=True,
              help="staff: notices and duties; admin: also accounts and settings.")  # fmt: skip
@DATA
@click.option("--password", help="Asked for twice when not given (it never appears on screen).")
@click.option("--link", is_flag=True,
              help="Print a one-time set-up link instead, where the person chooses their own password"
                   " (valid 24 hours; it uses KIOSK_STAFF_HOST and KIOSK_STAFF_PORT).")  # fmt: skip
def add(name: str, role: str, data: str | None, password: str | None, link: bool) -> None:
    """Create a staff account NAME."""
    if link and password is not None:
        raise click.UsageError(tr("give --password or --link, not both"))
    if not link and password is None:
        password = click.prompt(tr("Password"), hide_input=True, confirmation_prompt=tr("Repeat for confirmation"))
    settings = load_settings()
    db = open_local(data_folder(data))
    try:
        if link:
            account, token = accounts.add_with_setup_link(db, name, role, actor="(command line)")
        else:
            account = accounts.add(db, name, role, password or "", actor="(command line)")
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from None
    finally:
        db.close()
    click.echo(tr("Account %(name)s (%(role)s) created.", name=account.name, role=account.role))
    if link:
        hours = int(accounts.SETUP_LINK_VALID.total_seconds() // 3600)
        click.echo(tr("It has no password yet. Send this link to its owner only: it works once, within %(hours)s hours,"
                      " to choose the password.", hours=hours))  # fmt: skip
        click.echo(f"http://{settings['STAFF_HOST']}:{settings['STAFF_PORT']}/setup/{token}")


@staff.command("list")
@DATA
def list_accounts(data: str | None) -> None:
    """List the staff accounts."""
    db = open_local(data_folder(data))
    try:
        for row in accounts.all_accounts(db):
            state = tr("disabled") if row["disabled"] else ""
            click.echo(f"{row['name']}\t{row['role']}\t{row['created_at']}\t{state}".rstrip())
    finally:
        db.close()
