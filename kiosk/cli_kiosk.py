"""`kiosk init`, `kiosk sync`, `kiosk status`: set up a kiosk and keep its content current."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

import click

from sync.database import installed_meta
from sync.dates import utc_minute
from sync.i18n import tr
from sync.install import Readable, readable_content
from sync.updater import CONFIG, STATUS, SyncError, init_kiosk, read_config, read_status, reset_time_floor, sync_kiosk

from .clock import clock_warning
from .local_db import set_aside_files
from .settings import fetcher_options, load_settings
from .uplink import UplinkError, outbox_counts

log = logging.getLogger(__name__)
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

        try:
            sent = send_to_county(_data_dir(data))
            result = dataclasses.replace(result, county_report=sent.line or None, county_ok=sent.ok)
        except SyncError:  # kiosk.json is damaged or missing: the sync's own error says so
            pass
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
    """Return what `kiosk status` reports; damaged files are reported, never raised."""
    readable = readable_content(data_dir)
    status = read_status(data_dir)
    try:
        config: dict[str, Any] = read_config(data_dir)
        config_problem = None
    except SyncError as error:
        config, config_problem = {}, str(error) if (data_dir / CONFIG).exists() else None
    try:
        counts: tuple[int | None, int | None] = outbox_counts(data_dir) if data_dir.exists() else (0, 0)
    except sqlite3.Error as error:
        counts = (None, None)
        log.warning("could not count the outbox in %s: %s", data_dir, error)
    report = {
        "village": config.get("village"),
        "repository": config.get("repository"),
        "version": readable.version,
        "content_date": installed_meta(readable.path, "content_date") if readable.path else None,
        "serving": _serving(readable),
        "damaged_content": list(readable.damaged),
        "state_rebuilt": readable.state_rebuilt,
        "config_problem": config_problem,
        "status_file_damaged": _unreadable(data_dir / STATUS),
        "local_set_aside": set_aside_files(data_dir) if data_dir.exists() else [],
        "checked_version": status.get("checked_version"),
        "last_attempt": status.get("last_attempt"),
        "last_outcome": status.get("last_outcome"),
        "last_error": status.get("last_error"),
        "last_success": status.get("last_success"),
        "next_sync": status.get("next_sync"),
        "time_floor": status.get("time_floor"),
        "county_clock_ahead": status.get("county_clock_ahead"),
        "clock_warning": clock_warning(status),
        "outbox_depth": counts[0],
        "outbox_set_aside": counts[1],
        "disk_free_bytes": shutil.disk_usage(data_dir if data_dir.exists() else Path.cwd()).free,
    }
    report["problems"] = status_problems(report)
    return report


def _serving(readable: Readable) -> str:
    """Say what the screens show: current, previous (the current is damaged), repairing (both are) or none."""
    if readable.path is not None:
        return "previous" if readable.fallback else "current"
    return "repairing" if readable.damaged else "none"


def _unreadable(path: Path) -> bool:
    try:
        return not isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True


def status_problems(report: dict[str, Any]) -> list[str]:
    """Say, for staff, what is damaged on this kiosk and what happens about it."""
    problems = []
    if report["serving"] == "previous":
        problems.append(tr("the current content ({files}) is damaged: the screens show the previous version {version}; "
                           "the next sync installs the current one again", files=", ".join(report["damaged_content"]),
                           version=report["version"]))  # fmt: skip
    if report["serving"] == "repairing":
        problems.append(tr("the installed content ({files}) is damaged: the screens say it is being repaired; run "
                           "kiosk sync to install it again", files=", ".join(report["damaged_content"])))  # fmt: skip
    if report["state_rebuilt"]:
        problems.append(tr("content/state.json is damaged ({error}): the newest intact content file is used; the next "
                           "sync writes it again", error=report["state_rebuilt"]))  # fmt: skip
    if report["config_problem"]:
        problems.append(report["config_problem"])
    if report["status_file_damaged"]:
        problems.append(tr("sync-status.json is damaged: the last sync is unknown; the next sync writes it again"))
    if report["clock_warning"]:
        problems.append(clock_sentence(report["clock_warning"]))
    for name in report["local_set_aside"]:
        problems.append(tr("local.db was damaged and set aside as {name}; a fresh one was made (staff accounts must be "
                           "added again with kiosk staff add)", name=name))  # fmt: skip
    return problems


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_DATA
def status(as_json: bool, data: str | None) -> None:
    """Show the installed version, the last sync and what comes next."""
    report = kiosk_status(_data_dir(data))
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    for problem in report["problems"]:
        click.echo(tr("Warning: {problem}", problem=problem))
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
            value = tr("{version} (the previous version: the current one is damaged)", version=value)
        if key == "disk_free_bytes":
            value = f"{value / 2**30:.1f} GB"
        click.echo(f"{label}: {value if value is not None else '-'}")


def clock_sentence(warning: dict[str, str]) -> str:
    """Say in a sentence what `clock.clock_warning` found."""
    if warning["problem"] == "behind":
        return tr("this kiosk's clock ({clock}) is behind the county's newest signature ({signed}); "
                  "the screens use the latter. Set the clock right. If it is right, the county's clock was "
                  "ahead when it signed: run kiosk reset-time-floor.", **warning)  # fmt: skip
    if warning["problem"] == "ahead":
        return tr("this kiosk's clock ({clock}) is {days} days ahead of the county's newest signature "
                  "it has verified ({signed}): either the clock is ahead (set it right) or the kiosk has not "
                  "synced for that long (check its network).", **warning)  # fmt: skip
    return tr("the county signed at {signed}, ahead of this kiosk's clock ({clock}); the kiosk did not "
              "take that time. If the county's clock was wrong, nothing needs doing; if this kiosk's clock is "
              "behind, set it right.", **warning)  # fmt: skip


@click.command("reset-time-floor")
@_DATA
def reset_floor(data: str | None) -> None:
    """Lower the clock's floor to before the rises its clock could not judge (a wrong county clock raised it)."""
    try:
        old, new = reset_time_floor(_data_dir(data))
    except SyncError as error:
        raise click.ClickException(str(error)) from None
    if old is None:
        click.echo(tr("This kiosk has no time floor yet: nothing was changed."))
        return
    click.echo(tr("Time floor lowered from {old} to {new}; the next sync judges expiry by this kiosk's clock "
                  "and the county's signatures again.", old=utc_minute(old),
                  new=utc_minute(new) if new else tr("none")))  # fmt: skip


def add_kiosk_commands(group: click.Group) -> None:
    from .cli_uplink import enrol, report

    for command in (init, sync, status, reset_floor, enrol, report):
        group.add_command(command)
