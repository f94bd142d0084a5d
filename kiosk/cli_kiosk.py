"""`kiosk init`, `kiosk sync`, `kiosk status`: set up a kiosk and keep its content current."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from sync.database import database_version, installed_meta
from sync.i18n import tr
from sync.install import current_database
from sync.updater import SyncError, init_kiosk, read_config, read_status, sync_kiosk

from .settings import fetcher_options, load_settings
from .uplink import UplinkError, outbox_depth, outbox_set_aside

_DATA = click.option(
    "--data", "data", type=click.Path(file_okay=False), help="Data directory (default KIOSK_DATA_DIR)."
)


def _data_dir(option: str | None) -> Path:
    return Path(option or load_settings()["DATA_DIR"])


@click.command("init")
@click.option("--village", required=True, help="Code of the village this kiosk shows (kiosk county villages).")
@click.option("--repo", required=True, help="The county repository: an http(s) URL or a folder.")
@click.option(
    "--root", "root", required=True, type=click.Path(exists=True, dir_okay=False), help="The county's 1.root.json."
)
@click.option("--enrol", "code", metavar="CODE", help="Then enrol with the county server using this one-time code.")
@click.option("--county", "county", metavar="URL", help="The county server to enrol with (goes with --enrol).")
@_DATA
def init(village: str, repo: str, root: str, code: str | None, county: str | None, data: str | None) -> None:
    """Set up this kiosk: its village, its county's repository and the root it trusts (and enrol it, with --enrol)."""
    if bool(code) != bool(county):
        raise click.UsageError(tr("--enrol CODE and --county URL go together"))
    data_dir = _data_dir(data)
    try:
        init_kiosk(data_dir, village, repo, Path(root))
    except SyncError as error:
        raise click.ClickException(str(error)) from None
    click.echo(tr("Kiosk set up for {village}; run kiosk sync to fetch its content.", village=village))
    if code and county:
        from .cli_uplink import enrol_with_county

        try:
            click.echo(enrol_with_county(data_dir, code, county))
        except (UplinkError, SyncError) as error:
            later = tr("The kiosk is set up but not enrolled; enrol it later with: kiosk enrol CODE --county {county}",
                       county=county)  # fmt: skip
            raise click.ClickException(f"{error}\n{later}") from None


class ProgressLines:
    """Sync progress on stderr. On a terminal each file's line replaces the last; in a log they are left out."""

    def __init__(self) -> None:
        self.terminal = sys.stderr.isatty()
        self.line_open = False

    def __call__(self, message: str, passing: bool) -> None:
        if passing:
            if self.terminal:
                click.echo(f"\r\x1b[K{message}", err=True, nl=False)
                self.line_open = True
            return
        self.end()
        click.echo(message, err=True)

    def end(self) -> None:
        if self.line_open:
            click.echo(err=True)
            self.line_open = False


@click.command("sync")
@click.option("--from", "source", help="Sync from this URL or folder (a USB stick) instead.")
@click.option("--json", "as_json", is_flag=True, help="Print only one JSON object.")
@_DATA
def sync(source: str | None, as_json: bool, data: str | None) -> None:
    """Fetch, verify and install the county's newest content now."""
    progress = None if as_json else ProgressLines()
    options = fetcher_options(load_settings())
    result = sync_kiosk(_data_dir(data), source, progress=progress, fetcher_options=options)
    if progress is not None:
        progress.end()
    # After every sync, tell the county how this kiosk stands and send what waits in the outbox;
    # a sync from a USB stick is a sign there is no network to report over.
    if source is None:
        from .cli_uplink import send_to_county

        sent = send_to_county(_data_dir(data))
        result = dataclasses.replace(result, county_report=sent.line or None, county_ok=sent.ok)
    if as_json:
        click.echo(result.to_json())
    elif result.outcome == "failed":
        click.echo(tr("Sync failed: {error}", error=result.error), err=True)
    else:
        click.echo(
            tr("{outcome}: version {version}, content of {date}; {files} files, {size} KB downloaded",
               outcome=tr("updated") if result.outcome == "updated" else tr("unchanged"),
               version=result.version, date=result.content_date, files=result.files_downloaded,
               size=round(result.bytes_downloaded / 1024, 1))
        )  # fmt: skip
    if result.county_report and not as_json:
        click.echo(result.county_report, err=True)
    sys.exit(1 if result.outcome == "failed" else 0)


def kiosk_status(data_dir: Path) -> dict[str, Any]:
    """Return what `kiosk status` reports."""
    installed = current_database(data_dir)
    have = installed is not None and installed.exists()
    status = read_status(data_dir)
    try:
        config: dict[str, Any] = read_config(data_dir)
    except SyncError:
        config = {}
    content_date = None
    if have and installed is not None:
        content_date = installed_meta(installed, "content_date")
    return {
        "village": config.get("village"),
        "repository": config.get("repository"),
        "version": database_version(installed) if have and installed is not None else None,
        "content_date": content_date,
        "checked_version": status.get("checked_version"),
        "last_attempt": status.get("last_attempt"),
        "last_outcome": status.get("last_outcome"),
        "last_error": status.get("last_error"),
        "last_success": status.get("last_success"),
        "next_sync": status.get("next_sync"),
        "outbox_depth": outbox_depth(data_dir) if data_dir.exists() else 0,
        "outbox_set_aside": outbox_set_aside(data_dir) if data_dir.exists() else 0,
        "disk_free_bytes": shutil.disk_usage(data_dir if data_dir.exists() else Path.cwd()).free,
    }


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_DATA
def status(as_json: bool, data: str | None) -> None:
    """Show the installed version, the last sync and what comes next."""
    report = kiosk_status(_data_dir(data))
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    labels = {
        "village": tr("village"),
        "repository": tr("repository"),
        "version": tr("installed version"),
        "content_date": tr("content date"),
        "checked_version": tr("newest county version checked"),
        "last_attempt": tr("last sync attempt"),
        "last_outcome": tr("last outcome"),
        "last_error": tr("last error"),
        "last_success": tr("last success"),
        "next_sync": tr("next scheduled sync"),
        "outbox_depth": tr("waiting to be sent to the county"),
        "outbox_set_aside": tr("outbox items set aside: the county cannot take them (kept in local.db)"),
        "disk_free_bytes": tr("disk free"),
    }
    outcomes = {"updated": tr("updated"), "unchanged": tr("unchanged"), "failed": tr("failed")}
    for key, label in labels.items():
        value = report[key]
        if key == "last_outcome":
            value = outcomes.get(value, value)
        if key == "disk_free_bytes":
            value = f"{value / 2**30:.1f} GB"
        click.echo(f"{label}: {value if value is not None else '-'}")


def add_kiosk_commands(group: click.Group) -> None:
    from .cli_uplink import enrol, report

    for command in (init, sync, status, enrol, report):
        group.add_command(command)
