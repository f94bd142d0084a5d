"""Villagers rate a service on the kiosk (好差评): five levels, a few tap-only reasons, no free text.

Every detail page (power, notice, catalogue) has a 我要评价 button in its aside. It opens a panel
over the same page (``?feedback=rate``): tap a level, tap reasons if you like, tap 提交评价. The
rating is stored once, in local.db's feedback table and, in the same transaction, in the outbox
for the county; the page then thanks the villager at once (``?feedback=thanks``).

Nothing identifies the person: no free text, and only the county-local day, not the time (a camera
over the service hall would tie a time to a face). The county knows the village from the kiosk's
own credential, so the rating does not name it either.

One rating per page per session: the idle reset ends the session, so the next person may rate
the same page, while one person tapping twice counts once. PER_HOUR ratings in any hour for the
whole kiosk, so a child tapping on and on cannot flood the county's figures.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from kiosk.data.clock import screen_now
from kiosk.data.local_db import open_local, transaction
from kiosk.screens.views import shown_or_404
from kiosk.web import SlidingWindow, request_db

bp = Blueprint("feedback", __name__)

PER_HOUR = 60  # ratings in any hour, for the whole kiosk
RATED_KEY = "rated"  # the session's rated pages, "kind/item_id"
REMEMBERED = 40  # pages a session remembers having rated: the cookie must stay well under 4 KB
DETAIL_ENDPOINTS = {
    "power": "screens.power_detail",
    "notice": "screens.notice_detail",
    "catalogue": "screens.catalogue_detail",
}
# The five 好差评 levels, best first as the national 好差评 system lists them.
LEVELS = {
    5: _l("Very satisfied"),
    4: _l("Satisfied"),
    3: _l("Basically satisfied"),
    2: _l("Dissatisfied"),
    1: _l("Very dissatisfied"),
}
# Reasons are fixed codes, never text a villager typed: the county counts them, and no one can
# write a name into them. A good rating offers what went well; 基本满意 and below, what to improve.
GOOD_REASONS = {
    "quick": _l("Quick service"),
    "friendly": _l("Friendly staff"),
    "clear": _l("Clearly explained"),
}
BETTER_REASONS = {
    "slow": _l("Waited too long"),
    "papers_again": _l("Asked for papers again and again"),
    "hard_to_understand": _l("Hard to understand"),
    "nobody_helped": _l("Nobody dealt with it"),
}
REASONS = {**GOOD_REASONS, **BETTER_REASONS}


def reasons_for(level: int) -> dict[str, Any]:
    """Return the reasons offered with *level*."""
    return GOOD_REASONS if level >= 4 else BETTER_REASONS


@bp.record_once
def _set_up(state: BlueprintSetupState) -> None:
    # PER_HOUR ratings in any hour for the whole kiosk, and one per page per session. The session's
    # cookie remembers its rated pages too, but two taps that arrive together carry the same cookie:
    # this in-memory record is what makes the second one count for nothing. It holds only the
    # session's random CSRF value and the page, for an hour.
    state.app.extensions["feedback"] = SlidingWindow(PER_HOUR)


def _session_secret() -> str:
    """Return the random value this session's CSRF tokens are made from: the form that was tapped put it there."""
    return str(session[current_app.config["WTF_CSRF_FIELD_NAME"]])


def _admit(rater_page: str) -> str | None:
    """Count a rating and return None, or return why not: "thanks" (rated already) or "busy"."""
    window: SlidingWindow = current_app.extensions["feedback"]
    refused = window.take(rater_page)
    return {"again": "thanks", "limit": "busy"}[refused] if refused else None


def _rated_pages() -> list[str]:
    pages = session.get(RATED_KEY)
    return pages if isinstance(pages, list) else []


def rated(kind: str, item_id: str) -> bool:
    """Tell whether this session has rated the page already."""
    return f"{kind}/{item_id}" in _rated_pages()


def feedback_url(kind: str, item_id: str, state: str | None = None) -> str:
    """Return the detail page, with the rating panel in *state* (rate, thanks, busy) or without it."""
    return url_for(DETAIL_ENDPOINTS[kind], item_id=item_id, feedback=state)


@bp.app_context_processor
def _feedback_context() -> dict[str, Any]:
    return {
        "feedback_levels": LEVELS,
        "feedback_reasons": {"good": GOOD_REASONS, "better": BETTER_REASONS},
        "feedback_rated": rated,
        "feedback_url": feedback_url,
    }


def store_rating(db: sqlite3.Connection, kind: str, item_id: str, level: int, reasons: list[str], day: str) -> str:
    """Keep a rating and queue it for the county, in one transaction; return its key.

    The outbox row's created_at is the day too: the exact moment would outlive the rating there.
    """
    key = str(uuid.uuid4())
    payload = {"kind": kind, "item_id": item_id, "level": level, "reasons": reasons, "day": day}
    with transaction(db):
        db.execute(
            "insert into feedback (id, at, kind, item_id, level, reasons) values (?, ?, ?, ?, ?, ?)",
            (key, day, kind, item_id, level, json.dumps(reasons)),
        )
        db.execute(
            "insert into outbox (idempotency_key, kind, payload, created_at) values (?, 'feedback', ?, ?)",
            (key, json.dumps(payload, ensure_ascii=False), day),
        )
    return key


def local_db() -> sqlite3.Connection:
    """The kiosk's local database, for this request (the content's connection only reads it)."""
    return request_db("local", lambda: open_local(Path(current_app.config["DATA_DIR"]), migrate=False))


def _posted_level() -> int:
    text = request.form.get("level", "")
    if text not in {str(level) for level in LEVELS}:
        abort(400)
    return int(text)


def _posted_reasons(level: int) -> list[str]:
    """Return the chosen reasons that go with *level*, in the list's order; 400 for any unknown code."""
    chosen = set(request.form.getlist("reason"))
    if not chosen <= REASONS.keys():
        abort(400)
    # A reason of the other kind was ticked, then hidden when the villager chose another level:
    # it is no longer on the screen, so it is not part of the rating.
    return [code for code in reasons_for(level) if code in chosen]


def _rating_day(kind: str, item_id: str) -> str:
    """Return the county-local day, or answer 404 for a page the kiosk would not show."""
    shown_or_404(kind, item_id)
    return screen_now().date().isoformat()


@bp.post("/feedback/<any(power, notice, catalogue):kind>/<item_id>")
def rate(kind: str, item_id: str) -> ResponseReturnValue:
    """Store a rating once and show the thanks; a second one for the page in this session stores nothing."""
    level = _posted_level()  # its CSRF token was checked before (kiosk.screens.create_app)
    reasons = _posted_reasons(level)
    day = _rating_day(kind, item_id)
    page = f"{kind}/{item_id}"
    refused = "thanks" if rated(kind, item_id) else _admit(f"{_session_secret()} {page}")
    if refused:
        return redirect(feedback_url(kind, item_id, refused), code=303)
    store_rating(local_db(), kind, item_id, level, reasons, day)
    session[RATED_KEY] = [*_rated_pages(), page][-REMEMBERED:]
    return redirect(feedback_url(kind, item_id, "thanks"), code=303)


@bp.errorhandler(400)
def _stale_form(_error: Any) -> ResponseReturnValue:
    # A forged request, or a page kept open across a session reset: either way nothing was stored.
    heading = gettext("Your rating was not recorded")
    text = gettext("Please open the page again and rate it once more.")
    return render_template("screens/error.html", heading=heading, text=text), 400
