"""How this kiosk's uplink to the county stands, from its files alone: enrolled or not, and what waits to go.

What `kiosk serve` and `kiosk status` need of the uplink. Sending (uplink.py: an HTTP client and the
kiosk's Ed25519 key) happens in a child process, `kiosk report`, so the screens never load it (issue 17,
point 6).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk.data.local_db import open_local

KEY_FILE = "kiosk-key.pem"


def is_enrolled(data_dir: Path, config: dict[str, Any]) -> bool:
    """Tell whether the kiosk of *data_dir*, set up with *config* (kiosk.json), is enrolled with a county server."""
    return bool(config.get("county") and config.get("kiosk_id") and (Path(data_dir) / KEY_FILE).exists())


def outbox_counts(data_dir: Path) -> tuple[int, int]:
    """Return how many outbox items wait for the county, and how many were set aside (it can never take them)."""
    db = open_local(Path(data_dir))
    try:
        waiting = int(db.execute("select count(*) from outbox").fetchone()[0])
        return waiting, int(db.execute("select count(*) from outbox_set_aside").fetchone()[0])
    finally:
        db.close()
