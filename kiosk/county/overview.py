"""What the county's dashboard shows, computed from county.db: the kiosks' state, each village's
overdue disclosures, and the villagers' ratings (好差评). Early takedowns are in takedowns.py.

Plain functions over the store's connection; the views (dashboard.py) turn their rows into tables.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

QUIET_AFTER = timedelta(days=2)  # a kiosk that has not reported for this long is flagged quiet

_LATEST_REPORTS = """
select k.id, k.village, k.enrolled_at, k.revoked_at, k.created_at, r.received_at, r.app_version, r.content_version,
       r.checked_version, r.content_date, r.last_outcome, r.last_error, r.disk_free_bytes, r.outbox_depth, r.overdue,
       (select count(*) from rejected_uploads x where x.kiosk_id = k.id) + coalesce(r.outbox_set_aside, 0) as rejected
from kiosks k left join reports r on r.id = (select max(id) from reports where kiosk_id = k.id)
order by k.village, k.id"""


def kiosks(db: sqlite3.Connection, latest_version: int | None, now: datetime) -> list[dict[str, Any]]:
    """Return every kiosk with its latest report and its flags: behind, quiet, never seen (or revoked).

    *now* is timezone-aware; report times are stored in UTC. A kiosk is behind when neither the
    content it shows nor the newest county version it checked is *latest_version*: a sync that
    found nothing new for its village leaves its content version older, and that is current.
    """
    rows = []
    for row in db.execute(_LATEST_REPORTS):
        kiosk = dict(row)
        flags = []
        if kiosk["revoked_at"]:
            flags.append("revoked")
        elif kiosk["received_at"] is None:
            flags.append("never_seen")
        else:
            if now - datetime.fromisoformat(kiosk["received_at"]) > QUIET_AFTER:
                flags.append("quiet")
            held = max(_version(kiosk["content_version"]), _version(kiosk["checked_version"]))
            if latest_version is not None and held < latest_version:
                flags.append("behind")
        kiosk["flags"] = flags
        rows.append(kiosk)
    return rows


def _version(reported: Any) -> int:
    return reported if isinstance(reported, int) else 0


_NEWEST_OVERDUE = """
select k.id, k.village, r.received_at, r.overdue
from kiosks k join reports r on r.id = (select max(id) from reports where kiosk_id = k.id)
where k.revoked_at is null order by k.id"""


def overdue(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return each village's overdue disclosure duties, as the newest report from its kiosks (not revoked) gives
    them."""
    newest: dict[str, dict[str, Any]] = {}
    for kiosk in map(dict, db.execute(_NEWEST_OVERDUE)):
        if kiosk["village"] not in newest or kiosk["received_at"] > newest[kiosk["village"]]["received_at"]:
            newest[kiosk["village"]] = kiosk
    found = []
    for village, kiosk in newest.items():
        try:
            late = json.loads(kiosk["overdue"] or "[]")
        except ValueError:
            continue
        # Plain texts since store.record_report checks them; a report from before may hold anything.
        for duty in late if isinstance(late, list) else []:
            if isinstance(duty, dict):
                text = {key: str(duty.get(key) or "") for key in ("duty", "title", "what", "period", "due")}
                found.append({**text, "village": village, "duty": text["title"] or text["duty"],
                              "kiosk_id": kiosk["id"], "reported_at": kiosk["received_at"]})  # fmt: skip
    return sorted(found, key=lambda d: (d["village"], d["due"], d["duty"]))


# --- ratings (好差评) ------------------------------------------------------------------------------

LEVELS = (5, 4, 3, 2, 1)


def feedback(db: sqlite3.Connection, first: date, last: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the ratings given from *first* to *last* (the kiosks' local days), per item and per village.

    Each row counts the ratings at each level (``level_5`` … ``level_1``), their total, the share
    dissatisfied (levels 2 and 1: a 差评) and, per item, the reasons tapped, most often first.
    Read from the counts kept as ratings arrive (uploads.py), so a long period costs days, not ratings.
    """
    span = (first.isoformat(), last.isoformat())
    items: dict[tuple[str, str, str], dict[str, Any]] = {}
    villages: dict[str, dict[str, Any]] = {}
    for village, kind, item, level, count in db.execute(
        "select village, kind, item, level, sum(count) from rating_counts where day between ? and ?"
        " group by village, kind, item, level", span,
    ):  # fmt: skip
        row = items.setdefault((village, kind, item), _tally(village=village, kind=kind, item=item))
        for tally in (row, villages.setdefault(village, _tally(village=village))):
            tally[f"level_{level}"] += count
            tally["total"] += count
    for village, kind, item, reason, count in db.execute(
        "select village, kind, item, reason, sum(count) from reason_counts where day between ? and ?"
        " group by village, kind, item, reason", span,
    ):  # fmt: skip
        if (village, kind, item) in items:
            items[(village, kind, item)]["reasons"][reason] += count
    by_item = sorted(items.values(), key=lambda r: (r["village"], -r["total"], r["kind"], r["item"]))
    by_village = sorted(villages.values(), key=lambda r: r["village"])
    for row in by_item + by_village:
        row["dissatisfied"] = (row["level_2"] + row["level_1"]) / row["total"]
    return by_item, by_village


def _tally(**keys: str) -> dict[str, Any]:
    return {**keys, **{f"level_{level}": 0 for level in LEVELS}, "total": 0, "reasons": Counter()}
