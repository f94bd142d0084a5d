"""Dates in county content: local times as written, and working days for posting periods (公示期)."""

from __future__ import annotations

from datetime import date, datetime, timedelta


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
    """Return the first date on which *needed* working days from *first* are complete."""
    day, counted = first, 0
    while True:
        counted += day.weekday() < 5
        if counted >= needed:
            return day
        day += timedelta(days=1)
