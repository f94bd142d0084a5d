"""Whether this kiosk is enrolled with a county server, from its files alone (no HTTP client, no database).

What `kiosk sync` asks before it loads the report's code: a kiosk with no county to report to
ends its night with the sync (issue 17: a no-change night stays small).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sync.receive.status import SyncError, read_config

KEY_FILE = "kiosk-key.pem"


def is_enrolled(data_dir: Path, config: dict[str, Any]) -> bool:
    """Tell whether the kiosk of *data_dir*, set up with *config* (kiosk.json), is enrolled with a county server."""
    return bool(config.get("county") and config.get("kiosk_id") and (Path(data_dir) / KEY_FILE).exists())


def enrolled(data_dir: Path) -> bool:
    """Tell whether the kiosk of *data_dir* is enrolled; False when its kiosk.json is missing or damaged."""
    try:
        return is_enrolled(data_dir, read_config(data_dir))
    except SyncError:
        return False
