"""Build the demo kiosk from content/demo: shared by `kiosk demo` and the tests."""

from __future__ import annotations

from pathlib import Path

from sync.contract.content import County, load_county
from sync.contract.dates import DEFAULT_TIMEZONE, local_now
from sync.contract.snapshot import village_snapshot
from sync.receive.install import install_snapshot

DEMO_CONTENT = Path(__file__).resolve().parent.parent / "content" / "demo"


def demo_village(county: County) -> str:
    """Return the village the demo kiosk shows: the first in county.yaml."""
    return county.villages()[0]["code"]


def install_demo(
    data_dir: Path, village: str | None = None, version: int = 1, content_dir: Path = DEMO_CONTENT
) -> Path:
    """Load the demo county and install one village's content into *data_dir*."""
    county = load_county(content_dir)
    today = local_now(county.info.get("timezone", DEFAULT_TIMEZONE)).date().isoformat()
    snapshot, media = village_snapshot(county, village or demo_village(county), version, today)
    return install_snapshot(data_dir, snapshot, media)
