"""What the county's dashboard shows, computed from county.db: the kiosks' state, each village's
overdue disclosures and early takedowns, and the villagers' ratings (好差评).

Plain functions over the store's connection; the views (dashboard.py) turn their rows into tables.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sync.dates import end_of_posting

QUIET_AFTER = timedelta(days=2)  # a kiosk that has not reported for this long is flagged quiet

_LATEST_REPORTS = """
select k.id, k.village, k.enrolled_at, k.revoked_at, k.created_at, r.received_at, r.app_version, r.content_version,
       r.checked_version, r.content_date, r.last_outcome, r.last_error, r.disk_free_bytes, r.outbox_depth, r.overdue
from kiosks k left join (select kiosk_id, max(id) as id from reports group by kiosk_id) latest on latest.kiosk_id = k.id
left join reports r on r.id = latest.id
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
            held = max(_number(kiosk["content_version"]), _number(kiosk["checked_version"]))
            if latest_version is not None and held < latest_version:
                flags.append("behind")
        kiosk["flags"] = flags
        rows.append(kiosk)
    return rows


def _number(value: Any) -> int:
    return value if isinstance(value, int) else 0


def overdue(kiosk_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return each village's overdue disclosure duties, as its kiosks last reported them (once per duty)."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for kiosk in kiosk_rows:
        if kiosk["revoked_at"] or not kiosk["overdue"]:
            continue
        try:
            late = json.loads(kiosk["overdue"])
        except ValueError:
            continue
        for duty in late if isinstance(late, list) else []:
            if not isinstance(duty, dict):
                continue
            key = (kiosk["village"], str(duty.get("duty")), str(duty.get("what")))
            if key not in found or kiosk["received_at"] > found[key]["reported_at"]:
                found[key] = {"village": kiosk["village"], "duty": str(duty.get("title") or duty.get("duty")),
                              "what": str(duty.get("what", "")), "due": str(duty.get("due", "")),
                              "kiosk_id": kiosk["id"], "reported_at": kiosk["received_at"]}  # fmt: skip
    return sorted(found.values(), key=lambda d: (d["village"], d["due"], d["duty"]))


_DISPLAY_LOGS = """
select u.kiosk_id, k.village, u.payload from uploads u join kiosks k on k.id = u.kiosk_id
where u.kind = 'display_log' and json_extract(u.payload, '$.day') between ? and ?"""


def early_takedowns(db: sqlite3.Connection, first: date, last: date) -> list[dict[str, Any]]:
    """Return notices a kiosk showed and then no longer showed while their 公示期 ran.

    Each kiosk sends one display log a day (the notices on show at its first report). A notice
    with a 公示期 of N working days from its publication must be on show until the day those days
    are complete; a log inside that span without it, after one with it, means it came down early.
    Logs from *first* - 130 days on are read, so a long 公示期 begun before the period is judged
    too; a takedown is listed when its first missing day falls in [*first*, *last*].
    """
    samples: dict[int, list[dict[str, Any]]] = defaultdict(list)
    villages: dict[int, str] = {}
    posting: dict[str, dict[str, Any]] = {}
    judged: dict[int, set[str]] = defaultdict(set)  # per kiosk, the notices with a 公示期 it has logged
    lookback = (first - timedelta(days=130)).isoformat()
    for kiosk_id, village, payload in db.execute(_DISPLAY_LOGS, (lookback, last.isoformat())):
        try:
            log = json.loads(payload)
            day, shown = date.fromisoformat(log["day"]), set(log["notices"])
            at = str(log.get("at") or f"{log['day']} 00:00:00")
        except (ValueError, KeyError, TypeError):
            continue  # a malformed log proves nothing either way
        samples[kiosk_id].append({"day": day, "at": at, "shown": shown})
        villages[kiosk_id] = village
        for notice_id, info in (log.get("posting") or {}).items():
            if isinstance(info, dict):
                posting[notice_id] = info  # the latest facts win: a notice can be corrected
                judged[kiosk_id].add(notice_id)
    found = []
    for kiosk_id, logs in samples.items():
        logs.sort(key=lambda log: log["at"])
        for notice_id in judged[kiosk_id]:
            info = posting[notice_id]
            missing = _first_missing(logs, notice_id, info)
            if missing is not None and first <= missing["missing"] <= last:
                found.append({"village": villages[kiosk_id], "kiosk_id": kiosk_id, "notice": notice_id,
                              "title": str(info.get("title", "")), **missing})  # fmt: skip
    return sorted(found, key=lambda t: (t["village"], t["missing"], t["notice"], t["kiosk_id"]))


def _first_missing(logs: list[dict[str, Any]], notice_id: str, info: dict[str, Any]) -> dict[str, Any] | None:
    try:
        published_at = str(info["published_at"])
        ends = end_of_posting(date.fromisoformat(published_at[:10]), int(info["days"]))
    except (KeyError, TypeError, ValueError):
        return None
    last_seen = None
    for log in logs:
        if log["at"] < published_at or log["day"] > ends:
            continue
        if notice_id in log["shown"]:
            last_seen = log["day"]
        elif last_seen is not None:
            return {"published_at": published_at, "days": int(info["days"]), "ends": ends,
                    "last_seen": last_seen, "missing": log["day"]}  # fmt: skip
    return None


_RATINGS = """
select k.village, json_extract(u.payload, '$.kind') as kind, json_extract(u.payload, '$.item_id') as item,
       json_extract(u.payload, '$.level') as level, u.payload
from uploads u join kiosks k on k.id = u.kiosk_id
where u.kind = 'feedback' and json_extract(u.payload, '$.day') between ? and ?"""
LEVELS = (5, 4, 3, 2, 1)


def feedback(db: sqlite3.Connection, first: date, last: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the ratings given from *first* to *last* (the kiosks' local days), per item and per village.

    Each row counts the ratings at each level (``level_5`` … ``level_1``), their total, the share
    dissatisfied (levels 2 and 1: a 差评) and, per item, the reasons tapped, most often first.
    """
    items: dict[tuple[str, str, str], dict[str, Any]] = {}
    villages: dict[str, dict[str, Any]] = {}
    for village, kind, item, level, payload in db.execute(_RATINGS, (first.isoformat(), last.isoformat())):
        if level not in LEVELS or not isinstance(kind, str) or not isinstance(item, str):
            continue
        reasons = json.loads(payload).get("reasons")
        row = items.setdefault((village, kind, item), _tally(village=village, kind=kind, item=item))
        for tally in (row, villages.setdefault(village, _tally(village=village))):
            tally[f"level_{level}"] += 1
            tally["total"] += 1
        if isinstance(reasons, list):
            row["reasons"].update(r for r in reasons if isinstance(r, str))
    by_item = sorted(items.values(), key=lambda r: (r["village"], -r["total"], r["kind"], r["item"]))
    by_village = sorted(villages.values(), key=lambda r: r["village"])
    for row in by_item + by_village:
        row["dissatisfied"] = (row["level_2"] + row["level_1"]) / row["total"]
    return by_item, by_village


def _tally(**keys: str) -> dict[str, Any]:
    return {**keys, **{f"level_{level}": 0 for level in LEVELS}, "total": 0, "reasons": Counter()}
