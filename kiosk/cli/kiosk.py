"""`kiosk init`, `kiosk sync`, `kiosk status`: set up a kiosk and keep its content current."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from kiosk.cli.options import DATA, data_folder
from kiosk.settings import fetcher_options, load_settings
from sync.contract.dates import utc_minute
from sync.contract.i18n import tr
from sync.receive.status import SyncError

log = logging.getLogger(__name__)


@click.command("init")
@click.option("--village", required=True, help="Code of the village this kiosk shows (kiosk county villages).")
@click.option("--repo", required=True, help="The county repository: an http(s) URL or a folder.")
@click.option(
    "--root", "root", required=True, type=click.Path(exists=True, dir_okay=False), help="The county's 1.root.json."
)
@click.option("--enrol", "code", metavar="CODE", help="Then enrol with the county server using this one-time code.")
@click.option("--county", "county", metavar="URL", help="The county server to enrol with (goes with --enrol).")
@DATA
def init(village: str, repo: str, root: str, code: str | None, county: str | None, data: str | None) -> None:
    """Set up this kiosk: its village, its county's repository and the root it trusts (and enrol it, with --enrol)."""
    from kiosk.device.reporting import enrol_with_county
    from kiosk.device.uplink import UplinkError
    from sync.receive.setup import init_kiosk

    if bool(code) != bool(county):
        raise click.UsageError(tr("--enrol CODE and --county URL go together"))
    data_dir = data_folder(data)
    try:
        init_kiosk(data_dir, village, repo, Path(root))
    except SyncError as error:
        raise click.ClickException(str(error)) from None
    click.echo(tr("Kiosk set up for %(village)s; run kiosk sync to fetch its content.", village=village))
    if code and county:
        try:
            click.echo(enrol_with_county(data_dir, code, county))
        except (UplinkError, SyncError) as error:
            later = tr("The kiosk is set up but not enrolled; enrol it later with: "
                       "kiosk enrol CODE --county %(county)s", county=county)  # fmt: skip
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
@DATA
def sync(source: str | None, as_json: bool, data: str | None) -> None:
    """Fetch, verify and install the county's newest content now, then report to the county (if enrolled)."""
    from kiosk.device.enrolment import enrolled
    from sync.receive.updater import sync_kiosk

    progress = None if as_json else ProgressLines()
    options = fetcher_options(load_settings())
    data_dir = data_folder(data)
    result = sync_kiosk(data_dir, source, progress=progress, fetcher_options=options)
    # A sync from a folder or USB stick is a sign there is no network to report over. The report's code (the
    # content's reads, the counts, the uplink) loads only for a kiosk with a county to report to.
    if source is None and enrolled(data_dir):
        from kiosk.device.reporting import report_sync

        result = report_sync(data_dir, result)
    if progress is not None:
        progress.end()
    if as_json:
        click.echo(result.to_json())
    elif result.outcome == "failed":
        click.echo(tr("Sync failed: %(error)s", error=result.error), err=True)
    else:
        click.echo(
            tr("%(outcome)s: version %(version)s, content of %(date)s; %(files)s files, %(size)s KB downloaded",
               outcome=tr("updated") if result.outcome == "updated" else tr("unchanged"),
               version=result.version, date=result.content_date, files=result.files_downloaded,
               size=round(result.bytes_downloaded / 1024, 1))
        )  # fmt: skip
    if result.county_report and not as_json:
        click.echo(result.county_report, err=True)
    sys.exit(1 if result.outcome == "failed" else 0)


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@DATA
def status(as_json: bool, data: str | None) -> None:
    """Show the installed version, the last sync and what comes next."""
    from kiosk.device.status import kiosk_status

    report = kiosk_status(data_folder(data))
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    for problem in report["problems"]:
        click.echo(tr("Warning: %(problem)s", problem=problem))
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
        "time_floor": tr("newest county signing time verified (the clock's floor)"),
        "outbox_depth": tr("waiting to be sent to the county"),
        "outbox_set_aside": tr("outbox items set aside: the county cannot take them (kept in local.db)"),
        "disk_free_bytes": tr("disk free"),
    }
    outcomes = {"updated": tr("updated"), "unchanged": tr("unchanged"), "failed": tr("failed")}
    for key, label in labels.items():
        value = report[key]
        if key == "last_outcome":
            value = outcomes.get(value, value)
        if key == "version" and report["serving"] == "previous":
            value = tr("%(version)s (the previous version: the current one is damaged)", version=value)
        if key == "disk_free_bytes":
            value = f"{value / 2**30:.1f} GB"
        click.echo(f"{label}: {value if value is not None else '-'}")


@click.command("reset-time-floor")
@DATA
def reset_floor(data: str | None) -> None:
    """Lower the clock's floor to before the rises its clock could not judge (a wrong county clock raised it)."""
    from sync.receive.setup import reset_time_floor

    try:
        old, new = reset_time_floor(data_folder(data))
    except SyncError as error:
        raise click.ClickException(str(error)) from None
    if old is None:
        click.echo(tr("This kiosk has no time floor yet: nothing was changed."))
        return
    click.echo(tr("Time floor lowered from %(old)s to %(new)s; the next sync judges expiry by this kiosk's clock "
                  "and the county's signatures again.", old=utc_minute(old),
                  new=utc_minute(new) if new else tr("none")))  # fmt: skip
