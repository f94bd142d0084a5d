"""How long the county keeps the kiosks' daily display logs whole (KIOSK_COUNTY_KEEP_DAYS), and the counts of
what villagers looked for (KIOSK_COUNTY_USAGE_KEEP_DAYS).

A display log is needed whole only to judge the logs either side of it (takedowns.py), and logs
arrive in day order. Past the retention period a log is dropped, pruned a bounded number at a
time after the kiosks' accepted requests (limits.Pruner); what the dashboard needs stays: the takedowns judged from it
(``gone_from_logs``) and its day's counts (``daily_display_logs``), which also tell a log sent
again after its pruning. Each kiosk's latest log stays whole whatever its age: the kiosk's next
one is judged against it.

A kiosk's day of counts arrives as one upload, whose record (kind 'usage', found by its day) is the index of
what the day added: past the keeping, each such record takes its village's counts of that day, and the
county's, with it. 2,000 kiosks a year add some 20 million rows of counts; with the record gone, the same
day sent again would add to counts the dashboard can no longer show, and they go at the next pruning.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from typing import Any

from kiosk.data import usage
from kiosk.data.transactions import transaction

PRUNE_BATCH = 200  # logs dropped per request at most: a bounded pause, and a backlog still drains

_PRUNABLE = """
select u.idempotency_key from uploads u
where u.kind = 'display_log' and u.day < :cutoff
  and exists (select 1 from uploads n where n.kind = 'display_log' and n.kiosk_id = u.kiosk_id and n.day > u.day)
order by u.day limit :limit"""


def first_log_of_day(db: sqlite3.Connection, kiosk_id: int, log: dict[str, Any]) -> bool:
    """Keep a display log's day and counts; return False if the kiosk's log of that day was held already."""
    shown = log.get("shown")
    count = shown if type(shown) is int else len(log["notices"])  # logs from kiosks not yet updated list all
    cursor = db.execute(
        "insert into daily_display_logs (kiosk_id, day, shown, posting) values (?, ?, ?, ?) on conflict do nothing",
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
    cursor = db.execute(  # one statement: all or nothing by itself, and no wait for every kiosk's writes to end
        f"delete from uploads where idempotency_key in ({_PRUNABLE})",  # noqa: S608 - fixed text
        {"cutoff": cutoff, "limit": limit or PRUNE_BATCH},
    )
    return cursor.rowcount


def prune_usage(db: sqlite3.Connection, before: date, limit: int) -> int:
    """Drop at most *limit* kiosks' days of counts of what villagers looked for that are before *before*,
    with their villages' and the county's counts of those days; return how many kiosks' days went."""
    old = db.execute(
        "select u.idempotency_key, u.day, k.village from uploads u join kiosks k on k.id = u.kiosk_id"
        " where u.kind = 'usage' and u.day < ? order by u.day limit ?",
        (before.isoformat(), limit),
    ).fetchall()
    kinds = ",".join("?" * len(usage.KINDS))
    with transaction(db):
        for key, day, village in old:
            db.execute("delete from usage_counts where village = ? and day = ?", (village, day))
            db.execute(
                f"delete from usage_village_totals where village = ? and kind in ({kinds}) and day = ?",  # noqa: S608
                (village, *usage.KINDS, day),
            )
            db.execute("delete from uploads where idempotency_key = ?", (key,))
        for day in {day for _key, day, _village in old}:  # the county's counts: once a day, not once a kiosk
            db.execute(f"delete from usage_county_counts where kind in ({kinds}) and day = ?", (*usage.KINDS, day))  # noqa: S608
    return len(old)
