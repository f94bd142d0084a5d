"""Read the installed content. Views call these; SQL stays here, always with parameters."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sync.contract.search import MAX_QUERY, initials_phrase, is_initials, phrase

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
ERRANDS = "便民服务"  # the small-power category of the errands villagers come to do for themselves
CONTACT_KINDS = ("supervision", "hotline", "office")

# When villagers see a notice, with the county's now as :now (clock.county_now, written by
# content_time). It is out once its publication time has come: before, nobody may open it, its slip,
# its reading or its rating (404). Out and not expired, it is on show (lists, counts, the attract
# screen); expired, it is archived: still open to read. The village's own notices count only while
# published (NOTICES). Powers and catalogue items have no publication time.
OUT = "published_at <= :now"
ON_SHOW = f"{OUT} and (expires_at is null or expires_at > :now)"
ARCHIVED = f"{OUT} and expires_at <= :now"


def content_time(moment: datetime) -> str:
    """Write *moment* as the content's dates are stored (county-local, to the second), to compare with them."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


# The same rule for notices held in memory (the county's phone pages), as ON_SHOW and ARCHIVED say it.
def is_out(notice: Mapping[str, Any], now: datetime) -> bool:
    return bool(notice["published_at"] <= content_time(now))


def is_on_show(notice: Mapping[str, Any], now: datetime) -> bool:
    return is_out(notice, now) and not is_archived(notice, now)


def is_archived(notice: Mapping[str, Any], now: datetime) -> bool:
    return is_out(notice, now) and notice["expires_at"] is not None and notice["expires_at"] <= content_time(now)


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


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute("select * from pragma_table_info(?)", (table,))}


def _has(db: sqlite3.Connection, table: str) -> bool:
    """Tell whether the content database has *table*: the lists (sync/receive/lists.py) and the initials index
    are written at install, so a database written before them has none until the next sync."""
    return db.execute("select 1 from main.sqlite_master where name = ?", (table,)).fetchone() is not None


def meta(db: sqlite3.Connection) -> dict[str, str]:
    return {row["key"]: row["value"] for row in db.execute("select key, value from meta")}


def power_categories(db: sqlite3.Connection) -> list[dict[str, Any]]:
    if _has(db, "power_categories"):
        sql = "select category_order, category, items from power_categories order by category_order"
    else:
        sql = "select category_order, category, count(*) as items from powers group by category_order order by 1"
    return [dict(row) for row in db.execute(sql)]


def power_category(db: sqlite3.Connection, category_order: int) -> dict[str, Any] | None:
    """Return one category of the small-power list (category_order, category, items), or None."""
    if not _has(db, "power_categories"):
        return next((c for c in power_categories(db) if c["category_order"] == category_order), None)
    sql = "select category_order, category, items from power_categories where category_order = ?"
    row = db.execute(sql, (category_order,)).fetchone()
    return dict(row) if row else None


def powers_in_category(db: sqlite3.Connection, category_order: int, number: int, size: int) -> Page:
    if _has(db, "power_places"):  # a page is a range of places in the category's list
        category = power_category(db, category_order)
        rows = db.execute(
            "select p.id, p.name, p.time_limit, p.four_two, p.number from power_places as o join powers as p"
            " on p.id = o.id where o.category_order = ? and o.place >= ? order by o.place limit ?",
            (category_order, (number - 1) * size, size),
        )
        return Page([dict(r) for r in rows], number, category["items"] if category else 0, size)
    count = db.execute("select count(*) from powers where category_order = ?", (category_order,)).fetchone()[0]
    # A database written before official numbers (编号) has none until the next sync.
    official = "number" if "number" in _columns(db, "powers") else "null as number"
    rows = db.execute(
        f"select id, name, time_limit, four_two, {official} from powers where category_order = ?"  # noqa: S608
        " order by position limit ? offset ?",
        (category_order, size, (number - 1) * size),
    )
    return Page([dict(r) for r in rows], number, count, size)


def power(db: sqlite3.Connection, power_id: str) -> dict[str, Any] | None:
    """Return a power item, with ``supervisors``: whom this village's kiosk names as supervising it."""
    row = db.execute("select * from powers where id = ?", (power_id,)).fetchone()
    item = _decode(row, "basis", "participants", "materials", "disclosure", "risks", "accountability", "steps")
    if item is not None:
        written = item.get("supervisors")  # absent from a database written before: the one body and phone
        item["supervisors"] = json.loads(written) if written else [
            {"body": item["supervision_body"], "phone": item["supervision_phone"]}
        ]  # fmt: skip
    return item


