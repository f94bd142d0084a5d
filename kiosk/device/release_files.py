"""The files of kiosk update: links to releases switched atomically, local.db copied consistently, free space, and
the environment pip and a new release run in."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kiosk.data.local_db import path_of as local_db_path
from sync.contract.i18n import tr


class UpdateFailed(Exception):
    """A step of the update failed; *step* names it."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


def clean_environment() -> dict[str, str]:
    """This process's environment without what would make pip or the new release see another Python's packages
    (PYTHONPATH, a virtual environment's, pip's own settings)."""
    return {name: value for name, value in os.environ.items()
            if not name.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV", "CONDA"))}  # fmt: skip


def free_bytes(folder: Path) -> int:
    """The free space where *folder* is, in bytes."""
    return shutil.disk_usage(folder).free


def copy_data(data_dir: Path, copy: Path, step: str) -> None:
    """What the self-check needs of *data_dir*: local.db (a consistent copy) and the installed content."""
    local = local_db_path(data_dir)
    if local.is_file():
        backup(local, local_db_path(copy), step)
    content = data_dir / "content"
    if content.is_dir():
        shutil.copytree(content, copy / "content", copy_function=os.link)  # read only by the check: links suffice


def backup(source: Path, target: Path, step: str) -> None:
    """A consistent copy of the SQLite file *source* (its WAL included) at *target*.

    :raises UpdateFailed: at *step*, when *source* cannot be read (damaged, or locked past SQLite's timeout).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    if not source.is_file():
        return
    try:
        with sqlite3.connect(source) as reading, sqlite3.connect(target) as writing:
            reading.backup(writing)
        reading.close()
        writing.close()
    except sqlite3.Error as error:
        raise UpdateFailed(step, tr("%(file)s could not be copied (%(error)s): nothing was changed; the screens "
                                    "repair or set aside a damaged local.db when they start", file=source,
                                    error=error)) from None  # fmt: skip


def restore(copy: Path, target: Path) -> None:
    """Put local.db back as *copy* holds it (its WAL of later writes removed first)."""
    if copy.is_file():
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        backup(copy, target, "switch_back")


def pointed(link: Path) -> str | None:
    try:
        return os.readlink(link)
    except OSError:
        return None


def point(link: Path, name: str) -> None:
    """Make the symlink *link* point to *name* (beside it), atomically: a reader sees the old or the new."""
    temporary = link.with_name(f".{link.name}.new")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(name)
    temporary.replace(link)


@contextmanager
def held_alone(lock: Path) -> Iterator[bool]:
    """Hold *lock* (a file) for the block; yield False at once, holding nothing, when another process holds it."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True  # released when the file closes
