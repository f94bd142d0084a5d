"""Install a village snapshot into the kiosk atomically, keeping the previous version.

Layout under the data directory::

    content/state.json              {"current": "content-7-ab12.db", "previous": "content-6-9f3c.db"}
    content/content-<v>-<token>.db  one complete, read-only SQLite file per installed version
    media/<sha256><ext>             photos, content-addressed, shared by versions

A version is built into its own file, checked, then made current by replacing state.json
(os.replace is atomic on POSIX). A crash at any instant leaves state.json naming complete
files only: readers see the old version or the new one, never a mix (README: how content reaches the screen).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync.contract.files import atomic_write, fsync_directory
from sync.contract.i18n import tr
from sync.receive.database import DatabaseCheckFailed, looks_intact, media_used, write_database

if TYPE_CHECKING:
    from sync.receive.patch import Patch

STATE = "state.json"
LOCK = ".install.lock"
DAMAGED = ".damaged"  # beside a version found damaged on a read: content-7-ab12.db.damaged
log = logging.getLogger(__name__)


class InstallError(Exception):
    """The snapshot could not be installed; the installed content is unchanged."""


def content_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "content"


def media_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "media"


def read_state(data_dir: Path) -> dict[str, Any]:
    """Return the install state: {'current': file or None, 'previous': file or None}.

    A damaged or lost state.json is rebuilt from the files themselves, newest intact version
    first, with 'rebuilt' set; the next install writes it whole again.
    """
    path = content_dir(data_dir) / STATE
    try:
        with open(path, encoding="utf-8") as file:
            state = json.load(file)
        if isinstance(state, dict) and all(isinstance(state.get(k), str | None) for k in ("current", "previous")):
            return state
        problem = "not an install state"
    except FileNotFoundError:
        problem = "missing"
    except (OSError, ValueError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        problem = str(error)
    return _state_from_files(data_dir, problem)


def _installed_files(data_dir: Path) -> list[Path]:
    """Return the installed version files, newest version first (unfinished builds start with a dot)."""
    files = [file for file in content_dir(data_dir).iterdir() if re.fullmatch(r"content-\d+-\w+\.db", file.name)]
    return sorted(files, key=lambda file: (version_of(file.name), file.stat().st_mtime), reverse=True)


def _state_from_files(data_dir: Path, problem: str) -> dict[str, Any]:
    try:
        names = [file.name for file in _installed_files(data_dir) if intact(file)][:2]
    except (OSError, ValueError):
        names = []
    if not names and problem == "missing":
        return {"current": None, "previous": None}  # before the first install
    state = {"current": names[0] if names else None, "previous": names[1] if len(names) > 1 else None}
    message = "%s is damaged (%s); using the newest intact content files instead: %s"
    _warn_once(("state", str(data_dir), problem), message, STATE, problem, state)
    return {**state, "rebuilt": problem}


def current_database(data_dir: Path) -> Path | None:
    """Return the SQLite file of the installed version, or None before the first install."""
    name = read_state(data_dir).get("current")
    return content_dir(data_dir) / name if name else None


# Verdicts on installed files by (path, size, mtime): installed files never change, so each is
# checked once per process, and a request costs one stat of the current file.
_verdicts: dict[tuple[str, int, int], bool] = {}
_warned: set[tuple[str, ...]] = set()


def _warn_once(key: tuple[str, ...], message: str, *args: Any) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message, *args)


def intact(path: Path) -> bool:
    """Tell whether an installed version can be read (a cheap check, remembered per file)."""
    try:
        stat = path.stat()
    except OSError:
        return False
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verdicts:
        if len(_verdicts) > 64:
            _verdicts.clear()
        _verdicts[key] = looks_intact(path) and not path.with_name(path.name + DAMAGED).exists()
        if not _verdicts[key]:
            log.error("the installed content %s is damaged; it is not shown, and the next sync installs it again", path)
    return _verdicts[key]


def mark_damaged(path: Path) -> None:
    """Remember that *path* failed a read after it looked intact (a damaged page inside it).

    A marker file beside it tells other processes too, so the next sync installs it again.
    """
    log.error("the installed content %s is damaged inside; it is no longer shown", path)
    with suppress(OSError):
        stat = path.stat()
        _verdicts[(str(path), stat.st_size, stat.st_mtime_ns)] = False
        path.with_name(path.name + DAMAGED).touch()


@dataclass(frozen=True)
class Readable:
    """The installed version the screens can show, and what was found damaged on the way."""

    path: Path | None  # None: nothing intact to show
    version: int | None
    fallback: bool  # the current version is damaged and this is the previous one
    damaged: tuple[str, ...]  # installed versions that cannot be read
    state_rebuilt: str | None  # why state.json was rebuilt from the files, if it was


def readable_content(data_dir: Path) -> Readable:
    """Return the newest installed version that is intact: the current one, else the previous (N-1)."""
    state = read_state(data_dir)
    folder, damaged = content_dir(data_dir), list[str]()
    for role in ("current", "previous"):
        name = state.get(role)
        if not name:
            continue
        if intact(folder / name):
            return Readable(folder / name, version_of(name), bool(damaged), tuple(damaged), state.get("rebuilt"))
        damaged.append(name)
    return Readable(None, None, False, tuple(damaged), state.get("rebuilt"))


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
            raise InstallError(tr("media file %(file)s does not match its checksum %(blob)s", file=source, blob=blob))
        atomic_write(target, data, sync_folder=False)
    fsync_directory(folder)  # once for every photo renamed into it, before state.json can point at them


def _switch_current(data_dir: Path, name: str, state: dict[str, Any]) -> dict[str, Any]:
    # The version replaced is kept as N-1, unless it is damaged: then the N-1 already kept stays.
    kept = [n for n in (state.get("current"), state.get("previous")) if n and intact(content_dir(data_dir) / n)]
    new_state = {"current": name, "previous": kept[0] if kept else None}
    atomic_write(content_dir(data_dir) / STATE, json.dumps(new_state).encode())
    return new_state


def repair_state(data_dir: Path) -> None:
    """Write state.json again if it was damaged or lost (rebuilt from the files, as read_state does)."""
    if read_state(data_dir).get("rebuilt"):
        with _install_lock(data_dir):
            state = read_state(data_dir)
            if state.pop("rebuilt", None) and state["current"]:
                atomic_write(content_dir(data_dir) / STATE, json.dumps(state).encode())
                log.warning("%s written again: %s", STATE, state)


def _remove_leftovers(data_dir: Path) -> None:
    """Delete what an install that failed or was killed left: unfinished builds, their journals, temporary files."""
    for folder in (content_dir(data_dir), media_dir(data_dir)):
        if folder.is_dir():
            for file in folder.glob(".*"):
                if file.name != LOCK and (".tmp" in file.name or file.name.endswith("-journal")):
                    file.unlink(missing_ok=True)


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


def install_snapshot(
    data_dir: Path, snapshot: dict[str, Any], media_files: Mapping[str, Path],
    more: Callable[[sqlite3.Connection], None] | None = None,
) -> Path:  # fmt: skip
    """Install *snapshot* as the current content; keep the one it replaces as previous.

    :param media_files: every media blob the snapshot uses, by blob name, as a file to copy.
    :param more: writes more items into the new version's tables (database.write_database).
    :returns: the new current database file.
    :raises InstallError: on a lower version or content that fails its checks; nothing changes.
    """

    def write(building: Path, current: Path | None) -> None:
        _store_media(data_dir, media_files)
        write_database(building, snapshot, sorted(media_files), current, more)  # the current version's QR codes reused

    return _install(Path(data_dir), int(snapshot["version"]), write)


def install_patch(data_dir: Path, base: Path, version: int, patch: Patch, media_files: Mapping[str, Path]) -> Path:
    """Install a new version made of the current one (*base*) and the items that changed (sync/receive/patch.py).

    :param media_files: the photos of the items that changed, by blob name, as files to copy.
    :raises InstallError: as install_snapshot does, and when *base* is no longer the current version.
    """

    from sync.receive.patch import write_patched  # the sync's, not the screens' (which read this module)

    def write(building: Path, current: Path | None) -> None:
        if current is None or current.name != Path(base).name:
            raise InstallError(tr("the installed content changed during the sync; sync again"))
        _store_media(data_dir, media_files)
        write_patched(building, current, patch)

    return _install(Path(data_dir), version, write)


def _install(data_dir: Path, version: int, write: Callable[[Path, Path | None], None]) -> Path:
    """Write version *version* (*write*: into the file it is given, from the current version if intact, or
    None) and make it current atomically, keeping the one it replaces as previous."""
    with _install_lock(data_dir):
        _remove_leftovers(data_dir)
        state = read_state(data_dir)
        # The names carry the versions, so the check holds even if a file is lost or damaged.
        names = [state["current"]] if state.get("current") else []
        installed = max(map(version_of, names + [file.name for file in _installed_files(data_dir)]), default=0)
        if installed > version:
            raise InstallError(tr("version %(version)s is older than the installed %(installed)s",
                                  version=version, installed=installed))  # fmt: skip
        name = f"content-{version}-{secrets.token_hex(4)}.db"
        building = content_dir(data_dir) / f".{name}.tmp"
        try:
            current = content_dir(data_dir) / state["current"] if state.get("current") else None
            write(building, current if current is not None and intact(current) else None)
        except (sqlite3.DatabaseError, DatabaseCheckFailed, KeyError, TypeError, OSError) as error:
            _remove_leftovers(data_dir)
            if isinstance(error, OSError | sqlite3.OperationalError):
                free = shutil.disk_usage(data_dir).free // 2**20
                message = tr("the snapshot could not be written (%(error)s; %(free)s MB free on the disk); "
                             "the installed content is unchanged", error=error, free=free)  # fmt: skip
                raise InstallError(message) from error
            raise InstallError(tr("the snapshot could not be written: %(error)s", error=error)) from error
        except InstallError:
            _remove_leftovers(data_dir)
            raise
        os.replace(building, content_dir(data_dir) / name)
        fsync_directory(content_dir(data_dir))
        state = _switch_current(data_dir, name, state)
        _tidy(data_dir, state)
        return content_dir(data_dir) / name
