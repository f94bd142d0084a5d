"""`kiosk county calendar YEAR`: one year's official calendar from the holidays package, for the county to check.

The package (pypi ``holidays``) records China's statutory holidays and, for each year whose State Council
notice it has, the notice's days off and make-up working days (调休). Its days are grouped here as the
notice writes them: a holiday runs over the weekend days next to it (2026's 国庆节 is 10-01 to 10-07),
and each make-up working day is named after the holiday it pays for. A year whose notice the package
does not have yet is refused, or written with its statutory days only (``statutory_only``), which the
county's validator then flags. Only the county runs this: kiosks never import the package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sync.contract.files import atomic_write
from sync.contract.i18n import tr
from sync.contract.official_calendar import notice_title, weekday_name

_SUBSTITUTED = re.compile(r"(\d{4}-\d{2}-\d{2})")  # the worked day in the package's 休息日（由 2026-01-04 调休）
_OBSERVED = "（补假）"  # the package's mark of a statutory day moved off a weekend


class CalendarUnavailable(Exception):
    """The year cannot be written: the package does not know it, or its file is there already."""


@dataclass
class Run:
    """Consecutive days off, as the notice gives them."""

    first: date
    last: date
    names: list[str] = field(default_factory=list)  # the festivals in it, in order


@dataclass
class MadeYear:
    """One year as written: its holidays, its make-up working days (date, the holiday's name), and its file's text."""

    year: int
    statutory_only: bool
    runs: list[Run]
    working: list[tuple[date, str]]
    text: str = ""


def _package() -> Any:
    """The holidays package, imported here only: the county's command needs it, a kiosk never does."""
    try:
        import holidays
    except ImportError as error:
        raise CalendarUnavailable(tr("the holidays package is not installed: pip install holidays")) from error
    return holidays


def _festival(name: str) -> str | None:
    """The festival a package name gives (春节 for 农历除夕, 元旦 for 元旦（补假）); None for a substituted day off."""
    if "调休" in name:
        return None
    name = name.replace(_OBSERVED, "")
    return "春节" if name == "农历除夕" else name


def _festivals(name: str) -> list[str]:
    """The festivals a package day's name gives (two on one day: 2028-10-03 is 中秋节; 国庆节)."""
    return [festival for part in name.split("; ") if (festival := _festival(part))]


def _named(days: dict[date, str], first: date, last: date) -> list[str]:
    names: list[str] = []
    for day in sorted(d for d in days if first <= d <= last):
        names += [festival for festival in _festivals(days[day]) if festival not in names]
    return names


def _runs(days: dict[date, str], working: set[date], year: int, with_weekends: bool) -> list[Run]:
    """Group the package's days off into the holidays of *year*; with the weekend days between and beside them
    when the year is the notice's (the notice counts them), else the statutory days alone."""
    runs: list[Run] = []
    day, end = date(year - 1, 12, 1), date(year + 1, 1, 31)
    while day <= end:
        if day not in days:
            day += timedelta(days=1)
            continue
        first = last = day
        if with_weekends:
            while (before := first - timedelta(days=1)).weekday() >= 5 and before not in working:
                first = before
        while (after := last + timedelta(days=1)) in days or (with_weekends and after.weekday() >= 5
                                                             and after not in working):  # fmt: skip
            last = after
        names = _named(days, first, last)
        own = [d for d in days if first <= d <= last and d.year == year and _festivals(days[d])]
        if own:  # a holiday whose festival falls in another year is that year's notice's
            runs.append(Run(first, last, names))
        day = last + timedelta(days=1)
    return runs


def _working_days(days: dict[date, str], working: set[date], runs: list[Run], year: int) -> list[tuple[date, str]]:
    """The make-up working days of *year*'s holidays, each named after the holiday whose day off it pays for."""
    paid_for: dict[date, date] = {}
    for day, name in days.items():
        if found := _SUBSTITUTED.search(name) if "调休" in name else None:
            paid_for[date.fromisoformat(found.group(1))] = day
    made = []
    for worked in sorted(working):
        off = paid_for.get(worked)
        run = next((r for r in runs if off is not None and r.first <= off <= r.last), None)
        if run is None and worked.year == year and off is None:
            run = min(runs, key=lambda r: min(abs((r.first - worked).days), abs((r.last - worked).days)), default=None)
        if run is not None:
            made.append((worked, "、".join(run.names)))
    return made


def make_year(year: int, statutory_only: bool = False) -> MadeYear:
    """Make *year*'s calendar from the package.

    :raises CalendarUnavailable: for a year outside the package's, or one whose notice it does not have
        (unless *statutory_only*).
    """
    holidays = _package()
    china = holidays.China
    if not china.start_year <= year <= china.end_year:
        raise CalendarUnavailable(tr("the holidays package knows no year %(year)s: it knows %(first)s to %(last)s",
                                     year=year, first=china.start_year, last=china.end_year))  # fmt: skip
    from holidays.countries.china import ChinaStaticHolidays

    noticed = year in ChinaStaticHolidays.special_public_holidays  # the years whose notice it records
    if not noticed and not statutory_only:
        raise CalendarUnavailable(tr(
            "the holidays package (%(version)s) does not have %(title)s: update it (pip install -U holidays) once the "
            "notice is out, or write calendar/%(year)s.yaml from the notice by hand. --statutory-only writes the "
            "holidays the law fixes now, flagged as not the official schedule", version=holidays.__version__,
            title=notice_title(year), year=year))  # fmt: skip
    statutory_only = statutory_only or not noticed
    found = china(years=range(year - 1, year + 2), language="zh_CN", observed=not statutory_only)
    days: dict[date, str] = dict(found.items())
    working = set() if statutory_only else {d for d in found.weekend_workdays if year - 1 <= d.year <= year + 1}
    runs = _runs(days, working, year, with_weekends=not statutory_only)
    made = MadeYear(year, statutory_only, runs, [] if statutory_only else _working_days(days, working, runs, year))
    made.text = _yaml(made, f"holidays {holidays.__version__}")
    return made


def _yaml(made: MadeYear, source: str) -> str:
    """The file's text: fields in the schema's order, a comment with what to check, each day with its weekday."""
    year = made.year
    lines = [tr("# The official calendar of %(year)s, made by kiosk county calendar %(year)s from %(source)s.",
                year=year, source=source)]  # fmt: skip
    if made.statutory_only:
        lines += [tr("# Only the holidays the law fixes: %(title)s is not in the package yet. Make the year again "
                     "when it is.", title=notice_title(year)), f"year: {year}", "statutory_only: true"]  # fmt: skip
    else:
        lines += [tr("# Check every holiday and make-up working day against %(title)s, then set checked: true.",
                     title=notice_title(year)), f"year: {year}", f"notice: {notice_title(year)}",
                  "checked: false"]  # fmt: skip
    lines += [f"source: {source}", "holidays:"]
    for run in made.runs:
        days = (run.last - run.first).days + 1
        last = f", last: {run.last.isoformat()}" if run.last != run.first else ""
        count = tr("%(count)s-day holiday", count=days)
        lines.append(f"  - {{name: {'、'.join(run.names)}, first: {run.first.isoformat()}{last}}}  # {count}")
    if made.working:
        lines.append("working_days:")
        lines += [f"  - {{date: {day.isoformat()}, name: {name}}}  # {weekday_name(day)}" for day, name in made.working]
    return "\n".join(lines) + "\n"


def write_year(content_dir: Path, made: MadeYear) -> Path:
    """Write *made* as calendar/<year>.yaml of *content_dir*; return the file.

    :raises CalendarUnavailable: when the file is there already (it may have been checked and corrected).
    """
    file = content_dir / "calendar" / f"{made.year}.yaml"
    if file.exists():
        raise CalendarUnavailable(tr(
            "%(file)s is there already, and may have been checked and corrected by hand: compare it with the "
            "notice, or move it away and run the command again", file=file))  # fmt: skip
    file.parent.mkdir(exist_ok=True)
    atomic_write(file, made.text.encode())
    return file
