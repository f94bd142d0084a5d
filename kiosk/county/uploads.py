"""What kiosks upload through their outbox, kept in county.db: each item once, by its idempotency key.

An item the county cannot use is set aside in ``rejected_uploads`` with the reason (payloads.py says
what each kind must be); a rating is counted for the dashboard as it arrives, a display log is
compared with the kiosk's log of the day before (takedowns.py), a village notice's change noted (both judged
on the official calendar the county published), a day's counts of what villagers looked for added to the
village's and the county's (the upload keeps only its key).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from kiosk.county import payloads, retention, takedowns, village_photos
from kiosk.data.transactions import transaction
from sync.contract.dates import MONDAY_TO_FRIDAY, WorkCalendar
from sync.contract.i18n import tr

log = logging.getLogger(__name__)
ADD_AT_ONCE = 500  # rows of counts in one statement (its parameters well within SQLite's and PostgreSQL's limits)


def store_uploads(
    db: sqlite3.Connection,
    kiosk_id: int,
    items: list[dict[str, Any]],
    now: datetime | None = None,
    calendar: WorkCalendar = MONDAY_TO_FRIDAY,
    village: str | None = None,
) -> list[str]:
    """Store a batch; return every key now held (new, already there or set aside), which the kiosk may then forget.

    Items the county cannot use go to rejected_uploads with the reason; a new rating is counted
    for the dashboard in the same transaction as it is stored. *calendar* is the county's published
    official calendar, which 公示期 are counted on (the kiosks' API passes it). *village*: the kiosk's, if the caller
    has read it already.
    """
    stamp = (now or datetime.now(UTC).replace(microsecond=0)).isoformat()
    ratings: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # each rating's row and payload, by its key
    days_of_usage: list[dict[str, Any]] = []
    with transaction(db, kiosk=kiosk_id):  # its rows, and counts that add up (a village's notices: one row each)
        if village is None:
            (village,) = db.execute("select village from kiosks where id = ?", (kiosk_id,)).fetchone()
        for item in items:
            kept = item["payload"]
            if item["kind"] == "notice_photo":  # its bytes go to village_photos, not with every upload
                kept = {k: v for k, v in kept.items() if k != "data"}
            if item["kind"] == "usage" and isinstance(kept, dict):  # the counts go to usage_counts, the key stays
                counts = kept.get("counts")
                kept = {"day": kept.get("day"), "counts": [], "entries": len(counts) if isinstance(counts, list) else 0}
            row = {"idempotency_key": f"{kiosk_id}:{item['key']}", "kiosk_id": kiosk_id, "kind": item["kind"],
                   "payload": json.dumps(kept, ensure_ascii=False), "received_at": stamp}  # fmt: skip
            trouble = payloads.problem(item["kind"], item["payload"])
            if trouble is not None:
                set_aside(db, row, trouble)
                continue
            if item["kind"] == "display_log" and not retention.first_log_of_day(db, kiosk_id, item["payload"]):
                continue  # the kiosk's log of that day is held already (whole, or as its counts once pruned)
            if item["kind"] == "feedback":  # stored all at once, below: one statement, not one a rating
                ratings.setdefault(row["idempotency_key"], (row, item["payload"]))
                continue
            if item["kind"] == "notice_photo":
                village_photos.keep(db, village, kiosk_id, item["payload"], stamp)
            cursor = db.execute(
                "insert into uploads (idempotency_key, kiosk_id, kind, payload, received_at)"
                " values (:idempotency_key, :kiosk_id, :kind, :payload, :received_at) on conflict do nothing",
                row,
            )
            if cursor.rowcount == 1 and item["kind"] == "display_log":
                takedowns.judge_display_log(db, kiosk_id, item["payload"], calendar)
            elif cursor.rowcount == 1 and item["kind"] == "village_notice":
                takedowns.note_change(db, village, kiosk_id, item["payload"], calendar)
            elif cursor.rowcount == 1 and item["kind"] == "usage":
                days_of_usage.append(item["payload"])
        # Counts shared with other kiosks last, each table's rows in the order of their keys: on PostgreSQL two
        # kiosks' uploads that add to the same counts wait for each other, and never each for the other.
        new = _insert_new(db, [row for row, _payload in ratings.values()])
        count_ratings(db, village, [payload for key, (_row, payload) in ratings.items() if key in new])
        for counts in sorted(days_of_usage, key=lambda day: str(day["day"])):
            count_usage(db, village, counts)
    return [item["key"] for item in items]


def _insert_new(db: sqlite3.Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the upload *rows* not held yet, in one statement; return the keys of those that were new."""
    if not rows:
        return set()
    columns = ("idempotency_key", "kiosk_id", "kind", "payload", "received_at")
    found = db.execute(
        f"insert into uploads ({', '.join(columns)}) values {_rows_of(len(columns), len(rows))}"  # noqa: S608
        " on conflict do nothing returning idempotency_key",
        [row[column] for row in rows for column in columns],
    ).fetchall()
    return {key for (key,) in found}


def set_aside(db: sqlite3.Connection, row: dict[str, Any], trouble: str) -> None:
    cursor = db.execute(
        "insert into rejected_uploads (idempotency_key, kiosk_id, kind, payload, problem, received_at)"
        " values (?, ?, ?, ?, ?, ?) on conflict do nothing",
        (row["idempotency_key"], row["kiosk_id"], row["kind"], row["payload"], trouble, row["received_at"]),
    )
    if cursor.rowcount == 1:  # once per item, not again when the kiosk sends it again
        log.warning(tr("upload %(key)s (%(kind)s) from kiosk %(id)s set aside in rejected_uploads: %(problem)s",
                       key=row["idempotency_key"], kind=row["kind"], id=row["kiosk_id"], problem=trouble))  # fmt: skip


def count_rating(db: sqlite3.Connection, village: str, rating: dict[str, Any]) -> None:
    count_ratings(db, village, [rating])


def count_ratings(db: sqlite3.Connection, village: str, ratings: list[dict[str, Any]]) -> None:
    """Add *ratings* (each new) to the village's counts per day, item and level, and per reason tapped."""
    levels: Counter[tuple[Any, ...]] = Counter()
    reasons: Counter[tuple[Any, ...]] = Counter()
    for rating in ratings:
        where = (rating["day"], village, rating["kind"], rating["item_id"])
        levels[(*where, rating["level"])] += 1
        reasons.update((*where, reason) for reason in dict.fromkeys(rating.get("reasons") or []))
    add_counts(db, "rating_counts", ("day", "village", "kind", "item", "level"), sorted(levels.items()))
    add_counts(db, "reason_counts", ("day", "village", "kind", "item", "reason"), sorted(reasons.items()))


def count_usage(db: sqlite3.Connection, village: str, counts: dict[str, Any]) -> None:
    """Add a day's counts of what villagers looked for to the village's, the county's and the village's totals."""
    kept = payloads.usage_counts(counts)
    day = counts["day"]
    add_counts(
        db,
        "usage_counts",
        ("village", "day", "kind", "key"),
        [((village, day, kind, key), number) for (kind, key), number in sorted(kept.items())],
    )
    add_counts(
        db,
        "usage_county_counts",
        ("day", "kind", "key"),
        [((day, kind, key), number) for (kind, key), number in sorted(kept.items())],
    )
    totals: dict[str, int] = {}
    for (kind, _key), number in kept.items():
        totals[kind] = totals.get(kind, 0) + number
    add_counts(db, "usage_village_totals", ("day", "village", "kind"),
               [((day, village, kind), number) for kind, number in sorted(totals.items())])  # fmt: skip


def add_counts(
    db: sqlite3.Connection, table: str, keys: tuple[str, ...], counts: list[tuple[tuple[Any, ...], int]]
) -> None:
    """Add each (key, count) of *counts* to *table*'s row of that key (its columns: *keys*, then count), a row
    added where there is none: a few statements of up to ADD_AT_ONCE rows each, not one a row.

    Each key once in *counts*: PostgreSQL refuses to change one row twice in one statement."""
    columns = ", ".join((*keys, "count"))
    for start in range(0, len(counts), ADD_AT_ONCE):
        chunk = counts[start : start + ADD_AT_ONCE]
        db.execute(
            f"insert into {table} ({columns}) values {_rows_of(len(keys) + 1, len(chunk))}"  # noqa: S608 - fixed names
            f" on conflict ({', '.join(keys)}) do update set count = {table}.count + excluded.count",
            [value for key, count in chunk for value in (*key, count)],
        )


def _rows_of(width: int, count: int) -> str:
    """The VALUES of a statement inserting *count* rows of *width* parameters each: (?, ?), (?, ?), …"""
    row = f"({', '.join('?' * width)})"
    return ", ".join([row] * count)
