"""The installed content database: its tables, and writing one snapshot into a new file.

kiosk/queries.py reads these tables; sync/install.py decides when a written file becomes current.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

from sync.contract.dates import DEFAULT_TIMEZONE
from sync.contract.kinds import SORT
from sync.contract.search import SCHEMA as SEARCH_SCHEMA
from sync.contract.search import write_search_index
from sync.receive.lists import write_lists
from sync.receive.qr_codes import write_qr_codes

# Categories shown in this order; others follow in the order they first appear.
CATEGORY_ORDER = [
    "重大事项决策",
    "工程项目管理",
    "资产资源管理",
    "财务管理",
    "村务管理",
    "便民服务",
    "民生服务",
    "党务管理",
]


class DatabaseCheckFailed(Exception):
    """The written database did not pass SQLite's integrity check."""


_ENCODER = json.JSONEncoder(ensure_ascii=False)  # one encoder for every value: json.dumps makes one per call


def _json(value: Any) -> str:
    return _ENCODER.encode(value)


def _first(power: dict[str, Any], key: str) -> str:
    """The first supervisor's *key* (body, phone), or '' when the village has nobody to name."""
    return str(power["supervisors"][0][key]) if power["supervisors"] else ""


def power_row(p: dict[str, Any], number: int, category_order: int) -> dict[str, Any]:
    """Return a power item's row: *number*, its place in the list, unless it has its own (kinds.SORT)."""
    return {
        "id": p["id"], "position": p.get(SORT, number), "name": p["name"], "category": p["category"],
        "category_order": category_order, "summary": p.get("summary"),
        "basis": _json(p["basis"]), "responsible": p["responsible"],
        "participants": _json(p.get("participants", [])), "materials": _json(p.get("materials", [])),
        "fee": p["fee"], "time_limit": p["time_limit"], "disclosure": _json(p.get("disclosure")),
        # supervisors: filled for the village by the snapshot; the first also in the two columns of old
        "supervision_body": _first(p, "body"), "supervision_phone": _first(p, "phone"),
        "supervisors": _json(p["supervisors"]),
        "risks": _json(p.get("risks", [])), "accountability": _json(p.get("accountability", [])),
        "steps": _json(p["steps"]), "four_two": int(p["four_two"]), "scope": p["scope"],
        "keywords": _json(p.get("keywords", [])), "number": p.get("number"),
    }  # fmt: skip


def notice_row(n: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": n["id"], "domain": n["domain"], "title": n["title"], "published": n["published"],
        "expires": n.get("expires"), "published_at": n["published_at"], "expires_at": n["expires_at"],
        "pinned": int(n["pinned"]), "min_posting_days": n.get("min_posting_days"),
        "photos": _json(n["photos"]), "body_html": n["body_html"], "scope": n["scope"],
        "duty": n.get("duty"), "period": n.get("period"),
    }  # fmt: skip


def catalogue_row(c: dict[str, Any], number: int) -> dict[str, Any]:
    return {
        "id": c["id"], "position": c.get(SORT, number), "area": c["area"], "area_order": c["area_order"],
        "level1": c["level1"], "level2": c.get("level2"),
        "content": _json([c["content"]] if isinstance(c["content"], str) else c["content"]),
        "basis": _json(c["basis"]), "time_limit": c["time_limit"], "body": c["body"],
        "channels": _json(c["channels"]), "audience": c["audience"], "mode": c["mode"],
        "level": _json(c["level"]),
    }  # fmt: skip


