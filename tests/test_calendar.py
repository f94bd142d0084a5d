"""The official calendar (calendar/<year>.yaml): working days on it, its checks, and `kiosk county calendar`."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import cast

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.demo import DEMO_CONTENT
from sync.contract.content import ContentInvalid, County, load_county
from sync.contract.dates import (
    MONDAY_TO_FRIDAY,
    WorkCalendar,
    after_working_days,
    end_of_posting,
    local_now,
    working_days,
)
from sync.contract.duties import due_after_event, period_of
from sync.contract.kinds import CalendarYear
from sync.contract.official_calendar import Gap, calendar_gaps, calendar_warnings, work_calendar
from tests.county_files import write_county

CHECKED_2026 = """\
year: 2026
notice: 国务院办公厅关于2026年部分节假日安排的通知
checked: true
holidays:
  - {name: 中秋节, first: 2026-09-25, last: 2026-09-27}
  - {name: 国庆节, first: 2026-10-01, last: 2026-10-07}
working_days:
  - {date: 2026-09-20, name: 国庆节}
  - {date: 2026-10-10, name: 国庆节}
"""

POSTED_ON_30_SEPTEMBER = """\
---
id: zhaiji-gongshi
domain: 村务
title: 宅基地申请公示
published: "2026-09-30"
expires: "{expires}"
min_posting_days: 5
---
名单如下。
"""


MADE_2026 = """\
year: 2026
notice: 国务院办公厅关于2026年部分节假日安排的通知
checked: false
source: holidays 0.108
holidays:
  - {name: 元旦, first: 2026-01-01, last: 2026-01-03}  # 3-day holiday
  - {name: 春节, first: 2026-02-15, last: 2026-02-23}  # 9-day holiday
  - {name: 清明节, first: 2026-04-04, last: 2026-04-06}  # 3-day holiday
  - {name: 劳动节, first: 2026-05-01, last: 2026-05-05}  # 5-day holiday
  - {name: 端午节, first: 2026-06-19, last: 2026-06-21}  # 3-day holiday
  - {name: 中秋节, first: 2026-09-25, last: 2026-09-27}  # 3-day holiday
  - {name: 国庆节, first: 2026-10-01, last: 2026-10-07}  # 7-day holiday
working_days:
  - {date: 2026-01-04, name: 元旦}  # Sunday
  - {date: 2026-02-14, name: 春节}  # Saturday
  - {date: 2026-02-28, name: 春节}  # Saturday
  - {date: 2026-05-09, name: 劳动节}  # Saturday
  - {date: 2026-09-20, name: 国庆节}  # Sunday
  - {date: 2026-10-10, name: 国庆节}  # Saturday
