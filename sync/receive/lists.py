"""What the screens' lists and counts read, worked out once when content is installed.

No page counts or sorts a whole table: a page of a list reads the rows it shows, and a count is
one look-up, whatever the size of the county (kiosk/data/queries.py reads these tables, and falls
back to counting when a database written before them is still current).

- power_categories / catalogue_areas: each category (area) with how many items it holds.
- power_places: each power item's place in its category's list, so a page is a range of places.
- notice_counts: for each domain, how many of the county's notices are on show and how many are
  archived from each moment one comes out or expires on: the count at any moment is the row of the
  latest such moment before it (kiosk/data/queries.py ON_SHOW and ARCHIVED say when a notice is which).
- indexes in the archive's order (the latest expiry first), so an archive page is read in order.

Everything is made from the content tables by SQL, so a database changed in place is brought up
to date by calling write_lists again.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

TABLES = ("power_categories", "power_places", "catalogue_areas", "notice_counts")
SCHEMA = (
    """create table if not exists power_categories (category_order integer primary key, category text not null,
      items integer not null)""",
    """create table if not exists power_places (category_order integer not null, place integer not null,
      id text not null, primary key (category_order, place)) without rowid""",
    """create table if not exists catalogue_areas (area_order integer primary key, area text not null,
      items integer not null)""",
    """create table if not exists notice_counts (domain text not null, since text not null, on_show integer not null,
      archived integer not null, primary key (domain, since)) without rowid""",
    "create index if not exists notices_archive_by_domain on notices (domain, expires_at desc, id, published_at)",
    "create index if not exists notices_archive on notices (expires_at desc, id, domain, published_at)",
)
# Each list table with the column that parts it (a category, an area, a domain) and the SQL that fills it, for
# every part or only some ({only}: a condition on that column).
_FILL = {
    # A category's name is the same in each of its rows.
    "power_categories": ("category_order", """insert into power_categories select category_order, min(category),
      count(*) from powers where {only} group by category_order"""),
    "power_places": ("category_order", """insert into power_places select category_order,
      row_number() over (partition by category_order order by position) - 1, id from powers where {only}"""),
    "catalogue_areas": ("area_order", """insert into catalogue_areas select area_order, min(area), count(*)
      from catalogue where {only} group by area_order"""),
    # A notice counts as on show from its publication until its expiry, and as archived from its
    # expiry on (from its publication, if it expired before it was published).
    "notice_counts": ("domain", """insert into notice_counts
      with changes (domain, at, on_show, archived) as (
        select domain, published_at, 1, 0 from notices where published_at is not null and {only}
        union all
        select domain, max(published_at, expires_at), -1, 1 from notices where expires_at is not null
          and published_at is not null and {only})
      select domain, at, sum(sum(on_show)) over moments, sum(sum(archived)) over moments
      from changes group by domain, at
      window moments as (partition by domain order by at)"""),
}  # fmt: skip


def write_lists(db: sqlite3.Connection, only: Mapping[str, Iterable[Any]] | None = None) -> None:
    """Write (or write again) the list tables of a content database from its content tables.

    :param only: for each list table, the parts to write again (categories, areas, domains: patch.py knows which
        its items changed); the others are left as they are. None: every list, whole.
    """
    for statement in SCHEMA:
        db.execute(statement)
    for table, (column, fill) in _FILL.items():
        if only is None:
            db.execute(f"delete from {table}")  # noqa: S608 - the names above
            db.execute(fill.format(only="1"))
        elif parts := sorted(set(only.get(table, ()))):
            chosen = f"{column} in (select value from json_each(?))"  # noqa: S608 - the names above
            db.execute(f"delete from {table} where {chosen}", (json.dumps(parts),))  # noqa: S608 - the names above
            db.execute(fill.format(only=chosen), (json.dumps(parts),) * fill.count("{only}"))