def matters(db: sqlite3.Connection, limit: int = 8) -> list[dict[str, Any]]:
    """Return the matters villagers come for, in their own words: what the home screen's 我要办事 offers.

    A power item the county gave keywords (俗称, 简称) is one, named by its first keyword (低保, not
    最低生活保障申请): the 便民服务 category's first (a villager's own errands), then the others, in
    the order of the list. Items without keywords are left to the small-power list.
    """
    rows: list[sqlite3.Row] = []
    # Read in the order of the list, along the index of the few with keywords: the errands' category
    # at once where the categories are listed (sync/receive/lists.py).
    errands = "category_order = (select category_order from power_categories where category = :errands)"
    first = errands if _has(db, "power_categories") else "category = :errands"
    try:
        for chosen in (first, "category != :errands"):
            rows += db.execute(
                f"select id, name, keywords from powers where keywords != '[]' and {chosen}"  # noqa: S608 - fixed text
                " order by category_order, position limit :limit",
                {"errands": ERRANDS, "limit": limit - len(rows)},
            ).fetchall()
    except sqlite3.OperationalError as error:  # built before keywords were kept: none until the next sync
        if "no such column" not in str(error):
            raise
        return []
    return [{"id": row["id"], "name": row["name"], "word": json.loads(row["keywords"])[0]} for row in rows]


def ten_ones(db: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in db.execute("select * from ten_ones order by position")]


def notice_counts(db: sqlite3.Connection, now: datetime, archive: bool = False) -> dict[str, int]:
    """Return how many notices each domain has on show (or, for *archive*, archived)."""
    moment = content_time(now)
    if not _has(db, "notice_counts"):  # a database written before the counts: count them
        rows = db.execute(
            f"select domain, count(*) from {NOTICES} where {ARCHIVED if archive else ON_SHOW} group by domain",  # noqa: S608
            {"now": moment},
        )
        return {domain: count for domain, count in rows}
    counts = {domain: _county_notices(db, domain, moment, archive) for domain in DOMAINS.values()}
    village = db.execute(  # the village's own: a few dozen, counted
        f"select domain, count(*) from local.village_notices where state = 'published'"  # noqa: S608 - fixed text
        f" and {ARCHIVED if archive else ON_SHOW} group by domain",
        {"now": moment},
    )
    for domain, count in village:
        counts[domain] = counts.get(domain, 0) + count
    return {domain: count for domain, count in counts.items() if count}


def _county_notices(db: sqlite3.Connection, domain: str, moment: str, archive: bool) -> int:
    """How many of the county's notices of *domain* are on show (or archived) at *moment* (sync/receive/lists.py)."""
    row = db.execute(
        f"select {'archived' if archive else 'on_show'} from notice_counts where domain = ? and since <= ?"  # noqa: S608
        " order by since desc limit 1",
        (domain, moment),
    ).fetchone()
    return int(row[0]) if row else 0


_NOTICE_COLUMNS = "id, domain, title, published, expires, pinned, min_posting_days, photos, published_at, expires_at"


def notices(
    db: sqlite3.Connection, domain: str | None, now: datetime, number: int, size: int, archive: bool = False
) -> Page:
    """Return the notices on show (pinned first, newest first) or, for *archive*, the expired ones.

    *domain* is one of DOMAINS' values, or None for all four together.
    """
    when = ARCHIVED if archive else ON_SHOW
    where = f"domain = :domain and {when}" if domain else when
    order = "expires_at desc" if archive else "pinned desc, published_at desc"
    moment, offset = content_time(now), (number - 1) * size
    params = {"domain": domain, "now": moment, "limit": size, "offset": offset}
    # Each table on its own, so the county's index serves it in order; SQLite merges the two in order.
    local = f"local.village_notices where state = 'published' and {where}"
    count = db.execute(f"select count(*) from {local}", params).fetchone()[0]  # noqa: S608 - fixed text
    if _has(db, "notice_counts"):
        domains = [domain] if domain else list(DOMAINS.values())
        count += sum(_county_notices(db, name, moment, archive) for name in domains)
        # As many as there are past the page's start: the reading stops at the last one, never goes on to
        # the oldest notice to find there is none after it.
        params["limit"] = max(0, min(size, count - offset))
    else:
        count += db.execute(f"select count(*) from main.notices where {where}", params).fetchone()[0]  # noqa: S608
    rows = db.execute(
        f"select {_NOTICE_COLUMNS} from main.notices where {where} union all select {_NOTICE_COLUMNS} from {local}"  # noqa: S608
        f" order by {order}, id limit :limit offset :offset",
        params,
    )
    return Page([_decode(r, "photos") or {} for r in rows], number, count, size)


