"""The official calendar on a kiosk: received through a real sync, and counted on by the staff console's
withdrawal guard, the duties board, the display log and the county's judgement of an early takedown;
a year it does not cover is noted where staff see deadlines and flagged on the county's dashboard.

The calendar is the county's content, so the tests publish one whose days off lie just ahead of the
real date (the kiosk's clock can only move forward past the time floor a sync sets).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from kiosk.county.content import PublishedCounty, published_calendar
from kiosk.county.takedowns import early_takedowns
from kiosk.data import accounts, notices
from kiosk.data.content_db import open_content
from kiosk.data.duties import board, duties_of, record_event
from kiosk.data.local_db import open_local
from kiosk.data.workdays import installed_calendar
from kiosk.device import reporting
from kiosk.device.uplink import Uplink
from kiosk.staff import create_staff_app
from sync.contract.dates import MONDAY_TO_FRIDAY, local_now
from sync.contract.official_calendar import needed_years
from sync.receive.install import current_database
from sync.receive.updater import init_kiosk, sync_kiosk
from tests.county_repo import VILLAGE, CountyRepo, make_county_repo
from tests.test_outbox import county_server
from tests.test_staff import PASSWORD, csrf_token

ZONE = ZoneInfo("Asia/Shanghai")


def write_calendar(content: Path, off: list[date], worked: list[date], years: set[int], checked: bool = True) -> None:
    """Replace the county's calendar by one with the days *off* and the days *worked*, covering *years*."""
    shutil.rmtree(content / "calendar", ignore_errors=True)
    (content / "calendar").mkdir()
    for year in sorted(years | {day.year for day in off + worked}):
        holidays = [f"  - {{name: 测试假日, first: {day}}}" for day in off if day.year == year]
        notice = f"国务院办公厅关于{year}年部分节假日安排的通知"
        lines = [f"year: {year}", f"notice: {notice}", f"checked: {str(checked).lower()}", "holidays:",
                 *(holidays or [f"  - {{name: 元旦, first: {year}-01-01}}"])]  # fmt: skip
        if days := [f"  - {{date: {day}, name: 测试假日}}" for day in worked if day.year == year]:
            lines += ["working_days:", *days]
        (content / "calendar" / f"{year}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def weekdays_after(day: date, count: int) -> list[date]:
    found: list[date] = []
    while len(found) < count:
        day += timedelta(days=1)
        if day.weekday() < 5:
            found.append(day)
    return found


@dataclass
class Kiosk:
    county: CountyRepo
    data: Path
    today: date
    off: list[date]  # the five weekdays after today, days off on the county's calendar
    worked: date  # the Saturday after them, worked

    def nth_working_day_after(self, day: date, count: int) -> date:
        """The oracle: count days that are worked, or weekdays not off."""
        while count:
            day += timedelta(days=1)
            count -= day == self.worked or (day.weekday() < 5 and day not in self.off)
        return day

    def at(self, monkeypatch: pytest.MonkeyPatch, day: date) -> datetime:
        """Set the kiosk's clock to noon on *day* (county time); return that moment."""
        moment = datetime.combine(day, time(12, 0), ZONE)
        monkeypatch.setattr("kiosk.data.clock.utc_now", lambda: moment.astimezone(UTC))
        return moment.replace(tzinfo=None)


@pytest.fixture()
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    county = make_county_repo(tmp_path / "county")
    today = local_now("Asia/Shanghai").date()
    off = weekdays_after(today, 5)
    worked = off[-1] + timedelta(days=(5 - off[-1].weekday()) % 7 or 7)  # the Saturday after the days off
    write_calendar(county.content, off, [worked], set(needed_years(today)))
    county.publish()
    data = tmp_path / "kiosk"
    init_kiosk(data, VILLAGE, str(county.path), county.root)
    assert sync_kiosk(data).outcome == "updated"
    db = open_local(data)
    accounts.add(db, "bo", "staff", PASSWORD, actor="test")
    db.close()
    yield Kiosk(county, data, today, off, worked)


def staff_console(data: Path) -> FlaskClient:
    config = {"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "t", "DEFAULT_LOCALE": "en"}
    client = create_staff_app(config).test_client()
    client.post("/sign-in", data={"name": "bo", "password": PASSWORD, "csrf_token": csrf_token(client)})
    return client


def post_notice(kiosk: Kiosk, days: int) -> str:
    """A village notice with a 公示期 of *days* working days, published at the start of today."""
    db = open_local(kiosk.data)
    try:
        values = {"domain": "village", "title": "宅基地申请公示", "body": "名单如下。",
                  "published": f"{kiosk.today} 00:00", "min_posting_days": str(days)}  # fmt: skip
        return notices.create(db, "bo", values, datetime.combine(kiosk.today, time(0, 0)), publish=True)
    finally:
        db.close()


def test_the_kiosk_counts_on_the_calendar_it_received(kiosk: Kiosk) -> None:
    content = open_content(current_database(kiosk.data), kiosk.data)  # type: ignore[arg-type]
    try:
        calendar = installed_calendar(content)
    finally:
        content.close()
    assert all(not calendar.is_working_day(day) for day in kiosk.off)
    assert calendar.is_working_day(kiosk.worked) and kiosk.worked.weekday() == 5, "a Saturday worked"
    assert calendar.years >= set(needed_years(kiosk.today))


def test_the_withdrawal_guard_holds_a_notice_through_the_days_off(
    kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    notice_id = post_notice(kiosk, days=2)
    third = kiosk.off[2]  # Monday to Friday, its two working days were over by now
    now = kiosk.at(monkeypatch, third)
    db = open_local(kiosk.data)
    try:
        notice = notices.get(db, notice_id)
        assert notice is not None and not notices.in_posting_period(notice, now, MONDAY_TO_FRIDAY)
    finally:
        db.close()
    staff = staff_console(kiosk.data)
    page = staff.get(f"/notices/{notice_id}/withdraw").get_data(as_text=True)
    assert "still inside its public notice period" in page
    refused = staff.post(f"/notices/{notice_id}/withdraw", data={"reason": "", "csrf_token": csrf_token(staff, "/")})
    assert refused.status_code == 422, "inside its 公示期 on the official calendar: a reason is needed"
    listing = staff.get("/notices/").get_data(as_text=True)
    # Today is the first of its two days when it is a working day; else the first working day after it is.
    last_day = kiosk.nth_working_day_after(kiosk.today, 1 if kiosk.today.weekday() < 5 else 2)
    assert last_day > kiosk.off[-1]
    assert f"public notice period until {last_day:%B} {last_day.day}, {last_day.year}" in listing
    assert "calendar-note" not in listing, "the calendar covers the years counted in"
    withdrawn = staff.post(f"/notices/{notice_id}/withdraw",
                           data={"reason": "公示有误", "csrf_token": csrf_token(staff, "/")})  # fmt: skip
    assert withdrawn.status_code == 302

    # The county, judging the withdrawal on the calendar it published, sees it came down inside its 公示期.
    monkeypatch.undo()  # the kiosk's clock right again: the county refuses uploads signed days ahead
    county = kiosk.county
    with county_server(kiosk.data.parent, county) as server:
        from kiosk.county import store as county_store

        db = county_store.open_store(server.data)
        _id, code = county_store.add_kiosk(db, VILLAGE)
        db.close()
        uplink = Uplink(kiosk.data, attempts=2, timeout=5.0, sleep=lambda _seconds: None)
        uplink.enrol(server.url, code)
        uplink.upload_outbox()
        db = county_store.open_store(server.data)
        gone = early_takedowns(db, kiosk.today, kiosk.today + timedelta(days=30))
        db.close()
    assert [(t["notice"], t["reason"], t["ends"]) for t in gone] == [(notice_id, "公示有误", last_day)]
    assert published_calendar(PublishedCounty(county.path)).is_working_day(kiosk.worked)


def test_duty_due_days_and_the_display_log_count_on_the_calendar(kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch) -> None:
    local = open_local(kiosk.data)
    content = open_content(current_database(kiosk.data), kiosk.data)  # type: ignore[arg-type]
    try:
        dibao = next(d for d in duties_of(content, local) if d.get("within_working_days") == 7)
        record_event(local, "bo", dibao, kiosk.today, "低保审批", datetime.now())
        row = next(r for r in board(content, local, kiosk.today) if r["duty"]["id"] == dibao["id"])
        (event,) = row["events"]
        assert event["due"] == kiosk.nth_working_day_after(kiosk.today, 7), "seven working days, the days off skipped"
        assert event["due"] > kiosk.off[-1]
    finally:
        content.close()
        local.close()

    notice_id = post_notice(kiosk, days=2)
    kiosk.at(monkeypatch, kiosk.off[2])
    _late, log = reporting._on_record(kiosk.data)
    assert log is not None and notice_id in log["notices"], "its 公示期 still runs: the county must hear if it goes"


def test_staff_see_a_note_when_a_year_counted_in_is_not_covered(kiosk: Kiosk) -> None:
    this_year = kiosk.today.year
    staff = staff_console(kiosk.data)
    assert "calendar-note" not in staff.get("/duties/").get_data(as_text=True)

    write_calendar(kiosk.county.content, [], [], set(needed_years(kiosk.today)) - {this_year})
    kiosk.county.publish()
    assert sync_kiosk(kiosk.data).outcome == "updated"
    for page in ("/", "/duties/", "/notices/", "/notices/new"):
        shown = staff.get(page).get_data(as_text=True)
        assert f"The official holiday calendar for {this_year} is not on this kiosk: working days in {this_year} " \
               "are counted Monday to Friday" in shown, page  # fmt: skip

    (kiosk.county.content / "calendar" / f"{this_year}.yaml").write_text(
        f"year: {this_year}\nstatutory_only: true\nholidays:\n  - {{name: 元旦, first: {this_year}-01-01}}\n",
        encoding="utf-8",
    )
    kiosk.county.publish()
    assert sync_kiosk(kiosk.data).outcome == "updated"
    shown = staff.get("/duties/").get_data(as_text=True)
    assert f"Only the statutory holidays of {this_year} are on this kiosk" in shown


@pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL
def test_the_county_dashboard_flags_a_year_not_published(kiosk: Kiosk, tmp_path: Path) -> None:
    from kiosk.county import create_county_app
    from kiosk.county import store as county_store

    this_year = kiosk.today.year
    app = create_county_app({"TESTING": True, "REPO": str(kiosk.county.path), "DATA_DIR": str(tmp_path / "srv"),
                             "SECRET_KEY": "o", "DEFAULT_LOCALE": "en"})  # fmt: skip
    db = county_store.open_store(tmp_path / "srv")
    accounts.add(db, "officer", "admin", PASSWORD, actor="test")
    db.close()
    officer = app.test_client()
    officer.post("/sign-in", data={"name": "officer", "password": PASSWORD, "csrf_token": csrf_token(officer)})
    assert "calendar-flag" not in officer.get("/dashboard/").get_data(as_text=True)

    write_calendar(kiosk.county.content, [], [], set(needed_years(kiosk.today)) - {this_year})
    kiosk.county.publish()
    page = officer.get("/dashboard/").get_data(as_text=True)
    assert f"Official calendar: {this_year} is not published. Kiosks count working days in {this_year} Monday " \
           "to Friday" in page  # fmt: skip
    assert f"kiosk county calendar {this_year}" in page
