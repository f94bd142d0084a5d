"""What this kiosk tells its county server: enrolment, its state, the outbox, the day's display log and the
counts of what villagers looked for on the days that are over."""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from kiosk.data import usage
from kiosk.data.clock import county_now
from kiosk.data.content_db import open_content
from kiosk.data.duties import overdue
from kiosk.data.local_db import open_local, transaction
from kiosk.data.queries import content_time, notices_on_show
from kiosk.data.workdays import installed_calendar
from kiosk.device.status import kiosk_status
from kiosk.device.uplink import Uplink, UplinkError
from kiosk.settings import app_version
from sync.contract.dates import WorkCalendar, end_of_posting
from sync.contract.i18n import tr
from sync.receive.install import current_database
from sync.receive.status import SyncError, SyncResult

log = logging.getLogger(__name__)


def enrol_with_county(data_dir: Path, code: str, county: str) -> str:
    """Enrol the kiosk with its county server (`kiosk enrol`, `kiosk init --enrol`); return the line saying so.

    :raises UplinkError: the county was out of reach or refused the code.
    :raises SyncError: the kiosk is not set up yet.
    """
    kiosk_id = Uplink(data_dir).enrol(county, code)
    return tr("Enrolled as kiosk %(id)s: reports and uploads now go to %(county)s.", id=kiosk_id, county=county)


def report_sync(data_dir: Path, result: SyncResult) -> SyncResult:
    """After a sync (`kiosk sync`), tell the county how this kiosk stands and send its outbox; return *result*
    with the report's outcome."""
    try:
        sent = send_to_county(data_dir)
    except SyncError:  # kiosk.json is damaged or missing: the sync's own error says so
        return result
    return dataclasses.replace(result, county_report=sent.line or None, county_ok=sent.ok)


class Sent(NamedTuple):
    ok: bool  # reported, and the outbox uploaded (or nothing to send: not enrolled)
    line: str  # what happened, for staff ('' when not enrolled)


def send_to_county(data_dir: Path, uplink: Uplink | None = None) -> Sent:
    """Upload the outbox, then report this kiosk's state; return whether it went and a line saying what happened.

    The report comes second so that its outbox depth is what is still waiting (stuck, if not 0).
    """
    uplink = uplink or Uplink(data_dir)
    if not uplink.enrolled:
        return Sent(True, "")
    late, display_log = _on_record(data_dir)
    if display_log is not None:
        _queue_display_log(data_dir, int(uplink.config["kiosk_id"]), display_log)
        _queue_usage(data_dir, int(uplink.config["kiosk_id"]), date.fromisoformat(display_log["day"]))
    upload_error = None
    try:
        sent = uplink.upload_outbox()
    except UplinkError as error:
        sent, upload_error = 0, error
    status: dict[str, Any] = {**kiosk_status(data_dir), "app_version": app_version(), "overdue": late}
    status["content_version"] = status.pop("version", None)
    if (update := last_update(data_dir)) is not None:
        status["software_update"] = update
    try:
        uplink.report(status)
    except UplinkError as error:
        return Sent(
            False, tr("the report did not reach the county; the outbox keeps everything: %(error)s", error=error)
        )
    if upload_error is not None:
        return Sent(False, tr("reported to the county, but the upload failed; the outbox keeps everything: %(error)s",
                              error=upload_error))  # fmt: skip
    return Sent(True, tr("reported to the county; %(count)s items uploaded", count=sent))


# The last software update (`kiosk update` writes it: kiosk/device/update.py), as the county's releases page
# shows it. A file past this size is not one the update wrote.
UPDATE_RECORD = Path("software") / "update.json"
MAX_UPDATE_RECORD_BYTES = 64 * 1024
UPDATE_TEXTS = {"offered": 100, "outcome": 20, "step": 20, "error": 500, "at": 40}  # what is sent, and its cap


