"""Disclosure duties (公开事项清单): checked county content, period and deadline arithmetic, and sync."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sync.contract.channel import county_from_items
from sync.contract.content import ContentInvalid, County, load_county
from sync.contract.dates import MONDAY_TO_FRIDAY as WEEKDAYS  # ordinary weeks: no holiday near these dates
from sync.contract.duties import (
    due_after_event,
    event_status,
    period_of,
    recent_periods,
    status,
)
from sync.contract.i18n import use_language
from sync.contract.snapshot import village_snapshot
from sync.publish.bundle import build_bundles
from sync.receive.install import current_database, install_snapshot
from sync.receive.updater import init_kiosk, sync_kiosk
from tests.county_files import write_county
from tests.county_repo import CountyRepo

DUTIES = """\
duties:
  - id: caiwu
    title: 财务收支情况公开
    domain: 财务
    every: month
    due_day: 10
  - id: dibao
    title: 低保对象名单公示
    domain: 村务
    village: apple
    within_working_days: 7
"""

MONTHLY = {"id": "caiwu", "every": "month", "due_day": 10}
QUARTERLY = {"id": "cunwu", "every": "quarter", "due_day": 20}
HALF_YEARLY = {"id": "butie", "every": "half-year", "due_day": 15}
YEARLY = {"id": "fenpei", "every": "year", "due_day": 28}
DIBAO = {"id": "dibao", "within_working_days": 7}


@pytest.fixture(name="county")
def county_folder(tmp_path: Path) -> Path:
    root = write_county(tmp_path / "county")
    (root / "duties.yaml").write_text(DUTIES, encoding="utf-8")
    return root


def problems_with(county: Path, old: str, new: str) -> list[str]:
    file = county / "duties.yaml"
    text = file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in duties.yaml"
    file.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ContentInvalid) as caught:
        load_county(county)
    return [str(p) for p in caught.value.problems]


# -- the content file ------------------------------------------------------------------------------


def test_duties_load_with_their_scope(county: Path) -> None:
    caiwu, dibao = load_county(county).duties
    assert caiwu == {"id": "caiwu", "title": "财务收支情况公开", "domain": "财务", "every": "month", "due_day": 10,
                     "scope": "county"}  # fmt: skip
    assert dibao["within_working_days"] == 7 and dibao["scope"] == "village:apple" and "village" not in dibao


def test_duties_file_is_optional(tmp_path: Path) -> None:
    assert load_county(write_county(tmp_path / "county")).duties == []


def test_a_duty_without_a_schedule(county: Path) -> None:
    assert problems_with(county, "    every: month\n    due_day: 10\n", "") == [
        "duties.yaml:2: duties[1]: no schedule: give every: with due_day: for a periodic disclosure, "
        "or within_working_days: for a disclosure after an event"
    ]


def test_a_duty_with_both_schedules(county: Path) -> None:
    assert problems_with(county, "    due_day: 10\n", "    due_day: 10\n    within_working_days: 3\n") == [
        "duties.yaml:7: duties[1].within_working_days: give every: or within_working_days:, not both"
    ]


def test_a_periodic_duty_says_when_it_is_due(county: Path) -> None:
    assert problems_with(county, "    due_day: 10\n", "") == [
        "duties.yaml:5: duties[1].every: say when each period's disclosure is due: add due_day: "
        "(a day of the month after the period) or due_working_days:"
    ]


def test_due_day_and_due_working_days_are_not_both_given(county: Path) -> None:
    assert problems_with(county, "    due_day: 10\n", "    due_day: 10\n    due_working_days: 5\n") == [
        "duties.yaml:7: duties[1].due_working_days: give due_day or due_working_days, not both"
    ]


def test_due_day_without_every(county: Path) -> None:
    assert problems_with(county, "    every: month\n", "") == [
        "duties.yaml:2: duties[1].every: missing: due_day needs every: month, quarter, half-year or year"
    ]


def test_an_event_duty_has_no_due_day(county: Path) -> None:
    assert problems_with(county, "    within_working_days: 7\n", "    within_working_days: 7\n    due_day: 5\n") == [
        "duties.yaml:12: duties[2].due_day: due_day is for a periodic duty (with every:); "
        "a duty due within_working_days of an event has none"
    ]


def test_every_is_one_of_four_periods(county: Path) -> None:
    assert problems_with(county, "every: month", "every: week") == [
        "duties.yaml:5: duties[1].every: 'week' is not allowed; use one of: month, quarter, half-year, year"
    ]


@pytest.mark.parametrize("day", [0, 29])
def test_due_day_is_a_day_every_month_has(county: Path, day: int) -> None:
    assert problems_with(county, "due_day: 10", f"due_day: {day}") == [
        f"duties.yaml:6: duties[1].due_day: {day} is outside 1–28"
    ]


def test_unknown_village(county: Path) -> None:
    assert problems_with(county, "village: apple", "village: banana") == [
        "duties.yaml:10: duties[2].village: no village with code 'banana' in county.yaml"
    ]


def test_unknown_township(county: Path) -> None:
    assert problems_with(county, "    village: apple\n", "    township: north\n") == [
        "duties.yaml:10: duties[2].township: no township with code 'north' in county.yaml"
    ]


def test_duplicate_duty_id(county: Path) -> None:
    assert problems_with(county, "id: dibao", "id: caiwu") == [
        "duties.yaml:7: duties[2].id: duty id 'caiwu' is used twice, first in duties.yaml:2"
    ]


def test_unknown_field_and_wrong_domain(county: Path) -> None:
    found = problems_with(county, "    domain: 财务\n", "    domain: 财政\n    deadline: 10\n")
    assert found[0] == "duties.yaml:4: duties[1].domain: '财政' is not allowed; use one of: 党务, 村务, 财务, 政务"
    assert found[1].startswith("duties.yaml:5: duties[1].deadline: unknown field; allowed here: id, title, domain")


def test_schedule_problems_are_translated(county: Path) -> None:
    use_language("zh")
    (found,) = problems_with(county, "    every: month\n    due_day: 10\n", "")
    assert found.startswith("duties.yaml:2: duties[1]: 没有公开时限")


def test_demo_county_duties_cover_every_kind_of_schedule(demo_county: County) -> None:
    duties = {d["id"]: d for d in demo_county.duties}
    assert duties["caiwu-shouzhi"]["every"] == "month" and duties["caiwu-shouzhi"]["due_day"] == 10
    assert duties["cunwu-jidu"]["every"] == "quarter" and duties["cunwu-jidu"]["due_day"] == 20
    assert duties["dibao-duixiang-mingdan"]["within_working_days"] == 7
    assert {d["domain"] for d in duties.values()} == {"党务", "村务", "财务", "政务"}
    assert {d["scope"] for d in duties.values()} == {"county", "township:qingxi", "village:taoyuan"}


# -- periods and due days --------------------------------------------------------------------------


def test_a_monthly_duty_is_about_last_month_until_the_month_ends() -> None:
    october = period_of(MONTHLY, date(2026, 11, 5), calendar=WEEKDAYS)
    assert october is not None
    assert (october.key, october.label) == ("2026-10", "October 2026")
    assert (october.start, october.end, october.due) == (date(2026, 10, 1), date(2026, 10, 31), date(2026, 11, 10))
    assert period_of(MONTHLY, date(2026, 11, 1), calendar=WEEKDAYS) == october, "the first day after the period"
    assert period_of(MONTHLY, date(2026, 11, 30), calendar=WEEKDAYS) == october, (
        "overdue October stays current all November"
    )
    assert period_of(MONTHLY, date(2026, 10, 31), calendar=WEEKDAYS).key == "2026-09"  # type: ignore[union-attr]


def test_due_on_the_due_day_and_overdue_the_day_after() -> None:
    assert status(MONTHLY, date(2026, 11, 5), set(), calendar=WEEKDAYS) == "due"
    assert status(MONTHLY, date(2026, 11, 10), set(), calendar=WEEKDAYS) == "due"
    assert status(MONTHLY, date(2026, 11, 11), set(), calendar=WEEKDAYS) == "overdue"
    assert status(MONTHLY, date(2026, 11, 11), {"2026-10"}, calendar=WEEKDAYS) == "done"
    assert status(MONTHLY, date(2026, 11, 5), {"2026-09"}, calendar=WEEKDAYS) == "due", (
        "last month's record is not this month's"
    )


def test_december_is_due_in_january_of_the_next_year() -> None:
    december = period_of(MONTHLY, date(2027, 1, 3), calendar=WEEKDAYS)
    assert december is not None
    assert (december.key, december.end, december.due) == ("2026-12", date(2026, 12, 31), date(2027, 1, 10))
    assert period_of(MONTHLY, date(2026, 12, 31), calendar=WEEKDAYS).key == "2026-11"  # type: ignore[union-attr]
    assert period_of(MONTHLY, date(2026, 1, 31), calendar=WEEKDAYS).key == "2025-12"  # type: ignore[union-attr]


def test_february_ends_on_its_last_day_in_a_leap_year() -> None:
    assert period_of(MONTHLY, date(2028, 3, 1), calendar=WEEKDAYS).end == date(2028, 2, 29)  # type: ignore[union-attr]
    assert period_of(MONTHLY, date(2027, 3, 1), calendar=WEEKDAYS).end == date(2027, 2, 28)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("day", "key", "start", "end", "due"),
    [
        (date(2026, 10, 1), "2026-Q3", date(2026, 7, 1), date(2026, 9, 30), date(2026, 10, 20)),
        (date(2026, 12, 31), "2026-Q3", date(2026, 7, 1), date(2026, 9, 30), date(2026, 10, 20)),
        (date(2026, 9, 30), "2026-Q2", date(2026, 4, 1), date(2026, 6, 30), date(2026, 7, 20)),
        (date(2027, 1, 1), "2026-Q4", date(2026, 10, 1), date(2026, 12, 31), date(2027, 1, 20)),
        (date(2027, 3, 31), "2026-Q4", date(2026, 10, 1), date(2026, 12, 31), date(2027, 1, 20)),
        (date(2027, 4, 1), "2027-Q1", date(2027, 1, 1), date(2027, 3, 31), date(2027, 4, 20)),
    ],
)
def test_quarters(day: date, key: str, start: date, end: date, due: date) -> None:
    period = period_of(QUARTERLY, day, calendar=WEEKDAYS)
    assert period is not None and (period.key, period.start, period.end, period.due) == (key, start, end, due)


def test_a_quarter_is_due_by_the_20th_of_its_following_month() -> None:
    assert status(QUARTERLY, date(2026, 10, 20), set(), calendar=WEEKDAYS) == "due"
    assert status(QUARTERLY, date(2026, 10, 21), set(), calendar=WEEKDAYS) == "overdue"
    assert status(QUARTERLY, date(2026, 10, 21), {"2026-Q3"}, calendar=WEEKDAYS) == "done"
    assert period_of(QUARTERLY, date(2026, 10, 1), calendar=WEEKDAYS).label == "Q3 2026"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("day", "key", "start", "end", "due"),
    [
        (date(2026, 7, 1), "2026-H1", date(2026, 1, 1), date(2026, 6, 30), date(2026, 7, 15)),
        (date(2026, 12, 31), "2026-H1", date(2026, 1, 1), date(2026, 6, 30), date(2026, 7, 15)),
        (date(2027, 1, 1), "2026-H2", date(2026, 7, 1), date(2026, 12, 31), date(2027, 1, 15)),
        (date(2026, 6, 30), "2025-H2", date(2025, 7, 1), date(2025, 12, 31), date(2026, 1, 15)),
    ],
)
def test_half_years(day: date, key: str, start: date, end: date, due: date) -> None:
    period = period_of(HALF_YEARLY, day, calendar=WEEKDAYS)
    assert period is not None and (period.key, period.start, period.end, period.due) == (key, start, end, due)


def test_years() -> None:
    year = period_of(YEARLY, date(2027, 1, 1), calendar=WEEKDAYS)
    assert year is not None
    assert (year.key, year.start, year.end) == ("2026", date(2026, 1, 1), date(2026, 12, 31))
    assert year.due == date(2027, 1, 28)
    assert period_of(YEARLY, date(2026, 12, 31), calendar=WEEKDAYS).key == "2025"  # type: ignore[union-attr]
    assert status(YEARLY, date(2027, 1, 28), set(), calendar=WEEKDAYS) == "due"
    assert status(YEARLY, date(2027, 1, 29), set(), calendar=WEEKDAYS) == "overdue"


def test_due_working_days_after_the_period_ends() -> None:
    quarterly = {"every": "quarter", "due_working_days": 10}
    # Q3 2026 ends on Wednesday 30 September; 1-2 and 5-9 October and 12-14 October are ten working days.
    assert period_of(quarterly, date(2026, 10, 2), calendar=WEEKDAYS).due == date(2026, 10, 14)  # type: ignore[union-attr]
    monthly = {"every": "month", "due_working_days": 1}
    # July 2026 ends on a Friday: one working day after it is Monday 3 August.
    assert period_of(monthly, date(2026, 8, 1), calendar=WEEKDAYS).due == date(2026, 8, 3)  # type: ignore[union-attr]


def test_a_row_of_the_duties_table_works_like_the_content() -> None:
    row = {"every": "month", "due_day": 10, "due_working_days": None, "within_working_days": None}
    assert status(row, date(2026, 11, 11), set(), calendar=WEEKDAYS) == "overdue"
    event_row = {"every": None, "due_day": None, "due_working_days": None, "within_working_days": 7}
    assert period_of(event_row, date(2026, 11, 11), calendar=WEEKDAYS) is None
    assert due_after_event(event_row, date(2026, 11, 27), calendar=WEEKDAYS) == date(2026, 12, 8)


def test_recent_periods_keep_a_missed_period_in_view() -> None:
    keys = [p.key for p in recent_periods(MONTHLY, date(2027, 1, 5), 3, calendar=WEEKDAYS)]
    assert keys == ["2026-12", "2026-11", "2026-10"]
    keys = [p.key for p in recent_periods(QUARTERLY, date(2027, 1, 5), 5, calendar=WEEKDAYS)]
    assert keys == ["2026-Q4", "2026-Q3", "2026-Q2", "2026-Q1", "2025-Q4"]
    assert [p.key for p in recent_periods(HALF_YEARLY, date(2027, 1, 5), 3, calendar=WEEKDAYS)] == [
        "2026-H2",
        "2026-H1",
        "2025-H2",
    ]
    assert recent_periods(DIBAO, date(2027, 1, 5), 3, calendar=WEEKDAYS) == []


def test_period_labels_follow_the_language() -> None:
    use_language("zh")
    periods = [period_of(d, date(2027, 1, 5), calendar=WEEKDAYS) for d in (MONTHLY, QUARTERLY, HALF_YEARLY, YEARLY)]
    labels = [period.label for period in periods if period is not None]
    assert labels == ["2026年12月", "2026年第4季度", "2026年下半年", "2026年度"]


# -- duties that follow an event -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "due"),
    [
        (date(2026, 11, 27), date(2026, 12, 8)),  # Friday: the weekend is not counted
        (date(2026, 11, 28), date(2026, 12, 8)),  # Saturday: counting starts on Monday
        (date(2026, 11, 30), date(2026, 12, 9)),  # Monday: the day of the decision is not counted
        (date(2026, 12, 28), date(2027, 1, 6)),  # across the new year (holidays are not known)
    ],
)
def test_due_after_an_event_in_working_days(event: date, due: date) -> None:
    assert due_after_event(DIBAO, event, calendar=WEEKDAYS) == due


def test_one_working_day_after_a_friday_is_monday() -> None:
    assert due_after_event({"within_working_days": 1}, date(2026, 11, 27), calendar=WEEKDAYS) == date(2026, 11, 30)


def test_status_of_an_event() -> None:
    decided = date(2026, 11, 27)
    assert event_status(DIBAO, decided, date(2026, 11, 27), fulfilled=False, calendar=WEEKDAYS) == "due"
    assert event_status(DIBAO, decided, date(2026, 12, 8), fulfilled=False, calendar=WEEKDAYS) == "due"
    assert event_status(DIBAO, decided, date(2026, 12, 9), fulfilled=False, calendar=WEEKDAYS) == "overdue"
    assert event_status(DIBAO, decided, date(2026, 12, 9), fulfilled=True, calendar=WEEKDAYS) == "done"


def test_periodic_and_event_functions_are_not_mixed_up() -> None:
    assert period_of(DIBAO, date(2026, 11, 5), calendar=WEEKDAYS) is None
    with pytest.raises(ValueError, match="follows events"):
        status(DIBAO, date(2026, 11, 5), set(), calendar=WEEKDAYS)
    with pytest.raises(ValueError, match="is periodic"):
        due_after_event(MONTHLY, date(2026, 11, 5), calendar=WEEKDAYS)


# -- through publishing and sync to the kiosk ------------------------------------------------------


def duty_rows(data: Path) -> dict[str, dict[str, Any]]:
    path = current_database(data)
    assert path is not None
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        return {row["id"]: dict(row) for row in db.execute("select * from duties order by position")}


def test_duties_are_bundled_in_their_scope(demo_county: County) -> None:
    bundles = build_bundles(demo_county)
    assert "duty/caiwu-shouzhi" in bundles["county"].items
    assert "duty/qingxi-gengdi-butie" in bundles["township/qingxi"].items
    assert "duty/taoyuan-minsu-shouyi" in bundles["village/taoyuan"].items


def test_a_county_published_before_duties_existed_has_none() -> None:
    county = county_from_items([{"kind": "county", "id": "x", "data": {"code": "x", "townships": []}}], {})
    assert county.duties == []


def test_publish_and_sync_carry_each_villages_duties(county_repo: CountyRepo, tmp_path: Path) -> None:
    taoyuan, songping = tmp_path / "taoyuan", tmp_path / "songping"
    init_kiosk(taoyuan, "taoyuan", str(county_repo.path), county_repo.root)
    init_kiosk(songping, "songping", str(county_repo.path), county_repo.root)
    assert sync_kiosk(taoyuan).outcome == "updated" and sync_kiosk(songping).outcome == "updated"
    county_wide = {"caiwu-shouzhi", "cunwu-jidu", "dangwu-jidu", "dibao-duixiang-mingdan", "shouyi-fenpei-niandu"}
    mine, theirs = duty_rows(taoyuan), duty_rows(songping)
    assert set(mine) == county_wide | {"qingxi-gengdi-butie", "taoyuan-minsu-shouyi"}
    assert set(theirs) == county_wide, "another township's and another village's duties stay away"
    caiwu = mine["caiwu-shouzhi"]
    assert (caiwu["title"], caiwu["domain"]) == ("财务收支情况公开", "财务")
    assert (caiwu["every"], caiwu["due_day"]) == ("month", 10)
    assert caiwu["scope"] == "county" and json.loads(caiwu["basis"])[0].startswith("《中华人民共和国村民委员会组织法》")
    assert caiwu["within_working_days"] is None and caiwu["due_working_days"] is None
    assert mine["taoyuan-minsu-shouyi"]["scope"] == "village:taoyuan"
    dibao = mine["dibao-duixiang-mingdan"]
    assert dibao["within_working_days"] == 7 and dibao["every"] is None
    assert status(caiwu, date(2026, 11, 11), set(), calendar=WEEKDAYS) == "overdue", (
        "the date logic reads the table's rows"
    )

    county_repo.edit("duties.yaml", "    due_day: 10\n", "    due_day: 15\n")
    county_repo.publish()
    assert sync_kiosk(taoyuan).outcome == "updated"
    assert duty_rows(taoyuan)["caiwu-shouzhi"]["due_day"] == 15


def test_a_county_without_duties_installs_an_empty_table(tmp_path: Path) -> None:
    county = load_county(write_county(tmp_path / "county"))
    snapshot, media = village_snapshot(county, "apple", 1, "2026-11-27")
    install_snapshot(tmp_path / "data", snapshot, media)
    assert duty_rows(tmp_path / "data") == {}


def test_a_posting_period_ends_on_the_day_its_working_days_are_complete() -> None:
    from datetime import date, timedelta

    from sync.contract.dates import end_of_posting, working_days

    for start in range(14):  # every weekday, weekends included, twice
        first = date(2026, 11, 1) + timedelta(days=start)
        for needed in range(1, 400):
            ends = end_of_posting(first, needed, WEEKDAYS)
            assert working_days(first, ends, WEEKDAYS) == needed, (first, needed)
            assert working_days(first, ends - timedelta(days=1), WEEKDAYS) < needed, (first, needed)
    # Monday 2 November: 100,000 working days are 20,000 weeks less the Monday counted first, ending on a Friday.
    assert end_of_posting(date(2026, 11, 2), 100_000, WEEKDAYS) == date(2026, 11, 2) + timedelta(weeks=20_000, days=-3)


# -- since:, notices that name a duty and period, the rule in words ----------------------------------
