"""Disclosure duties in the staff console: which are done, due or overdue, and marking them done.

The county's duties come with its content (duties table of the installed version, already cut to
this village); staff may add the village's own (local.db). What was disclosed is recorded per
period ('2026-10') or, for a duty that follows events (低保名单 within 7 working days), per event.
Periods, due days and status come from sync/duties.py.
"""

from __future__ import annotations

import secrets
import sqlite3
from datetime import date, datetime
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from sync import duties as rules

from ..content_db import get_db
from ..labels import DOMAIN_LABELS
from ..local_db import transaction
from ..queries import DOMAINS
from . import audit
from .auth import local_db, login_required
from .notice_views import _now

bp = Blueprint("duties", __name__, url_prefix="/duties")
EVERY_LABELS = {"month": _l("month"), "quarter": _l("quarter"), "half-year": _l("half-year"), "year": _l("year")}
STATUS_LABELS = {"done": _l("done"), "due": _l("due"), "overdue": _l("overdue")}


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"every_labels": EVERY_LABELS, "status_labels": STATUS_LABELS}


PERIODS_SHOWN = 3  # the current period and the two before it, so a missed one stays in sight
EVERY = ("month", "quarter", "half-year", "year")


def duties_of(content: sqlite3.Connection, local: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return the county's duties for this village, then the village's own."""
    county = [dict(row, source="county") for row in content.execute("select * from duties order by position")]
    village = [
        dict(row, source="village")
        for row in local.execute("select * from local_duties where removed_at is null order by created_at")
    ]
    return county + village


def _records(local: sqlite3.Connection, duty_id: str) -> list[dict[str, Any]]:
    rows = local.execute("select * from duty_records where duty_id = ? order by id", (duty_id,))
    return [dict(row) for row in rows]


def board(content: sqlite3.Connection, local: sqlite3.Connection, today: date) -> list[dict[str, Any]]:
    """Where every duty stands today: its recent periods, or its recorded events, each done / due / overdue."""
    rows = []
    for duty in duties_of(content, local):
        records = _records(local, duty["id"])
        if rules.is_periodic(duty):
            done = {r["period_key"]: r for r in records if r["period_key"]}
            periods = [
                {"period": period, "status": rules.period_status(period, today, done), "record": done.get(period.key)}
                for period in rules.recent_periods(duty, today, PERIODS_SHOWN)
            ]
            rows.append({"duty": duty, "periods": periods, "events": [], "worst": _worst(periods)})
        else:
            events = [
                {"record": r, "due": rules.due_after_event(duty, date.fromisoformat(r["event_day"])),
                 "status": rules.event_status(duty, date.fromisoformat(r["event_day"]), today, bool(r["done_at"]))}
                for r in records if r["event_day"]
            ]  # fmt: skip
            rows.append({"duty": duty, "periods": [], "events": events, "worst": _worst(events)})
    return rows


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


def _duty_or_404(duty_id: str) -> dict[str, Any]:
    duty = next((d for d in duties_of(get_db(), local_db()) if d["id"] == duty_id), None)
    if duty is None:
        abort(404)
    return duty


def _published_notices() -> list[dict[str, Any]]:
    rows = local_db().execute(
        "select id, title from village_notices where state = 'published' order by published_at desc"
    )
    return [dict(row) for row in rows]


@bp.route("/")
@login_required
def dashboard() -> ResponseReturnValue:
    now = _now()
    return render_template("staff/duties.html", rows=board(get_db(), local_db(), now.date()),
                           notices=_published_notices(), today=now.date())  # fmt: skip


@bp.route("/<duty_id>/done", methods=["POST"])
@login_required
def done(duty_id: str) -> ResponseReturnValue:
    duty = _duty_or_404(duty_id)
    notice_id = request.form.get("notice_id") or None
    if notice_id is not None and notice_id not in {n["id"] for n in _published_notices()}:
        abort(400)
    record = request.form.get("record_id", "")
    period_key = request.form.get("period_key", "")
    if record.isdigit():
        mark_done(local_db(), g.account.name, duty, _now(), record_id=int(record), notice_id=notice_id)
    elif period_key in {p.key for p in rules.recent_periods(duty, _now().date(), PERIODS_SHOWN)}:
        mark_done(local_db(), g.account.name, duty, _now(), period_key=period_key, notice_id=notice_id)
    else:
        abort(400)
    flash(_("Recorded as disclosed: %(title)s", title=duty["title"]))
    return redirect(url_for("duties.dashboard"))


@bp.route("/<duty_id>/event", methods=["POST"])
@login_required
def event(duty_id: str) -> ResponseReturnValue:
    duty = _duty_or_404(duty_id)
    if rules.is_periodic(duty):
        abort(400)
    try:
        day = date.fromisoformat(request.form.get("event_day", ""))
    except ValueError:
        flash(_("Give the day it happened as YYYY-MM-DD."))
        return redirect(url_for("duties.dashboard"))
    record_event(local_db(), g.account.name, duty, day, request.form.get("event_note", ""), _now())
    return redirect(url_for("duties.dashboard"))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    values = {
        name: request.form.get(name, "") for name in ("title", "domain", "every", "due_day", "within_working_days")
    }
    problems: dict[str, Any] = {}
    if request.method == "POST":
        problems = add_local_duty(local_db(), g.account.name, values, _now())
        if not problems:
            flash(_("Duty added."))
            return redirect(url_for("duties.dashboard"))
    return render_template("staff/duty_form.html", values=values, problems=problems, domains=DOMAIN_LABELS,
                           every=EVERY), (422 if problems else 200)  # fmt: skip
