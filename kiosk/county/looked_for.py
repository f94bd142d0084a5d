"""What villagers looked for, read from county.db: the most opened matters, the guide endings reached and the
searches that found nothing, over a period, for one village or the whole county.

Read from the counts kept as each kiosk's day arrives (uploads.count_usage): a county-wide period reads
the county's daily totals (days × keys), a village's reads that village's rows alone, and the villages'
table reads one row per village, day and kind. Every list is cut at *limit* rows in SQL.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import Any

OPENED = ("power", "notice", "catalogue", "page")  # what "most opened" lists (kiosk/data/usage.py KINDS)
ENDINGS = ("guide_ending",)
NOT_FOUND = ("search_none",)
LIMIT = 1000  # rows of a list at most (the page shows the first ones, the CSV file all of these)

_COUNTY = """
select kind, key, sum(count) as count from usage_county_counts
where day between :first and :last and kind in ({kinds})
group by kind, key order by count desc, kind, key limit :limit"""
_VILLAGE = """
select kind, key, sum(count) as count from usage_counts
where village = :village and day between :first and :last and kind in ({kinds})
group by kind, key order by count desc, kind, key limit :limit"""


def most(
    db: sqlite3.Connection, kinds: tuple[str, ...], first: date, last: date, village: str | None = None,
    limit: int = LIMIT,
) -> list[dict[str, Any]]:  # fmt: skip
    """Return the keys of *kinds* counted most from *first* to *last* (the kiosks' local days): kind, key, count."""
    parameters = {"first": first.isoformat(), "last": last.isoformat(), "village": village, "limit": limit}
    parameters |= {f"kind{n}": kind for n, kind in enumerate(kinds)}
    query = (_VILLAGE if village else _COUNTY).format(kinds=", ".join(f":kind{n}" for n in range(len(kinds))))
    return [dict(row) for row in db.execute(query, parameters)]


def villages(db: sqlite3.Connection, first: date, last: date, limit: int = LIMIT) -> list[dict[str, Any]]:
    """Return each village's totals in the period: items opened, guide endings reached, searches that found nothing."""
    rows: dict[str, dict[str, Any]] = {}
    for village, kind, number in db.execute(
        "select village, kind, sum(count) from usage_village_totals where day between ? and ? group by village, kind",
        (first.isoformat(), last.isoformat()),
    ):
        row = rows.setdefault(village, {"village": village, "opened": 0, "endings": 0, "not_found": 0})
        column = "opened" if kind in OPENED else "endings" if kind in ENDINGS else "not_found"
        row[column] += number
    ranked = sorted(rows.values(), key=lambda r: (-(r["opened"] + r["endings"] + r["not_found"]), r["village"]))
    return ranked[:limit]


def known_villages(db: sqlite3.Connection) -> list[str]:
    """Return the villages that have kiosks, for the page's choice of village."""
    return [village for (village,) in db.execute("select distinct village from kiosks order by village")]
