"""Disclosure duties (公开事项清单): which period a disclosure covers, when it is due, and where it stands.

A duty comes from the county's duties.yaml (content/schema/duties.schema.json) and has one schedule:

- periodic, ``every: month | quarter | half-year | year`` with ``due_day: N`` (the disclosure for a
  period is due by day N of the first month after the period ends: 财务收支 monthly by the 10th
  gives October's figures by 10 November) or ``due_working_days: N`` (N working days after the
  period ends);
- after an event, ``within_working_days: N`` (低保对象名单 within 7 working days of the decision):
  no fixed period; the events themselves are recorded by the village, not in county content.

A duty may say ``since: YYYY-MM-DD``: periods that ended before that day are not owed. Nor are
periods due before the kiosk was first installed: nothing about them could be recorded on it.
A notice may name what it discloses (``duty: <id>`` and ``period: 2026-10`` in its front matter).

Every date here is a date in the county's local time (``sync.contract.dates.local_now(timezone).date()``);
nothing here reads the clock. Working days are those of the official calendar each function is given
(``calendar``, a ``sync.contract.dates.WorkCalendar``: holidays and make-up working days from the
county's calendar/, Monday to Friday in a year it does not cover). A ``due_day`` is a calendar day and
is not moved when it falls on a weekend or a holiday.

Counting follows the usual rule for time limits (Civil Code Art. 201): the day of the event, or
the last day of the period, is not counted; the first working day after it is day 1.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from sync.contract.dates import MONDAY_TO_FRIDAY, WorkCalendar, after_working_days
from sync.contract.i18n import tr

Status = Literal["done", "due", "overdue"]

MONTHS_IN = {"month": 1, "quarter": 3, "half-year": 6, "year": 12}  # the values of `every:`


@dataclass(frozen=True)
class Period:
    """One reporting period of a periodic duty, and the day its disclosure is due.

    ``key`` is stable ('2026-10', '2026-Q3', '2026-H2', '2026') so that a village's records of
    what it disclosed can name the period; ``label`` is for people, in the active language.
    """

    key: str
    label: str
    start: date
    end: date
    due: date


def schedule_problem(duty: Mapping[str, Any]) -> tuple[str, str] | None:
    """Return (field, message) saying why a duty's schedule is not exactly one schedule, or None.

    *field* is '' when the problem is the duty as a whole. The schema has already checked each
    field's own value.
    """
    periodic, after_event = "every" in duty, "within_working_days" in duty
    due_fields = [name for name in ("due_day", "due_working_days") if name in duty]
    if periodic and after_event:
        return "within_working_days", tr("give every: or within_working_days:, not both")
    if after_event:
        if due_fields:
            return due_fields[0], tr(
                "%(field)s is for a periodic duty (with every:); a duty due within_working_days of an event has none",
                field=due_fields[0],
            )
        return None
    if not periodic:
        if due_fields:
            return "every", tr("missing: %(field)s needs every: month, quarter, half-year or year", field=due_fields[0])
        return "", tr(
            "no schedule: give every: with due_day: for a periodic disclosure, "
            "or within_working_days: for a disclosure after an event"
        )
    if not due_fields:
        return "every", tr(
            "say when each period's disclosure is due: add due_day: (a day of the month after the period) "
            "or due_working_days:"
        )
    if len(due_fields) > 1:
        return "due_working_days", tr("give due_day or due_working_days, not both")
    return None


def since_problem(duty: Mapping[str, Any]) -> str | None:
    """Return why a duty's ``since:`` is not a date that exists, or None (the schema checked its form)."""
    if "since" not in duty:
        return None
    try:
        date.fromisoformat(duty["since"])
    except ValueError:
        return tr("%(date)s is not a date that exists", date=duty["since"])
    return None


def notice_duty_problem(notice: Mapping[str, Any]) -> tuple[str, str] | None:
    """Return (field, message) when a notice names a duty without a period (or the reverse) or a wrong period."""
    if ("duty" in notice) != ("period" in notice):
        missing = "period" if "duty" in notice else "duty"
        return missing, tr(
            "missing: a notice that names what it discloses gives both duty: and period: (such as 2026-10)"
        )
    if "period" in notice and label_of(notice["period"]) is None:
        return "period", tr(
            "%(period)s is not a period: write 2026-10 (a month), 2026-Q3, 2026-H2 or 2026", period=notice["period"]
        )
    return None


