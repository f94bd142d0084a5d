"""What waits in this kiosk's outbox for the county (whether it is enrolled at all: enrolment.py).

What `kiosk serve` and `kiosk status` need of the uplink. Sending (uplink.py: an HTTP client and the
kiosk's Ed25519 key) happens in a child process, `kiosk report`, so the screens never load it (issue 17,
point 6).
"""

from __future__ import annotations

from pathlib import Path

from kiosk.data.local_db import open_local


def outbox_counts(data_dir: Path) -> tuple[int, int]:
    """Return how many outbox items wait for the county, and how many were set aside (it can never take them)."""
    db = open_local(Path(data_dir))
    try:
        waiting = int(db.execute("select count(*) from outbox").fetchone()[0])
        return waiting, int(db.execute("select count(*) from outbox_set_aside").fetchone()[0])
    finally:
        db.close()
