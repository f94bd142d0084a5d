"""The kiosks' API: enrol with a one-time code, then signed reports and outbox uploads.

A kiosk signs every request with its Ed25519 key (headers X-Kiosk-Id, X-Kiosk-Time,
X-Kiosk-Signature over the time and the body). A repeated upload is harmless: items carry
idempotency keys, and every key held is acknowledged, stored or not, so the kiosk can forget it.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from kiosk.county import limits, payloads, rollout, store, uploads
from kiosk.county.content import published_calendar
from kiosk.data.transactions import transaction
from kiosk.web import request_db
from sync.contract.i18n import tr

bp = Blueprint("reports", __name__, url_prefix="/api")
MAX_BATCH = 500  # items per upload
MAX_BODY = 2 * 1024 * 1024
REPLAY = "not signed by an enrolled kiosk"  # a request accepted before, sent again: refused as any unsigned one
KINDS = ("village_notice", "feedback", "display_log", "notice_photo", "usage")
log = logging.getLogger(__name__)


def county_db(read_only: bool = False) -> sqlite3.Connection:
    """county.db for this request (*read_only*: for pages that only show it): the server thread's own connection,
    kept from request to request (store.kept_store)."""
    data, url = Path(current_app.config["DATA_DIR"]), current_app.config["COUNTY_DATABASE_URL"]
    name = "county_read_only" if read_only else "county"
    return request_db(name, lambda: store.kept_store(data, url, read_only), close=False)


@bp.record_once
def _migrate(state: Any) -> None:
    store.open_store(Path(state.app.config["DATA_DIR"]), url=state.app.config["COUNTY_DATABASE_URL"]).close()


def _refused(status: int, message: str) -> ResponseReturnValue:
    return jsonify(error=message), status


@bp.before_request
def within_cap() -> ResponseReturnValue | None:
    """Refuse a body over MAX_BODY from its Content-Length, before a byte of it is read.

    A chunked body the server passes on uncounted is refused as well (waitress counts it first):
    kiosks always send Content-Length, and nothing here reads a body without a bound. Without
    either header a request has no body.
    """
    length = request.content_length
    if length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        return _refused(411, "send the body with a Content-Length")
    if length is not None and length > MAX_BODY:
        return _refused(413, f"the body is larger than {MAX_BODY} bytes: send smaller batches")
    return None


def _signed_kiosk() -> sqlite3.Row | None:
    """The kiosk whose signature this request carries (guard.py checked it, and the kiosk's limits), or None."""
    kiosk: sqlite3.Row | None = g.get("county_kiosk")
    return kiosk


def _new_request(db: sqlite3.Connection, kiosk: sqlite3.Row, items: int) -> bool:
    """In the request's transaction: record its signature and count its use against the kiosk's limits (limits.py),
    so that one commit keeps them with what it stores. Return False for a request accepted before (a replay)."""
    if store.seen_before(db, kiosk["id"], request.headers.get("X-Kiosk-Signature", "")):
        return False
    limits.count_use(db, kiosk["id"], limits.utc_now(), len(request.get_data(cache=True)), items)
    return True


def _json() -> dict[str, Any] | None:
    try:
        value = payloads.parse_json(request.get_data(cache=True))
    except ValueError:  # not JSON, not UTF-8, or NaN and the like
        return None
    return value if isinstance(value, dict) else None


@bp.route("/enrol", methods=["POST"])
def enrol() -> ResponseReturnValue:
    body = _json()
    if body is None or not all(isinstance(body.get(k), str) for k in ("code", "village", "public_key")):
        return _refused(400, "send code, village and public_key")
    try:
        kiosk_id = store.enrol(county_db(), body["code"], body["village"], body["public_key"])
    except store.EnrolmentRefused:
        # guard.py logs the refusal with the caller's address; the code itself is never logged
        return _refused(403, "this enrolment code is unknown, used, expired or for another village")
    log.info(tr("kiosk %(id)s enrolled for village %(village)s from %(address)s", id=kiosk_id, village=body["village"],
                address=request.remote_addr))  # fmt: skip
    return jsonify(kiosk_id=kiosk_id)


@bp.route("/report", methods=["POST"])
def report() -> ResponseReturnValue:
    kiosk = _signed_kiosk()
    if kiosk is None:
        return _refused(403, "not signed by an enrolled kiosk")
    body = _json()
    if body is None:
        return _refused(400, "a report is a JSON object")
    db = county_db()
    with transaction(db, kiosk=kiosk["id"]):
        if not _new_request(db, kiosk, 0):
            return _refused(403, REPLAY)
        update = store.record_report(db, kiosk["id"], body)
    rollout.pause_if_failing(db, current_app.config, update)  # never raises: the report is kept
    return "", 204


@bp.route("/outbox", methods=["POST"])
def outbox() -> ResponseReturnValue:
    kiosk = _signed_kiosk()
    if kiosk is None:
        return _refused(403, "not signed by an enrolled kiosk")
    body = _json()
    items = body.get("items") if body else None
    if not isinstance(items, list) or len(items) > MAX_BATCH or not all(_valid(item) for item in items):
        return _refused(400, f"send items: at most {MAX_BATCH} of {{key, kind, payload}}")
    published = current_app.extensions["mobile_published"]
    calendar, db = published_calendar(published), county_db()
    with transaction(db, kiosk=kiosk["id"]):
        if not _new_request(db, kiosk, len(items)):
            return _refused(403, REPLAY)
        acked = uploads.store_uploads(db, kiosk["id"], items, calendar=calendar, village=kiosk["village"])
    return jsonify(acked=acked)


def _valid(item: Any) -> bool:
    return (
        isinstance(item, dict) and isinstance(item.get("key"), str) and 0 < len(item["key"]) <= 100
        and item.get("kind") in KINDS and isinstance(item.get("payload"), dict)
    )  # fmt: skip