def notices_on_show(db: sqlite3.Connection, now: datetime, limit: int = 12) -> list[dict[str, Any]]:
    """Return the notices on show now, pinned first, newest first: what the attract screen cycles."""
    if _has(db, "notice_counts"):
        return notices(db, None, now, 1, limit).items
    columns = "id, title, domain, published, published_at, expires_at, min_posting_days, pinned"
    rows = db.execute(  # each table on its own, merged in order (as notices does)
        f"select {columns} from main.notices where {ON_SHOW} union all select {columns} from local.village_notices"  # noqa: S608
        f" where state = 'published' and {ON_SHOW} order by pinned desc, published_at desc limit :limit",
        {"now": content_time(now), "limit": limit},
    ).fetchall()
    return [dict(row) for row in rows]


def notice(db: sqlite3.Connection, notice_id: str, now: datetime) -> dict[str, Any] | None:
    """Return the notice if it is out (on show or archived), else None: not yet, or never, published."""
    row = db.execute(
        f"select * from {NOTICES} where id = :id and {OUT}",  # noqa: S608 - fixed text
        {"id": notice_id, "now": content_time(now)},
    ).fetchone()
    return _decode(row, "photos")


def catalogue_areas(db: sqlite3.Connection) -> list[dict[str, Any]]:
    if _has(db, "catalogue_areas"):
        sql = "select area_order, area, items from catalogue_areas order by area_order"
    else:
        sql = "select area_order, area, count(*) as items from catalogue group by area_order order by area_order"
    return [dict(r) for r in db.execute(sql)]


def catalogue_area_count(db: sqlite3.Connection) -> int:
    """Return how many areas the county's published catalogue holds: what the home screen's tile says."""
    if _has(db, "catalogue_areas"):
        return int(db.execute("select count(*) from catalogue_areas").fetchone()[0])
    return int(db.execute("select count(distinct area_order) from catalogue").fetchone()[0])


def catalogue_items(db: sqlite3.Connection, area_order: int) -> list[dict[str, Any]]:
    rows = db.execute(
        "select id, area, level1, level2, time_limit from catalogue where area_order = ? order by position",
        (area_order,),
    )
    return [dict(r) for r in rows]


def catalogue_item(db: sqlite3.Connection, item_id: str) -> dict[str, Any] | None:
    """Return a catalogue item, its 公开内容（要素） as a list of elements (``content``)."""
    row = db.execute("select * from catalogue where id = ?", (item_id,)).fetchone()
    item = _decode(row, "basis", "channels", "level")
    if item is not None:
        item["content"] = _elements(item["content"])
    return item


def _elements(stored: str) -> list[str]:
    """The elements a content column holds: a JSON list, or one text (a database written before lists)."""
    try:
        elements = json.loads(stored) if stored.startswith("[") else None
    except ValueError:
        elements = None
    return [str(e) for e in elements] if isinstance(elements, list) else [stored]


