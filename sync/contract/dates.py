"""Dates in county content: local times as written, and working days for posting periods (公示期)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sync.contract.i18n import tr


def parse_moment(text: str, end_of_day: bool = False) -> datetime:
    """Parse 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM'; a date alone means its start (or its end).

    :raises ValueError: for a date that does not exist, such as 2026-02-30 or 25:00.
    """
    if len(text) == 10:
        moment = datetime.strptime(text, "%Y-%m-%d")
        return moment.replace(hour=23, minute=59, second=59) if end_of_day else moment
    return datetime.strptime(text, "%Y-%m-%d %H:%M")


def working_days(first: date, last: date) -> int:
    """Count Monday-to-Friday days from *first* to *last*, both included.

    Public holidays and their make-up working days are not known here, so a posting period that
    spans them is counted as if they were ordinary weeks.
    """
    days = (last - first).days + 1
    if days <= 0:
        return 0
    whole_weeks, rest = divmod(days, 7)
    return whole_weeks * 5 + sum((first + timedelta(n)).weekday() < 5 for n in range(rest))


def end_of_posting(first: date, needed: int) -> date:
    """Return the first date on which *needed* working days from *first* are complete.

    Whole weeks are skipped at once, so a long period (or a forged one) costs no more than a short one.
    """
    day = first
    while day.weekday() >= 5:  # a weekend start counts from the Monday
        day += timedelta(days=1)
    if needed <= 1:
        return first if needed <= 0 else day
    weeks, rest = divmod(needed - 1, 5)
    day += timedelta(weeks=weeks)
    while rest:
        day += timedelta(days=1)
        rest -= day.weekday() < 5
    return day


DEFAULT_TIMEZONE = "Asia/Shanghai"


def local_now(timezone: str) -> datetime:
    """Return the wall-clock time in *timezone*, naive, comparable with content dates.

    Content dates are written in the county's local time; a kiosk's system clock may be set to
    UTC (as many images are), so "now" is always taken in the county's zone.
    """
    return datetime.now(ZoneInfo(timezone)).replace(tzinfo=None)


def timezone_problem(name: str) -> str | None:
    """Return why *name* is not a time zone this machine knows, or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return tr(
            "%(name)r is not a known time zone; use a name such as %(example)s", name=name, example=DEFAULT_TIMEZONE
        )
    return None


def utc_minute(moment: datetime) -> str:
    """Write *moment* to the minute in UTC, as messages about clocks and signatures give times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
