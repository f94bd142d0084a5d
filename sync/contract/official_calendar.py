"""The official calendar as county content: calendar/<year>.yaml read and checked, and what it leaves uncovered.

Each file holds one year's days off (放假) and make-up working days (调休上班) as the State Council's
notice (国务院办公厅关于<year>年部分节假日安排的通知) sets them (content/schema/calendar.schema.json);
`kiosk county calendar YEAR` makes one from the holidays package (sync/authoring/calendar_package.py).
``work_calendar`` turns the years into the WorkCalendar every working-day count takes
(sync/contract/dates.py); the county and each kiosk build it from the same data.

A year the calendar does not cover is counted Monday to Friday. The years that matter on a day are
that day's and the one CALENDAR_AHEAD reaches (deadlines counted now run into it): a gap among them
is a warning for the county (``calendar_warnings``), a flag on its dashboard and a note in the staff
console (``calendar_gaps``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, cast

from sync.contract.dates import WorkCalendar
from sync.contract.i18n import tr
from sync.contract.kinds import CalendarYear

if TYPE_CHECKING:  # reading and checking the files; a kiosk counting working days never loads jsonschema and yaml
    from sync.contract.checks import FolderReader, Where
    from sync.contract.schemas import Problem
    from sync.contract.source import SourceFile

CALENDAR_AHEAD = timedelta(days=92)  # from October on, deadlines counted today can end in the next year
LONGEST_HOLIDAY = 31  # days: longer is a typing mistake (the longest so far, 春节 2020 as extended, ran 10)


def notice_title(year: int) -> str:
    """The title of the State Council's notice that sets *year*'s holidays."""
    return f"国务院办公厅关于{year}年部分节假日安排的通知"


def holiday_days(holiday: Mapping[str, Any]) -> list[date]:
    """Every day of a checked holiday entry, from its first to its last."""
    first = date.fromisoformat(holiday["first"])
    last = date.fromisoformat(holiday.get("last") or holiday["first"])
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def work_calendar(years: Iterable[Mapping[str, Any]]) -> WorkCalendar:
    """The WorkCalendar of checked calendar years (as load_county gives them, or as a kiosk installed them)."""
    off: set[date] = set()
    working: set[date] = set()
    official: set[int] = set()
    statutory: set[int] = set()
    for entry in years:
        for holiday in entry["holidays"]:
            off.update(holiday_days(holiday))
        working.update(date.fromisoformat(day["date"]) for day in entry.get("working_days", []))
        (statutory if entry.get("statutory_only") else official).add(int(entry["year"]))
    return WorkCalendar(frozenset(off), frozenset(working), frozenset(official), frozenset(statutory))


def weekday_name(day: date) -> str:
    """The name of *day*'s day of the week, in the active language."""
    names = (tr("Monday"), tr("Tuesday"), tr("Wednesday"), tr("Thursday"), tr("Friday"), tr("Saturday"),
             tr("Sunday"))  # fmt: skip
    return names[day.weekday()]


class _YearReader:
    """Checks the days of one calendar file, and each day against the files read before it."""

    def __init__(self, reader: FolderReader, seen: dict[date, tuple[bool, str]]) -> None:
        self.reader, self.seen = reader, seen

    def day(self, source: SourceFile, where: Where, text: str) -> date | None:
        """The date *text* at *where*, or None (its problem told) when it does not exist or is not the file's year's."""
        year = source.data["year"]
        try:
            day = date.fromisoformat(text)
        except ValueError:
            self.reader.problem(source, where, tr("%(date)s is not a date that exists", date=text))
            return None
        # A notice may move days across New Year (2019's 元旦 ran from 2018-12-30): a month either side is its own.
        if not date(year - 1, 12, 1) <= day <= date(year + 1, 1, 31):
            self.reader.problem(source, where, tr(
                "%(date)s is not in %(year)s: each year's file names that year's days (and those its notice moves "
                "across New Year)", date=text, year=year))  # fmt: skip
            return None
        return day

    def mark(self, source: SourceFile, where: Where, day: date, working: bool) -> None:
        """Note *day* as a working day or a day off, telling when another entry said the opposite."""
        place = f"{source.path}:{source.line_of(where)}"
        earlier = self.seen.setdefault(day, (working, place))
        if earlier[0] != working:
            message = (tr("%(date)s is a make-up working day here, but a day off in %(place)s", date=day.isoformat(),
                          place=earlier[1]) if working else
                       tr("%(date)s is a day off here, but a make-up working day in %(place)s", date=day.isoformat(),
                          place=earlier[1]))  # fmt: skip
            self.reader.problem(source, where, message)


