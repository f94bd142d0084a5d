"""`kiosk county add-account` and `kiosk county accounts`: the county server's dashboard and studio accounts.

A module of their own, imported only when one runs: `kiosk county publish` loads none of the web apps' code.
"""

from __future__ import annotations

import click

from kiosk.cli.options import COUNTY_DATA, data_folder
from kiosk.cli.staff import LINK, PASSWORD, list_of, new_account
from kiosk.data import accounts
from sync.contract.i18n import tr


@click.command("add-account")
@click.argument("name")
@click.option("--role", type=click.Choice(accounts.COUNTY_ROLES), default="staff", show_default=True,
              help="staff: the dashboard; editor: writes content in the studio; reviewer: also approves or sends back"
                   " what editors submit; publisher: also publishes; admin: all, and the accounts.")  # fmt: skip
@click.option(
    "--township",
    default="",
    metavar="CODE",
    help="Keep an editor or reviewer to this township's content (its code in county.yaml).",
)
@COUNTY_DATA
@PASSWORD
@LINK
def add_account(name: str, role: str, township: str, data: str | None, password: str | None, link: bool) -> None:
    """Create an account NAME for the county server's dashboard and studio."""
    from kiosk.county.store import open_store

    folder = data_folder(data)
    new_account(lambda: open_store(folder), name, role, password, link, _setup_path, accounts.COUNTY_ROLES, township)


def _setup_path(token: str) -> str:
    return tr("the county server's address followed by %(path)s", path=f"/setup/{token}")


@click.command("accounts")
@COUNTY_DATA
def list_accounts(data: str | None) -> None:
    """List the accounts of the county's dashboard."""
    from kiosk.county.store import open_store

    list_of(open_store(data_folder(data)))
