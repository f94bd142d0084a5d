"""Notices with a 公示期 that came down before it ended, from two witnesses, judged as uploads arrive.

- **Display logs.** Each kiosk sends one a day: the notices on show at its first report, with the
  posting facts (title, publication, 公示期 in working days, expiry) of those with a 公示期. When a
  log arrives it is compared with the kiosk's logs of the days either side: a notice the earlier
  one showed and the later one does not, while its 公示期 still ran, is kept in ``gone_from_logs``.
  An expiry no earlier than the period's last day (what the content validator accepts) is a
  scheduled end, not a takedown. Each kiosk is judged by the facts it sent itself, so one kiosk's
  facts never decide another village's notice.
- **The village's own notice changes** (from the staff console): each notice's latest change is
  kept in ``latest_notices``; if it withdrew the notice, or gave it an expiry, before its 公示期
  ended, the notice is in ``notices_gone_early`` with the reason staff gave.

Judging on arrival keeps the dashboard's page two small indexed queries, whatever the history. A 公示期
is counted on the official calendar the county last published (kiosk/county/content.py ``published_calendar``).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime
from typing import Any

from kiosk.county import payloads
from sync.contract.dates import WorkCalendar, end_of_posting

_NEIGHBOURS = """
select * from (select day, payload from uploads where kind = 'display_log' and kiosk_id = :kiosk and day < :day
               order by day desc limit 1) as earlier
union all
select * from (select day, payload from uploads where kind = 'display_log' and kiosk_id = :kiosk and day > :day
               order by day asc limit 1) as later"""


def judge_display_log(db: sqlite3.Connection, kiosk_id: int, log: dict[str, Any], calendar: WorkCalendar) -> None:
    """Record what a newly stored display log shows came down early, against the kiosk's logs either side."""
    neighbours = db.execute(_NEIGHBOURS, {"kiosk": kiosk_id, "day": log["day"]}).fetchall()
    before = next((payload for day, payload in neighbours if day < log["day"]), None)
    after = next((payload for day, payload in neighbours if day > log["day"]), None)
    if after is not None:
        later = json.loads(after)
        # This log came late, between two others: what was judged across the gap is judged again.
        db.execute("delete from gone_from_logs where kiosk_id = ? and missing = ? and last_seen < ?",
                   (kiosk_id, later["day"], log["day"]))  # fmt: skip
        record_gone(db, kiosk_id, log, later, calendar)
    if before is not None:
        record_gone(db, kiosk_id, json.loads(before), log, calendar)


def record_gone(
    db: sqlite3.Connection, kiosk_id: int, before: dict[str, Any], after: dict[str, Any], calendar: WorkCalendar
) -> None:
    """Keep each notice *before* showed, with a 公示期 still running, that *after* (the next log) does not."""
    shown_before, shown_after = set(before["notices"]), set(after["notices"])
    taken = payloads.moment(after.get("at")) or datetime.fromisoformat(after["day"])
    for notice_id, facts in (before.get("posting") or {}).items():
        if notice_id not in shown_before or notice_id in shown_after:
            continue
        published = payloads.moment(facts["published_at"])
        expires = payloads.moment(facts.get("expires_at"))
        if published is None:
            continue  # payloads.py let it in only with a valid one: an older row from before the checks
        ends = end_of_posting(published.date(), facts["days"], calendar)
        if taken.date() > ends or (expires is not None and expires.date() >= ends and taken >= expires):
            continue  # its 公示期 was over, or it expired as scheduled
        db.execute(
            "insert into gone_from_logs (kiosk_id, notice, missing, last_seen, title, published_at, days, ends)"
            " values (?, ?, ?, ?, ?, ?, ?, ?)"
            " on conflict (kiosk_id, notice, missing) do update set last_seen = excluded.last_seen"
            " where excluded.last_seen > gone_from_logs.last_seen",
            (kiosk_id, notice_id, after["day"], before["day"], facts["title"][:payloads.MAX_TEXT],
             published.isoformat(sep=" "), facts["days"], ends.isoformat()),
        )  # fmt: skip


