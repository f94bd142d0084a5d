"""Caches of files the screens make once and keep (QR codes, read-aloud audio): bounded in size, optional.

A cache only saves work: when its disk is full the screens make what they need again each time,
and when it outgrows its budget the oldest files go first.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sync.contract.files import atomic_write

log = logging.getLogger(__name__)


def keep_in_cache(path: Path, data: bytes) -> bool:
    """Write *data* to *path* whole (see atomic_write); False if the disk refused it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
        return True
    except OSError as error:
        log.warning("not kept in the cache (%s): %s; made again on each request until there is room", path, error)
        return False


def prune_oldest(folder: Path, pattern: str, budget: int, keep: Path | None = None) -> None:
    """Delete the oldest files matching *pattern* (by modification time) until the folder fits *budget* bytes."""
    files = []
    for path in folder.glob(pattern):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue  # another request pruned it meanwhile
        files.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _mtime, size, _path in files)
    for _mtime, size, path in sorted(files):
        if total <= budget:
            break
        if path != keep:
            path.unlink(missing_ok=True)
            total -= size
