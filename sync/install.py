"""Install a village snapshot into the kiosk atomically, keeping the previous version.

Layout under the data directory::

    content/state.json              {"current": "content-7-ab12.db", "previous": "content-6-9f3c.db"}
    content/content-<v>-<token>.db  one complete, read-only SQLite file per installed version
    media/<sha256><ext>             photos, content-addressed, shared by versions

A version is built into its own file, checked, then made current by replacing state.json
(os.replace is atomic on POSIX). A crash at any instant leaves state.json naming complete
files only: readers see the old version or the new one, never a mix (DESIGN.md decision 4).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .database import DatabaseCheckFailed, media_used, write_database
from .i18n import tr

STATE = "state.json"
LOCK = ".install.lock"
log = logging.getLogger(__name__)


class InstallError(Exception):
    """The snapshot could not be installed; the installed content is unchanged."""


def content_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "content"


def media_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "media"


def read_state(data_dir: Path) -> dict[str, Any]:
    """Return the install state: {'current': file or None, 'previous': file or None}."""
    try:
        with open(content_dir(data_dir) / STATE, encoding="utf-8") as file:
            state: dict[str, Any] = json.load(file)
            return state
    except FileNotFoundError:
        return {"current": None, "previous": None}


def current_database(data_dir: Path) -> Path | None:
    """Return the SQLite file of the installed version, or None before the first install."""
    name = read_state(data_dir).get("current")
    return content_dir(data_dir) / name if name else None


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_durably(target: Path, data: bytes) -> None:
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, target)
    _fsync_dir(target.parent)


@contextmanager
def _install_lock(data_dir: Path) -> Iterator[None]:
    folder = content_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _store_media(data_dir: Path, media_files: Mapping[str, Path]) -> None:
    """Copy each needed blob into media/, checking its bytes match its name."""
    folder = media_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for blob, source in media_files.items():
        target = folder / blob
        if target.exists():
            continue
        data = Path(source).read_bytes()
        if hashlib.sha256(data).hexdigest() != Path(blob).stem:
            raise InstallError(tr("media file {file} does not match its checksum {blob}", file=source, blob=blob))
        _write_durably(target, data)


def _switch_current(data_dir: Path, name: str) -> dict[str, Any]:
    state = read_state(data_dir)
    new_state = {"current": name, "previous": state.get("current")}
    _write_durably(content_dir(data_dir) / STATE, json.dumps(new_state).encode())
    return new_state


def _collect_garbage(data_dir: Path, state: dict[str, Any]) -> None:
    """Delete what no kept version uses: old versions, unfinished builds and their journals, media."""
    folder = content_dir(data_dir)
    kept = {name for name in (state.get("current"), state.get("previous")) if name}
    for file in folder.iterdir():
        if file.name not in kept | {STATE, LOCK}:
            file.unlink(missing_ok=True)
    used: set[str] = set()
    for name in kept:
        if (folder / name).exists():
            used |= media_used(folder / name)
    media = media_dir(data_dir)
    if media.is_dir():
        for file in media.iterdir():
            if file.name not in used:
                file.unlink(missing_ok=True)


def _tidy(data_dir: Path, state: dict[str, Any]) -> None:
    """Collect garbage after a switch; a failure here must not undo or hide a good install."""
    try:
        _collect_garbage(data_dir, state)
    except (OSError, sqlite3.Error) as error:
        log.warning("installed, but could not remove old content files: %s", error)


def version_of(name: str) -> int:
    """Return the version in a content file's name, 'content-<version>-<token>.db'."""
    return int(name.split("-")[1])


def install_snapshot(data_dir: Path, snapshot: dict[str, Any], media_files: Mapping[str, Path]) -> Path:
    """Install *snapshot* as the current content; keep the one it replaces as previous.

    :param media_files: every media blob the snapshot uses, by blob name, as a file to copy.
    :returns: the new current database file.
    :raises InstallError: on a lower version or content that fails its checks; nothing changes.
    """
    data_dir = Path(data_dir)
    version = int(snapshot["version"])
    with _install_lock(data_dir):
        current = read_state(data_dir).get("current")
        # The name carries the version, so the check holds even if the file itself is lost.
        if current and version_of(current) > version:
            raise InstallError(
                tr(
                    "version {version} is older than the installed {installed}",
                    version=version,
                    installed=version_of(current),
                )
            )
        _store_media(data_dir, media_files)
        name = f"content-{version}-{secrets.token_hex(4)}.db"
        building = content_dir(data_dir) / f".{name}.tmp"
        try:
            write_database(building, snapshot, sorted(media_files))
        except (sqlite3.DatabaseError, DatabaseCheckFailed, KeyError, TypeError) as error:
            building.unlink(missing_ok=True)
            raise InstallError(tr("the snapshot could not be written: {error}", error=error)) from error
        os.replace(building, content_dir(data_dir) / name)
        _fsync_dir(content_dir(data_dir))
        state = _switch_current(data_dir, name)
        _tidy(data_dir, state)
        return content_dir(data_dir) / name
