"""Times shown to staff: in the county's local time and in words, whatever form they were stored in.

The kiosk stores times in several forms: sync attempts in UTC with an offset, clock warnings as
'YYYY-MM-DD HH:MM UTC', the next sync and notices in local time without an offset, days as
'YYYY-MM-DD'. A person reads each the same way: '2026年12月6日 14:16', 'December 6, 2026, 14:16'.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import format_date
from flask_babel import gettext as _

from kiosk.data import queries
from kiosk.data.content_db import NoContent, get_db
from sync.contract.dates import DEFAULT_TIMEZONE

# A day or a time as the kiosk stores them: '2026-12-06', '2026-12-06 08:00[:00]', '2026-12-06T06:16:57.6+00:00'.
STORED_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")


def county_zone() -> ZoneInfo:
    """The time zone of the installed content (the county's), else the default one."""
    try:
        name = queries.meta(get_db()).get("timezone", DEFAULT_TIMEZONE)
    except NoContent:
        name = DEFAULT_TIMEZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def local(value: str | datetime, zone: ZoneInfo | None = None) -> datetime:
    """Return *value* as a naive local time: a time with an offset (or ending ' UTC') is moved into *zone*."""
    if isinstance(value, str):
        text = value.strip()
        moment = datetime.fromisoformat(text.removesuffix(" UTC") + ("+00:00" if text.endswith(" UTC") else ""))
    else:
        moment = value
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone or county_zone()).replace(tzinfo=None)
    return moment


def when(value: str | date | datetime | None, zone: ZoneInfo | None = None) -> str:
    """Show a time (or a day) to staff in local time and in words; nothing for no time."""
    if value is None or value == "":
        return ""
    if isinstance(value, date) and not isinstance(value, datetime):
        return str(format_date(value, "long"))
    if isinstance(value, str) and len(value.strip()) == 10:
        return str(format_date(date.fromisoformat(value.strip()), "long"))
    try:
        moment = local(value, zone)
    except ValueError:
        return str(value)  # not a time after all: shown as it is rather than lost
    # I18N: A day and a time of day, e.g. "December 6, 2026, 14:16".
    return str(_("%(day)s, %(time)s", day=format_date(moment.date(), "long"), time=f"{moment:%H:%M}"))
