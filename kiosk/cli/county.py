"""`kiosk county ...`: the county office's tools for content and its signed repository."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click

from kiosk.cli.lazy import LazyGroup
from kiosk.cli.options import COUNTY_DATA, data_folder
from sync.contract.content import ContentInvalid, County, load_county
from sync.contract.dates import DEFAULT_TIMEZONE, local_now
from sync.contract.i18n import tr
from sync.contract.official_calendar import calendar_warnings
from sync.contract.source import SourceError
from sync.publish.changed_files import FolderPublish
from sync.publish.keys import SigningKeyError
from sync.publish.release import PublishResult
from sync.publish.repository import Repository, RepositoryError
from sync.publish.rotation import ROLES
from sync.publish.rotation import rotate as rotate_keys


@click.group(cls=LazyGroup, lazy_subcommands={"calendar": "kiosk.cli.county_calendar.calendar",
                                              "release": "kiosk.cli.release.release",
                                              "add-account": "kiosk.cli.county_accounts.add_account",
                                              "accounts": "kiosk.cli.county_accounts.list_accounts"})  # fmt: skip
def county() -> None:
    """The county's tools: check content, keep the signed repository, serve it."""


def _load(folder: str, load: Callable[[], County] | None = None) -> County:
    """The county folder *folder* (as *load* loads it), its warnings printed; on any problem, print them all and
    exit 1."""
    try:
        loaded = load() if load is not None else load_county(Path(folder))
    except ContentInvalid as error:
        _invalid(folder, error)
    for warning in loaded.warnings:  # published all the same: the county decides
        click.echo(tr("warning: %(warning)s", warning=warning), err=True)
    return loaded


def _invalid(folder: str, error: ContentInvalid) -> NoReturn:
    """Print every problem of the county folder *folder*, and exit 1."""
    for problem in error.problems:
        click.echo(str(problem), err=True)
    click.echo(
        tr(
            "%(count)s problem(s) found in %(folder)s; nothing was loaded.",
            count=len(error.problems),
            folder=folder,
        ),
        err=True,
    )
    sys.exit(1)


def _warn_of_calendar(loaded: County) -> None:
    """Say what the official calendar leaves uncovered or unchecked now: warnings, which publish nothing less."""
    today = local_now(loaded.info.get("timezone", DEFAULT_TIMEZONE)).date()
    for warning in calendar_warnings(loaded.calendar, today):
        click.echo(tr("warning: %(warning)s", warning=warning), err=True)


@county.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def validate(folder: str) -> None:
    """Check a county content folder and report every problem at once."""
    loaded = _load(folder)
    _warn_of_calendar(loaded)
    click.echo(
        tr(
            "%(folder)s: ok — %(villages)s villages, %(powers)s power items, %(notices)s notices, "
            "%(catalogue)s catalogue items, %(contacts)s contacts",
            folder=folder,
            villages=len(loaded.villages()),
            powers=len(loaded.powers),
            notices=len(loaded.notices),
            catalogue=len(loaded.catalogue),
            contacts=len(loaded.contacts),
        )
    )


@county.command("import")
@click.argument("sheet", type=click.Path(exists=True, dir_okay=False))
@click.option("--into", "content_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="The county content folder to write into.")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Only show what would be created and changed.")
@click.option("--area", help="The catalogue's area (e.g. 社会救助) when the table's title does not name it.")
def import_sheet(sheet: str, content_dir: str, dry_run: bool, area: str | None) -> None:
    """Import a small-power list or a catalogue area from an Excel table (.xlsx): a preview, row errors, the files."""
    from sync.authoring.importing import plan_import
    from sync.authoring.plan import preview, write
    from sync.authoring.sheets import SheetError

    try:
        plan = plan_import(Path(sheet), Path(content_dir), area)
    except SheetError as error:
        click.echo(f"{sheet}: {error}", err=True)
        sys.exit(1)
    for line in preview(plan):
        click.echo(line)
    for problem in plan.problems:
        click.echo(problem, err=True)
    if plan.problems:
        click.echo(tr("%(count)s problem(s) found; nothing was written.", count=len(plan.problems)), err=True)
        sys.exit(1)
    if dry_run:
        click.echo(tr("Dry run: nothing was written."))
        return
    write(plan, Path(content_dir))
    click.echo(tr("Written to %(folder)s; check it with: kiosk county validate %(folder)s", folder=content_dir))


