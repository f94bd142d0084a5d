"""The kiosk's set-up (kiosk.json) and the record of its syncs (sync-status.json), and what a sync returns.

Read by the screens, the staff console, `kiosk status` and the nightly thread of `kiosk serve`, none of
which syncs: kept apart from updater.py so reading them never imports python-tuf (issue 17, point 6).
updater.py re-exports every name here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sync.contract.files import atomic_write
from sync.contract.i18n import tr

CONFIG = "kiosk.json"
STATUS = "sync-status.json"
logger = logging.getLogger(__name__)


class SyncError(Exception):
    """A sync could not complete; the installed content is unchanged."""


@dataclass
class SyncResult:
    """What one sync did, as `kiosk sync --json` prints it."""

    outcome: str  # updated, unchanged or failed
    version: int | None
    content_date: str | None
    bytes_downloaded: int
    files_downloaded: int
    error: str | None
    county_report: str | None = None  # what reporting to the county server after the sync did, if enrolled
    county_ok: bool = True  # False when the report or the upload did not go through
    needs_software: bool = False  # the content is in a newer form: newer kiosk software must come first

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def read_config(data_dir: Path) -> dict[str, Any]:
    path = Path(data_dir) / CONFIG
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        complete = isinstance(config, dict) and config.get("village") and config.get("repository")
        problem = None if complete else "incomplete"
    except FileNotFoundError:
        raise SyncError(tr("this kiosk is not set up yet: run kiosk init first")) from None
    except (OSError, ValueError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        problem = str(error)
    if problem:
        raise SyncError(tr("%(file)s is damaged (%(error)s): set this kiosk up again with kiosk init --village CODE "
                           "--repo URL --root ROOT.json (and kiosk enrol again if it reported to a county server)",
                           file=path, error=problem))  # fmt: skip
    return dict(config)


def read_status(data_dir: Path) -> dict[str, Any]:
    """Return the sync status; {} when there is none or it is damaged (the next sync writes it again)."""
    path = Path(data_dir) / STATUS
    try:
        status = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:  # a bad sector, a power cut: not UTF-8, not JSON
        logger.warning("%s is damaged and was ignored: %s", path, error)
        return {}
    if not isinstance(status, dict):
        logger.warning("%s is damaged and was ignored: not a JSON object", path)
        return {}
    return status


def tuf_dir(data_dir: Path) -> Path:
    """The folder of the kiosk's signed metadata and targets (updater.py)."""
    return Path(data_dir) / "tuf"


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Write the kiosk's set-up or sync status (a whole file, or the one before)."""
    atomic_write(path, json.dumps(value, ensure_ascii=False, indent=2).encode())
