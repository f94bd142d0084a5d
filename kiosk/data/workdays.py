"""The official calendar on the kiosk: the one the installed content carries, for every working-day count.

The county publishes it as content (calendar/<year>.yaml, sync/contract/official_calendar.py); the
install keeps each year in the content database's ``calendar`` table. Content installed before the
county published one, or before kiosks knew the table, has none: every year is then counted Monday to Friday.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date

from sync.contract.dates import MONDAY_TO_FRIDAY, WorkCalendar
from sync.contract.official_calendar import Gap, calendar_gaps, work_calendar


def installed_calendar(content: sqlite3.Connection) -> WorkCalendar:
    """Return the official calendar of the installed content *content* (Monday to Friday when it has none)."""
    try:
        rows = content.execute("select data from calendar order by year").fetchall()
    except sqlite3.OperationalError:  # no such table: content installed by a kiosk from before the calendar
        return MONDAY_TO_FRIDAY
    return work_calendar(json.loads(data) for (data,) in rows)


def gaps(content: sqlite3.Connection, today: date) -> list[Gap]:
    """Return the years counted in on *today* that the installed calendar does not cover."""
    return calendar_gaps(installed_calendar(content), today)
