"""Options more than one command takes."""

from __future__ import annotations

from pathlib import Path

import click

from kiosk.settings import absolute_folder, load_settings

DATA = click.option("--data", "data", type=click.Path(file_okay=False), help="Data directory (default KIOSK_DATA_DIR).")


def data_folder(option: str | None) -> Path:
    """The data directory: --data, else KIOSK_DATA_DIR; absolute, so every app and job started from it agrees."""
    return Path(absolute_folder(option or load_settings()["DATA_DIR"]))


COUNTY_DATA = click.option(
    "--data", "data", type=click.Path(file_okay=False), help="County server state (default KIOSK_DATA_DIR)."
)