def period_problem(duty: Mapping[str, Any], key: str) -> str | None:
    """Return why *key* (a notice's ``period:``, already a period) is not one of *duty*'s periods, or None."""
    if not is_periodic(duty):
        return tr("duty %(id)s follows events and has no periods: leave out duty: and period:", id=duty["id"])
    example = period_of(duty, date(2026, 11, 11), calendar=MONDAY_TO_FRIDAY)  # only its key is wanted
    if example is not None and _KEY.match(key) and _kind_of(key) != duty["every"]:
        return tr("%(period)s is not a period of duty %(id)s: write its periods as %(example)s",
                  period=key, id=duty["id"], example=example.key)  # fmt: skip
    return None


def _kind_of(key: str) -> str:
    return "quarter" if "-Q" in key else "half-year" if "-H" in key else "month" if "-" in key else "year"


def is_periodic(duty: Mapping[str, Any]) -> bool:
    """Tell whether *duty* recurs every period (True) or follows events (False)."""
    return duty.get("every") is not None


def _first_of_month(year: int, month: int) -> date:
    """Return the first day of *month* of *year*, where *month* may run past 12 or below 1."""
    years, month_index = divmod(month - 1, 12)
    return date(year + years, month_index + 1, 1)


def _month_name(number: int, tr: Callable[..., str]) -> str:
    names = (
        tr("January"), tr("February"), tr("March"), tr("April"), tr("May"), tr("June"),
        tr("July"), tr("August"), tr("September"), tr("October"), tr("November"), tr("December"),
    )  # fmt: skip
    return names[number - 1]


def _label(every: str, year: int, number: int, tr: Callable[..., str] = tr) -> str:
    # The parameter is named tr so that the catalogue's extraction (pybabel -k tr) finds these messages.
    if every == "month":
        return tr("%(month_name)s %(year)s", month_name=_month_name(number, tr), year=year)
    if every == "quarter":
        return tr("Q%(quarter)s %(year)s", quarter=number, year=year)
    if every == "half-year":
        if number == 1:
            return tr("first half of %(year)s", year=year)
        return tr("second half of %(year)s", year=year)
    return tr("the year %(year)s", year=year)


_KEY = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4])|-H([12]))?$")


def label_of(key: str, translate: Callable[..., str] = tr) -> str | None:
    """Return the name people use for the period *key* ('2026-10', '2026-Q3', '2026-H2', '2026'), or None."""
    found = _KEY.match(key)
    if found is None:
        return None
    year, month, quarter, half = found.groups()
    if month:
        return _label("month", int(year), int(month), translate)
    if quarter:
        return _label("quarter", int(year), int(quarter), translate)
    if half:
        return _label("half-year", int(year), int(half), translate)
    return _label("year", int(year), 1, translate)


def _key(every: str, year: int, number: int) -> str:
    if every == "month":
        return f"{year}-{number:02d}"
    if every == "quarter":
        return f"{year}-Q{number}"
    if every == "half-year":
        return f"{year}-H{number}"
    return str(year)


def _period_starting(duty: Mapping[str, Any], start: date, calendar: WorkCalendar) -> Period:
    """Return the period of *duty* that starts on *start* (the first day of its first month)."""
    every = duty["every"]
    months = MONTHS_IN[every]
    after = _first_of_month(start.year, start.month + months)  # first day of the first month after
    end = after - timedelta(days=1)
    if duty.get("due_working_days") is not None:
        due = after_working_days(end, duty["due_working_days"], calendar)
    else:
        due = after.replace(day=duty["due_day"])
    number = (start.month - 1) // months + 1
    return Period(_key(every, start.year, number), _label(every, start.year, number), start, end, due)


def period_of(duty: Mapping[str, Any], day: date, *, calendar: WorkCalendar) -> Period | None:
    """Return the period whose disclosure is being prepared on *day*, or None for an event-driven duty.

    That is the most recent period that has ended before *day*: on 5 or 11 November a monthly duty
    is about October (due 10 November, overdue from the 11th unless done); on 31 October it is
    still about September. *duty* is a duty as in ``County.duties`` or a row of the duties table.
    """
    if not is_periodic(duty):
        return None
    months = MONTHS_IN[duty["every"]]
    current_first_month = (day.month - 1) // months * months + 1
    return _period_starting(duty, _first_of_month(day.year, current_first_month - months), calendar)


def is_owed(duty: Mapping[str, Any], period: Period, installed: date | None = None) -> bool:
    """Tell whether the village owes *period*'s disclosure: not when the period ended before the
    duty's ``since:``, nor when it was due before the kiosk was *installed*."""
    since = duty.get("since")
    if since and period.end < date.fromisoformat(since):
        return False
    return installed is None or period.due >= installed


