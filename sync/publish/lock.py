"""One signing at a time in a county's repository, across threads and processes.

Every signing reads the current snapshot, signs roles and then a snapshot and timestamp one version
up. Two at once (a publish from the studio, the nightly refresh, a release paused by the county or
by itself) would both sign the same next version, and one's roles would be missing from what kiosks
read. Each of them holds this lock from reading the snapshot to signing the timestamp: an flock on
REPO/.signing.lock, a file the repository never serves (only metadata/ and targets/ are).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sync.contract.i18n import tr

FILE = ".signing.lock"
POLL_SECONDS = 0.05


class RepositoryBusy(Exception):
    """Another signing held the repository for longer than the caller would wait."""


@contextmanager
def signing_lock(repository: Path, wait: float | None = None) -> Iterator[None]:
    """Hold the repository in *repository* for one signing; wait for another to end, at most *wait* seconds.

    :raises RepositoryBusy: *wait* passed with the lock still held elsewhere (never when *wait* is None).
    """
    if not Path(repository).is_dir():  # no repository, nothing to hold: the signing says what is wrong
        yield
        return
    # Opened for reading: an flock needs no write access, so a lock file made by another user still serves.
    descriptor = os.open(Path(repository) / FILE, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        if wait is None:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        else:
            _take_within(descriptor, wait)
        yield
    finally:
        os.close(descriptor)  # closing lets the lock go


def _take_within(descriptor: int, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise RepositoryBusy(tr("the repository is being signed by another publish or release for more "
                                        "than %(seconds)s s", seconds=wait)) from None  # fmt: skip
            time.sleep(POLL_SECONDS)
