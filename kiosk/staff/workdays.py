"""The official calendar in the staff console: what its deadlines are counted on, and a note when a year is missing.

Every 公示期 and due day the console shows or enforces is counted on the installed content's calendar
(kiosk/data/workdays.py). A year it does not cover is counted Monday to Friday, and the pages that
show deadlines say so (templates/staff/_calendar_note.html), so staff know a date may be early.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from kiosk.data.clock import screen_now
from kiosk.data.content_db import NoContent, get_db
from kiosk.data.workdays import installed_calendar
from sync.contract.dates import DEFAULT_TIMEZONE, MONDAY_TO_FRIDAY, WorkCalendar, local_now
from sync.contract.official_calendar import Gap, calendar_gaps


def staff_calendar() -> WorkCalendar:
    """Return the installed content's official calendar; Monday to Friday while no content is installed."""
    try:
        return installed_calendar(get_db())
    except NoContent:
        return MONDAY_TO_FRIDAY


def _gaps() -> list[Gap]:
    try:
        content = get_db()
    except NoContent:  # nothing installed: every year is counted Monday to Friday, in the default time zone
        return calendar_gaps(MONDAY_TO_FRIDAY, local_now(DEFAULT_TIMEZONE).date())
    return calendar_gaps(installed_calendar(content), screen_now().date())


def init_app(app: Flask) -> None:
    """Give every template ``calendar_gaps()``: the years counted in now that the calendar does not cover."""

    @app.context_processor
    def _calendar_gaps() -> dict[str, Any]:
        return {"calendar_gaps": _gaps}
