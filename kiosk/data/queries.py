"""Read the installed content. Views call these; SQL stays here, always with parameters."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from sync.contract.search import MAX_QUERY, is_initials, phrase

DOMAINS = {"party": "党务", "village": "村务", "finance": "财务", "government": "政务"}
_COLUMNS = (
    "id, domain, title, published, expires, published_at, expires_at, pinned, min_posting_days, photos, body_html"
)
# The county's notices and the village's own, published from the staff console (local.db, attached
# read-only by content_db): the screens show them alike.
NOTICES = (
    f"(select {_COLUMNS}, scope from main.notices union all"  # noqa: S608 - fixed text
    f" select {_COLUMNS}, 'village' as scope from local.village_notices where state = 'published')"
)
CONTACT_KINDS = ("supervision", "hotline", "office")


@dataclass
class Page:
    """One page of a longer list."""

    items: list[dict[str, Any]]
    number: int
    count: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.size))


def _decode(row: sqlite3.Row | None, *json_columns: str) -> dict[str, Any] | None:
    if row is None:
        return None
    item = dict(row)
    for column in json_columns:
        item[column] = json.loads(item[column]) if item[column] else None
    return item


def meta(db: sqlite3.Connection) -> dict[str, str]:
    return {row["key"]: row["value"] for row in db.execute("select key, value from meta")}


def power_categories(db: sqlite3.Connection) -> list[dict[str, Any]]:
    sql = (
        "select category_order, category, count(*) as items from powers group by category_order order by category_order"
    )
    return [dict(row) for row in db.execute(sql)]


def powers_in_category(db: sqlite3.Connection, category_order: int, number: int, size: int) -> Page:
    count = db.execute("select count(*) from powers where category_order = ?", (category_order,)).fetchone()[0]
    rows = db.execute(
        "select id, name, time_limit, four_two from powers where category_order = ? order by position limit ? offset ?",
        (category_order, size, (number - 1) * size),
    )
    return Page([dict(r) for r in rows], number, count, size)


def power(db: sqlite3.Connection, power_id: str) -> dict[str, Any] | None:
    row = db.execute("select * from powers where id = ?", (power_id,)).fetchone()
    return _decode(row, "basis", "participants", "materials", "disclosure", "risks", "accountability", "steps")


def ten_ones(db: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in db.execute("select * from ten_ones order by position")]


def notice_counts(db: sqlite3.Connection, now: str) -> dict[str, int]:
    rows = db.execute(
        f"select domain, count(*) from {NOTICES} where published_at <= ? and (expires_at is null or expires_at >= ?)"  # noqa: S608
        " group by domain",
        (now, now),
    )
    return {domain: count for domain, count in rows}


def notices(db: sqlite3.Connection, domain: str, now: str, number: int, size: int, archive: bool = False) -> Page:
    """Return current notices (pinned first, newest first) or, for *archive*, expired ones."""
    if archive:
        where = "domain = ? and expires_at < ?"
        params: tuple[Any, ...] = (domain, now)
        order = "expires_at desc"
    else:
        where = "domain = ? and published_at <= ? and (expires_at is null or expires_at >= ?)"
        params = (domain, now, now)
        order = "pinned desc, published_at desc"
    # Each table on its own, so the county's covering index serves it; SQLite merges the two in order.
    local = f"local.village_notices where state = 'published' and {where}"
    count = sum(
        db.execute(f"select count(*) from {table}", params).fetchone()[0]  # noqa: S608 - fixed text
        for table in (f"main.notices where {where}", local)
    )
    columns = "id, title, published, expires, pinned, min_posting_days, photos, published_at, expires_at"
    rows = db.execute(
        f"select {columns} from main.notices where {where} union all select {columns} from {local}"  # noqa: S608
        f" order by {order}, id limit ? offset ?",
        (*params, *params, size, (number - 1) * size),
    )
    return Page([_decode(r, "photos") or {} for r in rows], number, count, size)


def notices_on_show(db: sqlite3.Connection, now: str, limit: int = 12) -> list[dict[str, Any]]:
    """Return the notices on show now, pinned first, newest first: what the attract screen cycles."""
    rows = db.execute(
        f"select id, title, domain, published, published_at, expires_at, min_posting_days from {NOTICES}"  # noqa: S608
        " where published_at <= :now"
        " and (expires_at is null or expires_at > :now) order by pinned desc, published_at desc limit :limit",
        {"now": now, "limit": limit},
    ).fetchall()
    return [dict(row) for row in rows]


def notice(db: sqlite3.Connection, notice_id: str) -> dict[str, Any] | None:
    row = db.execute(f"select * from {NOTICES} where id = ?", (notice_id,)).fetchone()  # noqa: S608 - fixed text
    return _decode(row, "photos")


def catalogue_areas(db: sqlite3.Connection) -> list[dict[str, Any]]:
    sql = "select area_order, area, count(*) as items from catalogue group by area_order order by area_order"
    return [dict(r) for r in db.execute(sql)]


def catalogue_items(db: sqlite3.Connection, area_order: int) -> list[dict[str, Any]]:
    rows = db.execute(
        "select id, area, level1, level2, time_limit from catalogue where area_order = ? order by position",
        (area_order,),
    )
    return [dict(r) for r in rows]


def catalogue_item(db: sqlite3.Connection, item_id: str) -> dict[str, Any] | None:
    row = db.execute("select * from catalogue where id = ?", (item_id,)).fetchone()
    return _decode(row, "basis", "channels", "level")


def contacts(db: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
    """Return contacts grouped by kind (supervision, hotlines, offices), the village's own first."""
    grouped: dict[str, list[dict[str, Any]]] = {kind: [] for kind in CONTACT_KINDS}
    nearest_first = "case when scope like 'village:%' then 0 when scope like 'township:%' then 1 else 2 end"
    for row in db.execute(f"select * from contacts order by {nearest_first}, position"):  # noqa: S608 - fixed text
        grouped.setdefault(row["kind"], []).append(dict(row))
    return grouped


