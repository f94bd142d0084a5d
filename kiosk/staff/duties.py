"""Disclosure duties in the staff console: which are done, due or overdue, and marking them done.

The county's duties come with its content (duties table of the installed version, already cut to
this village); staff may add the village's own (local.db). What was disclosed is recorded per
period ('2026-10') or, for a duty that follows events (低保名单 within 7 working days), per event.
The rules live in kiosk/data/duties.py and sync/contract/duties.py.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kiosk.data.clock import screen_now
from kiosk.data.content_db import get_db
from kiosk.data.duties import (
    EVERY,
    add_local_duty,
    board,
    duties_of,
    mark_done,
    notices_offered,
    periods_owed,
    record_event,
)
from kiosk.data.workdays import installed_calendar
from kiosk.screens.labels import DOMAIN_LABELS
from kiosk.staff.auth import local_db, login_required
from sync.contract import duties as rules
from sync.contract.i18n import translator

bp = Blueprint("duties", __name__, url_prefix="/duties")
EVERY_LABELS = {"month": _l("month"), "quarter": _l("quarter"), "half-year": _l("half-year"), "year": _l("year")}
STATUS_LABELS = {"done": _l("done"), "due": _l("due"), "overdue": _l("overdue")}


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"every_labels": EVERY_LABELS, "status_labels": STATUS_LABELS}


def _duty_or_404(duty_id: str) -> dict[str, Any]:
    duty = next((d for d in duties_of(get_db(), local_db()) if d["id"] == duty_id), None)
    if duty is None:
        abort(404)
    return duty


@bp.route("/")
@login_required
def dashboard() -> ResponseReturnValue:
    today = screen_now().date()
    translate = translator(get_locale().language if get_locale() else "zh")  # the rule in the reader's language
    rows = [{**row, "rule": rules.rule_text(row["duty"], translate)} for row in board(get_db(), local_db(), today)]
    offered = notices_offered(get_db(), local_db(), today)
    return render_template("staff/duties.html", rows=rows, today=today,
                           period_label=lambda key: rules.label_of(key, translate) or key,
                           village_notices=[n for n in offered if n["source"] == "village"],
                           county_notices=[n for n in offered if n["source"] == "county"])  # fmt: skip


@bp.route("/<duty_id>/done", methods=["POST"])
@login_required
def done(duty_id: str) -> ResponseReturnValue:
    duty = _duty_or_404(duty_id)
    today = screen_now().date()
    notice_id = request.form.get("notice_id") or None
    if notice_id is not None and notice_id not in {n["id"] for n in notices_offered(get_db(), local_db(), today)}:
        abort(400)
    record = request.form.get("record_id", "")
    period_key = request.form.get("period_key", "")
    if record.isdigit():
        mark_done(local_db(), g.account.name, duty, screen_now(), record_id=int(record), notice_id=notice_id)
    elif rules.is_periodic(duty) and period_key in {
        p.key for p in periods_owed(local_db(), duty, today, installed_calendar(get_db()))
    }:
        mark_done(local_db(), g.account.name, duty, screen_now(), period_key=period_key, notice_id=notice_id)
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
    record_event(local_db(), g.account.name, duty, day, request.form.get("event_note", ""), screen_now())
    return redirect(url_for("duties.dashboard"))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    values = {
        name: request.form.get(name, "") for name in ("title", "domain", "every", "due_day", "within_working_days")
    }
    problems: dict[str, Any] = {}
    if request.method == "POST":
        problems = add_local_duty(local_db(), g.account.name, values, screen_now())
        if not problems:
            flash(_("Duty added."))
            return redirect(url_for("duties.dashboard"))
    return render_template("staff/duty_form.html", values=values, problems=problems, domains=DOMAIN_LABELS,
                           every=EVERY), (422 if problems else 200)  # fmt: skip
