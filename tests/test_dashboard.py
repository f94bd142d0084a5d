"""The county's dashboard: signed-in only; kiosks flagged behind, quiet or never seen; each village's
overdue disclosures and early takedowns; ratings per item and per village; every table as CSV."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, expect

from kiosk.cli import main
from kiosk.county import CountyServer, create_county_app
from kiosk.county import store as county_store
from kiosk.data import accounts
from kiosk.data.local_db import open_local
from sync.contract.dates import MONDAY_TO_FRIDAY
from sync.receive.updater import sync_kiosk
from tests.browser import guarded
from tests.county_repo import VILLAGE, CountyRepo
from tests.servers import serving
from tests.test_staff import PASSWORD, csrf_token, sign_in
from tests.test_uplink import enrolled, outbox_left

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


@pytest.fixture()
def county_app(county_repo: CountyRepo, tmp_path: Path) -> Iterator[Flask]:
    data = tmp_path / "county-server"
    config = {"TESTING": True, "REPO": str(county_repo.path), "DATA_DIR": str(data), "SECRET_KEY": "d",
              "DEFAULT_LOCALE": "en"}  # fmt: skip
    app = create_county_app(config)
    db = county_store.open_store(data)
    accounts.add(db, "anna", "admin", PASSWORD, actor="test")
    db.close()
    yield app


@pytest.fixture()
def store(county_app: Flask) -> Iterator[sqlite3.Connection]:
    db = county_store.open_store(Path(county_app.config["DATA_DIR"]))
    yield db
    db.close()


@pytest.fixture()
def officer(county_app: Flask) -> FlaskClient:
    client = county_app.test_client()
    assert sign_in(client).status_code == 302
    return client


def enrolled_kiosk(db: sqlite3.Connection, village: str = VILLAGE) -> int:
    """A kiosk enrolled for *village* (its key is never used here: reports are recorded directly)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    kiosk_id, code = county_store.add_kiosk(db, village)
    key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    assert county_store.enrol(db, code, village, key) == kiosk_id
    return kiosk_id


def table(html: str, name: str) -> list[dict[str, str]]:
    """Return the rows of the page's table *name* as {heading: cell text}."""
    section = re.search(rf'<section class="dashboard-table" data-table="{name}"[^>]*>(.*?)</section>', html, re.S)
    assert section, f"no table {name}"
    headings = [_text(h) for h in re.findall(r"<th scope=\"col\">(.*?)</th>", section.group(1), re.S)]
    rows = re.findall(r"<tr(?: class=\"flagged\")?>(.*?)</tr>", section.group(1).split("<tbody>")[-1], re.S)
    return [dict(zip(headings, (_text(c) for c in re.findall(r"<td>(.*?)</td>", row, re.S)), strict=True))
            for row in rows]  # fmt: skip


def _text(html: str) -> str:
    import html as html_module

    return html_module.unescape(re.sub(r"<[^>]+>", "", html)).strip()


def csv_rows(client: FlaskClient, path: str) -> list[dict[str, str]]:
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff"), "Excel reads UTF-8 only after a BOM"
    return list(csv.DictReader(io.StringIO(text[1:])))


def latest_version(county_repo: CountyRepo) -> int:
    return int(county_repo.repository.snapshot().signed.version)


# --- the door ----------------------------------------------------------------------------------


PAGES = ["/dashboard/", "/dashboard/villages", "/dashboard/feedback", "/dashboard/kiosks.csv",
         "/dashboard/feedback-items.csv", "/admin/accounts"]  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
def test_every_dashboard_page_and_file_needs_sign_in(county_app: Flask, path: str) -> None:
    response = county_app.test_client().get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")


def test_sign_in_needs_the_csrf_token_and_leads_to_the_dashboard(county_app: Flask) -> None:
    client = county_app.test_client()
    refused = client.post("/sign-in", data={"name": "anna", "password": PASSWORD})
    assert refused.status_code == 400, "a sign-in without the form's CSRF token"
    wrong = client.post("/sign-in", data={"name": "anna", "password": "wrong", "csrf_token": csrf_token(client)})
    assert wrong.status_code == 401
    done = sign_in(client)
    assert done.headers["Location"] == "/dashboard/"
    assert "County dashboard" in client.get("/dashboard/").get_data(as_text=True)


def test_kiosks_keep_reporting_without_a_session_or_csrf_token(county_repo: CountyRepo, county_app: Flask,
                                                                kiosk_data: Path) -> None:  # fmt: skip
    with serving(CountyServer(county_repo.path, county_app)) as url:
        enrolled(kiosk_data, url, Path(county_app.config["DATA_DIR"])).report({"content_version": 1})


def test_the_dashboard_speaks_chinese_when_chosen(officer: FlaskClient) -> None:
    officer.get("/dashboard/language/zh?next=/dashboard/")
    page = officer.get("/dashboard/").get_data(as_text=True)
    assert "县级看板" in page and "村" in page, "headings in Chinese"


# --- kiosks ------------------------------------------------------------------------------------


