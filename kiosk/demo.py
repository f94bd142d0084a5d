"""Build the demo kiosk from content/demo: shared by `kiosk demo` and the tests."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from sync.contract.content import County, load_county
from sync.contract.dates import DEFAULT_TIMEZONE, local_now
from sync.contract.snapshot import village_snapshot
from sync.receive.install import install_snapshot

# Package data: kiosk/demo_county links to content/demo in a checkout, the wheel holds a copy. Packages are
# installed as folders (never zipped), so it is a folder on disk that can be read and copied.
DEMO_CONTENT = Path(str(resources.files("kiosk") / "demo_county"))


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
