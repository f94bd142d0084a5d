"""What villagers looked for: counted on the kiosk's real pages, sent to a real county once a day is over (once,
however often it is sent), shown on the dashboard over a period with SVG charts and CSV, and said on the kiosk's
about page. Counting never breaks a page: on a full disk, a file system gone read-only, or a locked local.db."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from kiosk.cli import main
from kiosk.county import CountyServer
from kiosk.county import store as county_store
from kiosk.data import content_db, usage
from kiosk.data.local_db import open_local
from kiosk.screens import create_app
from kiosk.staff import create_staff_app
from sync.receive.updater import read_config, sync_kiosk
from tests.county_repo import VILLAGE, CountyRepo
from tests.servers import serving
from tests.test_dashboard import county_app, csv_rows, enrolled_kiosk, officer, store, table  # noqa: F401 (fixtures)
from tests.test_field_repair import FullDisk
from tests.test_uplink import enrolled

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL

POWER, NOTICE, CATALOGUE = "dibao-shenqing", "caiwu-2026-10-taoyuan", "zdjs-pizhun-jieguo"
UNFOUND = "xqz"  # pinyin initials that no title of the demo county has
GUIDE = "/guides/shenghuo-kunnan"
DIBAO = f"{GUIDE}/1-1-1"  # 收入一直很低 → 比低保标准低 → 没有汽车、商品房、存款: 可以申请最低生活保障（低保）


@pytest.fixture()
def kiosk_copy(demo_data: Path, tmp_path: Path) -> Path:
    """The demo kiosk's data, a copy of its own: its counts are this test's alone."""
    data = tmp_path / "kiosk"
    shutil.copytree(demo_data, data, ignore=shutil.ignore_patterns("qr"))
    # The shared demo kiosk has served other tests' pages, and counted them: start from none.
    with sqlite3.connect(data / "local.db") as db:
        if db.execute("select 1 from sqlite_master where name = 'usage_counts'").fetchone():
            db.execute("delete from usage_counts")
    db.close()
    return data


def screens(data: Path) -> FlaskClient:
    return create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "looked"}).test_client()


def counts(data: Path, kind: str | None = None) -> dict[tuple[str, str], int]:
    with sqlite3.connect(f"file:{data / 'local.db'}?mode=ro", uri=True) as db:
        rows = db.execute("select kind, key, sum(count) from usage_counts group by kind, key").fetchall()
    return {(k, key): n for k, key, n in rows if kind is None or k == kind}


def type_letters(client: FlaskClient, word: str) -> None:
    """Tap *word*'s letters on the search keyboard, as kiosk.js asks for each (search as you type)."""
    for end in range(1, len(word) + 1):
        answer = client.get(f"/search?q={word[:end]}", headers={"X-Kiosk-Update": "search"})
        assert answer.status_code == 200


# --- on the kiosk ---------------------------------------------------------------------------------------


def test_items_opened_are_counted_once_per_visit_through_the_real_pages(kiosk_copy: Path) -> None:
    villager = screens(kiosk_copy)
    for path in (f"/powers/{POWER}", f"/powers/{POWER}?feedback=rate", "/lang/en?next=/powers/" + POWER,
                 f"/notice/{NOTICE}", f"/catalogue/{CATALOGUE}", "/ten-ones", "/contacts", "/"):  # fmt: skip
        assert villager.get(path, follow_redirects=True).status_code == 200, path
    assert villager.get("/reset").status_code == 302  # the idle reset: the next villager
    assert villager.get(f"/powers/{POWER}").status_code == 200
    assert counts(kiosk_copy) == {("power", POWER): 2, ("notice", NOTICE): 1, ("catalogue", CATALOGUE): 1,
                                  ("page", "ten_ones"): 1, ("page", "contacts"): 1}  # fmt: skip
    (day,) = {row[0] for row in sqlite3.connect(kiosk_copy / "local.db").execute("select day from usage_counts")}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", day), "the day only: no time of day is kept"