def _rows(snapshot: dict[str, Any]) -> dict[str, Iterable[dict[str, Any]]]:
    """Return each table's rows, made one at a time as they are inserted (install's peak memory)."""
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
        "timezone": county.get("timezone", DEFAULT_TIMEZONE),
        "village_code": village["code"],
        "village_name": village["name"],
        "township_name": village["township_name"],
        "ten_ones_intro": snapshot["ten_ones"].get("intro", ""),
        "source": snapshot.get("source", ""),  # digest of the signed targets it was built from
        "township": snapshot.get("township", ""),  # whose scope it was built from (a no-change night reads it)
    }
    return {
        "meta": [{"key": k, "value": str(v)} for k, v in meta.items()],
        "powers": (power_row(p, n, categories.index(p["category"])) for n, p in enumerate(snapshot["powers"])),
        "notices": (notice_row(n) for n in snapshot["notices"]),
        "catalogue": (catalogue_row(c, n) for n, c in enumerate(snapshot["catalogue"])),
        "ten_ones": (
            {"position": n + 1, "title": t["title"], "description": t.get("description"), "photo": t.get("photo")}
            for n, t in enumerate(snapshot["ten_ones"]["items"])
        ),
        "contacts": (
            {
                "id": c["id"], "position": n, "name": c["name"], "phone": c["phone"], "kind": c["kind"],
                "person": c.get("person"), "hours": c.get("hours"), "description": c.get("description"),
                "scope": c["scope"],
            }
            for n, c in enumerate(snapshot["contacts"])
        ),
        # The schedule as written; sync/duties.py works out periods, due days and status from it.
        "duties": (
            {
                "id": d["id"], "position": n, "title": d["title"], "domain": d["domain"],
                "basis": _json(d.get("basis", [])), "every": d.get("every"), "due_day": d.get("due_day"),
                "due_working_days": d.get("due_working_days"), "within_working_days": d.get("within_working_days"),
                "scope": d["scope"], "since": d.get("since"),
            }
            for n, d in enumerate(snapshot["duties"])
        ),
        # A guide's questions and endings as written; kiosk/data/guides.py walks them.
        "guides": (
            {
                "id": g["id"], "position": n, "title": g["title"], "summary": g.get("summary"), "scope": g["scope"],
                "questions": _json(g["questions"]), "endings": _json(g["endings"]),
            }
            for n, g in enumerate(snapshot.get("guides", []))
        ),
        # Each year as the county wrote it; sync/contract/official_calendar.py makes the WorkCalendar of them.
        "calendar": ({"year": y["year"], "data": _json(y)} for y in snapshot.get("calendar", [])),
    }  # fmt: skip


_SCHEMA = """
create table meta (key text primary key, value text not null);
create table powers (id text primary key, position integer, name text, category text, category_order integer,
  summary text, basis text, responsible text, participants text, materials text, fee text, time_limit text,
  disclosure text, supervision_body text, supervision_phone text, risks text, accountability text, steps text,
  four_two integer, scope text, keywords text, number text, supervisors text);
create index powers_by_category on powers (category_order, position);
-- The few items with keywords: the home screen's matters, without reading every item.
create index powers_with_keywords on powers (category_order, position) where keywords != '[]';
create table notices (id text primary key, domain text, title text, published text, expires text,
  published_at text, expires_at text, pinned integer, min_posting_days integer, photos text, body_html text,
  scope text, duty text, period text);
-- Covers the current/archive counts and the list order without reading the large rows.
create index notices_by_domain on notices (domain, pinned desc, published_at desc, id, expires_at);
create index notices_newest on notices (pinned desc, published_at desc, id, domain, expires_at);
-- content: the 公开内容（要素） as a JSON list of elements (plain text in databases written before lists).
create table catalogue (id text primary key, position integer, area text, area_order integer, level1 text,
  level2 text, content text, basis text, time_limit text, body text, channels text, audience text, mode text,
  level text);
create index catalogue_by_area on catalogue (area_order, position);
create table ten_ones (position integer primary key, title text, description text, photo text);
create table contacts (id text primary key, position integer, name text, phone text, kind text, person text,
  hours text, description text, scope text);
create table duties (id text primary key, position integer, title text, domain text, basis text, every text,
  due_day integer, due_working_days integer, within_working_days integer, scope text, since text);
create table guides (id text primary key, position integer, title text, summary text, scope text, questions text,
  endings text);
create table calendar (year integer primary key, data text not null);
create table media (blob text primary key);
-- Each signed file (manifest, shard, photo) the version was built from by the kiosk's sync, with its SHA-256:
-- the next sync applies only what differs to a copy of it (sync/receive/patch.py).
create table targets (path text primary key, sha256 text not null);
"""


