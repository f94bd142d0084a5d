"""Files written whole or not at all, and still there after a power cut: both sides of the channel and the kiosk."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def atomic_write(path: Path, data: bytes, mode: int = 0o644, sync_folder: bool = True) -> None:
    """Replace *path* by a file holding *data*: a reader, or a power cut, sees the old file or the new one.

    The data goes to a temporary file beside *path* (a dot name ending in `.tmp`, which the install's
    tidying, the repository server and the photo store all know as unfinished), is fsynced, renamed
    over *path*, and the folder is fsynced so the rename itself survives a power cut. Each call uses a
    name of its own, so two writers at once never mix their bytes; the last rename wins.

    :param mode: the new file's permissions (0o600 for a private key), less the umask.
    :param sync_folder: False when writing many files into one folder: the caller fsyncs it once after.
    :raises OSError: when the disk refuses; *path* is then unchanged and no temporary file is left.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)  # a full disk or a failed rename leaves nothing half-written behind
    if sync_folder:
        fsync_directory(path.parent)


def fsync_directory(path: Path) -> None:
    """Make the names in folder *path* (a file renamed into it, or one removed) survive a power cut."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
