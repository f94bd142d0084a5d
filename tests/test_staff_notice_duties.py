"""A village notice written in the staff console names the duty and period it discloses: posting it is the record."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Browser, expect
from sqlite_utils import Database

from kiosk.data import duties, notices
from kiosk.data.local_db import migrations, open_local
from sync.contract import duties as rules
from sync.contract.dates import MONDAY_TO_FRIDAY, local_now
from sync.contract.i18n import translator
from sync.receive.install import current_database
from tests.test_screens import text_of
from tests.test_staff import PASSWORD, csrf_token
from tests.test_staff_browser import fits_the_phone, servers  # noqa: F401 - a fixture
from tests.test_staff_notices import data, form, new_notice, staff  # noqa: F401 - fixtures

FINANCES = "caiwu-shouzhi"  # 财务收支情况公开: every month, by the 10th of the next
DIBAO = "dibao-duixiang-mingdan"  # 低保对象名单公示: within 7 working days of each approval


def today() -> date:
    return local_now("Asia/Shanghai").date()


@pytest.fixture()
def dbs(data: Path) -> Iterator[tuple[sqlite3.Connection, sqlite3.Connection]]:  # noqa: F811
    """The installed content and local.db of a kiosk in use for a year, so that periods are owed."""
    path = current_database(data)
    assert path is not None
    content = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    content.row_factory = sqlite3.Row
    local = open_local(data)
    installed = today() - timedelta(days=365)
    assert duties.first_install(local, installed) == installed
    yield content, local
    content.close()
    local.close()


def finances_row(dbs: tuple[sqlite3.Connection, sqlite3.Connection]) -> dict[str, Any]:
    content, local = dbs
    return next(row for row in duties.board(content, local, today()) if row["duty"]["id"] == FINANCES)


def period_entry(dbs: tuple[sqlite3.Connection, sqlite3.Connection], key: str) -> dict[str, Any]:
    return next(entry for entry in finances_row(dbs)["periods"] if entry["period"].key == key)


def test_publishing_a_notice_that_names_a_duty_and_period_makes_that_period_done_until_it_is_withdrawn(
    dbs: tuple[sqlite3.Connection, sqlite3.Connection],  # first: the kiosk is in use before staff sign in
    staff: FlaskClient,  # noqa: F811
) -> None:
    content, local = dbs
    duty = next(d for d in duties.duties_of(content, local) if d["id"] == FINANCES)
    period = duties.periods_owed(local, duty, today(), MONDAY_TO_FRIDAY)[0]
    assert period_entry(dbs, period.key)["status"] != "done"
    page = staff.get("/notices/new").get_data(as_text=True)
    assert '<select id="duty" name="duty">' in page and '<label for="duty">' in page and '<label for="period">' in page
    assert f'<option value="{FINANCES}">财务收支情况公开</option>' in page
    assert f'<option value="{period.key}">{rules.label_of(period.key, translator("en"))}' in page

    notice_id = new_notice(staff, domain="finance", title="上月财务收支公开", duty=FINANCES, period=period.key)
    assert period_entry(dbs, period.key)["status"] != "done", "a draft is not on the kiosk: it discloses nothing yet"
    edit = staff.get(f"/notices/{notice_id}/edit").get_data(as_text=True)
    assert f'<option value="{FINANCES}" selected>' in edit and f'<option value="{period.key}" selected>' in edit
    staff.post(f"/notices/{notice_id}/publish", data={"csrf_token": csrf_token(staff, "/notices/")})

    entry = period_entry(dbs, period.key)
    assert entry["status"] == "done" and entry["record"] is None, "done by the notice alone, with no second step"
    assert entry["notice"]["id"] == notice_id
    board = staff.get("/duties/").get_data(as_text=True)
    assert f'<a href="/notices/{notice_id}/preview">上月财务收支公开</a>' in board, "the board links to the notice"
    created = local.execute("select after from audit_log where action = 'notice.create' and target_id = ?",
                            (notice_id,)).fetchone()  # fmt: skip
    assert json.loads(created[0])["duty"] == FINANCES and json.loads(created[0])["period"] == period.key

    withdrawn = staff.post(f"/notices/{notice_id}/withdraw", data={"csrf_token": csrf_token(staff, "/notices/")})
    assert withdrawn.status_code == 302
    entry = period_entry(dbs, period.key)
    assert entry["status"] in ("due", "overdue") and entry["notice"] is None, "owed again once the notice is down"
    assert f"/notices/{notice_id}/preview" not in staff.get("/duties/").get_data(as_text=True)


def test_a_period_marked_done_by_hand_stays_done_when_the_notice_naming_it_is_withdrawn(
    dbs: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    content, local = dbs
    duty = next(d for d in duties.duties_of(content, local) if d["id"] == FINANCES)
    period = duties.periods_owed(local, duty, today(), MONDAY_TO_FRIDAY)[0]
    now = local_now("Asia/Shanghai")
    choices = duties.disclosure_choices(content, local, today(), translator("en"))
    typed = {"domain": "finance", "title": "财务收支公开", "body": "见附表。", "duty": FINANCES, "period": period.key,
             "published": f"{today() - timedelta(days=1):%Y-%m-%d}"}  # fmt: skip
    notice_id = notices.create(local, "bo", typed, now, publish=True, disclosures=choices)
    duties.mark_done(local, "bo", duty, now, period_key=period.key)  # also on the board outside the office
    notices.withdraw(local, "bo", notice_id, now, calendar=MONDAY_TO_FRIDAY)
    assert period_entry(dbs, period.key)["status"] == "done"


def test_a_forged_duty_or_period_is_refused_on_the_form_and_what_was_typed_is_kept(
    dbs: tuple[sqlite3.Connection, sqlite3.Connection],  # first: the kiosk is in use before staff sign in
    staff: FlaskClient,  # noqa: F811
) -> None:
    local = dbs[1]
    forged = [
        ({"duty": "no-such-duty", "period": ""}, "“no-such-duty” is not a duty of this village"),
        (
            {"duty": FINANCES, "period": "1999-01"},
            "is not a period of “财务收支情况公开” that a notice can disclose now",
        ),
        ({"duty": FINANCES, "period": ""}, "Choose which period of “财务收支情况公开” this notice discloses."),
        ({"duty": DIBAO, "period": "2026-10"}, "follows events and has no periods: choose no period."),
        ({"duty": "", "period": "2026-10"}, "Choose the duty this period belongs to, or no period."),
    ]
    for fields, message in forged:
        refused = staff.post("/notices/new", data=form(staff, "/notices/new", title="十一月财务公开",
                                                       body="收入**三万元**。", **fields))  # fmt: skip
        assert refused.status_code == 422, fields
        page = text_of(refused)
        assert message in page and "nothing was saved yet" in page, (fields, page[:3000])
        assert 'value="十一月财务公开"' in refused.get_data(as_text=True) and "收入**三万元**。" in page
    assert notices.listing(local) == [], "nothing was saved"


def test_a_notice_naming_a_duty_that_follows_events_discloses_the_oldest_event_before_it(
    dbs: tuple[sqlite3.Connection, sqlite3.Connection],  # first: the kiosk is in use before staff sign in
    staff: FlaskClient,  # noqa: F811
) -> None:
    content, local = dbs
    token = csrf_token(staff, "/duties/")
    for days_ago in (9, 3):
        day = today() - timedelta(days=days_ago)
        staff.post(
            f"/duties/{DIBAO}/event", data={"csrf_token": token, "event_day": day.isoformat(), "event_note": "审批"}
        )
    page = staff.get("/notices/new").get_data(as_text=True)
    assert re.search(rf'<option value="{DIBAO}">[^<]*\(after an event\)</option>', page)
    notice_id = new_notice(staff, title="低保对象名单公示", duty=DIBAO, period="",
                           published=f"{today() - timedelta(days=5):%Y-%m-%d} 08:00")  # fmt: skip
    staff.post(f"/notices/{notice_id}/publish", data={"csrf_token": csrf_token(staff, "/notices/")})
    events = next(row for row in duties.board(content, local, today()) if row["duty"]["id"] == DIBAO)["events"]
    first, second = events
    assert first["notice"]["id"] == notice_id, "published after the first approval: it discloses that one"
    assert second["notice"] is None and second["status"] != "done", "the later approval still needs its notice"
    assert f'<a href="/notices/{notice_id}/preview">低保对象名单公示</a>' in staff.get("/duties/").get_data(
        as_text=True
    )


def test_notices_written_before_the_upgrade_name_no_duty(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "local.db")
    migrations.apply(Database(connection), stop_before="m010_notices_name_a_duty")
    connection.execute(
        "insert into village_notices (id, domain, title, body, body_html, published, published_at, state,"
        " created_by, created_at, updated_by, updated_at) values ('local-1', '村务', '通知', '正文', '<p>正文</p>',"
        " '2026-11-01', '2026-11-01 08:00:00', 'published', 'bo', '2026-11-01', 'bo', '2026-11-01')"
    )
    connection.commit()
    connection.close()
    local = open_local(tmp_path)
    try:
        notice = notices.get(local, "local-1")
        assert notice is not None and notice["duty"] is None and notice["period"] is None
    finally:
        local.close()


def test_on_a_360_px_phone_staff_choose_what_a_notice_discloses_and_the_board_links_to_it(
    browser: Browser,
    tmp_path: Path,
    servers: tuple[str, str],  # noqa: F811
) -> None:
    local = open_local(tmp_path)  # the servers' kiosk, in use for a year before anyone signs in
    installed = today() - timedelta(days=365)
    assert duties.first_install(local, installed) == installed
    content = sqlite3.connect(f"file:{current_database(tmp_path)}?mode=ro", uri=True)
    content.row_factory = sqlite3.Row
    duty = next(d for d in duties.duties_of(content, local) if d["id"] == FINANCES)
    period = duties.periods_owed(local, duty, today(), MONDAY_TO_FRIDAY)[0]
    content.close()
    local.close()
    console, _kiosk = servers
    phone = browser.new_context(base_url=console, viewport={"width": 360, "height": 740}, has_touch=True,
                                is_mobile=True, locale="zh-CN")  # fmt: skip
    page = phone.new_page()
    page.goto("/sign-in")
    page.get_by_label("账号名").fill("小李")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").tap()
    expect(page.get_by_text("当前登录：小李。")).to_be_visible()
    page.goto("/notices/new")
    page.get_by_label("标题", exact=True).fill("上月财务收支公开")
    page.get_by_label(re.compile("^正文")).fill("收入三万元，支出两万元。")
    chosen = page.get_by_label("公开事项", exact=True)
    chosen.select_option(FINANCES)
    page.get_by_label("时间段", exact=True).select_option(period.key)
    assert fits_the_phone(page)
    box = chosen.bounding_box()
    assert box is not None and box["height"] >= 44 and box["x"] + box["width"] <= 360, "big enough to tap, on screen"
    page.get_by_role("button", name="保存并预览").tap()
    page.get_by_role("button", name="发布").tap()
    expect(page.get_by_text("已发布：通知已在查询机上显示。")).to_be_visible()
    page.goto("/duties/")
    assert fits_the_phone(page)
    page.get_by_role("link", name="上月财务收支公开").tap()
    expect(page.frame_locator("iframe.kiosk-frame").locator(".detail-body h1")).to_have_text("上月财务收支公开")
    phone.close()