def last_update(data_dir: Path) -> dict[str, str | None] | None:
    """This kiosk's last software update: the release offered, how it ended (None while under way), the step it
    reached or failed at, why, and when. None when there is none, or its record is damaged: the report goes
    without it."""
    path = data_dir / UPDATE_RECORD
    try:
        with path.open("rb") as file:
            data = file.read(MAX_UPDATE_RECORD_BYTES + 1)
        record = json.loads(data) if len(data) <= MAX_UPDATE_RECORD_BYTES else None
    except (OSError, ValueError):  # missing, unreadable, not JSON, not UTF-8
        return None
    if not isinstance(record, dict) or not isinstance(record.get("offered"), str):
        return None  # nothing offered: nothing the county's releases page would show
    sent = {name: value[:cap] if isinstance(value := record.get(name), str) else None
            for name, cap in UPDATE_TEXTS.items()}  # fmt: skip
    if record.get("ended") is not True:
        sent["outcome"] = None  # under way, or stopped by a power cut: the next `kiosk update` finishes it
    return sent


def _on_record(data_dir: Path) -> tuple[list[dict[str, str]], dict[str, Any] | None]:
    """What the county keeps a record of: the village's overdue disclosures, and today's display log.

    The display log counts the notices on show (the county's and the village's own) at the day's
    first report and lists those whose 公示期 still runs, so the county can tell one that came down
    before its period ended: a notice without a 公示期, or past it, is never a takedown, so it is
    left out (a log of a village with thousands of notices stays a few KB). One per day: its
    idempotency key is the kiosk and the day.
    """
    path = current_database(data_dir)
    if path is None or not path.exists():
        return [], None
    local = open_local(data_dir)  # made first: the content connection attaches it
    content = open_content(path, data_dir)
    try:
        now = county_now(data_dir, content)
        late = overdue(content, local, now.date())
        shown = notices_on_show(content, now, limit=10_000)
        calendar = installed_calendar(content)
    finally:
        content.close()
        local.close()
    late_list = [{"duty": o["duty"]["id"], "title": o["duty"]["title"], "what": str(o["what"]),
                  "period": o["period"], "due": o["due"].isoformat()} for o in late]  # fmt: skip
    posted = [n for n in shown if _posting_runs(n, now.date(), calendar)]
    log = {
        "day": now.date().isoformat(),
        "at": content_time(now),
        "shown": len(shown),
        "notices": sorted(n["id"] for n in posted),
        # What the county needs to judge a 公示期 it may not publish itself (the village's own notices).
        "posting": {n["id"]: {"title": n["title"], "published_at": n["published_at"], "days": n["min_posting_days"],
                              "expires_at": n["expires_at"]} for n in posted},
    }  # fmt: skip
    return late_list, log


def _posting_runs(notice: dict[str, Any], today: date, calendar: WorkCalendar) -> bool:
    """Tell whether *notice* has a 公示期 (working days of the official *calendar*) that ends today or later: only
    such a notice, gone, is a takedown."""
    days = notice["min_posting_days"]
    return bool(days) and end_of_posting(date.fromisoformat(notice["published_at"][:10]), days, calendar) >= today


def _queue_display_log(data_dir: Path, kiosk_id: int, log: dict[str, Any]) -> None:
    local = open_local(data_dir, migrate=False)
    try:
        with transaction(local):
            if local.execute("insert or ignore into display_log_days values (?)", (log["day"],)).rowcount:
                local.execute(
                    "insert into outbox (idempotency_key, kind, payload, created_at) values (?, 'display_log', ?, ?)",
                    (f"display:{kiosk_id}:{log['day']}", json.dumps(log, ensure_ascii=False), log["day"]),
                )
    finally:
        local.close()


def _queue_usage(data_dir: Path, kiosk_id: int, today: date) -> None:
    """Queue the counts of the days before *today* (kiosk/data/usage.py); on a full disk they wait for the next."""
    local = open_local(data_dir, migrate=False)
    try:
        usage.queue_days_over(local, kiosk_id, today)
    except sqlite3.OperationalError as error:
        log.warning(tr("the counts of what villagers looked for wait for the next report: %(error)s", error=error))
    finally:
        local.close()
