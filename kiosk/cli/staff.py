"""`kiosk staff ...`: staff accounts for the console, made at the kiosk itself.

The county server's dashboard accounts are made the same way by `kiosk county add-account` (new_account).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import click

from kiosk.cli.options import DATA, data_folder
from kiosk.county.dashboard_accounts import is_county_folder
from kiosk.data import accounts
from kiosk.data.local_db import open_local
from kiosk.settings import load_settings
from sync.contract.i18n import tr

ROLE = click.option("--role", type=click.Choice(accounts.ROLES), default="staff", show_default=True,
                    help="staff: notices and duties; admin: also accounts and settings.")  # fmt: skip
PASSWORD = click.option("--password", help="Asked for twice when not given (it never appears on screen).")
LINK = click.option("--link", is_flag=True,
                    help="Print a one-time set-up link instead, where the person chooses their own password"
                         " (valid 24 hours).")  # fmt: skip


@click.group()
def staff() -> None:
    """Staff accounts of the village staff console."""


def _kiosk_folder(data: str | None) -> Path:
    """The kiosk's data folder; a county server's is refused (its accounts are in county.db, not local.db)."""
    folder = data_folder(data)
    if is_county_folder(folder):
        message = tr(
            "%(folder)s is a county server's data folder: manage its dashboard accounts with"
            " kiosk county add-account and kiosk county accounts",
            folder=folder,
        )
        raise click.ClickException(message)
    return folder


def new_account(
    open_db: Callable[[], sqlite3.Connection], name: str, role: str, password: str | None, link: bool,
    setup_url: Callable[[str], str], roles: tuple[str, ...] = accounts.ROLES, township: str = "",
) -> None:  # fmt: skip
    """Create the account NAME in the database *open_db* opens; print its set-up link *setup_url* makes if asked.

    *roles* are those the database's app knows (the kiosk's, or the county's); *township* keeps a county
    editor or reviewer to one township.
    """
    if link and password is not None:
        raise click.UsageError(tr("give --password or --link, not both"))
    if not link and password is None:
        password = click.prompt(tr("Password"), hide_input=True, confirmation_prompt=tr("Repeat for confirmation"))
    db = open_db()
    try:
        if link:
            account, token = accounts.add_with_setup_link(db, name, role, "(command line)", roles=roles,
                                                          township=township)  # fmt: skip
        else:
            account = accounts.add(db, name, role, password or "", "(command line)", roles=roles, township=township)
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from None
    finally:
        db.close()
    if account.township:
        click.echo(tr("Account %(name)s (%(role)s of the township %(township)s) created.", name=account.name,
                      role=account.role, township=account.township))  # fmt: skip
    else:
        click.echo(tr("Account %(name)s (%(role)s) created.", name=account.name, role=account.role))
    if link:
        hours = int(accounts.SETUP_LINK_VALID.total_seconds() // 3600)
        click.echo(tr("It has no password yet. Send this link to its owner only: it works once, within %(hours)s hours,"
                      " to choose the password.", hours=hours))  # fmt: skip
        click.echo(setup_url(token))


def list_of(db: sqlite3.Connection) -> None:
    """Print name<TAB>role<TAB>created<TAB>(disabled) for every account in *db*, and close it.

    A county editor or reviewer kept to one township shows as role:township.
    """
    try:
        for row in accounts.all_accounts(db):
            state = tr("disabled") if row["disabled"] else ""
            role = f"{row['role']}:{row['township']}" if row["township"] else row["role"]
            click.echo(f"{row['name']}\t{role}\t{row['created_at']}\t{state}".rstrip())
    finally:
        db.close()


@staff.command("add")
@click.argument("name")
@ROLE
@DATA
@PASSWORD
@LINK
def add(name: str, role: str, data: str | None, password: str | None, link: bool) -> None:
    """Create a staff account NAME (a set-up link uses KIOSK_STAFF_HOST and KIOSK_STAFF_PORT)."""
    folder, settings = _kiosk_folder(data), load_settings()
    new_account(lambda: open_local(folder), name, role, password, link,
                lambda token: f"http://{settings['STAFF_HOST']}:{settings['STAFF_PORT']}/setup/{token}")  # fmt: skip


@staff.command("list")
@DATA
def list_accounts(data: str | None) -> None:
    """List the staff accounts."""
    list_of(open_local(_kiosk_folder(data)))
