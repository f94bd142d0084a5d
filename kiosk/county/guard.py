"""The edges of the kiosks' API, around reports.py's views: a well-formed kiosk id, a kiosk clock
within COUNTY_CLOCK_HOURS, each kiosk's rate and daily quota, the kiosk's signature, pruning after accepted
requests, and one log line for every refusal (who, what, why), never a traceback.
"""

from __future__ import annotations

import logging
import re
import sqlite3

from flask import Flask, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from kiosk.county import limits, store
from kiosk.county.reports import county_db, within_cap
from sync.contract.i18n import tr

log = logging.getLogger(__name__)
SIGNED = ("reports.report", "reports.outbox")
KIOSK_ID = re.compile(r"[0-9]{1,12}")  # ASCII digits only: '²'.isdigit() is True, and int('²') fails


def init_app(app: Flask) -> None:
    app.extensions["county_pruner"] = limits.Pruner()
    app.before_request(_check_kiosk)
    app.after_request(_count_and_log)


def _kiosk_id() -> int | None:
    claimed = request.headers.get("X-Kiosk-Id", "")
    return int(claimed) if KIOSK_ID.fullmatch(claimed) else None


def _refuse(status: int, message: str, **extra: object) -> Response:
    response = jsonify(error=message, **extra)
    response.status_code = status
    return response


def _check_kiosk() -> ResponseReturnValue | None:
    """Refuse a signed request before its view: a malformed id, a clock out of the window, a kiosk over its limits."""
    if request.endpoint not in SIGNED:
        return None
    if (too_large := within_cap()) is not None:  # before anything here reads the body (the signature)
        return too_large
    kiosk_id = _kiosk_id()
    if kiosk_id is None:
        return _refuse(403, "not signed by an enrolled kiosk")
    settings = limits.Limits.from_config(current_app.config)
    now = limits.utc_now()
    kiosk = store.enrolled(county_db(), kiosk_id, f"{now:%Y-%m-%d}")  # with its day's use: one query for both
    stamp = request.headers.get("X-Kiosk-Time", "")
    problem = limits.clock_problem(stamp, now, settings.clock)
    if problem is not None:
        # Only a kiosk's own signature makes it its clock: anyone else gets the plain refusal.
        signature = request.headers.get("X-Kiosk-Signature", "")
        if not store.signed_by(kiosk, stamp, request.get_data(cache=True), signature):
            return _refuse(403, "not signed by an enrolled kiosk")
        return _refuse(403, problem, problem="clock", kiosk_time=stamp[:40], county_time=now.isoformat())
    over = limits.over_limit(kiosk, now, settings)
    if over is not None:
        response = _refuse(429, over[0], problem="limit")
        response.headers["Retry-After"] = str(over[1])
        return response
    if not store.signed_by(kiosk, stamp, request.get_data(cache=True), request.headers.get("X-Kiosk-Signature", "")):
        return _refuse(403, "not signed by an enrolled kiosk")
    g.county_kiosk = kiosk  # the view records its signature, to refuse it again, and counts its use (reports.py)
    return None


def _count_and_log(response: Response) -> Response:
    """Prune a little after an accepted signed request; log any refusal of the API."""
    if request.blueprint != "reports":
        return response
    if response.status_code >= 400:
        _log_refusal(response)
    elif request.endpoint in SIGNED:
        try:
            now = limits.utc_now()
            current_app.extensions["county_pruner"].prune(
                county_db(), now, limits.Limits.from_config(current_app.config)
            )
        except sqlite3.Error as error:  # what the kiosk sent is stored and acknowledged: say so, keep it
            log.warning(tr("county API: could not prune after kiosk %(id)s's request: %(error)s",
                           id=_kiosk_id(), error=error))  # fmt: skip
    return response


def _log_refusal(response: Response) -> None:
    claimed = request.headers.get("X-Kiosk-Id", "")
    who = tr("kiosk %(id)s", id=repr(claimed[:20])) if claimed else tr("an unsigned caller")
    why = (response.get_json(silent=True) or {}).get("error") if response.is_json else None
    log.warning(
        tr("county API refused %(who)s at %(address)s: %(method)s %(path)s (%(size)s bytes): %(status)s %(why)s",
           who=who, address=request.remote_addr, method=request.method, path=request.path,
           size=request.content_length or 0, status=response.status_code, why=why or response.status),
    )  # fmt: skip
