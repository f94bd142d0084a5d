"""Disclosure duties: which are done, due or overdue on a day, and recording them (local.db).

The county's duties come with its content (duties table of the installed version, already cut to
this village); staff may add the village's own (local.db). What was disclosed is recorded per
period ('2026-10') or, for a duty that follows events (低保名单 within 7 working days), per event.
Periods, due days and status come from sync/contract/duties.py, counted on the official calendar the
installed content carries (workdays.py).

A period is done when staff recorded it (by any notice on the kiosk, the county's or the village's,
or by one elsewhere), or by itself when a notice out on the kiosk names the duty and period: a
county notice by ``duty:`` and ``period:`` in its front matter, a village notice by the duty and
period chosen on its form (withdrawn, it no longer counts). A village notice naming a duty that
follows events counts for the oldest event not yet disclosed that happened by its publication.
Periods due before the kiosk's first install are not listed: the kiosk cannot know what happened
before it.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from kiosk.data import audit
from kiosk.data.local_db import transaction
from kiosk.data.queries import DOMAINS
from kiosk.data.workdays import installed_calendar
from sync.contract import duties as rules
from sync.contract.dates import WorkCalendar

PERIODS_SHOWN = 3  # the current period and the two before it, so a missed one stays in sight
EVERY = ("month", "quarter", "half-year", "year")
NOTICES_OFFERED = 300  # the newest notices staff can pick as the disclosure of a period
log = logging.getLogger(__name__)


def first_install(local: sqlite3.Connection, today: date) -> date:
    """Return the day the kiosk was first installed; the first call on a new kiosk records *today*."""
    row = local.execute("select day from first_install").fetchone()
    if row is not None:
        return date.fromisoformat(row[0])
    try:
        with transaction(local):
            local.execute("insert or ignore into first_install (only_row, day) values (1, ?)", (today.isoformat(),))
    except sqlite3.OperationalError as error:  # a full disk: count from today, and record it next time
        log.warning("could not record the kiosk's first install day (%s); duties count from today", error)
        return today
    return date.fromisoformat(local.execute("select day from first_install").fetchone()[0])


def periods_owed(
    local: sqlite3.Connection, duty: dict[str, Any], today: date, calendar: WorkCalendar
) -> list[rules.Period]:
    """Return the recent periods of a periodic *duty* the village owes on *today*, newest first."""
    return rules.recent_periods(duty, today, PERIODS_SHOWN, first_install(local, today), calendar=calendar)


def notices_offered(content: sqlite3.Connection, local: sqlite3.Connection, today: date) -> list[dict[str, Any]]:
    """Return the notices published on the kiosk by *today*, the village's and the county's, newest first.

    Each has id, title, published_at and source ('village' or 'county'): what staff may name as a disclosure.
    """
    village = [dict(row, source="village") for row in local.execute(
        "select id, title, published_at from village_notices where state = 'published' and published_at < ?"
        " order by published_at desc limit ?", (today.isoformat() + "~", NOTICES_OFFERED))]  # fmt: skip
    county = [dict(row, source="county") for row in content.execute(
        "select id, title, published_at from notices where published_at < ? order by published_at desc limit ?",
        (today.isoformat() + "~", NOTICES_OFFERED))]  # fmt: skip
    return sorted(village + county, key=lambda n: n["published_at"], reverse=True)[:NOTICES_OFFERED]


def _named_by_notices(content: sqlite3.Connection, local: sqlite3.Connection, today: date) -> list[dict[str, Any]]:
    """Return the notices out by *today* that name a duty, the county's and the village's published ones, oldest first.

    Each has id, title, duty, period (None for a duty that follows events), published_at and source.
    """
    until = today.isoformat() + "~"
    village = [dict(row, source="village") for row in local.execute(
        "select id, title, duty, period, published_at from village_notices"
        " where state = 'published' and duty is not null and published_at < ?", (until,))]  # fmt: skip
    county: list[dict[str, Any]] = []
    if "duty" in {row[1] for row in content.execute("pragma table_info(notices)")}:  # else installed before they could
        county = [dict(row, source="county") for row in content.execute(
            "select id, title, duty, period, published_at from notices where duty is not null and published_at < ?",
            (until,))]  # fmt: skip
    return sorted(village + county, key=lambda n: n["published_at"])


def duties_of(content: sqlite3.Connection, local: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return the county's duties for this village, then the village's own."""
    county = [dict(row, source="county") for row in content.execute("select * from duties order by position")]
    village = [
        dict(row, source="village")
        for row in local.execute("select * from local_duties where removed_at is null order by created_at")
    ]
    return county + village


