"""How long the county keeps the kiosks' daily display logs whole (KIOSK_COUNTY_KEEP_DAYS).

A display log is needed whole only to judge the logs either side of it (takedowns.py), and logs
arrive in day order. Past the retention period a log is dropped, pruned a bounded number at a
time as uploads arrive; what the dashboard needs stays: the takedowns judged from it
(``gone_from_logs``) and its day's counts (``daily_display_logs``), which also tell a log sent
again after its pruning. Each kiosk's latest log stays whole whatever its age: the kiosk's next
one is judged against it.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from typing import Any

from kiosk.data.transactions import transaction

PRUNE_BATCH = 200  # logs dropped per upload at most: a bounded pause, and a backlog still drains

_PRUNABLE = """
select u.rowid from uploads u
where u.kind = 'display_log' and u.day < :cutoff
  and exists (select 1 from uploads n where n.kind = 'display_log' and n.kiosk_id = u.kiosk_id and n.day > u.day)
order by u.day limit :limit"""


def first_log_of_day(db: sqlite3.Connection, kiosk_id: int, log: dict[str, Any]) -> bool:
    """Keep a display log's day and counts; return False if the kiosk's log of that day was held already."""
    shown = log.get("shown")
    count = shown if type(shown) is int else len(log["notices"])  # logs from kiosks not yet updated list all
    cursor = db.execute(
        "insert or ignore into daily_display_logs (kiosk_id, day, shown, posting) values (?, ?, ?, ?)",
        (kiosk_id, log["day"], count, len(log.get("posting") or {})),
    )
    return cursor.rowcount == 1


def prune_display_logs(db: sqlite3.Connection, today: date, keep_days: int, limit: int | None = None) -> int:
    """Drop at most *limit* (PRUNE_BATCH) display logs of days more than *keep_days* before *today*; return how many.

    *keep_days* 0 keeps every log whole.
    """
    if keep_days <= 0:
        return 0
    cutoff = (today - timedelta(days=keep_days)).isoformat()
    with transaction(db):
        cursor = db.execute(
            f"delete from uploads where rowid in ({_PRUNABLE})",  # noqa: S608 - fixed text
            {"cutoff": cutoff, "limit": limit or PRUNE_BATCH},
        )
    return cursor.rowcount
