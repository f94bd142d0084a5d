"""Set a kiosk's sync up, and put its time floor right: `kiosk init` and `kiosk reset-time-floor`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tuf.api.metadata import Metadata, Root

from sync.contract.files import atomic_write
from sync.contract.i18n import tr
from sync.receive.status import CONFIG, STATUS, SyncError, read_config, read_status, tuf_dir, write_json
from sync.receive.time_floor import lower_floor


def init_kiosk(data_dir: Path, village: str, repository: str, root_file: Path) -> None:
    """Set up a kiosk: which village it shows, where it syncs from, and the root it trusts."""
    data = Path(root_file).read_bytes()
    try:
        root = Metadata[Root].from_bytes(data)
        root.verify_delegate(Root.type, root)
    except Exception as error:
        raise SyncError(tr("%(file)s is not a county's signed root: %(error)s", file=root_file, error=error)) from None
    tuf = tuf_dir(data_dir)
    (tuf / "metadata").mkdir(parents=True, exist_ok=True)
    atomic_write(tuf / "trusted-root.json", data, mode=0o444)  # read-only: the kiosk never rewrites its root
    write_json(Path(data_dir) / CONFIG, {"village": village, "repository": repository})


def reset_time_floor(data_dir: Path) -> tuple[datetime | None, datetime | None]:
    """Lower the time floor to before the rises this kiosk's clock could not judge (or forget it).

    For staff, when the floor came from a county whose clock was wrong and now makes every sync
    fail as "expired" (README: the update channel). :returns: the floor (old, new).
    """
    read_config(data_dir)  # only a set-up kiosk has a status to change
    status = read_status(data_dir)
    old, new = lower_floor(status)
    write_json(Path(data_dir) / STATUS, status)
    return old, new
