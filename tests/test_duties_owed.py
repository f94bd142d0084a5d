"""When a disclosure period is owed at all (install day, since:), notices that disclose it, and the rule in words."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kiosk.data import duties as kiosk_duties
from kiosk.data.local_db import open_local
from sync.contract.content import ContentInvalid, load_county
from sync.contract.dates import MONDAY_TO_FRIDAY as WEEKDAYS  # ordinary weeks: no holiday near these dates
from sync.contract.duties import (
    recent_periods,
    rule_text,
)
from sync.contract.i18n import translator, use_language
from sync.contract.snapshot import village_snapshot
from sync.receive.install import current_database, install_snapshot
from tests.test_duties import (
    DUTIES,
    MONTHLY,
    county_folder,  # noqa: F401 - the fixture `county` these tests take
    duty_rows,
    problems_with,
)


def test_periods_that_ended_before_a_duty_applied_are_not_owed() -> None:
    since_october = {**MONTHLY, "since": "2026-10-01"}
    assert [p.key for p in recent_periods(since_october, date(2027, 1, 5), 5, calendar=WEEKDAYS)] == [
        "2026-12",
        "2026-11",
        "2026-10",
    ]
    mid_november = {**MONTHLY, "since": "2026-11-15"}
    assert [p.key for p in recent_periods(mid_november, date(2027, 1, 5), 5, calendar=WEEKDAYS)] == [
        "2026-12",
        "2026-11",
    ]


def test_periods_due_before_the_kiosk_was_installed_are_not_owed() -> None:
    keys = [
        p.key for p in recent_periods(MONTHLY, date(2026, 11, 11), 3, installed=date(2026, 11, 10), calendar=WEEKDAYS)
    ]
    assert keys == ["2026-10"], "October was due on the day of install; September and August before it"
    assert recent_periods(MONTHLY, date(2026, 11, 11), 3, installed=date(2026, 11, 11), calendar=WEEKDAYS) == []


def test_since_must_be_a_date_that_exists(county: Path) -> None:
    problems = problems_with(county, "    due_day: 10\n", '    due_day: 10\n    since: "2026-02-30"\n')
    assert any("duties.yaml" in p and "since" in p and "2026-02-30" in p for p in problems), problems


def test_a_notice_names_both_duty_and_a_real_period(county: Path) -> None:
    notice = county / "notices" / "finance.md"
    text = notice.read_text(encoding="utf-8")
    notice.write_text(text.replace("published:", "duty: caiwu\nperiod: 2026-13\npublished:"), encoding="utf-8")
    with pytest.raises(ContentInvalid) as caught:
        load_county(county)
    assert any("finance.md" in str(p) and "period" in str(p) and "2026-13" in str(p) for p in caught.value.problems)
    notice.write_text(text.replace("published:", "duty: caiwu\npublished:"), encoding="utf-8")
    with pytest.raises(ContentInvalid) as caught:
        load_county(county)
    assert any("finance.md" in str(p) and "period" in str(p) for p in caught.value.problems)
    notice.write_text(text.replace("published:", "duty: caiwu-x\nperiod: 2026-10\npublished:"), encoding="utf-8")
    with pytest.raises(ContentInvalid) as caught:
        load_county(county)
    assert any("finance.md" in str(p) and "caiwu-x" in str(p) for p in caught.value.problems)
    notice.write_text(text.replace("published:", "duty: caiwu\nperiod: 2026-Q3\npublished:"), encoding="utf-8")
    with pytest.raises(ContentInvalid) as caught:
        load_county(county)
    assert any("finance.md" in str(p) and "2026-Q3" in str(p) and "2026-10" in str(p) for p in caught.value.problems)
    notice.write_text(text.replace("published:", "duty: dibao\nperiod: 2026-10\npublished:"), encoding="utf-8")
    with pytest.raises(ContentInvalid) as caught:
        load_county(county)
    assert any("finance.md" in str(p) and "dibao" in str(p) for p in caught.value.problems)


def test_a_county_notice_naming_the_duty_and_period_makes_it_done(county: Path, tmp_path: Path) -> None:
    notice = county / "notices" / "finance.md"
    text = notice.read_text(encoding="utf-8")  # 十月财务收支公开, published 5 November
    notice.write_text(text.replace("published:", "duty: caiwu\nperiod: 2026-10\npublished:"), encoding="utf-8")
    (county / "duties.yaml").write_text(DUTIES.replace("due_day: 10", 'due_day: 10\n    since: "2026-08-01"'))
    snapshot, media = village_snapshot(load_county(county), "apple", 1, "2026-11-27")
    install_snapshot(tmp_path / "data", snapshot, media)
    assert duty_rows(tmp_path / "data")["caiwu"]["since"] == "2026-08-01"
    path = current_database(tmp_path / "data")
    content = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    content.row_factory = sqlite3.Row
    local = open_local(tmp_path / "data")
    try:
        kiosk_duties.first_install(local, date(2026, 1, 1))
        board = kiosk_duties.board(content, local, date(2026, 11, 11))
        caiwu = next(row for row in board if row["duty"]["id"] == "caiwu")
        assert [(p["period"].key, p["status"]) for p in caiwu["periods"]] == [
            ("2026-10", "done"), ("2026-09", "overdue"), ("2026-08", "overdue")]  # fmt: skip
        assert caiwu["periods"][0]["notice"]["title"] == "十月财务收支公开"
        before = kiosk_duties.board(content, local, date(2026, 11, 4))  # the notice is not out yet
        assert next(r for r in before if r["duty"]["id"] == "caiwu")["periods"][0]["status"] == "due"
        july = kiosk_duties.board(content, local, date(2026, 9, 11))  # July ended before since:
        assert [p["period"].key for p in next(r for r in july if r["duty"]["id"] == "caiwu")["periods"]] == ["2026-08"]
    finally:
        content.close()
        local.close()


RULES = [
    ({"every": "month", "due_day": 10}, "每月，次月10日前", "every month, by the 10th of the next month"),
    ({"every": "quarter", "due_day": 21}, "每季度，季度结束后次月21日前",
     "every quarter, by the 21st of the month after the quarter"),
    ({"every": "half-year", "due_day": 2}, "每半年，半年结束后次月2日前",
     "every half year, by the 2nd of the month after the half year"),
    ({"every": "year", "due_day": 15}, "每年，次年1月15日前", "every year, by 15 January of the next year"),
    ({"every": "month", "due_working_days": 5}, "每月，月度结束后5个工作日内",
     "every month, within 5 working days after the month ends"),
    ({"every": "quarter", "due_working_days": 10}, "每季度，季度结束后10个工作日内",
     "every quarter, within 10 working days after the quarter ends"),
    ({"every": "half-year", "due_working_days": 10}, "每半年，半年结束后10个工作日内",
     "every half year, within 10 working days after the half year ends"),
    ({"every": "year", "due_working_days": 20}, "每年，年度结束后20个工作日内",
     "every year, within 20 working days after the year ends"),
    ({"within_working_days": 7}, "事项发生后7个工作日内", "within 7 working days of the event"),
]  # fmt: skip


@pytest.mark.parametrize(("duty", "zh", "en"), RULES)
def test_each_schedule_reads_as_a_sentence_in_both_languages(duty: dict[str, Any], zh: str, en: str) -> None:
    assert rule_text(duty, translator("zh")) == zh
    assert rule_text(duty, translator("en")) == en
    use_language("zh")
    assert rule_text(duty) == zh
