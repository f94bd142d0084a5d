"""`kiosk enrol` and `kiosk report`: this kiosk's link to its county server, and what it sends there."""

from __future__ import annotations

import sys

import click

from kiosk.cli.options import DATA, data_folder
from kiosk.device.reporting import enrol_with_county, send_to_county
from kiosk.device.uplink import UplinkError
from sync.contract.i18n import tr
from sync.receive.updater import SyncError


@click.command("enrol")
@click.argument("code")
@click.option(
    "--county", "county", required=True, help="The county server's address, e.g. https://kiosk.county.example"
)
@DATA
def enrol(code: str, county: str, data: str | None) -> None:
    """Enrol this kiosk with its county server, using the one-time CODE from kiosk county add-kiosk."""
    try:
        click.echo(enrol_with_county(data_folder(data), code, county))
    except (UplinkError, SyncError) as error:
        raise click.ClickException(str(error)) from None


@click.command("report")
@DATA
def report(data: str | None) -> None:
    """Report to the county server now and upload the outbox (kiosk sync does it after every sync)."""
    sent = send_to_county(data_folder(data))
    click.echo(sent.line or tr("not enrolled with a county server: nothing sent"))
    sys.exit(0 if sent.ok else 1)
