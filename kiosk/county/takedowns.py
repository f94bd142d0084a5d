"""Notices with a 公示期 that came down before it ended, from two witnesses.

- **Display logs.** Each kiosk sends one a day: the notices on show at its first report, with the
  posting facts (title, publication, 公示期 in working days, expiry) of those with a 公示期. When a
  log arrives it is compared with the kiosk's log of the day before it (and after it, if that
  came first): a notice the earlier one showed and the later one does not, while its 公示期 still
  ran, is recorded in ``gone_from_logs``. An expiry no earlier than the period's last day (what
  the content validator accepts) is a scheduled end, not a takedown. Each kiosk is judged by the
  facts it sent itself, so one kiosk's facts never decide another village's notice.
- **The village's own notice changes** (from the staff console): a notice withdrawn, or given an
  expiry, before its 公示期 ended, listed with the reason staff gave.

Judging on arrival keeps the dashboard's page a small indexed query, whatever the history.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import date
from typing import Any

from sync.dates import end_of_posting

from . import payloads
from .content import latest_notice_changes

_NEIGHBOUR = """
select payload from uploads where kind = 'display_log' and kiosk_id = ? and day {relation} ?
order by day {order} limit 1"""


def judge_display_log(db: sqlite3.Connection, kiosk_id: int, log: dict[str, Any]) -> None:
    """Record what a newly stored display log shows came down early, against the kiosk's logs either side."""
    for relation, order in (("<", "desc"), (">", "asc")):
        row = db.execute(_NEIGHBOUR.format(relation=relation, order=order), (kiosk_id, log["day"])).fetchone()
        if row is not None:
            neighbour = json.loads(row[0])
            before, after = (neighbour, log) if relation == "<" else (log, neighbour)
            record_gone(db, kiosk_id, before, after)


def record_gone(db: sqlite3.Connection, kiosk_id: int, before: dict[str, Any], after: dict[str, Any]) -> None:
    shown_before, shown_after = set(before["notices"]), set(after["notices"])
    at, day = str(after.get("at") or f"{after['day']} 00:00:00"), date.fromisoformat(after["day"])
    for notice_id, facts in (before.get("posting") or {}).items():
        if notice_id not in shown_before or notice_id in shown_after:
            continue
        ends = end_of_posting(date.fromisoformat(facts["published_at"][:10]), facts["days"])
        expires = facts.get("expires_at")
        if day > ends or (expires is not None and date.fromisoformat(expires[:10]) >= ends and at >= expires):
            continue  # its 公示期 was over, or it expired as scheduled
        db.execute(
            "insert into gone_from_logs (kiosk_id, notice, missing, last_seen, title, published_at, days, ends)"
            " values (?, ?, ?, ?, ?, ?, ?, ?)"
            " on conflict do update set last_seen = max(last_seen, excluded.last_seen)",  # a late log in between
            (kiosk_id, notice_id, after["day"], before["day"], facts["title"], facts["published_at"], facts["days"],
             ends.isoformat()),
        )  # fmt: skip


_FROM_LOGS = """
select k.village, g.* from gone_from_logs g join kiosks k on k.id = g.kiosk_id where g.missing between ? and ?"""


def early_takedowns(db: sqlite3.Connection, first: date, last: date) -> list[dict[str, Any]]:
    """Return one row per village and notice that came down early, on a day from *first* to *last* (its earliest)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    from_logs = (
        {"village": row["village"], "notice": row["notice"], "title": row["title"], "kiosks": {row["kiosk_id"]},
         "reason": "", "published_at": row["published_at"], "days": row["days"],
         "ends": date.fromisoformat(row["ends"]), "last_seen": date.fromisoformat(row["last_seen"]),
         "missing": date.fromisoformat(row["missing"])}
        for row in db.execute(_FROM_LOGS, (first.isoformat(), last.isoformat()))
    )  # fmt: skip
    for gone in [*from_logs, *_withdrawn_early(db)]:
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
