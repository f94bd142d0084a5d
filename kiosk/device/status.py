"""How this kiosk stands, for `kiosk status`, the staff console's home page and the county's report.

Damaged files are reported, never raised: a kiosk that cannot read its own state still says so.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from kiosk.data.clock import clock_warning
from kiosk.data.local_db import set_aside_files
from kiosk.device.uplink_state import outbox_counts
from sync.contract.i18n import tr
from sync.receive.database import installed_meta
from sync.receive.install import Readable, readable_content
from sync.receive.status import CONFIG, STATUS, SyncError, read_config, read_status

log = logging.getLogger(__name__)


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
        problems.append(tr("the current content (%(files)s) is damaged: the screens show the previous version "
                           "%(version)s; the next sync installs the current one again",
                           files=", ".join(report["damaged_content"]), version=report["version"]))  # fmt: skip
    if report["serving"] == "repairing":
        problems.append(tr("the installed content (%(files)s) is damaged: the screens say it is being repaired; run "
                           "kiosk sync to install it again", files=", ".join(report["damaged_content"])))  # fmt: skip
    if report["state_rebuilt"]:
        problems.append(tr("content/state.json is damaged (%(error)s): the newest intact content file is used; "
                           "the next sync writes it again", error=report["state_rebuilt"]))  # fmt: skip
    if report["config_problem"]:
        problems.append(report["config_problem"])
    if report["status_file_damaged"]:
        problems.append(tr("sync-status.json is damaged: the last sync is unknown; the next sync writes it again"))
    if report["clock_warning"]:
        problems.append(clock_sentence(report["clock_warning"]))
    for name in report["local_set_aside"]:
        problems.append(tr("local.db was damaged and set aside as %(name)s; a fresh one was made (staff accounts "
                           "must be added again with kiosk staff add)", name=name))  # fmt: skip
    return problems


def clock_sentence(warning: dict[str, str]) -> str:
    """Say in a sentence what `clock.clock_warning` found."""
    if warning["problem"] == "behind":
        return tr("this kiosk's clock (%(clock)s) is behind the county's newest signature (%(signed)s); "
                  "the screens use the latter. Set the clock right. If it is right, the county's clock was "
                  "ahead when it signed: run kiosk reset-time-floor.", **warning)  # fmt: skip
    if warning["problem"] == "ahead":
        return tr("this kiosk's clock (%(clock)s) is %(days)s days ahead of the county's newest signature "
                  "it has verified (%(signed)s): either the clock is ahead (set it right) or the kiosk has not "
                  "synced for that long (check its network).", **warning)  # fmt: skip
    return tr("the county signed at %(signed)s, ahead of this kiosk's clock (%(clock)s); the kiosk did not "
              "take that time. If the county's clock was wrong, nothing needs doing; if this kiosk's clock is "
              "behind, set it right.", **warning)  # fmt: skip
