"""A real signed county repository built from the demo county, for sync tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kiosk.demo import DEMO_CONTENT
from sync.contract.content import load_county
from sync.publish.release import PublishResult, publish_county
from sync.publish.repository import Repository

VILLAGE = "taoyuan"


@dataclass
class CountyRepo:
    """A county's content folder (a copy you may edit), keys and signed repository."""

    content: Path
    path: Path
    keys: Path

    @property
    def repository(self) -> Repository:
        return Repository(self.path, self.keys)

    @property
    def root(self) -> Path:
        return self.path / "metadata" / "1.root.json"

    def publish(self, now: datetime | None = None) -> PublishResult:
        return publish_county(self.repository, load_county(self.content), now=now)

    def edit(self, relative: str, old: str, new: str) -> None:
        """Change one county file, as a county officer would."""
        file = self.content / relative
        text = file.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {relative}"
        file.write_text(text.replace(old, new, 1), encoding="utf-8")


def make_county_repo(root: Path, now: datetime | None = None) -> CountyRepo:
    """Copy the demo county under *root*, create a repository and publish it once."""
    county = CountyRepo(Path(shutil.copytree(DEMO_CONTENT, root / "content")), root / "repo", root / "keys")
    county.repository.init(root / "keys" / "root", now=now)
    county.publish(now=now)
    return county