@county.command("export")
@click.argument("content_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The .xlsx file to write.")
@click.option("--area", help="Write this catalogue area (e.g. 社会救助) instead of the small-power list.")
def export_sheet(content_dir: str, out: str, area: str | None) -> None:
    """Write the small-power list, or a catalogue area, to an Excel table in the layout `import` reads."""
    from sync.authoring.importing import export

    try:
        count = export(Path(content_dir), Path(out), area)
    except SourceError as error:
        _fail(error)
    click.echo(tr("%(count)s items written to %(file)s", count=count, file=out))


@county.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def villages(folder: str) -> None:
    """Print code<TAB>name for every village of a county."""
    for village in _load(folder).villages():
        click.echo(f"{village['code']}\t{village['name']}")


_REPO = click.option("--repo", required=True, type=click.Path(file_okay=False), help="Repository folder.")
_KEYS = click.option("--keys", required=True, type=click.Path(file_okay=False), help="Folder of the online keys.")
_ACCEPT_CLOCK = click.option(
    "--accept-clock", is_flag=True,
    help="Sign even though this server's clock is before the last signature or over a month past it "
    "(only once you have checked the clock is right).",
)  # fmt: skip


_COUNTY_DATA = COUNTY_DATA


def _county_data(option: str | None) -> str:
    return str(data_folder(option))


def _fail(error: Exception) -> NoReturn:
    raise click.ClickException(str(error))


@county.command("init")
@_REPO
@_KEYS
@click.option("--root-keys", type=click.Path(file_okay=False), help="Where to write root keys (default KEYS/root).")
@click.option("--root-key-count", default=1, show_default=True, help="How many root keys to make.")
@click.option("--root-threshold", default=1, show_default=True, help="How many root keys must sign a new root.")
@click.option("--expires", "expiry", multiple=True, metavar="ROLE=DAYS",
              help="How long signed metadata stays valid, e.g. timestamp=3 (defaults: root=365, targets=90, "
                   "snapshot=30, timestamp=7).")  # fmt: skip
def init_repository(
    repo: str, keys: str, root_keys: str | None, root_key_count: int, root_threshold: int, expiry: tuple[str, ...]
) -> None:
    """Create a signed repository and its keys."""
    root_folder = Path(root_keys) if root_keys else Path(keys) / "root"
    days: dict[str, int] = {}
    for choice in expiry:
        role, _, number = choice.partition("=")
        if not number.strip().isdigit():
            _fail(RepositoryError(tr("--expires wants ROLE=DAYS, such as timestamp=3, not %(value)r", value=choice)))
        days[role.strip()] = int(number)
    try:
        trusted = Repository(Path(repo), Path(keys)).init(root_folder, root_key_count, root_threshold, expiry_days=days)
    except (RepositoryError, FileExistsError) as error:
        _fail(error)
    click.echo(tr("Repository created. Ship this file with every kiosk (kiosk init --root): %(path)s", path=trusted))
    click.secho(
        tr("WARNING: root keys are in %(folder)s. Move them to offline storage now; see the README in that folder.",
           folder=root_folder),
        fg="red", err=True,
    )  # fmt: skip


@county.command()
@click.argument("content_dir", type=click.Path(exists=True, file_okay=False))
@_REPO
@_KEYS
@_ACCEPT_CLOCK
@_COUNTY_DATA
def publish(content_dir: str, repo: str, keys: str, accept_clock: bool, data: str | None) -> None:
    """Validate content and publish what changed, signed.

    Files unchanged since the last publish are not read again: the data folder keeps what was made of them.
    """
    publishing = FolderPublish(Path(content_dir), Path(_county_data(data)))
    try:
        _warn_of_calendar(_load(content_dir, publishing.load))
        result = publishing.publish(Repository(Path(repo), Path(keys)), accept_clock=accept_clock)
    except ContentInvalid as error:  # the folder changed since it was checked, and had to be read again
        _invalid(content_dir, error)
    except (RepositoryError, SigningKeyError) as error:
        _fail(error)
    finally:
        publishing.close()
    click.echo(describe(result))