_SEARCH_CAP = 500  # index rows a text query reads at most per field: it stops early, never sorts thousands
_BY_INITIALS = """
select kind, item_id, title, 'title' as matched from search_items
where instr(initials, :q) and (published_at is null or published_at <= :now)
order by instr(' ' || initials, ' ' || :q) = 0, rowid limit :limit"""
_BY_TEXT = {
    # Display order is rowid order, so the capped subquery keeps the first hits.
    field: f"""
select kind, item_id, title, '{field}' as matched from search_items
where rowid in (select rowid from {table} where {table} match :match limit :cap)
  and (published_at is null or published_at <= :now)
order by rowid limit :limit"""  # noqa: S608 - field and table are the literals below
    for field, table in (("title", "search_titles"), ("body", "search_bodies"))
}


_VILLAGE_NOTICES = {
    field: f"""
select 'notice' as kind, id as item_id, title, '{field}' as matched from local.village_notices
where state = 'published' and published_at <= :now and instr(lower({field}), :q)
order by published_at desc limit 30"""  # noqa: S608 - field is one of the two literals below
    for field in ("title", "body")
}


def search(db: sqlite3.Connection, query: str, now: str, limit: int = 30) -> list[dict[str, Any]]:
    """Find items by pinyin initials ('dbsq') or by Chinese text of any length; title matches first.

    Each result: kind, item_id, title, and where it matched ('title' or 'body').
    """
    query = query.strip().lower()
    if is_initials(query):  # titles whose initials start with the query first, then those containing it
        rows = db.execute(_BY_INITIALS, {"q": query, "now": now, "limit": limit}).fetchall()
        return [dict(row) for row in rows]
    match = phrase(query)
    if match is None:
        return []
    found: dict[tuple[str, str], dict[str, Any]] = {}
    words = query[:MAX_QUERY]
    village = any(row[1] == "local" for row in db.execute("pragma database_list"))  # attached by content_db
    for field, sql in _BY_TEXT.items():
        parameters = {"match": match, "now": now, "cap": _SEARCH_CAP, "limit": limit + len(found)}
        for row in db.execute(sql, parameters):
            found.setdefault((row["kind"], row["item_id"]), dict(row))
        # The village's own notices: a few dozen at most, read directly rather than indexed.
        for row in db.execute(_VILLAGE_NOTICES[field], {"q": words, "now": now}) if village else ():
            found.setdefault(("notice", row["item_id"]), dict(row))
    return list(found.values())[:limit]
