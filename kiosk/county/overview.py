"""What the county's dashboard shows, computed from county.db: the kiosks' state, each village's
overdue disclosures and early takedowns, and the villagers' ratings (好差评).

Plain functions over the store's connection; the views (dashboard.py) turn their rows into tables.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from sync.dates import end_of_posting

from . import payloads
from .content import latest_notice_changes

QUIET_AFTER = timedelta(days=2)  # a kiosk that has not reported for this long is flagged quiet

_LATEST_REPORTS = """
select k.id, k.village, k.enrolled_at, k.revoked_at, k.created_at, r.received_at, r.app_version, r.content_version,
       r.checked_version, r.content_date, r.last_outcome, r.last_error, r.disk_free_bytes, r.outbox_depth, r.overdue,
       (select count(*) from rejected_uploads x where x.kiosk_id = k.id) as rejected
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


def overdue(kiosk_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return each village's overdue disclosure duties, as the newest report from its kiosks gives them."""
    newest: dict[str, dict[str, Any]] = {}
    for kiosk in kiosk_rows:
        if kiosk["revoked_at"] or kiosk["received_at"] is None:
            continue
        if kiosk["village"] not in newest or kiosk["received_at"] > newest[kiosk["village"]]["received_at"]:
            newest[kiosk["village"]] = kiosk
    found = []
    for village, kiosk in newest.items():
        try:
            late = json.loads(kiosk["overdue"] or "[]")  # plain texts only: store.record_report made sure
        except ValueError:
            continue
        found += [{"village": village, "duty": duty["title"] or duty["duty"], "what": duty["what"],
                   "due": duty["due"], "kiosk_id": kiosk["id"], "reported_at": kiosk["received_at"]}
                  for duty in late]  # fmt: skip
    return sorted(found, key=lambda d: (d["village"], d["due"], d["duty"]))


# --- notices that came down before their 公示期 ended -----------------------------------------------

LOOKBACK = timedelta(days=14)  # a log this long before the period still shows what was on show then
_DISPLAY_LOGS = """
select u.kiosk_id, k.village, u.payload from uploads u join kiosks k on k.id = u.kiosk_id
where u.kind = 'display_log' and u.day between ? and ? and json_valid(u.payload)"""


def early_takedowns(db: sqlite3.Connection, first: date, last: date) -> list[dict[str, Any]]:
    """Return the notices with a 公示期 that came down before it ended, on a day from *first* to *last*.

    Two witnesses, one row per village and notice (the earliest day it was gone):
    - a kiosk's display logs, one a day (the notices on show at its first report): a log inside
      the 公示期 without a notice that an earlier one showed, unless it expired as scheduled on or
      after the period's last day. Each kiosk is judged by the posting facts it sent itself.
    - the village's own notice changes from the staff console: a notice withdrawn, or given an
      expiry, before its 公示期 ended, with the reason staff gave.
    """
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for gone in [*_missing_from_logs(db, first, last), *_withdrawn_early(db)]:
        if not first <= gone["missing"] <= last:
            continue
        key = (gone["village"], gone["notice"])
        held = found.setdefault(key, gone)
        if held is not gone:
            kiosks, reason = held["kiosks"] | gone["kiosks"], held["reason"] or gone["reason"]
            if gone["missing"] < held["missing"]:
                found[key] = held = gone
            held.update(kiosks=kiosks, reason=reason)
    return sorted(found.values(), key=lambda t: (t["village"], t["missing"], t["notice"]))


def _missing_from_logs(db: sqlite3.Connection, first: date, last: date) -> Iterator[dict[str, Any]]:
    logs: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for kiosk_id, village, payload in db.execute(_DISPLAY_LOGS, ((first - LOOKBACK).isoformat(), last.isoformat())):
        log = json.loads(payload)  # its shape was checked on arrival (payloads.py)
        log["shown"] = set(log["notices"])
        log.setdefault("at", f"{log['day']} 00:00:00")
        logs[(kiosk_id, village)].append(log)
    for (kiosk_id, village), kiosk_logs in logs.items():
        kiosk_logs.sort(key=lambda log: str(log["at"]))
        facts: dict[str, dict[str, Any]] = {}
        for log in kiosk_logs:
            facts.update(log.get("posting") or {})  # the newest facts this kiosk sent win
        for notice_id, info in facts.items():
            gone = _first_missing(kiosk_logs, notice_id, info)
            if gone is not None:
                yield {"village": village, "notice": notice_id, "title": info["title"], "kiosks": {kiosk_id},
                       "reason": "", **gone}  # fmt: skip


def _first_missing(logs: list[dict[str, Any]], notice_id: str, info: dict[str, Any]) -> dict[str, Any] | None:
    published_at, expires_at = str(info["published_at"]), info.get("expires_at")
    ends = end_of_posting(date.fromisoformat(published_at[:10]), int(info["days"]))
    # An expiry the validator accepts (its date no earlier than the period's last day) is a scheduled end.
    scheduled = expires_at is not None and date.fromisoformat(expires_at[:10]) >= ends
    last_seen = None
    for log in logs:
        if log["at"] < published_at or date.fromisoformat(log["day"]) > ends:
            continue
        if notice_id in log["shown"]:
            last_seen = log["day"]
        elif last_seen is not None and not (scheduled and log["at"] >= expires_at):
            return {"published_at": published_at, "days": int(info["days"]), "ends": ends,
                    "last_seen": date.fromisoformat(last_seen), "missing": date.fromisoformat(log["day"])}  # fmt: skip
    return None


def _withdrawn_early(db: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    for (village, notice_id), change in latest_notice_changes(db).items():
        notice = change["notice"]
        published_at, days = payloads.moment(notice.get("published_at")), notice.get("min_posting_days")
        if published_at is None or type(days) is not int or not 1 <= days <= payloads.MAX_POSTING_DAYS:
            continue
        ends = end_of_posting(published_at.date(), days)
        expires_at = payloads.moment(notice.get("expires_at"))
        if change["action"] == "withdraw":
            gone = payloads.moment(str(change["at"])[:19].replace("T", " "))
        else:
            gone = expires_at if expires_at is not None and expires_at.date() < ends else None
        if gone is None or gone < published_at or gone.date() > ends:
            continue
        yield {"village": village, "notice": notice_id, "title": str(notice.get("title", ""))[:payloads.MAX_TEXT],
               "kiosks": {change["kiosk_id"]}, "reason": str(notice.get("withdraw_reason") or ""),
               "published_at": published_at.isoformat(sep=" "), "days": days, "ends": ends, "last_seen": None,
               "missing": gone.date()}  # fmt: skip


# --- ratings (好差评) ------------------------------------------------------------------------------

LEVELS = (5, 4, 3, 2, 1)


def feedback(db: sqlite3.Connection, first: date, last: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the ratings given from *first* to *last* (the kiosks' local days), per item and per village.

    Each row counts the ratings at each level (``level_5`` … ``level_1``), their total, the share
    dissatisfied (levels 2 and 1: a 差评) and, per item, the reasons tapped, most often first.
    Read from the counts kept as ratings arrive (store.py), so a long period costs days, not ratings.
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
