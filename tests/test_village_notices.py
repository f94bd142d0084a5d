"""Village notices from the staff console: the rules they keep, and how the screens and syncs treat them."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from kiosk.data import notices
from kiosk.data.local_db import open_local
from kiosk.demo import install_demo
from kiosk.screens import create_app
from sync.contract.dates import MONDAY_TO_FRIDAY, local_now
from sync.receive.updater import sync_kiosk
from tests.county_repo import CountyRepo
from tests.test_screens import text_of

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def now() -> datetime:
    return local_now("Asia/Shanghai").replace(microsecond=0)


def values(**changes: Any) -> dict[str, Any]:
    today = now().date()
    base = {
        "domain": "village", "title": "关于村道维修的通知", "body": "本周六上午**维修**村道，请绕行。",
        "published": f"{today - timedelta(days=1):%Y-%m-%d}", "expires": f"{today + timedelta(days=30):%Y-%m-%d}",
        "min_posting_days": "", "pinned": "",
    }  # fmt: skip
    return {**base, **changes}


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    install_demo(tmp_path)
    return tmp_path


@pytest.fixture()
def db(data: Path) -> sqlite3.Connection:
    return open_local(data)


def screens(data: Path) -> FlaskClient:
    client = create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "x"}).test_client()
    client.get("/lang/en")
    return client


def outbox(db: sqlite3.Connection) -> list[dict[str, Any]]:
    return [json.loads(row[0]) for row in db.execute("select payload from outbox order by id")]


def test_a_published_village_notice_shows_at_once_among_the_countys(data: Path, db: sqlite3.Connection) -> None:
    notice_id = notices.create(db, "anna", values(), now(), publish=True)
    client = screens(data)
    listing = text_of(client.get("/notices/village"))
    assert "关于村道维修的通知" in listing and "桃源村2026年第三季度" in listing, "mixed with the county's notices"
    page = client.get(f"/notice/{notice_id}")
    assert page.status_code == 200 and "<strong>维修</strong>" in page.get_data(as_text=True)
    assert "village" in client.get("/notices").get_data(as_text=True)


def test_a_draft_is_not_on_the_screens(data: Path, db: sqlite3.Connection) -> None:
    notice_id = notices.create(db, "anna", values(title="草稿通知"), now(), publish=False)
    client = screens(data)
    assert "草稿通知" not in text_of(client.get("/notices/village"))
    assert client.get(f"/notice/{notice_id}").status_code == 404
    assert outbox(db) == [], "a draft goes nowhere"


def test_hostile_text_in_every_field_is_shown_inert(data: Path, db: sqlite3.Connection) -> None:
    notice_id = notices.create(db, "anna", values(title=XSS, body=XSS + "\n\n[link](https://evil.example/)"), now(),
                               publish=True)  # fmt: skip
    client = screens(data)
    for path in (f"/notice/{notice_id}", "/notices/village", "/attract"):
        body = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in body and "<img src=x" not in body and "evil.example" not in body, path
        assert "&lt;script&gt;" in body, path


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"title": " "}, "title"), ({"title": "长" * 121}, "title"), ({"domain": "sports"}, "domain"),
     ({"body": ""}, "body"), ({"published": "2026-02-30"}, "published"), ({"expires": "tomorrow"}, "expires"),
     ({"expires": "2020-01-01"}, "expires"), ({"min_posting_days": "0"}, "min_posting_days"),
     ({"min_posting_days": "x"}, "min_posting_days")],
)  # fmt: skip
def test_bad_fields_are_named(db: sqlite3.Connection, changes: dict[str, str], field: str) -> None:
    with pytest.raises(notices.NoticeInvalid) as refused:
        notices.create(db, "anna", values(**changes), now(), publish=True)
    assert field in refused.value.problems
    assert db.execute("select count(*) from village_notices").fetchone()[0] == 0, "nothing saved"


def test_withdrawing_inside_the_posting_period_needs_a_reason_which_is_recorded(
    data: Path, db: sqlite3.Connection
) -> None:
    notice_id = notices.create(db, "anna", values(min_posting_days="7"), now(), publish=True)
    with pytest.raises(notices.NoticeInvalid) as refused:
        notices.withdraw(db, "bo", notice_id, now(), calendar=MONDAY_TO_FRIDAY)
    assert "reason" in refused.value.problems
    assert client_shows(data, notice_id)
    notices.withdraw(db, "bo", notice_id, now(), reason="公示内容有误，更正后重新公示", calendar=MONDAY_TO_FRIDAY)
    assert not client_shows(data, notice_id)
    entry = db.execute("select actor, reason, before, after from audit_log where action = 'notice.withdraw'").fetchone()
    assert entry["actor"] == "bo" and entry["reason"] == "公示内容有误，更正后重新公示"
    assert json.loads(entry["before"])["state"] == "published" and json.loads(entry["after"])["state"] == "withdrawn"
    assert [p["action"] for p in outbox(db)] == ["publish", "withdraw"]


def test_shortening_inside_the_posting_period_needs_a_reason(db: sqlite3.Connection) -> None:
    notice_id = notices.create(db, "anna", values(min_posting_days="7"), now(), publish=True)
    shorter = values(min_posting_days="7", expires=f"{now().date() + timedelta(days=20):%Y-%m-%d}")
    with pytest.raises(notices.NoticeInvalid):
        notices.update(db, "anna", notice_id, shorter, now(), calendar=MONDAY_TO_FRIDAY)
    notices.update(db, "anna", notice_id, shorter, now(), reason="镇里要求提前结束", calendar=MONDAY_TO_FRIDAY)
    action, reason = db.execute("select action, reason from audit_log order by id desc limit 1").fetchone()
    assert (action, reason) == ("notice.shorten", "镇里要求提前结束")
    later = values(min_posting_days="7", expires=f"{now().date() + timedelta(days=40):%Y-%m-%d}")
    notices.update(db, "anna", notice_id, later, now(), calendar=MONDAY_TO_FRIDAY)  # longer needs no reason


def test_a_notice_without_a_posting_period_may_come_down_without_a_reason(db: sqlite3.Connection) -> None:
    notice_id = notices.create(db, "anna", values(), now(), publish=True)
    notices.withdraw(db, "anna", notice_id, now(), calendar=MONDAY_TO_FRIDAY)
    assert notices.get(db, notice_id)["state"] == "withdrawn"  # type: ignore[index]


def test_every_published_change_goes_to_the_outbox_once_with_its_own_key(db: sqlite3.Connection) -> None:
    notice_id = notices.create(db, "anna", values(), now(), publish=False)
    notices.update(db, "anna", notice_id, values(title="改过的标题"), now(), publish=True, calendar=MONDAY_TO_FRIDAY)
    notices.update(db, "anna", notice_id, values(title="再改一次"), now(), calendar=MONDAY_TO_FRIDAY)
    rows = db.execute("select idempotency_key, payload from outbox").fetchall()
    assert [json.loads(p)["action"] for _key, p in rows] == ["publish", "update"]
    assert len({key for key, _p in rows}) == 2


def client_shows(data: Path, notice_id: str) -> bool:
    return bool(screens(data).get(f"/notice/{notice_id}").status_code == 200)


def test_a_sync_never_touches_village_notices(county_repo: CountyRepo, kiosk_data: Path) -> None:
    assert sync_kiosk(kiosk_data).outcome == "updated"
    db = open_local(kiosk_data)
    kept = notices.create(db, "anna", values(), now(), publish=True)
    draft = notices.create(db, "anna", values(title="草稿"), now(), publish=False)
    before = {row["id"]: dict(row) for row in db.execute("select * from village_notices")}
    county_repo.edit("powers/dibao-shenqing.yaml", "name: 最低生活保障申请", "name: 最低生活保障（低保）申请")
    county_repo.publish()
    assert sync_kiosk(kiosk_data).outcome == "updated"
    after = {row["id"]: dict(row) for row in db.execute("select * from village_notices")}
    assert after == before and set(after) == {kept, draft}
    assert client_shows(kiosk_data, kept) and not client_shows(kiosk_data, draft)


def test_village_notices_are_found_by_the_search(data: Path, db: sqlite3.Connection) -> None:
    notice_id = notices.create(db, "anna", values(title="关于秸秆禁烧的通知", body="严禁焚烧秸秆，违者罚款。"), now(),
                               publish=True)  # fmt: skip
    client = screens(data)
    assert f"/notice/{notice_id}" in client.get("/search?q=秸秆").get_data(as_text=True)
    assert f"/notice/{notice_id}" in client.get("/search?q=罚款").get_data(as_text=True), "its text too"
    notices.withdraw(db, "anna", notice_id, now(), calendar=MONDAY_TO_FRIDAY)
    assert f"/notice/{notice_id}" not in client.get("/search?q=秸秆").get_data(as_text=True)


def county_takedowns(db: sqlite3.Connection, folder: Path) -> list[dict[str, Any]]:
    """Send the kiosk's outbox to a county server's store as the uplink does; return the early takedowns it lists."""
    from kiosk.county import store as county_store
    from kiosk.county.takedowns import early_takedowns
    from tests.county_repo import VILLAGE

    county = county_store.open_store(folder)
    try:
        kiosk_id, _code = county_store.add_kiosk(county, VILLAGE)
        rows = db.execute("select idempotency_key, kind, payload from outbox order by id")
        items = [{"key": key, "kind": kind, "payload": json.loads(payload)} for key, kind, payload in rows]
        county_store.store_uploads(county, kiosk_id, items)
        today = now().date()
        return early_takedowns(county, today - timedelta(days=60), today + timedelta(days=60))
    finally:
        county.close()


@pytest.mark.parametrize(
    "change",
    [{"published": f"{now().date() + timedelta(days=10):%Y-%m-%d}"},  # off the screen for ten days
     {"published": f"{now().date() - timedelta(days=20):%Y-%m-%d}"},  # its 公示期 claimed to be almost over
     {"min_posting_days": "3"}],
    ids=["publication moved ahead", "publication moved back", "fewer days"],
)  # fmt: skip
def test_a_change_that_cuts_a_running_posting_short_is_a_withdrawal_with_a_reason(
    data: Path, db: sqlite3.Connection, tmp_path: Path, change: dict[str, str]
) -> None:
    notice_id = notices.create(db, "anna", values(min_posting_days="7"), now(), publish=True)
    changed = values(**{"min_posting_days": "7", **change})
    with pytest.raises(notices.NoticeInvalid) as refused:
        notices.update(db, "bo", notice_id, changed, now(), calendar=MONDAY_TO_FRIDAY)
    assert "reason" in refused.value.problems and client_shows(data, notice_id), "nothing changed"

    again = notices.update(
        db, "bo", notice_id, changed, now(), reason="日期填错，改期重新公示", calendar=MONDAY_TO_FRIDAY
    )

    assert again != notice_id, "the notice goes on as a new posting"
    old, new = notices.get(db, notice_id), notices.get(db, again)
    assert old is not None and (old["state"], old["withdraw_reason"]) == ("withdrawn", "日期填错，改期重新公示")
    assert new is not None and new["state"] == "published" and new["published"] == changed["published"][:10]
    entry = db.execute("select actor, reason, after from audit_log where action = 'notice.withdraw'").fetchone()
    assert (entry["actor"], entry["reason"]) == ("bo", "日期填错，改期重新公示")
    assert json.loads(entry["after"])["posted_again_as"] == again
    sent = outbox(db)
    assert [(p["action"], p["notice"]["id"]) for p in sent] == [("publish", notice_id), ("withdraw", notice_id),
                                                                ("publish", again)]  # fmt: skip
    assert sent[1]["reason"] == "日期填错，改期重新公示"
    gone = county_takedowns(db, tmp_path / "county-server")
    assert [(g["notice"], g["reason"]) for g in gone] == [(notice_id, "日期填错，改期重新公示")], "the county sees it"


def test_moving_a_date_that_cuts_nothing_short_needs_no_reason(data: Path, db: sqlite3.Connection) -> None:
    today = now().date()
    running = notices.create(db, "anna", values(min_posting_days="7"), now(), publish=True)
    a_little_later = values(min_posting_days="7", published=f"{today:%Y-%m-%d}")  # still up, the period ends later
    assert notices.update(db, "anna", running, a_little_later, now(), calendar=MONDAY_TO_FRIDAY) == running
    scheduled = notices.create(db, "anna", values(min_posting_days="7", published=f"{today + timedelta(days=2)}"),
                               now(), publish=True)  # fmt: skip
    next_week = values(min_posting_days="7", published=f"{today + timedelta(days=7)}")  # not up yet: nothing to cut
    assert notices.update(db, "anna", scheduled, next_week, now(), calendar=MONDAY_TO_FRIDAY) == scheduled
    assert [p["action"] for p in outbox(db)] == ["publish", "update", "publish", "update"]


def test_the_nightly_prune_keeps_the_photos_notices_use_and_those_of_a_notice_withdrawn_within_a_year(
    data: Path, db: sqlite3.Connection
) -> None:
    import os
    import time

    media = data / "local-media"
    media.mkdir(exist_ok=True)
    names = {role: f"{digit * 64}.jpg" for role, digit in
             (("draft", "1"), ("published", "2"), ("withdrawn lately", "3"), ("withdrawn long ago", "4"),
              ("no notice", "5"))}  # fmt: skip
    for name in names.values():
        (media / name).write_bytes(b"photo")
        long_ago = time.time() - 3 * 24 * 3600
        os.utime(media / name, (long_ago, long_ago))
    notices.create(db, "anna", values(photos=[names["draft"]]), now(), publish=False)
    notices.create(db, "anna", values(photos=[names["published"]]), now(), publish=True)
    lately = notices.create(db, "anna", values(photos=[names["withdrawn lately"]]), now(), publish=True)
    notices.withdraw(db, "anna", lately, now() - timedelta(days=300), calendar=MONDAY_TO_FRIDAY)
    long_ago_id = notices.create(db, "anna", values(photos=[names["withdrawn long ago"]]), now(), publish=True)
    notices.withdraw(db, "anna", long_ago_id, now() - timedelta(days=400), calendar=MONDAY_TO_FRIDAY)

    assert notices.prune_photos_in(data, now()) == 2

    assert sorted(path.name for path in media.iterdir()) == sorted(
        [names["draft"], names["published"], names["withdrawn lately"]]
    )