def disclosure_choices(
    content: sqlite3.Connection, local: sqlite3.Connection, today: date, translate: Callable[..., str],
    keep: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Return what a village notice may say it discloses: by duty id, its title and periods (key: label).

    The periods are those owed or recent, newest first, labelled in the reader's language (*translate*);
    a duty that follows events has none. A periodic duty with no period owed yet is left out (nothing
    of it can be disclosed). What the notice *keep* names already stays a choice, however old its period.
    """
    choices = {}
    calendar = installed_calendar(content)
    for duty in duties_of(content, local):
        periodic = rules.is_periodic(duty)
        keys = [period.key for period in periods_owed(local, duty, today, calendar)] if periodic else []
        if keep and keep.get("duty") == duty["id"] and keep.get("period") and keep["period"] not in keys:
            keys.append(keep["period"])
        if keys or not periodic:
            labels = {key: rules.label_of(key, translate) or key for key in keys}
            choices[duty["id"]] = {"title": duty["title"], "periods": labels}
    return choices


def disclosure_problem(choices: dict[str, dict[str, Any]], duty_id: str, period_key: str) -> Any:
    """Tell what is wrong with a notice naming *duty_id* and *period_key* among *choices*; None when nothing is."""
    if not duty_id:
        return _l("Choose the duty this period belongs to, or no period.") if period_key else None
    duty = choices.get(duty_id)
    if duty is None:
        return _l("“%(duty)s” is not a duty of this village: choose one from the list, or none.", duty=duty_id[:60])
    if not duty["periods"]:
        if period_key:
            return _l("“%(title)s” follows events and has no periods: choose no period.", title=duty["title"])
        return None
    if not period_key:
        return _l("Choose which period of “%(title)s” this notice discloses.", title=duty["title"])
    if period_key not in duty["periods"]:
        labels = {key: label for d in choices.values() for key, label in d["periods"].items()}
        return _l(
            "“%(period)s” is not a period of “%(title)s” that a notice can disclose now: choose one from the list.",
            period=labels.get(period_key, period_key[:20]), title=duty["title"],
        )  # fmt: skip
    return None


def _records(local: sqlite3.Connection, duty_id: str) -> list[dict[str, Any]]:
    rows = local.execute("select * from duty_records where duty_id = ? order by id", (duty_id,))
    return [dict(row) for row in rows]


def board(content: sqlite3.Connection, local: sqlite3.Connection, today: date) -> list[dict[str, Any]]:
    """Where every duty stands today: its recent periods, or its recorded events, each done / due / overdue."""
    rows: list[dict[str, Any]] = []
    naming = _named_by_notices(content, local, today)
    named = {(n["duty"], n["period"]): n for n in naming if n["period"]}  # the latest notice of a period stands
    offered = {n["id"]: n for n in notices_offered(content, local, today)}
    calendar = installed_calendar(content)
    for duty in duties_of(content, local):
        records = _records(local, duty["id"])
        if rules.is_periodic(duty):
            done = {r["period_key"]: r for r in records if r["period_key"]}
            periods = [
                _period_entry(period, today, done.get(period.key), named.get((duty["id"], period.key)), offered)
                for period in periods_owed(local, duty, today, calendar)
            ]
            upcoming = rules.next_period(duty, today, calendar=calendar)
            rows.append({"duty": duty, "periods": periods, "events": [], "worst": _worst(periods), "next": upcoming})
        else:
            by_notice = [n for n in naming if n["duty"] == duty["id"] and not n["period"]]
            events = [_event_entry(duty, r, today, by_notice, offered, calendar)
                      for r in sorted(records, key=lambda r: r["event_day"] or "") if r["event_day"]]  # fmt: skip
            rows.append({"duty": duty, "periods": [], "events": events, "worst": _worst(events), "next": None})
    return rows


def _notice_of(record: dict[str, Any] | None, offered: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The notice staff picked when they recorded a disclosure, if it is still on the kiosk (else its id alone)."""
    if record is None or not record["notice_id"]:
        return None
    return offered.get(record["notice_id"]) or {"id": record["notice_id"], "title": None, "source": None}


def _period_entry(period: rules.Period, today: date, record: dict[str, Any] | None, by_notice: dict[str, Any] | None,
                  offered: dict[str, dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """One period on the board: done when staff recorded it or a notice names it, with that notice."""
    notice = _notice_of(record, offered) if record is not None else by_notice  # what staff recorded stands
    done = record is not None or by_notice is not None
    status = "done" if done else rules.period_status(period, today, ())
    return {"period": period, "record": record, "notice": notice, "status": status}


def _event_entry(duty: dict[str, Any], record: dict[str, Any], today: date, by_notice: list[dict[str, Any]],
                 offered: dict[str, dict[str, Any]], calendar: WorkCalendar) -> dict[str, Any]:  # fmt: skip
    """One event on the board; if not recorded as disclosed, the first notice naming the duty since it happened."""
    day = date.fromisoformat(record["event_day"])
    notice = _notice_of(record, offered)
    if not record["done_at"]:
        notice = next((n for n in by_notice if n["published_at"][:10] >= record["event_day"]), None)
        if notice is not None:
            by_notice.remove(notice)  # one notice discloses one event
    done = bool(record["done_at"]) or notice is not None
    return {"record": record, "notice": notice, "due": rules.due_after_event(duty, day, calendar=calendar),
            "status": rules.event_status(duty, day, today, done, calendar=calendar)}  # fmt: skip


def _worst(entries: list[dict[str, Any]]) -> str:
    statuses = {entry["status"] for entry in entries}
    return next((s for s in ("overdue", "due") if s in statuses), "done")


def overdue(content: sqlite3.Connection, local: sqlite3.Connection, today: date) -> list[dict[str, Any]]:
    """Return each overdue period or event: the duty's title, what is overdue, and since when."""
    found = []
    for row in board(content, local, today):
        for entry in row["periods"]:
            if entry["status"] == "overdue":
                period = entry["period"]
                found.append({"duty": row["duty"], "what": period.label, "period": period.key, "due": period.due})
        for entry in row["events"]:
            if entry["status"] == "overdue":
                what = entry["record"]["event_note"] or entry["record"]["event_day"]
                found.append({"duty": row["duty"], "what": what, "period": None, "due": entry["due"]})
    return found


def mark_done(local: sqlite3.Connection, actor: str, duty: dict[str, Any], now: datetime, *, period_key: str = "",
              record_id: int | None = None, notice_id: str | None = None) -> None:  # fmt: skip
    """Record that a period (or an event) of *duty* was disclosed, by *notice_id* when there is one."""
    stamp = now.isoformat(timespec="seconds")
    with transaction(local):
        if record_id is not None:
            local.execute("update duty_records set done_at = ?, notice_id = ? where id = ? and duty_id = ?",
                          (stamp, notice_id, record_id, duty["id"]))  # fmt: skip
        else:
            local.execute(
                "insert into duty_records (duty_id, period_key, notice_id, done_at, recorded_by, recorded_at)"
                " values (?, ?, ?, ?, ?, ?)",
                (duty["id"], period_key, notice_id, stamp, actor, stamp),
            )
        audit.record(local, actor, "duty.done", "duty", duty["id"],
                     after={"period": period_key or None, "event": record_id, "notice": notice_id})  # fmt: skip


def record_event(
    local: sqlite3.Connection, actor: str, duty: dict[str, Any], day: date, note: str, now: datetime
) -> None:
    """Record that something happened which *duty* says must be disclosed within N working days."""
    stamp = now.isoformat(timespec="seconds")
    with transaction(local):
        local.execute(
            "insert into duty_records (duty_id, event_day, event_note, recorded_by, recorded_at)"
            " values (?, ?, ?, ?, ?)",
            (duty["id"], day.isoformat(), note.strip()[:200] or None, actor, stamp),
        )
        audit.record(local, actor, "duty.event", "duty", duty["id"], after={"event_day": day.isoformat(), "note": note})


def add_local_duty(local: sqlite3.Connection, actor: str, values: dict[str, str], now: datetime) -> dict[str, Any]:
    """Add a duty of the village's own; return the problems by field (empty when it was added)."""
    problems: dict[str, Any] = {}
    title = values.get("title", "").strip()
    if not title or len(title) > 120:
        problems["title"] = _l("Give the duty a title of at most 120 characters.")
    if values.get("domain") not in DOMAINS:
        problems["domain"] = _l("Choose what kind of affairs it is about.")
    every, due_day, within = values.get("every", ""), values.get("due_day", ""), values.get("within_working_days", "")
    if every:
        if every not in EVERY or not due_day.isdigit() or not 1 <= int(due_day) <= 28:
            problems["schedule"] = _l("A periodic duty needs how often and a due day from 1 to 28.")
    elif not within.isdigit() or not 1 <= int(within) <= 90:
        problems["schedule"] = _l("Give how often (with a due day), or within how many working days after an event.")
    if problems:
        return problems
    duty = {"id": "local-" + secrets.token_hex(6), "title": title, "domain": DOMAINS[values["domain"]],
            "every": every or None, "due_day": int(due_day) if every else None,
            "within_working_days": None if every else int(within)}  # fmt: skip
    with transaction(local):
        local.execute(
            "insert into local_duties (id, title, domain, every, due_day, within_working_days, created_by, created_at)"
            " values (:id, :title, :domain, :every, :due_day, :within_working_days, :actor, :at)",
            {**duty, "actor": actor, "at": now.isoformat(timespec="seconds")},
        )
        audit.record(local, actor, "duty.add", "duty", str(duty["id"]), after=duty)
    return {}
