"""The kiosk's side of software releases: which release the county offers this kiosk, and its wheels, read
through the same verified, resumable channel as content (sync.receive.updater) and checked against the
software key the kiosk's root pins.

ngclient verifies the software role with the key the top-level targets role names for it; the content
key signs that role, so the kiosk also checks that every role allowed to sign a release's files is the
software role with exactly the pinned keys (sync.contract.software.trusted_delegation).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from tuf.api.metadata import TargetFile

from sync.contract import software
from sync.contract.i18n import tr
from sync.receive.updater import SyncError, _Sync


class Channel:
    """The county's software channel, as this kiosk reads it (its metadata refreshed once, on opening)."""

    def __init__(self, data_dir: Path, *, source: str | None = None, now: datetime | None = None,
                 fetcher_options: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.sync = _Sync(Path(data_dir), source, now, None, fetcher_options)
        self.sync.files.updater.refresh()

    @property
    def bytes_downloaded(self) -> int:
        return self.sync.files.fetcher.bytes_received

    def _checked(self, path: str) -> tuple[TargetFile, Path] | None:
        found = self.sync.files.target(path)
        trusted = self.sync.files.trusted
        if found is not None and (problem := software.trusted_delegation(trusted.targets, trusted.root, path)):
            raise SyncError(problem)
        return found

    def offer(self, current: str) -> dict[str, Any] | None:
        """The release the county offers this kiosk, running *current*; None when there is none for it.

        :raises SyncError: when the channel cannot be read or was not signed by the pinned software key.
        """
        found = self._checked(software.CHANNEL)
        if found is None:
            return None  # the county has published no release
        self.sync.files.fetch([found])
        listed = json.loads(found[1].read_bytes()).get("releases")
        if not isinstance(listed, list):
            raise SyncError(tr("%(path)s lists no releases", path=software.CHANNEL))
        return software.offered([r for r in listed if isinstance(r, dict)], self.sync.config["village"], current)

    def fetch_wheels(self, release: dict[str, Any], folder: Path) -> list[Path]:
        """The release's wheels in *folder* under their own names, each verified; only those not held are fetched.

        :raises SyncError: a wheel not signed by the software key, or not enough free disk (nothing fetched then).
        """
        wanted: list[tuple[TargetFile, Path]] = []
        for name in release["wheels"]:
            found = self._checked(f"{software.WHEELS}{name}") if software.WHEEL_NAME.fullmatch(name) else None
            if found is None or not software.WHEEL_NAME.fullmatch(name):
                raise SyncError(tr("the signed metadata does not list %(path)s", path=f"{software.WHEELS}{name}"))
            wanted.append((found[0], Path(folder) / name))
        # Only those not held already (ngclient checks a held file's hash), after checking the free disk; what
        # a cut connection left is resumed, and every byte verified.
        self.sync.files.fetch(wanted)
        return [path for _info, path in wanted]


def offer(data_dir: Path, current: str, **options: Any) -> dict[str, Any] | None:
    """The release the county offers the kiosk in *data_dir*, running *current* (Channel.offer)."""
    return Channel(data_dir, **options).offer(current)