def recent_periods(
    duty: Mapping[str, Any], day: date, count: int, installed: date | None = None, *, calendar: WorkCalendar
) -> list[Period]:
    """Return the owed periods among the last *count* that ended before *day*, newest first (see is_owed).

    A village that missed a period still sees it after the next one begins.
    """
    latest = period_of(duty, day, calendar=calendar)
    if latest is None:
        return []
    months = MONTHS_IN[duty["every"]]
    periods = [
        _period_starting(duty, _first_of_month(latest.start.year, latest.start.month - n * months), calendar)
        for n in range(count)
    ]
    return [period for period in periods if is_owed(duty, period, installed)]


def next_period(duty: Mapping[str, Any], day: date, *, calendar: WorkCalendar) -> Period | None:
    """Return the period running on *day* (its disclosure comes after it ends), or None for an event-driven duty."""
    latest = period_of(duty, day, calendar=calendar)
    if latest is None:
        return None
    return _period_starting(duty, latest.end + timedelta(days=1), calendar)


def period_status(period: Period, day: date, fulfilled: Collection[str]) -> Status:
    """Return 'done' when *period*'s key is in *fulfilled*, else 'due' up to its due day, then 'overdue'."""
    if period.key in fulfilled:
        return "done"
    return "due" if day <= period.due else "overdue"


def status(duty: Mapping[str, Any], day: date, fulfilled: Collection[str], *, calendar: WorkCalendar) -> Status:
    """Return where a periodic *duty* stands on *day* for its current period (see period_of).

    :param fulfilled: keys of the periods the village has disclosed ('2026-10', '2026-Q3', ...).
    :raises ValueError: for an event-driven duty, which has no period: use event_status.
    """
    period = period_of(duty, day, calendar=calendar)
    if period is None:
        raise ValueError(f"duty {duty.get('id')!r} follows events, it has no period")
    return period_status(period, day, fulfilled)


def due_after_event(duty: Mapping[str, Any], event_day: date, *, calendar: WorkCalendar) -> date:
    """Return the last day to disclose an event of *duty* that happened on *event_day*.

    :raises ValueError: for a periodic duty, whose due days come from its periods.
    """
    within = duty.get("within_working_days")
    if within is None:
        raise ValueError(f"duty {duty.get('id')!r} is periodic, it has no within_working_days")
    return after_working_days(event_day, int(within), calendar)


def event_status(
    duty: Mapping[str, Any], event_day: date, day: date, fulfilled: bool, *, calendar: WorkCalendar
) -> Status:
    """Return where the disclosure of one event (on *event_day*) stands on *day*."""
    if fulfilled:
        return "done"
    return "due" if day <= due_after_event(duty, event_day, calendar=calendar) else "overdue"


def _day_of_month(day: int, tr: Callable[..., str]) -> str:
    """Return *day* as people write a day of the month: 10th, 21st (English); 10日, 21日 (Chinese)."""
    if 10 <= day % 100 <= 20 or day % 10 not in (1, 2, 3):
        return tr("%(day)sth", day=day)
    if day % 10 == 1:
        return tr("%(day)sst", day=day)
    return tr("%(day)snd", day=day) if day % 10 == 2 else tr("%(day)srd", day=day)


def rule_text(duty: Mapping[str, Any], tr: Callable[..., str] = tr) -> str:
    """Return *duty*'s schedule as one sentence: 每月，次月10日前 / every month, by the 10th of the next month."""
    # The parameter is named tr so that the catalogue's extraction (pybabel -k tr) finds these messages.
    every, within = duty.get("every"), duty.get("within_working_days")
    if every is None:
        return tr("within %(days)s working days of the event", days=within)
    days, day = duty.get("due_working_days"), int(duty.get("due_day") or 0)
    if days is not None:
        if every == "month":
            return tr("every month, within %(days)s working days after the month ends", days=days)
        if every == "quarter":
            return tr("every quarter, within %(days)s working days after the quarter ends", days=days)
        if every == "half-year":
            return tr("every half year, within %(days)s working days after the half year ends", days=days)
        return tr("every year, within %(days)s working days after the year ends", days=days)
    nth = _day_of_month(day, tr)
    if every == "month":
        return tr("every month, by the %(nth)s of the next month", nth=nth)
    if every == "quarter":
        return tr("every quarter, by the %(nth)s of the month after the quarter", nth=nth)
    if every == "half-year":
        return tr("every half year, by the %(nth)s of the month after the half year", nth=nth)
    return tr("every year, by %(day)s January of the next year", day=day)