def _insert_rows(db: sqlite3.Connection, table: str, rows: Iterable[dict[str, Any]]) -> None:
    """Insert *rows* (plain values, every row with the same keys in the same order) into *table*, one at a time."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return
    columns = ", ".join(first)
    marks = ", ".join("?" * len(first))
    db.executemany(f"insert into {table} ({columns}) values ({marks})",  # noqa: S608 - names from _rows
                        (tuple(row.values()) for row in itertools.chain([first], iterator)))  # fmt: skip


def write_database(
    target: Path, snapshot: dict[str, Any], blobs: list[str], current: Path | None = None,
    more: Callable[[sqlite3.Connection], None] | None = None,
) -> None:  # fmt: skip
    """Write the whole snapshot into a new SQLite file at *target* and check it.

    :param current: the installed version, whose items' QR codes are taken rather than drawn again.
    :param more: writes more items into the tables (the kiosk's sync streams them from its shards: patch.add_items).
    """
    with closing(sqlite3.connect(target)) as db:
        db.executescript(_SCHEMA + SEARCH_SCHEMA)
        with db:  # the rows in one transaction
            for table, rows in _rows(snapshot).items():
                _insert_rows(db, table, rows)
            write_search_index(db, snapshot)
            if more is not None:
                more(db)
            _insert_rows(db, "media", [{"blob": b} for b in blobs])
            _insert_rows(db, "targets", ({"path": k, "sha256": v} for k, v in snapshot.get("targets", {}).items()))
            write_lists(db)
            write_qr_codes(db, current)
        result = db.execute("pragma integrity_check").fetchone()[0]
        if result != "ok":
            raise DatabaseCheckFailed(f"the new content database failed its integrity check: {result}")
    with open(target, "rb") as file:
        os.fsync(file.fileno())


def installed_meta(path: Path, key: str) -> str | None:
    """Return one meta value (version, content_date, source, ...) of an installed database."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        row = connection.execute("select value from meta where key = ?", (key,)).fetchone()
    return str(row[0]) if row else None


def installed_targets(path: Path) -> dict[str, str]:
    """Return the signed files an installed database was built from, with their SHA-256 (none if not recorded)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        try:
            return dict(connection.execute("select path, sha256 from targets").fetchall())
        except sqlite3.OperationalError:  # written before targets were kept
            return {}


def database_version(path: Path) -> int:
    """Return the content version recorded in an installed database."""
    return int(installed_meta(path, "version") or 0)


def media_used(path: Path) -> set[str]:
    """Return the media blobs an installed database refers to."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        return {row[0] for row in connection.execute("select blob from media")}


_HEADER = b"SQLite format 3\x00"


def file_is_whole(path: Path) -> bool:
    """Tell from its 100-byte header whether a SQLite file is all there: the magic string, and as
    many pages as the header counts (a truncated or overwritten file, as a power cut or a worn SD
    card leaves it, is not). An empty file is whole: SQLite reads it as an empty database."""
    with open(path, "rb") as file:
        header = file.read(100)
        size = os.fstat(file.fileno()).st_size
    if size == 0:
        return True
    if len(header) < 100 or not header.startswith(_HEADER):
        return False
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    # The header's page count is valid when its "version valid for" matches the change counter.
    return header[92:96] != header[24:28] or size >= page_size * int.from_bytes(header[28:32], "big")


def looks_intact(path: Path) -> bool:
    """Tell cheaply whether an installed database can be served: a whole file with a readable meta table.

    Not an integrity check, which reads every page: this runs when a version is first opened.
    """
    try:
        if path.stat().st_size == 0 or not file_is_whole(path):
            return False
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return connection.execute("select value from meta where key = 'version'").fetchone() is not None
        finally:
            connection.close()
    except (OSError, sqlite3.DatabaseError):
        return False