def note_change(
    db: sqlite3.Connection, village: str, kiosk_id: int, change: dict[str, Any], calendar: WorkCalendar
) -> None:
    """Keep a village notice's change if it is its latest (by its time, then arrival), and judge it."""
    at = payloads.moment(change["at"])
    if at is None:
        return
    notice_id = str(change["notice"]["id"])
    kept = db.execute(
        "insert into latest_notices (village, notice, at, kiosk_id, payload) values (?, ?, ?, ?, ?)"
        " on conflict (village, notice) do update set at = excluded.at, kiosk_id = excluded.kiosk_id,"
        " payload = excluded.payload"
        " where excluded.at >= latest_notices.at",
        (village, notice_id, at.isoformat(sep=" "), kiosk_id, json.dumps(change, ensure_ascii=False)),
    )
    if kept.rowcount == 0:
        return  # an older change, arriving after a newer one
    db.execute("delete from notices_gone_early where village = ? and notice = ?", (village, notice_id))
    gone = _cut_short(change, calendar)
    if gone is not None:
        db.execute(
            "insert into notices_gone_early (village, notice, kiosk_id, title, published_at, days, ends, missing,"
            " reason) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (village, notice_id, kiosk_id, gone["title"], gone["published_at"], gone["days"], gone["ends"],
             gone["missing"], gone["reason"]),
        )  # fmt: skip


def _cut_short(change: dict[str, Any], calendar: WorkCalendar) -> dict[str, Any] | None:
    """Return how a notice change cut its 公示期 short (withdrawn, or an expiry before it ends), or None."""
    notice = change["notice"]
    published, days = payloads.moment(notice.get("published_at")), notice.get("min_posting_days")
    if published is None or type(days) is not int or not 1 <= days <= payloads.MAX_POSTING_DAYS:
        return None
    ends = end_of_posting(published.date(), days, calendar)
    expires = payloads.moment(notice.get("expires_at"))
    if change["action"] == "withdraw":
        gone = payloads.moment(change["at"])
    else:
        gone = expires if expires is not None and expires.date() < ends else None
    if gone is None or gone < published or gone.date() > ends:
        return None
    reason = change.get("reason") or notice.get("withdraw_reason") or ""
    return {"title": str(notice.get("title", ""))[:payloads.MAX_TEXT], "published_at": published.isoformat(sep=" "),
            "days": days, "ends": ends.isoformat(), "missing": gone.date().isoformat(),
            "reason": str(reason)[:payloads.MAX_TEXT]}  # fmt: skip


_FROM_LOGS = """
select k.village, g.kiosk_id, g.notice, g.title, g.published_at, g.days, g.ends, g.last_seen, g.missing,
       '' as reason
from gone_from_logs g join kiosks k on k.id = g.kiosk_id where g.missing between :first and :last
union all
select village, kiosk_id, notice, title, published_at, days, ends, null, missing, reason
from notices_gone_early where missing between :first and :last"""


def early_takedowns(db: sqlite3.Connection, first: date, last: date) -> list[dict[str, Any]]:
    """Return the notices that came down early on a day from *first* to *last*.

    One row per village, notice and publication (a notice posted again is judged again): the
    earliest day it was gone, every kiosk that saw it, and the reason staff gave, if any.
    """
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in db.execute(_FROM_LOGS, {"first": first.isoformat(), "last": last.isoformat()}):
        gone = dict(row)
        kiosk = gone.pop("kiosk_id")
        key = (gone["village"], gone["notice"], gone["published_at"])
        held = found.get(key)
        if held is None:
            found[key] = {**gone, "kiosks": {kiosk}}
            continue
        held["kiosks"].add(kiosk)  # in place: a notice many kiosks saw go is one row, added to once a kiosk
        reason = held["reason"] or gone["reason"]
        if gone["missing"] < held["missing"]:  # ISO days: their order as text is their order in time
            held.update(gone)
        held["reason"] = reason
    for held in found.values():
        held.update(ends=date.fromisoformat(held["ends"]), missing=date.fromisoformat(held["missing"]),
                    last_seen=date.fromisoformat(held["last_seen"]) if held["last_seen"] else None)  # fmt: skip
    return sorted(found.values(), key=lambda t: (t["village"], t["missing"], t["notice"]))