@county.command()
@_REPO
@_KEYS
@_ACCEPT_CLOCK
def refresh(repo: str, keys: str, accept_clock: bool) -> None:
    """Re-sign the timestamp (run nightly) and renew roles close to expiry."""
    repository = Repository(Path(repo), Path(keys))
    try:
        renewed = repository.refresh(accept_clock=accept_clock)
        root_expires = repository.root_expires_soon(datetime.now(UTC))
    except (RepositoryError, SigningKeyError) as error:
        _fail(error)
    click.echo(tr("Re-signed: %(roles)s", roles=", ".join(renewed)))
    if root_expires:
        click.secho(
            tr("WARNING: the root expires on %(date)s; kiosks stop updating then. Renew it with the offline root "
               "keys: kiosk county rotate --repo REPO --keys KEYS --root-keys ROOT_KEYS",
               date=f"{root_expires:%Y-%m-%d}"),
            fg="red", err=True,
        )  # fmt: skip


@county.command()
@_REPO
@_KEYS
@click.option("--root-keys", required=True, type=click.Path(exists=True, file_okay=False),
              help="Folder holding the current root keys (from offline storage).")  # fmt: skip
@click.option("--replace", multiple=True, type=click.Choice(ROLES),
              help="Also replace this role's keys (repeat for several); old keys move to retired-v<N>/.")  # fmt: skip
@_ACCEPT_CLOCK
def rotate(repo: str, keys: str, root_keys: str, replace: tuple[str, ...], accept_clock: bool) -> None:
    """Sign a new root version with a fresh expiry, replacing keys if asked."""
    try:
        done = rotate_keys(Repository(Path(repo), Path(keys)), Path(root_keys), replace, accept_clock=accept_clock)
    except (RepositoryError, SigningKeyError, FileExistsError) as error:
        _fail(error)
    click.echo(tr("Root version %(version)s signed; it expires on %(date)s. Kiosks take it on their next sync.",
                  version=done.root_version, date=f"{done.expires:%Y-%m-%d}"))  # fmt: skip
    if done.replaced:
        click.echo(tr("New keys for: %(roles)s", roles=", ".join(done.replaced)))
    if "root" in done.replaced:
        click.secho(tr("WARNING: new root keys are in %(folder)s. Move them to offline storage now.", folder=root_keys),
                    fg="red", err=True)  # fmt: skip


@county.command("export-usb")
@_REPO
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write (a USB stick).")
@click.option("--keys", type=click.Path(file_okay=False), help="Online keys: re-sign the timestamp first.")
@_ACCEPT_CLOCK
def export_usb(repo: str, out: str, keys: str | None, accept_clock: bool) -> None:
    """Write a folder a kiosk can sync from with no network."""
    repository = Repository(Path(repo), Path(keys) if keys else None)
    try:
        if keys:
            repository.refresh(accept_clock=accept_clock)
        count = repository.export(Path(out))
    except (RepositoryError, SigningKeyError) as error:
        _fail(error)
    click.echo(tr("Wrote %(count)s files to %(out)s; on the kiosk: kiosk sync --from %(out)s", count=count, out=out))


@county.command("serve")
@_REPO
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8400, show_default=True, help="Port to listen on.")
@click.option(
    "--content",
    type=click.Path(file_okay=False),
    default=None,
    help="The county's content folder, for the studio at /studio/ (its history is kept in it with git).",
)
@click.option(
    "--keys",
    type=click.Path(file_okay=False),
    default=None,
    help="The online signing keys (kiosk county init --keys), for publishing from the studio.",
)
@_COUNTY_DATA
def serve_repository(repo: str, host: str, port: int, content: str | None, keys: str | None, data: str | None) -> None:
    """Serve the repository (Range and ETag), the phone pages, the kiosks' reports API, the dashboard and the studio."""
    from waitress import serve

    from kiosk.county import CountyServer, create_county_app, serve_options
    from kiosk.settings import configure_logging, load_settings

    repository = Repository(Path(repo))
    if not repository.exists():
        _fail(RepositoryError(tr("%(path)s is not a county repository (run kiosk county init)", path=repo)))
    if key := repository.stray_key():
        message = tr("%(key)s is a key file inside the repository %(repo)s: keys must never sit where the repository is"
                     " served or copied from. Move the keys folder out of it (and the root keys to offline storage),"
                     " then give --keys its new place.", key=key, repo=repo)  # fmt: skip
        _fail(RepositoryError(message))
    configure_logging(load_settings())  # refusals, enrolments and set-aside uploads, one line each
    if content is not None and not (Path(content) / "county.yaml").is_file():
        _fail(RepositoryError(tr("%(folder)s has no county.yaml: give --content the county's content folder",
                                 folder=content)))  # fmt: skip
    app = create_county_app({"REPO": repo, "DATA_DIR": _county_data(data),
                             "CONTENT_DIR": str(Path(content).resolve()) if content else None,
                             "KEYS_DIR": str(Path(keys).resolve()) if keys else None})  # fmt: skip
    click.echo(tr("Serving %(repo)s at http://%(host)s:%(port)s/", repo=repo, host=host, port=port))
    serve(CountyServer(Path(repo), app), host=host, port=port, threads=8, ident="county", **serve_options(app.config))


