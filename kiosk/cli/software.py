"""`kiosk update` and `kiosk selfcheck`: this kiosk's software, updated from the county's signed channel."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from kiosk.cli.options import DATA, data_folder
from kiosk.settings import app_version, fetcher_options, load_settings
from sync.contract.i18n import tr


@click.command("update")
@click.option("--json", "as_json", is_flag=True, help="Print only one JSON object.")
@DATA
def update(as_json: bool, data: str | None) -> None:
    """Install the software release the county offers this kiosk, if any: beside the running one, checked,
    switched to, confirmed within KIOSK_UPDATE_CONFIRM_SECONDS, or switched back."""
    from kiosk.device.update import Updater

    settings = load_settings()
    updater = Updater(
        data_folder(data), Path(settings["RELEASES_DIR"]), shlex.split(settings["RESTART_COMMAND"]),
        f"http://{settings['HOST']}:{settings['PORT']}/healthz", settings["UPDATE_CONFIRM_SECONDS"],
        fetcher_options=fetcher_options(settings),
    )  # fmt: skip
    result = updater.run()
    if as_json:
        click.echo(result.to_json())
    elif result.outcome == "unchanged":
        click.echo(result.error or tr("Software %(version)s: no newer release for this kiosk.", version=result.running))
    elif result.outcome == "installed":
        click.echo(tr("Installed release %(version)s; the screens answer with it.", version=result.running))
    else:
        click.echo(tr("Release %(offered)s was not installed (%(step)s): %(error)s. Running %(running)s.",
                      offered=result.offered or "?", step=result.step, error=result.error,
                      running=result.running), err=True)  # fmt: skip
    sys.exit(1 if result.outcome in ("failed", "rolled_back") else 0)


@click.command("selfcheck")
@DATA
def selfcheck(data: str | None) -> None:
    """Check this installed software against a kiosk's data (kiosk update runs it on a copy before switching):
    its modules import, local.db migrates, and its screens answer /healthz with this version."""
    from kiosk.data.local_db import open_local
    from kiosk.screens import create_app
    from kiosk.staff import create_staff_app

    data_dir = data_folder(data)
    open_local(data_dir).close()  # the migrations this release brings
    screens = create_app({"DATA_DIR": str(data_dir)})
    create_staff_app({"DATA_DIR": str(data_dir)})
    answer = screens.test_client().get("/healthz")
    found = answer.get_json(silent=True) or {}
    if answer.status_code != 200 or found.get("version") != app_version():
        raise click.ClickException(tr("the screens answered %(status)s %(found)s, not version %(version)s",
                                      status=answer.status_code, found=found, version=app_version()))  # fmt: skip
    click.echo(tr("Release %(version)s: self-check passed.", version=app_version()))