def test_a_search_that_found_nothing_is_counted_once_when_the_villager_moves_on_one_that_found_something_never(
    kiosk_copy: Path,
) -> None:
    villager = screens(kiosk_copy)
    type_letters(villager, "dbsq")  # 低保申请: found
    assert villager.get("/search?q=低保").status_code == 200  # a common topic: found
    type_letters(villager, UNFOUND)  # x and xq find something; xqz nothing
    villager.get("/search?q=xq", headers={"X-Kiosk-Update": "search"})  # one letter taken back
    assert counts(kiosk_copy, "search_none") == {}, "not yet: the villager may still be typing"
    assert villager.get("/").status_code == 200  # moves on
    assert villager.get("/").status_code == 200
    assert counts(kiosk_copy) == {("search_none", UNFOUND): 1}, "counted once, and nothing found is all it says"


def test_a_phone_id_card_or_e_mail_typed_into_search_is_never_kept(kiosk_copy: Path) -> None:
    villager = screens(kiosk_copy)
    villager.get("/lang/en")
    for query in ("138 0013 8000", "0571-8812 3456", "11010519491231002X", "zhang.san@example.cn", "王建国", UNFOUND):
        found = villager.get("/search", query_string={"q": query})
        assert found.status_code == 200 and "Nothing found" in found.get_data(as_text=True), query
    assert villager.get("/").status_code == 200
    assert counts(kiosk_copy, "search_none") == {("search_none", UNFOUND): 1}, "only the search that names no one"


def test_the_staff_consoles_view_of_the_kiosk_counts_nothing(kiosk_copy: Path) -> None:
    staff = create_staff_app({"TESTING": True, "DATA_DIR": str(kiosk_copy), "SECRET_KEY": "s"}).test_client()
    for path in (f"/kiosk/powers/{POWER}", "/kiosk/ten-ones", f"/kiosk/search?q={UNFOUND}", "/kiosk/contacts"):
        assert staff.get(path).status_code == 200, path
    assert counts(kiosk_copy) == {}, "staff looking at the kiosk's pages are not villagers"


def test_search_keys_are_normalised_and_personal_ones_dropped() -> None:
    assert usage.search_key("  ＹＬ  BX ") == "yl bx", "full-width letters, case and spaces"
    assert usage.search_key("补贴" * 40) == "补贴" * 16, "cut to what the kiosk's search reads"
    assert usage.search_key("2026年补贴") == "2026年补贴", "a year is not a phone number"
    for personal in ("13800138000", "138-0013-8000", "(0571) 88123456", "330102199001011234", "李娜", "a@b.cn"):
        assert usage.search_key(personal) is None, personal


def test_a_guide_ending_reached_by_answering_is_counted_once_a_visit(kiosk_copy: Path) -> None:
    villager = screens(kiosk_copy)
    for path in ("/guides", f"{GUIDE}/", f"{GUIDE}/1", DIBAO, f"{DIBAO}?print=done", f"/lang/en?next={DIBAO}"):
        assert villager.get(path, follow_redirects=True).status_code == 200, path
    assert screens(kiosk_copy).get(DIBAO).status_code == 200  # the next villager
    assert counts(kiosk_copy) == {("guide_ending", "shenghuo-kunnan/dibao"): 2}, (
        "questions are not counted, endings are"
    )


def test_a_guide_ending_is_counted_with_one_call(kiosk_copy: Path) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(kiosk_copy), "SECRET_KEY": "looked"})
    with app.test_request_context("/"):
        assert usage.count(None, "guide_ending", "dibao-jiuzhu/apply-dibao")
        assert usage.count(None, "guide_ending", "dibao-jiuzhu/apply-dibao")
        assert not usage.count(None, "guide_ending", "../../etc"), "not a guide and an ending"
        assert not usage.count(None, "no_such_kind", "x")
    assert counts(kiosk_copy) == {("guide_ending", "dibao-jiuzhu/apply-dibao"): 2}


