"""`kiosk enrol` and `kiosk report`: this kiosk's link to its county server, and what it sends there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sync.i18n import tr
from sync.updater import SyncError

from .cli_kiosk import _DATA, _data_dir
from .uplink import Uplink, UplinkError


@click.command("enrol")
@click.argument("code")
@click.option(
    "--county", "county", required=True, help="The county server's address, e.g. https://kiosk.county.example"
)
@_DATA
def enrol(code: str, county: str, data: str | None) -> None:
    """Enrol this kiosk with its county server, using the one-time CODE from kiosk county add-kiosk."""
    try:
        kiosk_id = Uplink(_data_dir(data)).enrol(county, code)
    except (UplinkError, SyncError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(tr("Enrolled as kiosk {id}: reports and uploads now go to {county}.", id=kiosk_id, county=county))


def send_to_county(data_dir: Path, uplink: Uplink | None = None) -> str:
    """Report this kiosk's state and upload its outbox; return a line saying what happened ('' if not enrolled)."""
    from .cli_kiosk import kiosk_status

    uplink = uplink or Uplink(data_dir)
    if not uplink.enrolled:
        return ""
    status: dict[str, Any] = {**kiosk_status(data_dir), "app_version": _app_version(), "overdue": _overdue(data_dir)}
    status["content_version"] = status.pop("version", None)
    status["disk_free_bytes"] = status.get("disk_free_bytes")
    try:
        uplink.report(status)
        sent = uplink.upload_outbox()
    except UplinkError as error:
        return tr("could not reach the county server; the outbox keeps everything: {error}", error=error)
    return tr("reported to the county; {count} items uploaded", count=sent)


def _overdue(data_dir: Path) -> list[dict[str, str]]:
    """The disclosures this village has let run late, for the county's dashboard."""
    import sqlite3

    from sync.dates import DEFAULT_TIMEZONE, local_now
    from sync.install import current_database

    from .local_db import open_local
    from .staff.duties import overdue

    path = current_database(data_dir)
    if path is None or not path.exists():
        return []
    content = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    content.row_factory = sqlite3.Row
    local = open_local(data_dir)
    try:
        timezone = dict(content.execute("select key, value from meta").fetchall()).get("timezone", DEFAULT_TIMEZONE)
        late = overdue(content, local, local_now(timezone).date())
    finally:
        content.close()
        local.close()
    return [{"duty": o["duty"]["id"], "title": o["duty"]["title"], "what": str(o["what"]), "due": o["due"].isoformat()}
            for o in late]  # fmt: skip


def _app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("village-kiosk")
    except PackageNotFoundError:
        return "unknown"


@click.command("report")
@_DATA
def report(data: str | None) -> None:
    """Report to the county server now and upload the outbox (kiosk sync does it after every sync)."""
    click.echo(send_to_county(_data_dir(data)) or tr("not enrolled with a county server: nothing sent"))
