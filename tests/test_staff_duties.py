"""Disclosure duties in the staff console: done / due / overdue, marked done by a notice, events, the village's own."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlite_utils import Database

from kiosk.data import duties, notices
from kiosk.data.local_db import migrations, open_local
from sync.contract import duties as rules
from sync.contract.dates import MONDAY_TO_FRIDAY, local_now
from sync.receive.install import current_database
from tests.test_screens import text_of
from tests.test_staff import csrf_token
from tests.test_staff_notices import data, staff  # noqa: F401 - fixtures
from tests.test_village_notices import values

NOV_11 = date(2026, 11, 11)  # October's finances were due on the 10th
INSTALLED = date(2026, 1, 1)


@pytest.fixture()
def kiosk_dbs(data: Path) -> Iterator[tuple[sqlite3.Connection, sqlite3.Connection]]:  # noqa: F811
    path = current_database(data)
    assert path is not None
    content = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    content.row_factory = sqlite3.Row
    local = open_local(data)
    yield content, local
    content.close()
    local.close()


@pytest.fixture()
def dbs(kiosk_dbs: tuple[sqlite3.Connection, sqlite3.Connection]) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    local = kiosk_dbs[1]
    assert duties.first_install(local, INSTALLED) == INSTALLED, "a kiosk in use since the start of the year"
    return kiosk_dbs


def row_of(rows: list[dict[str, Any]], duty_id: str) -> dict[str, Any]:
    return next(r for r in rows if r["duty"]["id"] == duty_id)


def test_the_board_shows_each_period_done_due_or_overdue(dbs: tuple[sqlite3.Connection, sqlite3.Connection]) -> None:
    content, local = dbs
    finances = row_of(duties.board(content, local, NOV_11), "caiwu-shouzhi")
    periods = finances["periods"]
    assert [(p["period"].key, p["status"]) for p in periods] == [
        ("2026-10", "overdue"),
        ("2026-09", "overdue"),
        ("2026-08", "overdue"),
    ]
    assert row_of(duties.board(content, local, date(2026, 11, 10)), "caiwu-shouzhi")["periods"][0]["status"] == "due"


def test_a_notice_marks_a_period_done_and_the_audit_log_says_who(
    dbs: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    content, local = dbs
    now = datetime(2026, 11, 11, 9, 0)
    notice_id = notices.create(local, "bo", values(domain="finance", title="2026年10月财务收支公开"), now, publish=True)
    duty = next(d for d in duties.duties_of(content, local) if d["id"] == "caiwu-shouzhi")
    duties.mark_done(local, "bo", duty, now, period_key="2026-10", notice_id=notice_id)
    first = row_of(duties.board(content, local, NOV_11), "caiwu-shouzhi")["periods"][0]
    assert first["status"] == "done" and first["record"]["notice_id"] == notice_id
    actor, action = local.execute("select actor, action from audit_log order by id desc limit 1").fetchone()
    assert (actor, action) == ("bo", "duty.done")
    assert all(o["what"] != first["period"].label for o in duties.overdue(content, local, NOV_11))


def test_an_event_must_be_disclosed_within_its_working_days(dbs: tuple[sqlite3.Connection, sqlite3.Connection]) -> None:
    content, local = dbs
    duty = next(d for d in duties.duties_of(content, local) if d["id"] == "dibao-duixiang-mingdan")  # 7 working days
    duties.record_event(local, "bo", duty, date(2026, 11, 27), "低保审批（3户）", datetime(2026, 11, 27, 10, 0))
    event = row_of(duties.board(content, local, date(2026, 12, 8)), duty["id"])["events"][0]
    assert event["due"] == date(2026, 12, 8) and event["status"] == "due", "Friday + 7 working days"
    late = row_of(duties.board(content, local, date(2026, 12, 9)), duty["id"])["events"][0]
    assert late["status"] == "overdue"


def test_the_console_home_lists_what_is_overdue_today(staff: FlaskClient, data: Path) -> None:  # noqa: F811
    content = sqlite3.connect(f"file:{current_database(data)}?mode=ro", uri=True)
    content.row_factory = sqlite3.Row
    local = open_local(data)
    late = duties.overdue(content, local, local_now("Asia/Shanghai").date())
    content.close()
    local.close()
    home = text_of(staff.get("/"))
    assert ("Overdue disclosures" in home) == bool(late)
    for entry in late:
        assert entry["duty"]["title"] in home
    assert "Content version" in home and "Next update" in home


def test_mark_done_from_the_dashboard(staff: FlaskClient) -> None:  # noqa: F811
    page = staff.get("/duties/").get_data(as_text=True)
    assert "财务收支情况公开" in page and "最低生活保障对象名单公示" in page
    key = rules.period_of(
        {"every": "month", "due_day": 10}, local_now("Asia/Shanghai").date(), calendar=MONDAY_TO_FRIDAY
    )
    assert key is not None
    token = csrf_token(staff, "/duties/")
    done = staff.post("/duties/caiwu-shouzhi/done", data={"csrf_token": token, "period_key": key.key})
    assert done.status_code == 302
    assert staff.post("/duties/caiwu-shouzhi/done", data={"period_key": key.key}).status_code == 400, "CSRF"
    refused = staff.post("/duties/caiwu-shouzhi/done", data={"csrf_token": token, "period_key": "1999-01"})
    assert refused.status_code == 400, "only a period on the board"
    foreign = staff.post("/duties/caiwu-shouzhi/done",
                         data={"csrf_token": token, "period_key": key.key, "notice_id": "not-a-notice"})  # fmt: skip
    assert foreign.status_code == 400
    assert staff.post("/duties/no-such-duty/done", data={"csrf_token": token}).status_code == 404


def test_the_village_adds_a_duty_of_its_own(staff: FlaskClient) -> None:  # noqa: F811
    token = csrf_token(staff, "/duties/new")
    bad = staff.post("/duties/new", data={"csrf_token": token, "title": "村民代表会议决议公开", "domain": "village",
                                           "every": "month", "due_day": "31"})  # fmt: skip
    assert bad.status_code == 422 and "村民代表会议决议公开" in bad.get_data(as_text=True)
    good = staff.post("/duties/new", data={"csrf_token": token, "title": "村民代表会议决议公开", "domain": "village",
                                            "every": "", "within_working_days": "5"})  # fmt: skip
    assert good.status_code == 302
    assert "村民代表会议决议公开" in staff.get("/duties/").get_data(as_text=True)


def test_hostile_text_in_duties_and_events_is_inert(staff: FlaskClient) -> None:  # noqa: F811
    payload = "<script>alert(1)</script>"
    token = csrf_token(staff, "/duties/new")
    staff.post("/duties/new", data={"csrf_token": token, "title": payload, "domain": "village", "every": "",
                                    "within_working_days": "5"})  # fmt: skip
    staff.post("/duties/dibao-duixiang-mingdan/event",
               data={"csrf_token": token, "event_day": "2026-11-20", "event_note": payload})  # fmt: skip
    page = staff.get("/duties/").get_data(as_text=True)
    assert "<script>alert" not in page and page.count("&lt;script&gt;") >= 2


def test_a_village_installed_today_owes_nothing_from_before(
    staff: FlaskClient,  # noqa: F811
    kiosk_dbs: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    content, local = kiosk_dbs
    page = staff.get("/duties/").get_data(as_text=True)
    today = local_now("Asia/Shanghai").date()
    assert "status-overdue" not in page, "periods due before the kiosk existed are not overdue"
    assert "every month, by the 10th of the next month" in page and "within 7 working days of the event" in page
    assert duties.first_install(local, date(2020, 1, 1)) == today, "recorded once, not moved"
    assert duties.overdue(content, local, today) == []
    later = duties.overdue(content, local, date(today.year + 1, 12, 31))
    assert later and all(entry["due"] >= today for entry in later), "what falls due after install still counts"


def test_a_county_notice_can_be_picked_as_the_disclosure(
    staff: FlaskClient,  # noqa: F811
    kiosk_dbs: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    content, local = kiosk_dbs
    today = local_now("Asia/Shanghai").date()
    county = dict(content.execute("select id, title from notices where published_at < ? order by published_at desc",
                                  (today.isoformat() + "~",)).fetchone())  # fmt: skip
    page = staff.get("/duties/").get_data(as_text=True)
    assert f'<option value="{county["id"]}">' in page, "county notices are offered, not only the village's"
    period = rules.period_of({"every": "month", "due_day": 10}, today, calendar=MONDAY_TO_FRIDAY)
    assert period is not None
    token = csrf_token(staff, "/duties/")
    done = staff.post("/duties/caiwu-shouzhi/done",
                      data={"csrf_token": token, "period_key": period.key, "notice_id": county["id"]})  # fmt: skip
    assert done.status_code == 302
    entry = next(p for p in row_of(duties.board(content, local, today), "caiwu-shouzhi")["periods"]
                 if p["period"].key == period.key)  # fmt: skip
    assert entry["status"] == "done" and entry["record"]["notice_id"] == county["id"]
    assert entry["notice"]["title"] == county["title"]
    assert county["title"] in text_of(staff.get("/duties/"))


def test_a_kiosk_in_use_before_install_days_were_kept_counts_from_its_first_account(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "local.db")
    migrations.apply(Database(connection), stop_before="m009_first_install")
    connection.execute(
        "insert into accounts (name, role, created_at) values ('bo', 'staff', ?)", ("2025-03-04T02:00:00+00:00",)
    )
    connection.commit()
    connection.close()
    local = open_local(tmp_path)
    try:
        assert duties.first_install(local, date(2026, 11, 11)) == date(2025, 3, 4), "not the day of the upgrade"
    finally:
        local.close()