def test_each_kind_keeps_a_bounded_number_of_keys_a_day(kiosk_copy: Path) -> None:
    db = open_local(kiosk_copy)
    for number in range(usage.MAX_KEYS_PER_DAY + 20):
        usage.count(db, "search_none", f"q{number}", day="2026-11-03")
    assert usage.count(db, "search_none", "q0", day="2026-11-03"), "a key already kept still counts"
    assert not usage.count(db, "search_none", "new", day="2026-11-03")
    assert usage.count(db, "power", POWER, day="2026-11-03"), "another kind has its own room"
    assert usage.count(db, "search_none", "new", day="2026-11-04"), "and another day"
    db.close()
    with sqlite3.connect(kiosk_copy / "local.db") as raw:
        kept = raw.execute("select count(*) from usage_counts where day = '2026-11-03' and kind = 'search_none'")
        assert kept.fetchone()[0] == usage.MAX_KEYS_PER_DAY
        assert raw.execute("select count from usage_counts where key = 'q0'").fetchone()[0] == 2


# --- to the county --------------------------------------------------------------------------------------


def report_on(monkeypatch: pytest.MonkeyPatch, kiosk_data: Path, day: date) -> None:
    """Run `kiosk report` as if it were 02:30 on *day* (the kiosk's nightly report)."""
    import kiosk.device.reporting

    at = datetime(day.year, day.month, day.day, 2, 30)
    monkeypatch.setattr(kiosk.device.reporting, "county_now", lambda *_: at)
    result = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"}).invoke(main, ["report", "--data", str(kiosk_data)])
    assert result.exit_code == 0 and "reported to the county" in result.output, result.output


def county_counts(data: Path) -> dict[tuple[str, str, str, str], int]:
    db = county_store.open_store(data)
    rows = db.execute("select village, day, kind, key, count from usage_counts").fetchall()
    db.close()
    return {(village, day, kind, key): n for village, day, kind, key, n in rows}