@county.command("migrate-db")
@click.option("--to", "url", required=True, help="The empty PostgreSQL database, postgresql://USER@HOST:PORT/DATABASE.")
@_COUNTY_DATA
def migrate_db(url: str, data: str | None) -> None:
    """Copy county.db, every table and row, into an empty PostgreSQL database, then count the rows on both sides."""
    from kiosk.county.migrate_db import MigrationRefused, migrate
    from kiosk.settings import SettingError, database_url

    try:
        database_url("--to", url)
        moved = migrate(Path(_county_data(data)), url, say=click.echo)
    except (MigrationRefused, SettingError, ValueError, sqlite3.Error) as error:
        _fail(error)
    click.echo(tr("Moved %(rows)s rows in %(tables)s tables, counted on both sides. Set KIOSK_COUNTY_DATABASE_URL to"
                  " this database and restart the county server.", rows=sum(m.rows for m in moved),
                  tables=len(moved)))  # fmt: skip


@county.command("add-kiosk")
@click.argument("village")
@click.option("--repo", type=click.Path(file_okay=False), help="Check VILLAGE against this repository's content.")
@_COUNTY_DATA
def add_kiosk(village: str, repo: str | None, data: str | None) -> None:
    """Register a kiosk for VILLAGE and print its one-time enrolment code."""
    from kiosk.county.kiosks import register_kiosk
    from kiosk.county.store import CODE_HOURS

    try:
        kiosk_id, code = register_kiosk(Path(_county_data(data)), village, Path(repo) if repo else None)
    except RepositoryError as error:
        _fail(error)
    click.echo(tr("Kiosk %(id)s for %(village)s. On the kiosk, within %(hours)s hours: "
                  "kiosk enrol %(code)s --county URL",
                  id=kiosk_id, village=village, hours=CODE_HOURS, code=code))  # fmt: skip


@county.command("revoke-kiosk")
@click.argument("kiosk_id", type=int)
@_COUNTY_DATA
def revoke_kiosk(kiosk_id: int, data: str | None) -> None:
    """Shut kiosk KIOSK_ID out: its reports and uploads are refused from now on."""
    from kiosk.county import kiosks

    try:
        kiosks.revoke_kiosk(Path(_county_data(data)), kiosk_id)
    except RepositoryError as error:
        _fail(error)
    click.echo(tr("Kiosk %(id)s revoked.", id=kiosk_id))


def describe(result: PublishResult) -> str:
    """Say what a publish did, for the county officer."""
    if result.version is None:
        return tr("No change: the repository already holds this content; nothing was published.")
    lines = [tr("Published version %(version)s.", version=result.version)]
    for change in result.changes:
        if change.only_moved:
            lines.append(tr("  %(scope)s: no item changed; their places in the list moved", scope=change.scope))
            continue
        line = tr(
            "  %(scope)s: %(added)s added, %(changed)s changed, %(removed)s removed",
            scope=change.scope,
            added=change.added,
            changed=change.changed,
            removed=change.removed,
        )
        if change.photos:
            line += tr("; photos added, replaced or removed: %(photos)s", photos=change.photos)
        lines.append(line)
    return "\n".join(lines)