def test_kiosks_are_flagged_behind_quiet_never_seen_and_revoked(
    officer: FlaskClient, store: sqlite3.Connection, county_repo: CountyRepo
) -> None:
    latest = latest_version(county_repo)
    now = datetime.now(UTC)
    never = county_store.add_kiosk(store, "liutang")[0]
    current, behind, quiet, checked, revoked = (enrolled_kiosk(store) for _ in range(5))
    report = {"app_version": "1.0", "content_date": "2026-11-20", "last_outcome": "unchanged", "disk_free_bytes": 2**31}
    county_store.record_report(store, current, {**report, "content_version": latest}, now=now)
    county_store.record_report(store, behind, {**report, "content_version": latest}, now=now - timedelta(days=1))
    county_store.record_report(store, behind, {**report, "content_version": latest - 1, "last_outcome": "failed",
                                               "last_error": "could not download"}, now=now)  # fmt: skip
    county_store.record_report(store, quiet, {**report, "content_version": latest}, now=now - timedelta(days=3))
    # Nothing new for its village: its content is older, but it checked the newest version.
    county_store.record_report(store, checked, {**report, "content_version": 1, "checked_version": latest}, now=now)
    county_store.revoke(store, revoked)

    page = officer.get("/dashboard/").get_data(as_text=True)
    assert "6 kiosks · behind: 1 · quiet: 1 · never seen: 1 · revoked: 1" in page
    rows = {row["Kiosk"]: row for row in table(page, "kiosks")}
    flags = {int(kiosk): row["Needs attention"] for kiosk, row in rows.items()}
    assert flags == {never: "never seen", current: "", behind: "behind", quiet: "quiet", checked: "",
                     revoked: "revoked"}  # fmt: skip
    assert rows[str(behind)]["Last sync"] == "failed" and rows[str(behind)]["Sync error"] == "could not download"
    assert rows[str(current)]["Village"] == f"桃源村 ({VILLAGE})" and rows[str(current)]["Disk free"] == "2.0 GB"
    assert rows[str(never)]["Village"].endswith("(liutang)")
    exported = csv_rows(officer, "/dashboard/kiosks.csv")
    assert [(r["Kiosk"], r["Needs attention"]) for r in exported] == [(k, r["Needs attention"]) for k, r in
                                                                      rows.items()]  # fmt: skip


def test_a_new_publication_makes_every_kiosk_behind_until_it_syncs(
    officer: FlaskClient, store: sqlite3.Connection, county_repo: CountyRepo
) -> None:
    kiosk = enrolled_kiosk(store)
    county_store.record_report(store, kiosk, {"content_version": latest_version(county_repo)})
    assert table(officer.get("/dashboard/").get_data(as_text=True), "kiosks")[0]["Needs attention"] == ""
    county_repo.edit("ten_ones.yaml", "一", "壹")
    county_repo.publish()
    assert table(officer.get("/dashboard/").get_data(as_text=True), "kiosks")[0]["Needs attention"] == "behind"


def test_a_report_cannot_smuggle_a_formula_into_the_spreadsheet(
    officer: FlaskClient, store: sqlite3.Connection
) -> None:
    kiosk = enrolled_kiosk(store)
    county_store.record_report(store, kiosk, {"last_error": '=HYPERLINK("http://x.example","open")',
                                              "app_version": {"not": "a string"}})  # fmt: skip
    (row,) = csv_rows(officer, "/dashboard/kiosks.csv")
    assert row["Sync error"].startswith("'="), "shown as text, never run"
    page = officer.get("/dashboard/").get_data(as_text=True)
    assert "=HYPERLINK(&#34;http://x.example&#34;" in page, "shown as text on the page too"


# --- villages: overdue disclosures, early takedowns --------------------------------------------