def test_a_days_counts_reach_the_county_with_the_signed_report_once_the_day_is_over_and_are_stored_once(
    county_app: Flask,  # noqa: F811
    county_repo: CountyRepo,
    kiosk_data: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert sync_kiosk(kiosk_data).outcome == "updated"
    villager = screens(kiosk_data)
    assert villager.get(f"/powers/{POWER}").status_code == 200
    type_letters(villager, UNFOUND)
    assert villager.get("/").status_code == 200
    (today,) = {date.fromisoformat(k) for k in _days(kiosk_data)}
    local = open_local(kiosk_data)
    usage.count(local, "search_none", "138 0013 8000x", day=today.isoformat())  # dropped on the kiosk already
    local.close()
    county_data = Path(county_app.config["DATA_DIR"])
    with serving(CountyServer(county_repo.path, county_app)) as url:
        enrolled(kiosk_data, url, county_data)
        report_on(monkeypatch, kiosk_data, today)
        assert county_counts(county_data) == {}, "the day is not over: nothing of it leaves the kiosk"
        report_on(monkeypatch, kiosk_data, today + timedelta(days=1))
        village, day = VILLAGE, today.isoformat()
        assert county_counts(county_data) == {(village, day, "power", POWER): 1,
                                              (village, day, "search_none", UNFOUND): 1}  # fmt: skip
        assert _days(kiosk_data) == set(), "sent, so gone from local.db"
        # The same day's counts sent again (an answer lost on the way): the county stores them once.
        db = county_store.open_store(county_data)
        (payload,) = db.execute("select payload from uploads where kind = 'usage'").fetchone()
        db.close()
        local = open_local(kiosk_data)
        kiosk_id = read_config(kiosk_data)["kiosk_id"]
        local.execute(
            "insert into outbox (idempotency_key, kind, payload, created_at) values (?, 'usage', ?, ?)",
            (f"usage:{kiosk_id}:{day}", json.dumps({"day": day, "counts": [["power", POWER, 1]]}), day),
        )
        local.close()
        report_on(monkeypatch, kiosk_data, today + timedelta(days=2))
        assert county_counts(county_data)[(village, day, "power", POWER)] == 1, "stored once"
        assert '"entries": 2' in payload, "the upload keeps its key and size; the counts are in usage_counts"


def _days(data: Path) -> set[str]:
    with sqlite3.connect(f"file:{data / 'local.db'}?mode=ro", uri=True) as db:
        return {day for (day,) in db.execute("select distinct day from usage_counts")}


# --- on the dashboard -----------------------------------------------------------------------------------


def day_counts(db: sqlite3.Connection, kiosk: int, day: str, entries: list[list[object]], key: str = "") -> None:
    """Store a kiosk's day of counts as the kiosks' API does."""
    item = {"key": key or f"usage:{kiosk}:{day}", "kind": "usage", "payload": {"day": day, "counts": entries}}
    county_store.store_uploads(db, kiosk, [item])


def test_the_dashboard_shows_what_villagers_looked_for_over_a_period_per_village_with_svg_charts_and_csv(
    officer: FlaskClient,  # noqa: F811
    store: sqlite3.Connection,  # noqa: F811
) -> None:
    taoyuan, liutang = enrolled_kiosk(store), enrolled_kiosk(store, "liutang")
    day_counts(store, taoyuan, "2026-11-03", [["power", POWER, 5], ["notice", NOTICE, 2], ["page", "ten_ones", 1],
               ["search_none", "xqz", 3], ["search_none", "<script>alert(1)</script>", 1],
               ["search_none", "13800138000", 9], ["guide_ending", "dibao-jiuzhu/apply-dibao", 4],
               ["guide_ending", "shenghuo-kunnan/dibao", 6]])  # fmt: skip
    day_counts(store, liutang, "2026-11-04", [["power", POWER, 2], ["search_none", "xqz", 1]])
    day_counts(store, liutang, "2026-12-20", [["power", POWER, 50]])  # outside the period chosen
    day_counts(store, liutang, "2026-11-04", [["power", POWER, 2]])  # the same day sent again: stored once

    page = officer.get("/dashboard/looked-for/?from=2026-11-01&to=2026-11-30")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<script" not in html, "no script, and a query's text is escaped"
    opened = table(html, "opened")
    assert [(r["Matter"], r["Times opened"]) for r in opened] == [
        ("最低生活保障申请", "7"), ("桃源村2026年10月财务收支公开", "2"), ("Ten ones", "1")]  # fmt: skip
    assert [(r["Searched for"], r["Times"]) for r in table(html, "not-found")] == [
        ("xqz", "4"), ("<script>alert(1)</script>", "1")], "a phone number a kiosk sent is not kept"  # fmt: skip
    assert [(r["Guide"], r["Ending"], r["Times reached"]) for r in table(html, "endings")] == [
        ("生活困难，想申请补助", "可以申请最低生活保障（低保）", "6"),
        ("dibao-jiuzhu", "apply-dibao", "4")], "a guide no longer published: its ids"  # fmt: skip
    villages = {r["Village"].split(" (")[0]: r for r in table(html, "villages")}
    assert villages["桃源村"]["Matters opened"] == "8" and villages["桃源村"]["Searches that found nothing"] == "4"
    for chart in ("opened", "endings", "not-found"):
        figure = re.search(rf'<figure class="chart" data-chart="{chart}">(.*?)</figure>', html, re.S)
        assert figure and figure.group(1).startswith("<svg") and "<rect" in figure.group(1), chart
    assert "最低生活保障申请: 7" in html, "each bar says its number"

    one = officer.get("/dashboard/looked-for/?from=2026-11-01&to=2026-11-30&village=taoyuan").get_data(as_text=True)
    (first, *_rest) = table(one, "opened")
    assert first["Times opened"] == "5" and f'href="/m/taoyuan/power/{POWER}"' in one, "linked to its phone page"
    assert officer.get("/dashboard/looked-for/?village=nowhere").status_code == 404

    exported = csv_rows(officer, "/dashboard/looked-for/not-found.csv?from=2026-11-01&to=2026-11-30")
    assert [(r["Searched for"], r["Times"]) for r in exported] == [("xqz", "4"), ("<script>alert(1)</script>", "1")]
    later = officer.get("/dashboard/looked-for/?from=2026-12-01&to=2026-12-31").get_data(as_text=True)
    assert [r["Times opened"] for r in table(later, "opened")] == ["50"] and table(later, "not-found") == []


def test_a_full_days_counts_are_added_exactly_however_many_statements_they_take(
    store: sqlite3.Connection,  # noqa: F811
) -> None:
    """Two kiosks of one village send full days (each kind's most keys, three kinds: 1,500 rows, more than one
    statement adds at once); every count, the village's totals and the county's add up exactly."""
    from kiosk.county.uploads import ADD_AT_ONCE

    sent = [(kind, f"{kind}-{number:03d}", number + 1) for kind in ("power", "notice", "search_none")
            for number in range(usage.MAX_KEYS_PER_DAY)]  # fmt: skip
    assert len(sent) > 2 * ADD_AT_ONCE
    for kiosk in (enrolled_kiosk(store), enrolled_kiosk(store)):
        day_counts(store, kiosk, "2026-11-03", [list(entry) for entry in sent])
    kept = {(kind, key): count for kind, key, count in store.execute(
        "select kind, key, count from usage_counts where village = 'taoyuan' and day = '2026-11-03'")}  # fmt: skip
    assert kept == {(kind, key): 2 * number for kind, key, number in sent}
    county = dict(((kind, key), count) for kind, key, count in store.execute(
        "select kind, key, count from usage_county_counts where day = '2026-11-03'"))  # fmt: skip
    assert county == kept
    totals = dict(store.execute("select kind, count from usage_village_totals where village = 'taoyuan'").fetchall())
    expected = sum(range(1, usage.MAX_KEYS_PER_DAY + 1)) * 2
    assert totals == {"power": expected, "notice": expected, "search_none": expected}


@pytest.mark.parametrize("path", ["/dashboard/looked-for/", "/dashboard/looked-for/not-found.csv"])
def test_what_villagers_looked_for_needs_sign_in(county_app: Flask, path: str) -> None:  # noqa: F811
    response = county_app.test_client().get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")


def test_odd_counts_are_set_aside_and_the_page_still_answers(
    officer: FlaskClient,  # noqa: F811
    store: sqlite3.Connection,  # noqa: F811
) -> None:
    kiosk = enrolled_kiosk(store)
    for number, payload in enumerate([{"day": "2026-11-03", "counts": "lots"}, {"day": "0001-01-01", "counts": []},
                                      {"day": "2026-11-03", "counts": [["power", POWER, 1.5]]},
                                      {"day": "2026-11-03", "counts": [["cookies", "x", 1]]},
                                      {"day": "2026-11-03", "counts": [["power", POWER, 1]] * 4000}]):  # fmt: skip
        county_store.store_uploads(store, kiosk, [{"key": f"odd-{number}", "kind": "usage", "payload": payload}])
    assert store.execute("select count(*) from rejected_uploads").fetchone()[0] == 5
    assert store.execute("select count(*) from usage_counts").fetchone()[0] == 0
    assert officer.get("/dashboard/looked-for/?from=2026-11-01&to=2026-11-30").status_code == 200


# --- what the kiosk says about it -----------------------------------------------------------------------


def test_the_about_page_says_what_is_counted_and_what_never_is_in_chinese_and_english(client: FlaskClient) -> None:
    home = client.get("/").get_data(as_text=True)
    assert 'href="/about"' in home and "关于本机与隐私" in home, "reachable from every screen's footer"
    chinese = client.get("/about").get_data(as_text=True)
    for said in ("本机统计什么", "没有搜到结果的搜索词", "本机从不收集什么", "身份证号", "只保留每天的合计",
                 "每天结束后"):  # fmt: skip
        assert said in chinese, said
    client.get("/lang/en")
    english = html.unescape(client.get("/about").get_data(as_text=True))
    for said in ("What the kiosk counts", "The words of a search that found nothing", "What the kiosk never collects",
                 "ID-card number", "only each day's totals are kept", "Once a day is over"):  # fmt: skip
        assert said in english, said


def test_a_kiosk_with_counting_turned_off_counts_nothing_and_its_about_page_says_so(
    kiosk_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIOSK_USAGE_COUNTS", "0")
    villager = screens(kiosk_copy)
    for path in (f"/powers/{POWER}", f"/notice/{NOTICE}", DIBAO, "/ten-ones"):
        assert villager.get(path).status_code == 200, path
    type_letters(villager, UNFOUND)
    assert villager.get("/reset").status_code == 302
    assert counts(kiosk_copy) == {}, "nothing opened, reached or searched for is counted"
    about = villager.get("/about").get_data(as_text=True)
    assert "本机已关闭统计" in about and "没有搜到结果的搜索词" not in about and "每天结束后" not in about
    assert "评价" in about, "a rating the villager chooses to give is still said"


# --- counting never breaks a page -----------------------------------------------------------------------


@pytest.fixture()
def kiosk_on_a_small_disk(tmp_path: Path) -> Iterator[tuple[FullDisk, Path]]:
    disk = FullDisk(tmp_path)
    try:
        disk.mount()
        from kiosk.demo import install_demo

        install_demo(disk.path)
        create_app({"DATA_DIR": str(disk.path)})  # local.db made and migrated, as `kiosk serve` starts
        yield disk, disk.path
    finally:
        disk.unmount()


def browse(client: FlaskClient) -> None:
    """A villager's visit: an item, the ten ones, a search that finds nothing, and on to the home screen."""
    for path in (f"/powers/{POWER}", "/ten-ones", f"/search?q={UNFOUND}", "/"):
        page = client.get(path)
        assert page.status_code == 200, (path, page.get_data(as_text=True)[:500])


def test_pages_show_on_a_full_disk_and_counting_resumes_when_there_is_room(
    kiosk_on_a_small_disk: tuple[FullDisk, Path],
) -> None:
    disk, data = kiosk_on_a_small_disk
    disk.fill()
    browse(screens(data))
    disk.free()
    browse(screens(data))
    assert counts(data)[("power", POWER)] == 1, "counted once there was room"


def test_pages_show_when_the_data_folder_is_read_only(kiosk_copy: Path, tmp_path: Path) -> None:
    """ext4 remounts itself read-only after an error (errors=remount-ro): the kiosk must go on showing.

    A read-only bind mount of the data folder: every write fails with EROFS, for root too (the tests run as root).
    """
    browse(screens(kiosk_copy))
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    subprocess.run(["mount", "--bind", str(kiosk_copy), str(read_only)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(read_only)], check=True)
        browse(screens(read_only))
        browse(screens(read_only))
    finally:
        held = getattr(content_db._per_thread, "held", None)  # this thread's content connection, kept for the next
        if held is not None:
            held[1].close()
            content_db._per_thread.held = None
        usage.close_counting_db()  # and the one counts are written through
        subprocess.run(["umount", str(read_only)], check=True)
    assert counts(kiosk_copy)[("power", POWER)] == 1, "the visits on the read-only folder could not be counted"


def test_counts_follow_local_db_when_it_is_replaced_under_the_running_screens(kiosk_copy: Path) -> None:
    """Counts go through one connection a thread keeps (kiosk/data/usage.py), yet land in the file local.db is now:
    a copy put back in its place (as a software update's rollback does) gets the next count."""
    villager = screens(kiosk_copy)
    browse(villager)
    backup = kiosk_copy / "local.db.before"
    with sqlite3.connect(kiosk_copy / "local.db") as source, sqlite3.connect(backup) as copy:
        source.execute("delete from usage_counts")
        source.commit()
        source.backup(copy)
    source.close()
    copy.close()
    assert counts(kiosk_copy) == {}
    villager.get(f"/powers/{POWER}")  # counted once in this session: not again
    os.replace(backup, kiosk_copy / "local.db")
    browse(screens(kiosk_copy))  # a new session
    assert counts(kiosk_copy)[("power", POWER)] == 1


def test_pages_show_while_a_staff_save_holds_local_db(kiosk_copy: Path) -> None:
    villager = screens(kiosk_copy)  # started, so local.db is made
    holder = sqlite3.connect(kiosk_copy / "local.db", isolation_level=None)
    holder.execute("begin exclusive")  # a staff save under way (or stuck)
    try:
        browse(villager)
    finally:
        holder.execute("rollback")
        holder.close()
    browse(screens(kiosk_copy))
    assert counts(kiosk_copy)[("power", POWER)] == 1
