"""The `kiosk` command: run the demo, serve a kiosk, and the county's content tools.

Each command's module is imported only when that command runs (kiosk/cli/lazy.py): `kiosk serve` never
loads the county's publishing tools, and `kiosk county publish` never loads the screens.
"""

from __future__ import annotations

import click

from kiosk.cli.lazy import LazyGroup
from kiosk.settings import SETTINGS, SettingError, load_settings
from sync.contract.i18n import use_language

_SETTINGS_HELP = "\n\n".join(f"{s.env}: {s.help}" for s in SETTINGS)

COMMANDS = {  # name: the module and attribute that define it
    "county": "kiosk.cli.county.county",
    "demo": "kiosk.cli.serve.demo",
    "enrol": "kiosk.cli.uplink.enrol",
    "init": "kiosk.cli.kiosk.init",
    "report": "kiosk.cli.uplink.report",
    "reset-time-floor": "kiosk.cli.kiosk.reset_floor",
    "selfcheck": "kiosk.cli.software.selfcheck",
    "serve": "kiosk.cli.serve.serve",
    "staff": "kiosk.cli.staff.staff",
    "status": "kiosk.cli.kiosk.status",
    "sync": "kiosk.cli.kiosk.sync",
    "update": "kiosk.cli.software.update",
}


@click.group(cls=LazyGroup, lazy_subcommands=COMMANDS,
             help=f"Village kiosk.\n\nSettings (environment variables):\n\n{_SETTINGS_HELP}")  # fmt: skip
def main() -> None:
    # Messages for county staff and operators follow the kiosk's language setting (zh by default).
    try:
        use_language(load_settings()["DEFAULT_LOCALE"])
    except SettingError as error:  # named, with its value: never a traceback
        raise click.UsageError(str(error)) from None
