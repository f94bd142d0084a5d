"""Dates in county content: local times as written, and working days on the official calendar (公示期, duties)."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sync.contract.i18n import tr


@lru_cache(maxsize=4096)  # a county's notices share few dates, and strptime is slow: a publish parses them all
def parse_moment(text: str, end_of_day: bool = False) -> datetime:
    """Parse 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM'; a date alone means its start (or its end).

    :raises ValueError: for a date that does not exist, such as 2026-02-30 or 25:00.
    """
    if len(text) == 10:
        moment = datetime.strptime(text, "%Y-%m-%d")
        return moment.replace(hour=23, minute=59, second=59) if end_of_day else moment
    return datetime.strptime(text, "%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class WorkCalendar:
    """The official calendar as the county publishes it (calendar/<year>.yaml, sync/contract/official_calendar.py).

    *off* holds the days off it names (放假), *working* its make-up working days (调休上班, a Saturday or
    Sunday); any other day is a working day from Monday to Friday. *years* are the years whose State
    Council schedule it holds whole; *statutory_only* those for which it holds only the holidays the law
    fixes (the notice not published yet). A year in neither is counted Monday to Friday alone.
    """

    off: frozenset[date] = frozenset()
    working: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()
    statutory_only: frozenset[int] = frozenset()

    def is_working_day(self, day: date) -> bool:
        """Tell whether *day* is a working day: a make-up working day, or a weekday that is not a day off."""
        if day in self.working:
            return True
        return day.weekday() < 5 and day not in self.off

    @cached_property
    def named_days(self) -> tuple[date, ...]:
        """Every day the calendar names, off or working, in order."""
        return tuple(sorted(self.off | self.working))

    def names_no_day_in(self, first: date, last: date) -> bool:
        """Tell whether no day from *first* to *last* is named by the calendar: that stretch is plain weeks."""
        days = self.named_days
        at = bisect_left(days, first)
        return at == len(days) or days[at] > last


MONDAY_TO_FRIDAY = WorkCalendar()  # no official calendar: what is counted in a year the county has not published


def working_days(first: date, last: date, calendar: WorkCalendar) -> int:
    """Count the working days of *calendar* from *first* to *last*, both included."""
    days = (last - first).days + 1
    if days <= 0:
        return 0
    whole_weeks, rest = divmod(days, 7)
    count = whole_weeks * 5 + sum((first + timedelta(n)).weekday() < 5 for n in range(rest))
    if calendar.names_no_day_in(first, last):
        return count
    named = [day for day in calendar.named_days if first <= day <= last]
    return count + sum(calendar.is_working_day(day) - (day.weekday() < 5) for day in named)


def end_of_posting(first: date, needed: int, calendar: WorkCalendar) -> date:
    """Return the first date on which *needed* working days of *calendar* from *first* are complete.

    A period that starts on a day off counts from the next working day. Plain weeks (no day the
    calendar names) are skipped at once, so a long period (or a forged one) costs little more than a short one.
    """
    day = first
    while not calendar.is_working_day(day):  # bounded: at most the calendar's days off and two weekend days
        day += timedelta(days=1)
    if needed <= 1:
        return first if needed <= 0 else day
    rest = needed - 1
    while rest:
        # From a plain weekday, the next seven days hold five working days, the last of them a week on.
        if rest >= 5 and day.weekday() < 5 and calendar.names_no_day_in(day, day + timedelta(days=7)):
            day += timedelta(weeks=1)
            rest -= 5
            continue
        day += timedelta(days=1)
        rest -= calendar.is_working_day(day)
    return day


def after_working_days(day: date, count: int, calendar: WorkCalendar) -> date:
    """Return the *count*-th working day after *day* (*day* itself not counted, Civil Code Art. 201)."""
    return end_of_posting(day + timedelta(days=1), count, calendar)


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