def _check_year(check: _YearReader, source: SourceFile) -> None:
    data, reader = source.data, check.reader
    year = data["year"]
    if source.path != f"calendar/{year}.yaml":
        reader.problem(source, ("year",), tr("year %(year)s belongs in calendar/%(year)s.yaml", year=year))
    if data.get("statutory_only"):
        if data.get("working_days"):
            reader.problem(source, ("working_days",), tr(
                "a year with statutory_only: true has no make-up working days: they come with the State Council's "
                "notice; when it is out, give notice: and the working days, and leave out statutory_only"))  # fmt: skip
    elif not data.get("notice"):
        reader.problem(source, ("notice",), tr(
            "missing: name the notice this year was checked against (%(title)s), or say statutory_only: true while "
            "it is not out", title=notice_title(year)))  # fmt: skip
    for n, holiday in enumerate(data["holidays"]):
        first = check.day(source, ("holidays", n, "first"), holiday["first"])
        last = check.day(source, ("holidays", n, "last"), holiday["last"]) if "last" in holiday else first
        if first is None or last is None:
            continue
        if last < first:
            before = tr("%(last)s is before first: %(first)s", last=holiday["last"], first=holiday["first"])
            reader.problem(source, ("holidays", n, "last"), before)
        elif (last - first).days >= LONGEST_HOLIDAY:
            reader.problem(source, ("holidays", n, "last"), tr(
                "a holiday of %(days)s days: check first and last (a holiday is at most %(most)s days)",
                days=(last - first).days + 1, most=LONGEST_HOLIDAY))  # fmt: skip
        else:
            for day in holiday_days(holiday):
                check.mark(source, ("holidays", n), day, working=False)
    for n, entry in enumerate(data.get("working_days", [])):
        where = ("working_days", n, "date")
        worked = check.day(source, where, entry["date"])
        if worked is not None and worked.weekday() < 5:
            reader.problem(source, where, tr(
                "%(date)s is a %(weekday)s: a make-up working day (调休上班) is a Saturday or Sunday, a weekday is one "
                "already", date=entry["date"], weekday=weekday_name(worked)))  # fmt: skip
        elif worked is not None:
            check.mark(source, where, worked, working=True)


def county_calendar(reader: FolderReader) -> list[CalendarYear]:
    """Read and check every year of calendar/ (none is an empty calendar: every year counted Monday to Friday).

    A year with a problem is told to *reader* and left out, so what is returned makes a WorkCalendar.
    """
    check = _YearReader(reader, {})
    years: list[CalendarYear] = []
    for source in reader.read_folder("calendar", ".yaml", "calendar"):
        before = len(reader.problems)
        _check_year(check, source)
        if len(reader.problems) == before:
            years.append(cast(CalendarYear, source.data))
    return sorted(years, key=lambda entry: entry["year"])


@dataclass(frozen=True)
class Gap:
    """A year that working days are counted in now and that the calendar does not cover."""

    year: int
    statutory_only: bool  # its file holds only the holidays the law fixes


def needed_years(today: date) -> list[int]:
    """The years deadlines counted on *today* fall in: its own, and the next from October on."""
    return sorted({today.year, (today + CALENDAR_AHEAD).year})


def calendar_gaps(calendar: WorkCalendar, today: date) -> list[Gap]:
    """The years needed on *today* (needed_years) that *calendar* does not cover."""
    return [Gap(year, year in calendar.statutory_only) for year in needed_years(today) if year not in calendar.years]


def calendar_warnings(years: list[CalendarYear], today: date) -> list[Problem]:
    """What the county should know of its calendar on *today*: a needed year not covered, a year not yet checked."""
    from sync.contract.schemas import Problem

    warnings = []
    for gap in calendar_gaps(work_calendar(years), today):
        if gap.statutory_only:
            warnings.append(Problem(f"calendar/{gap.year}.yaml", 1, "statutory_only", tr(
                "only the statutory holidays of %(year)s are known, not the State Council's arrangement (调休): "
                "working days in %(year)s are counted Monday to Friday less those days. When %(title)s is out, "
                "make the year again with kiosk county calendar %(year)s and check it against the notice",
                year=gap.year, title=notice_title(gap.year))))  # fmt: skip
        else:
            warnings.append(Problem("calendar/", 1, "", tr(
                "no official calendar for %(year)s: working days in %(year)s are counted Monday to Friday, holidays "
                "and make-up working days ignored. Make it with kiosk county calendar %(year)s and check it against "
                "%(title)s", year=gap.year, title=notice_title(gap.year))))  # fmt: skip
    for entry in years:
        if not entry.get("statutory_only") and not entry.get("checked") and entry["year"] >= today.year:
            warnings.append(Problem(f"calendar/{entry['year']}.yaml", 1, "checked", tr(
                "not yet checked: compare every holiday and make-up working day with %(title)s, then set checked: "
                "true", title=notice_title(entry["year"]))))  # fmt: skip
    return warnings
