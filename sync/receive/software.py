"""The kiosk's side of software releases: which release the county offers this kiosk, read through the same
verified channel as content (sync.receive.updater) and checked against the software key its root pins.

ngclient verifies the software role with the key the top-level targets role names for it; the content
key signs that role, so the kiosk also checks that every role allowed to sign a release's files is the
software role with exactly the pinned keys (sync.contract.software.trusted_delegation).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sync.contract import software
from sync.contract.i18n import tr
from sync.receive.updater import SyncError, _Sync, _trusted


def offer(
    data_dir: Path, current: str, *, source: str | None = None, now: datetime | None = None,
    fetcher_options: dict[str, Any] | None = None,
) -> dict[str, Any] | None:  # fmt: skip
    """The release the county offers this kiosk, running *current*; None when there is none for it.

    :raises SyncError: when the channel cannot be read or was not signed by the pinned software key.
    """
    sync = _Sync(Path(data_dir), source, now, None, fetcher_options)
    sync.updater.refresh()
    found = sync.target(software.CHANNEL)
    trusted = _trusted(sync.updater)
    if found is None:
        return None  # the county has published no release
    if problem := software.trusted_delegation(trusted.targets, trusted.root, software.CHANNEL):
        raise SyncError(problem)
    sync.fetch([found])
    listed = json.loads(found[1].read_bytes()).get("releases")
    if not isinstance(listed, list):
        raise SyncError(tr("%(path)s lists no releases", path=software.CHANNEL))
    return software.offered([r for r in listed if isinstance(r, dict)], sync.config["village"], current)
