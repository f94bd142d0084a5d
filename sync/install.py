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
import os
import secrets
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from .content import CATEGORY_ORDER

STATE = "state.json"


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


def database_version(path: Path) -> int:
    """Return the content version recorded in an installed database."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        row = connection.execute("select value from meta where key = 'version'").fetchone()
    return int(row[0])


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
    with open(folder / ".install.lock", "w") as lock:
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
            raise InstallError(f"media file {source} does not match its checksum {blob}")
        _write_durably(target, data)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _rows(snapshot: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    categories = list(CATEGORY_ORDER)
    for power in snapshot["powers"]:
        if power["category"] not in categories:
            categories.append(power["category"])
    village, county = snapshot["village"], snapshot["county"]
    meta = {
        "version": snapshot["version"],
        "content_date": snapshot["content_date"],
        "county_code": county["code"],
        "county_name": county["name"],
        "sample": int(bool(county.get("sample"))),
        "public_base_url": county["public_base_url"].rstrip("/"),
        "village_code": village["code"],
        "village_name": village["name"],
        "township_name": village["township_name"],
        "ten_ones_intro": snapshot["ten_ones"].get("intro", ""),
    }
    return {
        "meta": [{"key": k, "value": str(v)} for k, v in meta.items()],
        "powers": [
            {
                "id": p["id"], "position": n, "name": p["name"], "category": p["category"],
                "category_order": categories.index(p["category"]), "summary": p.get("summary"),
                "basis": _json(p["basis"]), "responsible": p["responsible"],
                "participants": _json(p.get("participants", [])), "materials": _json(p.get("materials", [])),
                "fee": p["fee"], "time_limit": p["time_limit"], "disclosure": _json(p.get("disclosure")),
                "supervision_body": p["supervision"]["body"], "supervision_phone": p["supervision"]["phone"],
                "risks": _json(p.get("risks", [])), "accountability": _json(p.get("accountability", [])),
                "steps": _json(p["steps"]), "four_two": int(p["four_two"]), "scope": p["scope"],
            }
            for n, p in enumerate(snapshot["powers"])
        ],
        "notices": [
            {
                "id": n["id"], "domain": n["domain"], "title": n["title"], "published": n["published"],
                "expires": n.get("expires"), "published_at": n["published_at"], "expires_at": n["expires_at"],
                "pinned": int(n["pinned"]), "min_posting_days": n.get("min_posting_days"),
                "photos": _json(n["photos"]), "body_html": n["body_html"], "scope": n["scope"],
            }
            for n in snapshot["notices"]
        ],
        "catalogue": [
            {
                "id": c["id"], "position": n, "area": c["area"], "area_order": c["area_order"],
                "level1": c["level1"], "level2": c.get("level2"), "content": c["content"],
                "basis": _json(c["basis"]), "time_limit": c["time_limit"], "body": c["body"],
                "channels": _json(c["channels"]), "audience": c["audience"], "mode": c["mode"],
                "level": _json(c["level"]),
            }
            for n, c in enumerate(snapshot["catalogue"])
        ],
        "ten_ones": [
            {"position": n + 1, "title": t["title"], "description": t["description"], "photo": t.get("photo")}
            for n, t in enumerate(snapshot["ten_ones"]["items"])
        ],
        "contacts": [
            {
                "id": c["id"], "position": n, "name": c["name"], "phone": c["phone"], "kind": c["kind"],
                "person": c.get("person"), "hours": c.get("hours"), "description": c.get("description"),
                "scope": c["scope"],
            }
            for n, c in enumerate(snapshot["contacts"])
        ],
    }  # fmt: skip


_SCHEMA = """
create table meta (key text primary key, value text not null);
create table powers (id text primary key, position integer, name text, category text, category_order integer,
  summary text, basis text, responsible text, participants text, materials text, fee text, time_limit text,
  disclosure text, supervision_body text, supervision_phone text, risks text, accountability text, steps text,
  four_two integer, scope text);
create index powers_by_category on powers (category_order, position);
create table notices (id text primary key, domain text, title text, published text, expires text,
  published_at text, expires_at text, pinned integer, min_posting_days integer, photos text, body_html text,
  scope text);
