"""`kiosk serve` and `kiosk demo`: the villager screens and the staff console, each on its own listener."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from kiosk.cli.options import DATA, data_folder
from kiosk.device.status import kiosk_status
from kiosk.settings import configure_logging, load_settings, waitress_proxy_options
from sync.contract.i18n import tr
from sync.receive.status import CONFIG


def _serve(data_dir: Path, port: int | None, with_staff: bool = False) -> None:
    """Serve the villager screens (and the staff console on its own listener) until stopped."""
    import threading

    from waitress.server import create_server

    from kiosk.device.arenas import few_malloc_arenas
    from kiosk.device.listening import inherited_socket, stop_gracefully
    from kiosk.screens import create_app

    few_malloc_arenas()  # before the server's threads start
    settings = load_settings()
    app = create_app({"DATA_DIR": str(data_dir), **({"PORT": port} if port else {})})
    host, port = settings["HOST"], app.config["PORT"]
    if (handed := inherited_socket()) is not None:  # the service manager's socket (deploy/village-kiosk.socket)
        host, port = handed.getsockname()[:2]
        screens = create_server(app, sockets=[handed], threads=settings["THREADS"], ident="kiosk")
    else:
        screens = create_server(app, host=host, port=port, threads=settings["THREADS"], ident="kiosk")
    click.echo(
        tr("Kiosk at http://%(host)s:%(port)s/  (data: %(data)s; Ctrl+C stops)", host=host, port=port, data=data_dir)
    )
    if with_staff:
        from kiosk.staff import create_staff_app

        staff_app = create_staff_app({"DATA_DIR": str(data_dir)})
        # Staff reaching the console through a proxy each keep their own sign-in limit (waitress_proxy_options).
        console = create_server(staff_app, host=settings["STAFF_HOST"], port=settings["STAFF_PORT"], threads=2,
                                ident="kiosk-staff", **waitress_proxy_options(settings))  # fmt: skip
        threading.Thread(target=console.run, name="staff-console", daemon=True).start()
        click.echo(
            tr("Staff console at http://%(host)s:%(port)s/", host=settings["STAFF_HOST"], port=settings["STAFF_PORT"])
        )
    stop_gracefully(screens)  # a restart never cuts off a page it had taken
    screens.run()


@click.command()
@click.option("--port", type=int, default=None, help="Port to serve on (default KIOSK_PORT, 8080).")
@DATA
@click.option("--village", help="Village code to show (default: the first in the demo county).")
def demo(port: int | None, data: str | None, village: str | None) -> None:
    """Build the sample county, install it for one village and serve it."""
    from kiosk.demo import install_demo
    from sync.contract.content import ContentInvalid
    from sync.receive.install import InstallError

    data_dir = data_folder(data)
    try:
        install_demo(data_dir, village)
    except ContentInvalid as error:
        raise click.ClickException(
            tr("the demo content has problems:") + "\n" + "\n".join(map(str, error.problems))
        ) from None
    except KeyError as error:
        raise click.ClickException(str(error.args[0])) from None
    except InstallError as error:
        raise click.ClickException(tr("%(error)s; use another --data folder for the demo", error=error)) from None
    _serve(data_dir, port)


@click.command()
@click.option("--port", type=int, default=None, help="Port to serve on (default KIOSK_PORT, 8080).")
@DATA
def serve(port: int | None, data: str | None) -> None:
    """Serve a configured kiosk, syncing nightly (KIOSK_SYNC_NIGHTLY) and reporting (KIOSK_REPORT_MINUTES)."""
    from kiosk.device.nightly import NightlySync, PeriodicReport

    data_dir, settings = data_folder(data), load_settings()
    configure_logging(settings)  # the nightly sync's and the reports' outcomes, problems found at start
    for problem in kiosk_status(data_dir)["problems"]:  # said at every start, so the journal shows it
        logging.getLogger("kiosk").warning("%s", problem)
    if settings["SYNC_NIGHTLY"] and (data_dir / CONFIG).exists():
        try:
            nightly = NightlySync(data_dir, settings)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        nightly.start()
        click.echo(tr("Nightly sync on, inside %(window)s; next: %(when)s", window=settings["SYNC_WINDOW"],
                      when=kiosk_status(data_dir)["next_sync"] or "-"))  # fmt: skip
    if settings["REPORT_MINUTES"] > 0:  # enrolment is checked before each report: `kiosk enrol` may come later
        PeriodicReport(data_dir, interval_s=settings["REPORT_MINUTES"] * 60).start()
        click.echo(tr("Reports to the county on, every %(minutes)s minutes while enrolled",
                      minutes=settings["REPORT_MINUTES"]))  # fmt: skip
    _serve(data_dir, port, with_staff=True)