def contacts(db: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
    """Return contacts grouped by kind (supervision, hotlines, offices), the village's own first."""
    grouped: dict[str, list[dict[str, Any]]] = {kind: [] for kind in CONTACT_KINDS}
    nearest_first = "case when scope like 'village:%' then 0 when scope like 'township:%' then 1 else 2 end"
    for row in db.execute(f"select * from contacts order by {nearest_first}, position"):  # noqa: S608 - fixed text
        grouped.setdefault(row["kind"], []).append(dict(row))
    return grouped


def item_exists(db: sqlite3.Connection, kind: str, item_id: str) -> bool:
    """Tell whether a power, catalogue item or notice (the county's, or the village's own in any state) is *item_id*."""
    table = {"power": "main.powers", "catalogue": "main.catalogue", "notice": "main.notices"}[kind]
    if db.execute(f"select 1 from {table} where id = ?", (item_id,)).fetchone():  # noqa: S608 - the names above
        return True
    village = "select 1 from local.village_notices where id = ?"
    return kind == "notice" and db.execute(village, (item_id,)).fetchone() is not None


def shown_item(db: sqlite3.Connection, kind: str, item_id: str, now: datetime) -> dict[str, Any] | None:
    """Return the power, notice or catalogue item a villager may open at *now*, else None."""
    if kind == "notice":
        return notice(db, item_id, now)
    find = {"power": power, "catalogue": catalogue_item}.get(kind)
    return find(db, item_id) if find else None


_SEARCH_CAP = 500  # index rows a text query reads at most per field: it stops early, never sorts thousands
# Titles whose initials start with the query first, then those containing it, each in display order.
_BY_INITIALS = f"""
select kind, item_id, title, 'title' as matched from search_items
where instr(initials, :q) and (published_at is null or {OUT})
order by instr(' ' || initials, ' ' || :q) = 0, rowid limit :limit"""  # noqa: S608 - fixed text
# The same through the index of initials (sync/contract/search.py): read in display order, as few as shown.
_BY_INDEXED_INITIALS = f"""
select kind, item_id, title, 'title' as matched from search_initials as found
join search_items as item on item.rowid = found.rowid
where search_initials match :match and (published_at is null or {OUT})
order by found.rowid limit :limit"""  # noqa: S608 - fixed text
_BY_TEXT = {
    # Display order is rowid order, so the capped subquery keeps the first hits.
    field: f"""
select kind, item_id, title, '{field}' as matched from search_items
where rowid in (select rowid from {table} where {table} match :match limit :cap)
  and (published_at is null or {OUT})
order by rowid limit :limit"""  # noqa: S608 - field and table are the literals below
    for field, table in (("title", "search_titles"), ("body", "search_bodies"))
}


_VILLAGE_NOTICES = {
    field: f"""
select 'notice' as kind, id as item_id, title, '{field}' as matched from local.village_notices
where state = 'published' and {OUT} and instr(lower({field}), :q)
order by published_at desc limit 30"""  # noqa: S608 - field is one of the two literals below
    for field in ("title", "body")
}


def search(db: sqlite3.Connection, query: str, now: datetime, limit: int = 30) -> list[dict[str, Any]]:
    """Find items by pinyin initials ('dbsq') or by Chinese text of any length; title matches first.

    Each result: kind, item_id, title, and where it matched ('title' or 'body').
    """
    query, moment = query.strip().lower(), content_time(now)
    if is_initials(query):
        if not _has(db, "search_initials"):  # a database written before the index: read every item
            return [dict(row) for row in db.execute(_BY_INITIALS, {"q": query, "now": moment, "limit": limit})]
        starts, inside = initials_phrase(query, start=True), initials_phrase(query)
        rows = db.execute(_BY_INDEXED_INITIALS, {"match": starts, "now": moment, "limit": limit}).fetchall()
        if len(rows) < limit:
            rest = {"match": f"{inside} NOT {starts}", "now": moment, "limit": limit - len(rows)}
            rows += db.execute(_BY_INDEXED_INITIALS, rest).fetchall()
        return [dict(row) for row in rows]
    match = phrase(query)
    if match is None:
        return []
    found: dict[tuple[str, str], dict[str, Any]] = {}
    words = query[:MAX_QUERY]
    village = any(row[1] == "local" for row in db.execute("pragma database_list"))  # attached by content_db
    for field, sql in _BY_TEXT.items():
        parameters = {"match": match, "now": moment, "cap": _SEARCH_CAP, "limit": limit + len(found)}
        for row in db.execute(sql, parameters):
            found.setdefault((row["kind"], row["item_id"]), dict(row))
        # The village's own notices: a few dozen at most, read directly rather than indexed.
        for row in db.execute(_VILLAGE_NOTICES[field], {"q": words, "now": moment}) if village else ():
            found.setdefault(("notice", row["item_id"]), dict(row))
    return list(found.values())[:limit]