-- Covers the current/archive counts and the list order without reading the large rows.
create index notices_by_domain on notices (domain, pinned desc, published_at desc, id, expires_at);
create table catalogue (id text primary key, position integer, area text, area_order integer, level1 text,
  level2 text, content text, basis text, time_limit text, body text, channels text, audience text, mode text,
  level text);
create index catalogue_by_area on catalogue (area_order, position);
create table ten_ones (position integer primary key, title text, description text, photo text);
create table contacts (id text primary key, position integer, name text, phone text, kind text, person text,
  hours text, description text, scope text);
create table media (blob text primary key);
"""


def _insert_rows(db: Database, table: str, rows: list[dict[str, Any]]) -> None:
    db.table(table).insert_all(rows, batch_size=500)


def _build_database(target: Path, snapshot: dict[str, Any], blobs: list[str]) -> None:
    """Write the whole snapshot into a new SQLite file at *target* and check it."""
    with Database(target) as db:
        with db.atomic():
            db.executescript(_SCHEMA)
            for table, rows in _rows(snapshot).items():
                _insert_rows(db, table, rows)
            _insert_rows(db, "media", [{"blob": b} for b in blobs])
        result = db.execute("pragma integrity_check").fetchone()[0]
        if result != "ok":
            raise InstallError(f"the new content database failed its integrity check: {result}")
    with open(target, "rb") as file:
        os.fsync(file.fileno())


def _switch_current(data_dir: Path, name: str) -> dict[str, Any]:
    state = read_state(data_dir)
    new_state = {"current": name, "previous": state.get("current")}
    _write_durably(content_dir(data_dir) / STATE, json.dumps(new_state).encode())
    return new_state


def _collect_garbage(data_dir: Path, state: dict[str, Any]) -> None:
    """Delete content files no kept version uses: old versions, unfinished builds, media."""
    kept = {name for name in (state.get("current"), state.get("previous")) if name}
    folder = content_dir(data_dir)
    for file in folder.iterdir():
        if (file.name.startswith("content-") and file.name not in kept) or file.name.endswith(".tmp"):
            file.unlink(missing_ok=True)
    used: set[str] = set()
    for name in kept:
        with sqlite3.connect(f"file:{folder / name}?mode=ro", uri=True) as connection:
            used.update(row[0] for row in connection.execute("select blob from media"))
    media = media_dir(data_dir)
    if media.is_dir():
        for file in media.iterdir():
            if file.name not in used:
                file.unlink(missing_ok=True)


def install_snapshot(data_dir: Path, snapshot: dict[str, Any], media_files: Mapping[str, Path]) -> Path:
    """Install *snapshot* as the current content; keep the one it replaces as previous.

    :param media_files: every media blob the snapshot uses, by blob name, as a file to copy.
    :returns: the new current database file.
    :raises InstallError: on a lower version or content that fails its checks; nothing changes.
    """
    data_dir = Path(data_dir)
    version = int(snapshot["version"])
    with _install_lock(data_dir):
        current = current_database(data_dir)
        if current is not None and current.exists() and database_version(current) > version:
            raise InstallError(f"version {version} is older than the installed {database_version(current)}")
        _store_media(data_dir, media_files)
        name = f"content-{version}-{secrets.token_hex(4)}.db"
        building = content_dir(data_dir) / f".{name}.tmp"
        try:
            _build_database(building, snapshot, sorted(media_files))
        except (sqlite3.DatabaseError, KeyError, TypeError) as error:
            building.unlink(missing_ok=True)
            raise InstallError(f"the snapshot could not be written: {error}") from error
        os.replace(building, content_dir(data_dir) / name)
        _fsync_dir(content_dir(data_dir))
        state = _switch_current(data_dir, name)
        _collect_garbage(data_dir, state)
        return content_dir(data_dir) / name


def remove_unused(data_dir: Path) -> None:
    """Tidy after a crash: drop unfinished builds and files no kept version uses."""
    if content_dir(data_dir).is_dir():
        with _install_lock(data_dir):
            _collect_garbage(data_dir, read_state(data_dir))