"""


@pytest.fixture(name="calendar")
def demo_calendar(demo_county: County) -> WorkCalendar:
    return work_calendar(demo_county.calendar)


def county_with(tmp_path: Path, files: dict[str, str]) -> Path:
    """write_county's county with the files *files* (path -> text) added."""
    root = write_county(tmp_path / "county")
    for path, text in files.items():
        (root / path).parent.mkdir(exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return root


def problems_of(root: Path) -> list[str]:
    with pytest.raises(ContentInvalid) as caught:
        load_county(root)
    return [str(problem) for problem in caught.value.problems]


# -- working days on the calendar --------------------------------------------------------------------


def test_a_notice_published_on_30_september_2026_stays_up_through_12_october(calendar: WorkCalendar) -> None:
    # The case: 10-01 to 10-07 off, Saturday 10-10 worked. 9-30, 10-08, 10-09, 10-10, 10-12.
    assert end_of_posting(date(2026, 9, 30), 5, calendar) == date(2026, 10, 12)
    assert working_days(date(2026, 9, 30), date(2026, 10, 11), calendar) == 4
    assert end_of_posting(date(2026, 9, 30), 5, MONDAY_TO_FRIDAY) == date(2026, 10, 6), "what was counted before"


def test_the_validator_holds_a_notice_up_through_the_holidays(tmp_path: Path) -> None:
    notice = "notices/zhaiji-gongshi.md"
    calendar = {"calendar/2026.yaml": CHECKED_2026}
    early = county_with(tmp_path / "early", {**calendar, notice: POSTED_ON_30_SEPTEMBER.format(expires="2026-10-09")})
    (found,) = problems_of(early)
    assert found.startswith(f"{notice}:6: expires: posted for 3 working days, but its 公示期"), found
    assert "set expires to 2026-10-12 or later" in found
    enough = county_with(tmp_path / "enough", {**calendar, notice: POSTED_ON_30_SEPTEMBER.format(expires="2026-10-12")})
    assert [n["id"] for n in load_county(enough).notices] == ["finance-10", "zhaiji-gongshi"]


def test_a_saturday_make_up_working_day_is_a_working_day(calendar: WorkCalendar) -> None:
    saturday = date(2026, 10, 10)
    assert saturday.weekday() == 5 and calendar.is_working_day(saturday)
    assert not calendar.is_working_day(date(2026, 10, 11)), "the Sunday after stays a day off"
    assert working_days(saturday, saturday, calendar) == 1
    # An event on Friday 10-09 with one working day to disclose it: due the Saturday worked.
    assert after_working_days(date(2026, 10, 9), 1, calendar) == saturday
    assert due_after_event({"within_working_days": 1}, date(2026, 10, 9), calendar=calendar) == saturday
    assert calendar.is_working_day(date(2026, 9, 20)), "a Sunday worked too"


def test_duty_due_dates_skip_the_holidays(calendar: WorkCalendar) -> None:
    quarterly = {"every": "quarter", "due_working_days": 10}
    period = period_of(quarterly, date(2026, 10, 2), calendar=calendar)
    assert period is not None and period.key == "2026-Q3"
    # 10-08, 10-09, 10-10 (worked), 10-12 to 10-16, 10-19, 10-20.
    assert period.due == date(2026, 10, 20)
    assert period_of(quarterly, date(2026, 10, 2), calendar=MONDAY_TO_FRIDAY).due == date(2026, 10, 14)  # type: ignore[union-attr]
    dibao = {"within_working_days": 7}  # 低保名单: 7 working days after the decision
    # 9-30, 10-08, 10-09, 10-10 (worked), 10-12, 10-13, 10-14; Monday to Friday it was 10-09.
    assert due_after_event(dibao, date(2026, 9, 29), calendar=calendar) == date(2026, 10, 14)
    # 2-13, 2-14 (worked), 春节 2-15 to 2-23, 2-24 to 2-27, and Saturday 2-28 (worked).
    assert due_after_event(dibao, date(2026, 2, 12), calendar=calendar) == date(2026, 2, 28)


@pytest.mark.parametrize("start", [date(2025, 12, 1) + timedelta(days=n) for n in range(0, 420, 3)])
def test_a_posting_period_ends_the_day_its_working_days_are_complete(calendar: WorkCalendar, start: date) -> None:
    for needed in range(1, 40):
        ends = end_of_posting(start, needed, calendar)
        assert calendar.is_working_day(ends)
        assert working_days(start, ends, calendar) == needed, (start, needed)
        assert working_days(start, ends - timedelta(days=1), calendar) < needed, (start, needed)


def test_a_long_period_counts_plain_weeks_whole_and_the_holidays_on_its_way(calendar: WorkCalendar) -> None:
    ends = end_of_posting(date(2026, 11, 2), 100_000, calendar)  # a forged 公示期 from a kiosk: plain weeks skipped
    assert working_days(date(2026, 11, 2), ends, calendar) == 100_000 and calendar.is_working_day(ends)
    # 2027's seven statutory days on weekdays (元旦, 除夕, 初三, 清明, 端午, 中秋, 国庆) put it a week and a half later.
    plain = end_of_posting(date(2026, 11, 2), 100_000, MONDAY_TO_FRIDAY)
    assert plain == date(2026, 11, 2) + timedelta(weeks=20_000, days=-3) and ends == plain + timedelta(days=11)


# -- a year not covered --------------------------------------------------------------------------------


def test_a_year_not_covered_is_counted_monday_to_friday_and_flagged(calendar: WorkCalendar) -> None:
    first = date(2028, 9, 29)  # 2028: no file in the demo county
    assert end_of_posting(first, 5, calendar) == end_of_posting(first, 5, MONDAY_TO_FRIDAY) == date(2028, 10, 5)
    assert calendar_gaps(calendar, date(2028, 3, 1)) == [Gap(2028, statutory_only=False)]
    assert calendar_gaps(calendar, date(2026, 5, 1)) == [], "2026 is covered, and 2027 is not needed in May"
    # From October, deadlines run into the next year: 2027's statutory days alone are flagged.
    assert calendar_gaps(calendar, date(2026, 10, 1)) == [Gap(2027, statutory_only=True)]
    assert not calendar.is_working_day(date(2027, 10, 1)), "its statutory holidays still count"


def test_the_validator_warns_of_a_year_not_covered_and_publishes_nothing_less(tmp_path: Path) -> None:
    county = write_county(tmp_path / "county")
    this_year = local_now("Asia/Shanghai").year
    result = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"}).invoke(main, ["county", "validate", str(county)])
    assert result.exit_code == 0, result.output
    assert "ok — 3 villages" in result.output
    assert f"warning: calendar/:1: no official calendar for {this_year}: working days in {this_year} are counted " \
           "Monday to Friday" in result.output  # fmt: skip
    assert f"kiosk county calendar {this_year}" in result.output


def test_warnings_name_a_statutory_only_year_and_an_unchecked_one(demo_county: County) -> None:
    warnings = [str(w) for w in calendar_warnings(demo_county.calendar, date(2026, 11, 20))]
    assert warnings == [
        "calendar/2027.yaml:1: statutory_only: only the statutory holidays of 2027 are known, not the State "
        "Council's arrangement (调休): working days in 2027 are counted Monday to Friday less those days. When "
        "国务院办公厅关于2027年部分节假日安排的通知 is out, make the year again with kiosk county calendar 2027 "
        "and check it against the notice"
    ]
    unchecked = [cast(CalendarYear, {**year, "checked": False}) for year in demo_county.calendar]
    warned = [str(w) for w in calendar_warnings(unchecked, date(2026, 3, 1))]
    assert warned == ["calendar/2026.yaml:1: checked: not yet checked: compare every holiday and make-up working day "
                      "with 国务院办公厅关于2026年部分节假日安排的通知, then set checked: true"]  # fmt: skip


# -- a malformed calendar file ------------------------------------------------------------------------


def test_a_malformed_calendar_is_refused_with_file_and_line(tmp_path: Path) -> None:
    broken = """\
year: 2026
notice: 国务院办公厅关于2026年部分节假日安排的通知
holidays:
  - {name: 国庆节, first: 2026-10-01, last: 2026-10-07}
  - {name: 劳动节, first: 2026-05-05, last: 2026-05-01}
  - {name: 春节, first: 2026-02-30}
  - {name: 元旦, first: 2025-06-01}
working_days:
  - {date: 2026-10-09, name: 国庆节}
  - {date: 2026-10-03, name: 国庆节}
"""
    root = county_with(tmp_path, {"calendar/2026.yaml": broken, "calendar/2027.yaml": "year: 2028\nholidays: []\n"})
    assert problems_of(root) == [
        "calendar/2026.yaml:5: holidays[2].last: 2026-05-01 is before first: 2026-05-05",
        "calendar/2026.yaml:6: holidays[3].first: 2026-02-30 is not a date that exists",
        "calendar/2026.yaml:7: holidays[4].first: 2025-06-01 is not in 2026: each year's file names that year's days "
        "(and those its notice moves across New Year)",
        "calendar/2026.yaml:9: working_days[1].date: 2026-10-09 is a Friday: a make-up working day (调休上班) is a "
        "Saturday or Sunday, a weekday is one already",
        "calendar/2026.yaml:10: working_days[2].date: 2026-10-03 is a make-up working day here, but a day off in "
        "calendar/2026.yaml:4",
        "calendar/2027.yaml:2: holidays: needs at least 1 entries, has 0",
    ]


def test_a_calendar_file_says_what_it_was_checked_against_and_whose_year_it_is(tmp_path: Path) -> None:
    files = {
        "calendar/2026.yaml": "year: 2026\nholidays:\n  - {name: 元旦, first: 2026-01-01}\n",
        "calendar/2027.yaml": "year: 2028\nnotice: 通知\nholidays:\n  - {name: 元旦, first: 2028-01-01}\n",
        "calendar/2029.yaml": "year: 2029\nstatutory_only: true\nholidays:\n  - {name: 元旦, first: 2029-01-01}\n"
                              "working_days:\n  - {date: 2029-01-06}\n",
        "calendar/2030.yaml": "year: 2030\nnotice: 通知\nholidays:\n  - {name: 元旦, first: 2030-01-01}\n",
        "calendar/2031.yaml": "year: 2030\nnotice: 通知\nholidays:\n  - {name: 元旦, first: 2030-01-01}\n"
                              "working_days:\n  - {date: 2029-12-29}\n",
    }  # fmt: skip
    found = problems_of(county_with(tmp_path, files))
    assert found == [
        "calendar/2026.yaml:1: notice: missing: name the notice this year was checked against "
        "(国务院办公厅关于2026年部分节假日安排的通知), or say statutory_only: true while it is not out",
        "calendar/2027.yaml:1: year: year 2028 belongs in calendar/2028.yaml",
        "calendar/2029.yaml:5: working_days: a year with statutory_only: true has no make-up working days: they come "
        "with the State Council's notice; when it is out, give notice: and the working days, and leave out "
        "statutory_only",
        "calendar/2031.yaml:1: year: year 2030 belongs in calendar/2030.yaml",
    ], "a day worked in one file and off in none is no conflict; the same day off twice is none either"


def test_a_day_off_in_one_year_and_worked_in_another_is_refused(tmp_path: Path) -> None:
    files = {
        "calendar/2018.yaml": "year: 2018\nnotice: 通知\nholidays:\n  - {name: 元旦, first: 2018-01-01}\n"
                              "  - {name: 元旦, first: 2018-12-29, last: 2018-12-31}\n",
        "calendar/2019.yaml": "year: 2019\nnotice: 通知\nholidays:\n"
                              "  - {name: 元旦, first: 2018-12-30, last: 2019-01-01}\n"
                              "working_days:\n  - {date: 2018-12-29, name: 元旦}\n",
    }  # fmt: skip
    assert problems_of(county_with(tmp_path, files)) == [
        "calendar/2019.yaml:6: working_days[1].date: 2018-12-29 is a make-up working day here, but a day off in "
        "calendar/2018.yaml:5",
    ]


# -- kiosk county calendar ----------------------------------------------------------------------------


def demo_year(year: int) -> CalendarYear:
    return next(entry for entry in load_county(DEMO_CONTENT).calendar if entry["year"] == year)


def run_calendar(*args: str) -> tuple[int, str]:
    result = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"}).invoke(main, ["county", "calendar", *args])
    return result.exit_code, result.output


def test_the_command_writes_2026_as_the_state_council_set_it(tmp_path: Path) -> None:
    county = write_county(tmp_path / "county")
    code, output = run_calendar("2026", "--into", str(county))
    assert code == 0, output
    written = county / "calendar" / "2026.yaml"
    assert output.startswith(f"Wrote {written}:\n  元旦: 2026-01-01 (Thursday) to 2026-01-03 (Saturday), 3 days off\n")
    assert "  国庆节: 2026-10-01 (Thursday) to 2026-10-07 (Wednesday), 7 days off\n" in output
    assert "  worked: 2026-10-10 (Saturday), for 国庆节\n" in output
    assert "Check it against 国务院办公厅关于2026年部分节假日安排的通知" in output and "set checked: true" in output
    text = written.read_text(encoding="utf-8")
    body = text.partition("\n# ")[2].partition("\n")[2]  # below the comments
    assert body == MADE_2026
    made = load_county(county)
    assert made.calendar[0]["year"] == 2026 and not made.calendar[0]["checked"]
    assert end_of_posting(date(2026, 9, 30), 5, work_calendar(made.calendar)) == date(2026, 10, 12)
    assert demo_year(2026) == {**made.calendar[0], "checked": True}, "the demo's 2026 is the command's, checked"


def test_the_command_refuses_a_file_already_there_and_years_it_does_not_know(tmp_path: Path) -> None:
    county = write_county(tmp_path / "county")
    assert run_calendar("2026", "--into", str(county))[0] == 0
    (county / "calendar" / "2026.yaml").write_text("corrected by hand\n", encoding="utf-8")
    code, output = run_calendar("2026", "--into", str(county))
    assert code == 1 and f"Error: {county / 'calendar' / '2026.yaml'} is there already" in output
    assert (county / "calendar" / "2026.yaml").read_text(encoding="utf-8") == "corrected by hand\n", "untouched"

    code, output = run_calendar("2200", "--into", str(county))
    assert code == 1 and "the holidays package knows no year 2200: it knows 1950 to 2100" in output
    code, output = run_calendar("2027", "--into", str(county))
    assert code == 1, output
    assert "does not have 国务院办公厅关于2027年部分节假日安排的通知" in output and "--statutory-only" in output
    assert not (county / "calendar" / "2027.yaml").exists()


def test_a_year_without_its_notice_is_written_with_its_statutory_days_only_and_flagged(tmp_path: Path) -> None:
    county = write_county(tmp_path / "county")
    code, output = run_calendar("2027", "--into", str(county), "--statutory-only")
    assert code == 0, output
    assert "  元旦: 2027-01-01 (Friday)\n" in output
    assert "  国庆节: 2027-10-01 (Friday) to 2027-10-03 (Sunday)" in output
    assert "worked" not in output and "Only the holidays the law fixes" in output
    (year,) = load_county(county).calendar
    assert year["statutory_only"] and "working_days" not in year
    assert [h["name"] for h in year["holidays"]] == ["元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"]
    assert demo_year(2027) == year, "the demo's 2027 is the command's"


def test_the_command_writes_into_a_new_calendar_folder_of_the_current_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = run_calendar("2025")
    assert code == 0, output
    assert "国庆节、中秋节: 2025-10-01 (Wednesday) to 2025-10-08 (Wednesday), 8 days off" in output
    assert (tmp_path / "calendar" / "2025.yaml").is_file()


def test_kiosks_never_import_the_holidays_package() -> None:
    code = ("import sys; import kiosk.cli, kiosk.screens, kiosk.staff, kiosk.device.nightly, kiosk.device.reporting; "
            "from kiosk.cli import main; print('holidays' in sys.modules)")  # fmt: skip
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert found.stdout.strip() == "False", "only `kiosk county calendar` imports it, when it runs"