def test_a_notice_that_many_kiosks_saw_go_early_is_one_row_from_its_earliest_day_with_every_kiosk_and_the_reason(
    officer: FlaskClient, store: sqlite3.Connection
) -> None:
    kiosks = [enrolled_kiosk(store) for _ in range(3)]
    facts = ("dibao", "低保对象公示", "2026-11-02 09:00:00", 7, "2026-11-10")
    gone = [(kiosks[0], "2026-11-05", "2026-11-04"), (kiosks[1], "2026-11-04", "2026-11-03"),
            (kiosks[2], "2026-11-06", "2026-11-05")]  # fmt: skip
    store.executemany(
        "insert into gone_from_logs (kiosk_id, notice, title, published_at, days, ends, missing, last_seen)"
        " values (?, ?, ?, ?, ?, ?, ?, ?)",
        [(kiosk, *facts, missing, seen) for kiosk, missing, seen in gone],
    )
    store.execute("insert into notices_gone_early values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (VILLAGE, "dibao", kiosks[2], *facts[1:], "2026-11-06", "贴错了"))  # fmt: skip
    (row,) = table(officer.get("/dashboard/villages?from=2026-11-01&to=2026-11-30").get_data(as_text=True),
                   "takedowns")  # fmt: skip
    assert (row["Last seen on show"], row["Gone from"], row["Reason given"]) == ("2026-11-03", "2026-11-04", "贴错了")
    assert row["Kiosk"] == ", ".join(map(str, sorted(kiosks)))


def test_overdue_disclosures_come_from_each_villages_newest_report_in_the_readers_language(
    officer: FlaskClient, store: sqlite3.Connection
) -> None:
    kiosk, second, other = enrolled_kiosk(store), enrolled_kiosk(store), enrolled_kiosk(store, "liutang")
    late = [
        {"duty": "caiwu-shouzhi", "title": "财务收支情况", "what": "十月", "period": "2026-10", "due": "2026-11-10"},
        {"duty": "dibao", "title": "低保对象名单", "what": "王*华", "period": None, "due": "2026-11-12"},
    ]
    county_store.record_report(store, kiosk, {"overdue": late}, now=NOW - timedelta(days=1))
    county_store.record_report(store, kiosk, {"overdue": late}, now=NOW)  # said again: listed once
    stale = [{"duty": "old", "title": "早已公开的事项", "what": "2026-09", "period": "2026-09", "due": "2026-10-10"}]
    county_store.record_report(store, second, {"overdue": stale}, now=NOW - timedelta(days=40))  # long quiet
    county_store.record_report(store, other, {"overdue": late}, now=NOW - timedelta(days=40))
    county_store.record_report(store, other, {"overdue": []}, now=NOW)  # done since
    rows = table(officer.get("/dashboard/villages").get_data(as_text=True), "overdue")
    assert [(r["Village"], r["Disclosure"], r["For"], r["Was due"]) for r in rows] == [
        (f"桃源村 ({VILLAGE})", "财务收支情况", "October 2026", "2026-11-10"),
        (f"桃源村 ({VILLAGE})", "低保对象名单", "王*华", "2026-11-12")]  # fmt: skip
    officer.get("/dashboard/language/zh")
    chinese = table(officer.get("/dashboard/villages").get_data(as_text=True), "overdue")
    assert [r["所属期"] for r in chinese] == ["2026年10月", "王*华"]


def display_log(db: sqlite3.Connection, kiosk: int, day: str, shown: list[str], posting: dict[str, Any]) -> None:
    log = {"day": day, "at": f"{day} 02:30:00", "notices": shown, "posting": posting}
    county_store.store_uploads(db, kiosk, [{"key": f"display:{kiosk}:{day}", "kind": "display_log", "payload": log}])


POSTING = {"dibao": {"title": "低保对象名单公示", "published_at": "2026-11-02 09:00:00", "days": 7}}


def test_a_log_that_arrives_late_is_judged_against_the_logs_either_side(
    officer: FlaskClient, store: sqlite3.Connection
) -> None:
    kiosk = enrolled_kiosk(store)
    display_log(store, kiosk, "2026-11-03", ["dibao"], POSTING)
    display_log(store, kiosk, "2026-11-05", [], POSTING)
    display_log(store, kiosk, "2026-11-04", ["dibao"], POSTING)  # held up on the kiosk, sent after the 5th's
    page = officer.get("/dashboard/villages?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert [(r["Last seen on show"], r["Gone from"]) for r in table(page, "takedowns")] == [
        ("2026-11-04", "2026-11-05")]  # fmt: skip


def test_a_notice_gone_before_its_posting_period_ended_is_listed(
    officer: FlaskClient, store: sqlite3.Connection
) -> None:
    kiosk = enrolled_kiosk(store)
    # 低保名单: 7 working days from Monday 2 November must stay up to Tuesday 10 November.
    posting = {"dibao": {"title": "低保对象名单公示", "published_at": "2026-11-02 09:00:00", "days": 7},
               "short": {"title": "三天公示", "published_at": "2026-11-02 09:00:00", "days": 3}}  # fmt: skip
    display_log(store, kiosk, "2026-11-02", ["plain"], posting)  # before 09:00: not up yet, and that is fine
    display_log(store, kiosk, "2026-11-03", ["dibao", "short", "plain"], posting)
    display_log(store, kiosk, "2026-11-04", ["dibao", "short"], posting)  # "plain" has no 公示期
    display_log(store, kiosk, "2026-11-05", [], posting)  # "short" ended on the 4th; "dibao" had five days to go
    page = officer.get("/dashboard/villages?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    rows = table(page, "takedowns")
    assert [(r["Notice"], r["Must stay up until"], r["Last seen on show"], r["Gone from"]) for r in rows] == [
        ("低保对象名单公示", "2026-11-10", "2026-11-04", "2026-11-05")]  # fmt: skip
    assert rows[0]["Village"] == f"桃源村 ({VILLAGE})"
    later = officer.get("/dashboard/villages?from=2026-11-06&to=2026-11-30").get_data(as_text=True)
    assert table(later, "takedowns") == [], "listed in the period in which it came down"
    exported = csv_rows(officer, "/dashboard/takedowns.csv?from=2026-11-01&to=2026-11-30")
    assert [r["Notice"] for r in exported] == ["低保对象名单公示"]


def reports_on(monkeypatch: pytest.MonkeyPatch, kiosk_data: Path, day: int) -> None:
    """Run `kiosk report` as if it were 02:30 on *day* November 2026 (the kiosk's nightly report)."""
    import kiosk.device.reporting

    monkeypatch.setattr(kiosk.device.reporting, "county_now", lambda *_: datetime(2026, 11, day, 2, 30))
    result = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"}).invoke(main, ["report", "--data", str(kiosk_data)])
    assert result.exit_code == 0 and "reported to the county" in result.output, result.output


def test_a_county_notice_removed_inside_its_posting_period_is_caught_by_the_display_logs(
    county_repo: CountyRepo, county_app: Flask, officer: FlaskClient, kiosk_data: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The county publishes a 公示 for 7 working days, then deletes it after a day: the kiosk's logs tell."""
    notice = county_repo.content / "notices" / "dibao-gongshi-taoyuan.md"
    notice.write_text(
        "---\nid: dibao-gongshi-taoyuan\ndomain: 村务\ntitle: 桃源村低保对象公示\nvillage: taoyuan\n"
        'published: "2026-11-02"\nmin_posting_days: 7\n---\n拟纳入最低生活保障的家庭名单。\n',
        encoding="utf-8",
    )
    county_repo.publish()
    assert sync_kiosk(kiosk_data).outcome == "updated"
    with serving(CountyServer(county_repo.path, county_app)) as url:
        enrolled(kiosk_data, url, Path(county_app.config["DATA_DIR"]))
        reports_on(monkeypatch, kiosk_data, 3)
        notice.unlink()
        county_repo.publish()
        assert sync_kiosk(kiosk_data).outcome == "updated"
        reports_on(monkeypatch, kiosk_data, 4)
    page = officer.get("/dashboard/villages?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    rows = table(page, "takedowns")
    assert [(r["Notice"], r["Must stay up until"], r["Last seen on show"], r["Gone from"], r["Reason given"])
            for r in rows] == [("桃源村低保对象公示", "2026-11-10", "2026-11-03", "2026-11-04", "")]  # fmt: skip


def test_a_village_notice_withdrawn_inside_its_posting_period_is_listed_with_the_reason(
    county_repo: CountyRepo, county_app: Flask, officer: FlaskClient, kiosk_data: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Withdrawn the afternoon it went up, before any display log saw it: the change itself says so."""
    from kiosk.data import notices

    assert sync_kiosk(kiosk_data).outcome == "updated"
    with serving(CountyServer(county_repo.path, county_app)) as url:
        enrolled(kiosk_data, url, Path(county_app.config["DATA_DIR"]))
        local = open_local(kiosk_data)
        early = notices.create(local, "bo", {"domain": "village", "title": "低保对象名单", "body": "名单",
                                             "published": "2026-11-02 09:00", "min_posting_days": 7},
                               datetime(2026, 11, 2, 9, 0), publish=True)  # fmt: skip
        later = notices.create(local, "bo", {"domain": "village", "title": "三天公示", "body": "名单",
                                             "published": "2026-11-02 09:00", "min_posting_days": 3},
                               datetime(2026, 11, 2, 9, 0), publish=True)  # fmt: skip
        cut = notices.create(local, "bo", {"domain": "village", "title": "宅基地公示", "body": "名单",
                                           "published": "2026-11-02 09:00", "min_posting_days": 7},
                             datetime(2026, 11, 2, 9, 0), publish=True)  # fmt: skip
        notices.withdraw(local, "bo", early, datetime(2026, 11, 2, 15, 0), reason="贴错了", calendar=MONDAY_TO_FRIDAY)
        notices.withdraw(
            local, "bo", later, datetime(2026, 11, 5, 9, 0), calendar=MONDAY_TO_FRIDAY
        )  # its 3 days ended on the 4th
        notices.update(local, "bo", cut, {"domain": "village", "title": "宅基地公示", "body": "名单",
                                          "published": "2026-11-02 09:00", "expires": "2026-11-06 18:00",
                                          "min_posting_days": 7}, datetime(2026, 11, 3, 9, 0),
                       reason="名单有误，重新公示", calendar=MONDAY_TO_FRIDAY)  # fmt: skip
        local.close()
        reports_on(monkeypatch, kiosk_data, 5)
    page = officer.get("/dashboard/villages?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    rows = table(page, "takedowns")
    assert [(r["Notice"], r["Last seen on show"], r["Gone from"], r["Reason given"]) for r in rows] == [
        ("低保对象名单", "", "2026-11-02", "贴错了"),
        ("宅基地公示", "", "2026-11-06", "名单有误，重新公示"),
    ]
    later_period = officer.get("/dashboard/villages?from=2026-11-03&to=2026-11-30").get_data(as_text=True)
    assert [r["Notice"] for r in table(later_period, "takedowns")] == ["宅基地公示"], "listed in its own period"


def test_each_kiosk_is_judged_by_its_own_posting_facts(officer: FlaskClient, store: sqlite3.Connection) -> None:
    ours, theirs = enrolled_kiosk(store), enrolled_kiosk(store, "liutang")
    short = {"shared": {"title": "三天公示", "published_at": "2026-11-02 09:00:00", "days": 3}}
    long = {"shared": {"title": "三十天公示", "published_at": "2026-11-02 09:00:00", "days": 30}}
    display_log(store, ours, "2026-11-03", ["shared"], short)
    display_log(store, ours, "2026-11-05", [], short)  # after its 3 days (to the 4th): fine
    display_log(store, theirs, "2026-11-03", ["shared"], long)  # another village says 30 days
    page = officer.get("/dashboard/villages?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert table(page, "takedowns") == [], "liutang's facts say nothing about taoyuan's notice"


@pytest.mark.parametrize("written", ["2026-11-10 00:00:00", "2026-11-10T00:00", "2026-11-10 00:00"])
def test_a_notice_that_expires_as_scheduled_on_its_last_day_is_not_listed(
    officer: FlaskClient, store: sqlite3.Connection, written: str
) -> None:
    """The validator accepts an expiry at 00:00 on the period's last day; so does the dashboard, however written."""
    kiosk = enrolled_kiosk(store)
    facts = {"dibao": {"title": "低保对象名单公示", "published_at": "2026-11-02 09:00:00", "days": 7,
                       "expires_at": written}}  # fmt: skip
    display_log(store, kiosk, "2026-11-09", ["dibao"], facts)
    display_log(store, kiosk, "2026-11-10", [], facts)
    page = officer.get("/dashboard/villages?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert table(page, "takedowns") == []


def test_a_notice_gone_before_its_scheduled_expiry_is_listed(officer: FlaskClient, store: sqlite3.Connection) -> None:
    kiosk = enrolled_kiosk(store)
    facts = {"dibao": {"title": "低保对象名单公示", "published_at": "2026-11-02 09:00:00", "days": 7,
                       "expires_at": "2026-11-12 18:00:00"}}  # fmt: skip
    display_log(store, kiosk, "2026-11-04", ["dibao"], facts)
    display_log(store, kiosk, "2026-11-05", [], facts)
    page = officer.get("/dashboard/villages?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert [r["Gone from"] for r in table(page, "takedowns")] == ["2026-11-05"]


def test_a_notice_posted_again_is_judged_again(officer: FlaskClient, store: sqlite3.Connection) -> None:
    kiosk = enrolled_kiosk(store)
    first = {"dibao": {"title": "低保对象名单公示", "published_at": "2026-11-02 09:00:00", "days": 7}}
    again = {"dibao": {"title": "低保对象名单公示", "published_at": "2026-11-16 09:00:00", "days": 7}}
    display_log(store, kiosk, "2026-11-03", ["dibao"], first)
    display_log(store, kiosk, "2026-11-04", [], first)
    display_log(store, kiosk, "2026-11-17", ["dibao"], again)
    display_log(store, kiosk, "2026-11-18", [], again)
    page = officer.get("/dashboard/villages?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert [r["Gone from"] for r in table(page, "takedowns")] == ["2026-11-04", "2026-11-18"]


def test_a_late_log_replaces_what_was_judged_across_its_gap(officer: FlaskClient, store: sqlite3.Connection) -> None:
    kiosk = enrolled_kiosk(store)
    display_log(store, kiosk, "2026-11-03", ["dibao"], POSTING)
    display_log(store, kiosk, "2026-11-06", [], POSTING)
    display_log(store, kiosk, "2026-11-04", [], POSTING)  # it was already gone on the 4th
    page = officer.get("/dashboard/villages?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert [(r["Last seen on show"], r["Gone from"]) for r in table(page, "takedowns")] == [
        ("2026-11-03", "2026-11-04")]  # fmt: skip
    from_the_fifth = officer.get("/dashboard/villages?from=2026-11-05&to=2026-11-30").get_data(as_text=True)
    assert table(from_the_fifth, "takedowns") == []


def test_one_kiosk_cannot_take_another_kiosks_upload_keys(officer: FlaskClient, store: sqlite3.Connection) -> None:
    ours, other = enrolled_kiosk(store), enrolled_kiosk(store, "liutang")
    rating = {"kind": "power", "item_id": "dibao-shenqing", "level": 5, "reasons": [], "day": "2026-11-04"}
    county_store.store_uploads(store, other, [{"key": f"display:{ours}:2026-11-04", "kind": "feedback",
                                               "payload": rating}])  # fmt: skip
    display_log(store, ours, "2026-11-03", ["dibao"], POSTING)
    display_log(store, ours, "2026-11-04", [], POSTING)  # the key the other kiosk used first
    page = officer.get("/dashboard/villages?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert [r["Gone from"] for r in table(page, "takedowns")] == ["2026-11-04"]


# --- ratings -----------------------------------------------------------------------------------


def rating(db: sqlite3.Connection, kiosk: int, key: str, day: str, level: Any, item: str = "dibao-shenqing",
           reasons: Any = None) -> None:  # fmt: skip
    payload = {"kind": "power", "item_id": item, "level": level, "reasons": reasons or [], "day": day}
    county_store.store_uploads(db, kiosk, [{"key": key, "kind": "feedback", "payload": payload}])


def test_ratings_per_item_and_per_village_over_a_chosen_period(officer: FlaskClient, store: sqlite3.Connection) -> None:
    kiosk, other = enrolled_kiosk(store), enrolled_kiosk(store, "liutang")
    rating(store, kiosk, "a", "2026-11-02", 5, reasons=["quick"])
    rating(store, kiosk, "b", "2026-11-03", 5, reasons=["quick", "friendly"])
    rating(store, kiosk, "c", "2026-11-03", 1, reasons=["slow", "slow"])  # a reason counts once per rating
    rating(store, kiosk, "d", "2026-11-04", 2, item="caiwu-kaizhi-shenpi")
    rating(store, kiosk, "e", "2026-10-20", 1)  # before the period
    rating(store, kiosk, "f", "2026-11-04", 9)  # not a level: ignored
    rating(store, other, "g", "2026-11-05", 4)
    page = officer.get("/dashboard/feedback?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    villages = {r["Village"]: r for r in table(page, "feedback-villages")}
    ours = villages[f"桃源村 ({VILLAGE})"]
    assert (ours["Very satisfied"], ours["Very dissatisfied"], ours["Dissatisfied"], ours["Ratings"]) == (
        "2", "1", "1", "4")  # fmt: skip
    assert ours["Share dissatisfied"] == "50%", "levels 2 and 1 are a 差评"
    items = table(page, "feedback-items")
    dibao = next(r for r in items if r["Item"] == "最低生活保障申请" and r["Village"].startswith("桃源村"))
    assert dibao["Ratings"] == "3" and dibao["Kind"] == "Village power"
    assert dibao["Reasons given"] == "Quick service ×2; Friendly staff ×1; Waited too long ×1"
    assert sum(int(r["Ratings"]) for r in items) == 5
    exported = csv_rows(officer, "/dashboard/feedback-villages.csv?from=2026-11-01&to=2026-11-30")
    assert {r["Village"]: r["Ratings"] for r in exported} == {r["Village"]: r["Ratings"] for r in villages.values()}
    one_day = officer.get("/dashboard/feedback?from=2026-11-03&to=2026-11-03").get_data(as_text=True)
    assert [r["Ratings"] for r in table(one_day, "feedback-villages")] == ["2"]


def test_a_bad_period_says_how_to_write_dates_and_shows_the_last_30_days(
    officer: FlaskClient, store: sqlite3.Connection
) -> None:
    for bad in ("from=yesterday&to=<script>", "from=0001-01-01", "to=9999-12-31"):
        response = officer.get(f"/dashboard/villages?{bad}")
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and "Write the From and To dates like 2026-11-27" in page, bad
        assert "<script>" not in page
    long = officer.get("/dashboard/feedback?from=2020-01-01&to=2026-11-30").get_data(as_text=True)
    assert "A period is at most a year" in long and 'value="2025-11-29"' in long
    backwards = officer.get("/dashboard/feedback?from=2026-11-30&to=2026-11-01").get_data(as_text=True)
    assert 'value="2026-11-01"' in backwards and 'value="2026-11-30"' in backwards, "the period is put right"
    assert officer.get("/dashboard/nothing.csv").status_code == 404


# --- in a browser ------------------------------------------------------------------------------


def test_an_officer_signs_in_and_sees_a_quiet_kiosk_in_chinese(
    browser: Browser, county_repo: CountyRepo, tmp_path: Path, store_for_browser: tuple[Flask, sqlite3.Connection]
) -> None:
    """Debian's Chromium on the real server: the sign-in form, the flagged row, the CSV link, CJK glyphs."""
    app, db = store_for_browser
    quiet = enrolled_kiosk(db)
    county_store.record_report(db, quiet, {"content_version": latest_version(county_repo)},
                               now=datetime.now(UTC) - timedelta(days=3))  # fmt: skip
    with serving(CountyServer(county_repo.path, app)) as url:
        context, outside, errors = guarded(browser, url, base_url=url, locale="zh-CN")
        page = context.new_page()
        page.goto("/dashboard/")
        expect(page).to_have_url(re.compile(r"/sign-in"))
        page.get_by_label("账号名").fill("anna")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("一体机")
        row = page.locator("tr.flagged")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("失联")
        expect(row).to_contain_text("桃源村")
        with page.expect_download() as download:
            page.get_by_role("link", name="下载 CSV 表格").click()
        assert download.value.suggested_filename.startswith("kiosks-")
        assert "失联" in Path(download.value.path()).read_text(encoding="utf-8-sig")

        cdp = context.new_cdp_session(page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        document = cdp.send("DOM.getDocument", {"depth": 0})
        node = cdp.send("DOM.querySelector", {"nodeId": document["root"]["nodeId"], "selector": "h1"})
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
        assert sum(f["glyphCount"] for f in fonts if "Noto Sans CJK" in f["familyName"]) >= 3, fonts
        context.close()
    assert outside == [] and errors == []


@pytest.fixture()
def store_for_browser(county_repo: CountyRepo, tmp_path: Path) -> Iterator[tuple[Flask, sqlite3.Connection]]:
    """The county app in Chinese (its default language), with the account anna, and its county.db."""
    data = tmp_path / "county-browser"
    app = create_county_app({"REPO": str(county_repo.path), "DATA_DIR": str(data), "SECRET_KEY": "b"})
    officers = county_store.open_store(data)
    accounts.add(officers, "anna", "admin", PASSWORD, actor="test")
    officers.close()
    db = county_store.open_store(data)
    yield app, db
    db.close()


# --- what an odd kiosk sends --------------------------------------------------------------------


def test_odd_uploads_are_set_aside_and_every_page_still_answers(
    county_repo: CountyRepo, county_app: Flask, officer: FlaskClient, kiosk_data: Path
) -> None:
    """A kiosk's bug (or a kiosk in the wrong hands) sends what passes the signature but not the sense."""
    rating = {"kind": "power", "item_id": "dibao-shenqing", "level": 5, "reasons": ["quick"], "day": "2026-11-03"}
    huge = {"title": "t", "published_at": "9999-12-30 00:00:00", "days": 10**12}
    odd = {
        "float level": ("feedback", {**rating, "level": 5.0}),
        "path in the id": ("feedback", {**rating, "item_id": "../../dashboard/language/en"}),
        "year one": ("feedback", {**rating, "day": "0001-01-01"}),
        "posting a list": ("display_log", {"day": "2026-11-03", "notices": [], "posting": ["a", "b"]}),
        "huge posting": ("display_log", {"day": "2026-11-03", "notices": ["x"], "posting": {"x": huge}}),
        "no such action": ("village_notice", {"action": "explode", "at": "now", "notice": {}}),
    }
    local = open_local(kiosk_data)
    local.executemany(
        "insert into outbox (idempotency_key, kind, payload, created_at) values (?, ?, ?, '2026-11-03')",
        [(key, kind, json.dumps(payload)) for key, (kind, payload) in {**odd, "good": ("feedback", rating)}.items()],
    )
    local.close()
    with serving(CountyServer(county_repo.path, county_app)) as url:
        uplink = enrolled(kiosk_data, url, Path(county_app.config["DATA_DIR"]))
        nan = b'{"items": [{"key": "n", "kind": "feedback", "payload": {"level": NaN}}]}'
        assert uplink._post("/api/outbox", nan).status == 400, "NaN is not JSON"
        assert uplink.upload_outbox() == 7 and outbox_left(kiosk_data) == 0, "every item acknowledged"
        uplink.report({"disk_free_bytes": 2**70, "last_error": "x" * 5000, "overdue": "not a list"})
    db = county_store.open_store(Path(county_app.config["DATA_DIR"]))
    set_aside = {
        key.partition(":")[2]: problem
        for key, problem in db.execute("select idempotency_key, problem from rejected_uploads")
    }  # keys are kept per kiosk: "<kiosk id>:<key>"
    stored = [key.partition(":")[2] for (key,) in db.execute("select idempotency_key from uploads")]
    db.close()
    assert set(set_aside) == set(odd) and stored == ["good"], set_aside
    assert "level is a whole number" in set_aside["float level"]
    for path in (*PAGES[:3], "/dashboard/villages?from=2026-11-01&to=2026-11-30", "/dashboard/takedowns.csv",
                 "/dashboard/feedback?from=2026-11-01&to=2026-11-30"):  # fmt: skip
        assert officer.get(path).status_code == 200, path
    (kiosk,) = table(officer.get("/dashboard/").get_data(as_text=True), "kiosks")
    assert kiosk["Uploads set aside"] == "6" and kiosk["Disk free"] == "" and len(kiosk["Sync error"]) == 2000
    page = officer.get("/dashboard/feedback?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert [r["Ratings"] for r in table(page, "feedback-villages")] == ["1"]


@pytest.mark.county_sqlite_only  # SQLite's own file or history
def test_what_was_stored_before_the_checks_is_sorted_out_when_county_db_is_upgraded(
    county_repo: CountyRepo, tmp_path: Path
) -> None:
    from sqlite_utils import Database

    data = tmp_path / "old-county"
    data.mkdir()
    connection = sqlite3.connect(data / county_store.FILE, isolation_level=None)
    county_store.migrations.apply(Database(connection), stop_before="m004_for_the_dashboard")
    connection.execute("insert into kiosks (id, village, created_at) values (1, 'taoyuan', '2026-11-01')")
    rating = {"kind": "power", "item_id": "dibao-shenqing", "level": 4, "reasons": ["quick"], "day": "2026-11-03"}
    notice = {"id": "local-1", "title": "低保对象名单", "published_at": "2026-11-02 09:00:00", "min_posting_days": 7}
    connection.executemany(
        "insert into uploads (idempotency_key, kiosk_id, kind, payload, received_at) values (?, 1, ?, ?, 'x')",
        [("good", "feedback", json.dumps(rating)), ("nan", "feedback", '{"level": NaN}'),
         ("float", "feedback", json.dumps({**rating, "level": 4.0})),
         ("week", "display_log", json.dumps({"day": "2026-W45-3", "notices": []})),
         *((f"log-{day}", "display_log", json.dumps({"day": f"2026-11-0{day}", "at": f"2026-11-0{day} 02:30:00",
                                                   "notices": shown, "posting": POSTING}))
           for day, shown in ((3, ["dibao"]), (4, []))),
         ("withdrawn", "village_notice", json.dumps({"action": "withdraw", "at": "2026-11-03T15:00:00",
                                                     "reason": "贴错了", "notice": notice}))],
    )  # fmt: skip
    connection.executemany(  # reports stored before their overdue lists were checked
        "insert into reports (kiosk_id, received_at, overdue) values (1, ?, ?)",
        [("2026-11-01T00:00:00+00:00", '"2 overdue"'), ("2026-11-02T00:00:00+00:00", '[{"duty": "caiwu"}, 7]')],
    )
    connection.close()
    app = create_county_app({"TESTING": True, "REPO": str(county_repo.path), "DATA_DIR": str(data),
                             "SECRET_KEY": "u", "DEFAULT_LOCALE": "en"})  # fmt: skip  # upgrades county.db
    db = county_store.open_store(data)
    assert [k for (k,) in db.execute("select idempotency_key from uploads where kind = 'feedback'")] == ["1:good"]
    rejected = {k for (k,) in db.execute("select idempotency_key from rejected_uploads")}
    assert rejected == {"1:nan", "1:float", "1:week"}
    assert [tuple(r) for r in db.execute("select notice, last_seen, missing from gone_from_logs")] == [
        ("dibao", "2026-11-03", "2026-11-04")], "display logs judged as they would be on arrival"  # fmt: skip
    assert [tuple(r) for r in db.execute("select day, village, item, level, count from rating_counts")] == [
        ("2026-11-03", "taoyuan", "dibao-shenqing", 4, 1)]  # fmt: skip
    db.close()
    officers = county_store.open_store(data)
    accounts.add(officers, "anna", "admin", PASSWORD, actor="test")
    officers.close()
    client = app.test_client()
    sign_in(client)
    page = client.get("/dashboard/villages?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert [(r["Notice"], r["Gone from"], r["Reason given"]) for r in table(page, "takedowns")] == [
        ("低保对象名单", "2026-11-03", "贴错了"),
        ("低保对象名单公示", "2026-11-04", ""),
    ]
    assert [r["Disclosure"] for r in table(page, "overdue")] == ["caiwu"], "an old odd report breaks nothing"


def test_behind_tls_the_session_cookie_is_secure_and_the_visitor_is_the_forwarded_address(
    county_repo: CountyRepo, tmp_path: Path
) -> None:
    config = {"TESTING": True, "REPO": str(county_repo.path), "DATA_DIR": str(tmp_path / "c"), "SECRET_KEY": "p",
              "DEFAULT_LOCALE": "en", "SECURE_COOKIES": 1, "PROXY_HOPS": 1}  # fmt: skip
    app = create_county_app(config)
    client = app.test_client()
    proxied: dict[str, Any] = {"headers": {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https",
                           "Referer": "https://county.example/sign-in"},  # over HTTPS, CSRF checks the referrer
               "base_url": "https://county.example"}  # fmt: skip
    form = client.get("/sign-in", **proxied)
    assert "Secure" in form.headers["Set-Cookie"] and "HttpOnly" in form.headers["Set-Cookie"]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form.get_data(as_text=True))
    assert token
    wrong = {"name": "anna", "password": "wrong", "csrf_token": token.group(1)}
    for _attempt in range(10):  # one visitor's limit of 10 a minute...
        assert client.post("/sign-in", data=wrong, **proxied).status_code == 401
    assert client.post("/sign-in", data=wrong, **proxied).status_code == 429
    other = {**proxied, "headers": {**proxied["headers"], "X-Forwarded-For": "203.0.113.9"}}
    assert client.post("/sign-in", data=wrong, **other).status_code == 401, "...is not another visitor's"


def test_a_long_table_is_shown_a_page_of_rows_at_a_time_and_the_csv_has_them_all(
    officer: FlaskClient, store: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiosk.county import dashboard

    kiosks = [enrolled_kiosk(store) for _kiosk in range(5)]
    monkeypatch.setattr(dashboard, "MAX_ROWS", 2)
    page = officer.get("/dashboard/").get_data(as_text=True)
    assert [int(row["Kiosk"]) for row in table(page, "kiosks")] == kiosks[:2]
    assert "Rows 1 to 2 of 5 (page 1 of 3); the CSV file has them all." in page and 'rel="prev"' not in page
    following = re.search(r'rel="next" href="([^"]+)"', page)
    assert following and following[1] == "/dashboard/?kiosks-page=2"
    second = officer.get(following[1]).get_data(as_text=True)
    assert [int(row["Kiosk"]) for row in table(second, "kiosks")] == kiosks[2:4]
    assert 'rel="prev" href="/dashboard/?kiosks-page=1"' in second
    for asked, shown in [("3", kiosks[4:]), ("99", kiosks[4:]), ("0", kiosks[:2]), ("x", kiosks[:2])]:
        rows = table(officer.get(f"/dashboard/?kiosks-page={asked}").get_data(as_text=True), "kiosks")
        assert [int(row["Kiosk"]) for row in rows] == shown, asked
    period = officer.get("/dashboard/villages?from=2026-01-01&to=2026-01-31&takedowns-page=1").get_data(as_text=True)
    assert "Rows 1 to" not in period, "a short table has no pages"
    assert len(csv_rows(officer, "/dashboard/kiosks.csv")) == 5
