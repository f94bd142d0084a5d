"""Every villager screen, in both languages, through the Flask test client."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk.data import queries
from kiosk.data.content_db import get_db
from kiosk.screens import create_app
from kiosk.screens.qr import mobile_url, qr_png_cached
from sync.contract.content import County, load_county
from sync.contract.dates import local_now
from sync.contract.kinds import Notice, Power, in_scope
from sync.contract.snapshot import village_snapshot
from sync.contract.supervision import supervisors
from sync.receive.install import install_snapshot
from sync.receive.qr_drawing import qr_png
from tests.county_files import install_with_a_notice_out_tomorrow, write_county
from tests.qr_images import decode_qr, qr_image, qr_sources

VILLAGE = "taoyuan"
DOMAIN_KEYS = {"党务": "party", "村务": "village", "财务": "finance", "政务": "government"}


def text_of(response: Any) -> str:
    """The page as a person reads it: tags removed, entities decoded, spaces collapsed."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def village(county: County) -> dict[str, str]:
    return next(v for v in county.villages() if v["code"] == VILLAGE)


def shown_powers(county: County) -> list[Power]:
    return [p for p in county.powers if in_scope(p["scope"], village(county))]


def now() -> str:
    return local_now("Asia/Shanghai").isoformat(sep=" ", timespec="seconds")


def is_current(notice: Mapping[str, Any], at: str | None = None) -> bool:
    at = at or now()
    return notice["published_at"] <= at and (notice["expires_at"] is None or notice["expires_at"] >= at)


# The day the demo county's notices were written for.
DEMO_WRITTEN = "2026-11-27 12:00:00"


def content_date(app: Flask) -> datetime:
    with app.app_context():
        return datetime.strptime(queries.meta(get_db())["content_date"], "%Y-%m-%d")


def test_home_has_tiles_village_date_and_sample_mark(app: Flask, client: FlaskClient) -> None:
    page = text_of(client.get("/"))
    for tile in ("小微权力清单", "十个一", "村务公开", "政务公开目录", "联系与监督"):
        assert tile in page
    assert "桃源村" in page and "示例" in page
    assert f"内容更新于 {content_date(app):%Y年%-m月%-d日}" in page
    assert content_date(app).date() == local_now("Asia/Shanghai").date(), "the demo is built today, county time"


def test_home_in_english(app: Flask, english: FlaskClient) -> None:
    page = text_of(english.get("/"))
    for tile in ("Small-power list", "Ten ones", "Village notices", "Disclosure catalogue", "Contacts and supervision"):
        assert tile in page
    assert "SAMPLE" in page and f"Content updated {content_date(app):%B %-d, %Y}" in page
    assert "桃源村" in page, "content stays as written"


def test_power_categories_list_every_category_with_counts(client: FlaskClient, demo_county: County) -> None:
    page = text_of(client.get("/powers"))
    powers = shown_powers(demo_county)
    for category in {p["category"] for p in powers}:
        count = sum(p["category"] == category for p in powers)
        assert f"{category} {count} 项" in page


def test_category_pages_list_their_items(client: FlaskClient, demo_county: County) -> None:
    listed = []
    for order in range(12):
        response = client.get(f"/powers/category/{order}")
        if response.status_code == 200:
            listed += re.findall(r'href="/powers/([a-z0-9-]+)"', response.get_data(as_text=True))
    assert sorted(listed) == sorted(p["id"] for p in shown_powers(demo_county))


def test_every_power_item_shows_every_field(client: FlaskClient, demo_county: County) -> None:
    for item in shown_powers(demo_county):
        response = client.get(f"/powers/{item['id']}")
        assert response.status_code == 200, item["id"]
        page = text_of(response)
        expected = [item["name"], item["responsible"], item["fee"], item["time_limit"]]
        expected += item["basis"] + item.get("participants", []) + item.get("materials", [])
        named = supervisors(item["supervision"], demo_county.contacts, village(demo_county))
        assert named, f"{item['id']}: someone supervises it"
        expected += [s["body"] for s in named] + [s["phone"] for s in named]
        expected += [item["disclosure"]["content"]] if "disclosure" in item else []
        expected += [r["point"] for r in item.get("risks", [])] + [r["control"] for r in item.get("risks", [])]
        expected += item.get("accountability", [])
        expected += [s["title"] for s in item["steps"]] + [s["actor"] for s in item["steps"]]
        for value in expected:
            assert html.unescape(value) in page, f"{item['id']}: {value!r} missing"
        for supervisor in named:
            assert f'href="tel:{supervisor["phone"]}"' in response.get_data(as_text=True)


# A power item's page on a low-end board (bench/browser.py, CPU x6): what it costs to parse, lay out and paint
# grows with its elements; the demo's largest has 246 (281 before its icons were drawn inline, #17).
POWER_PAGE_ELEMENTS = 300


def test_a_power_items_heading_comes_first_and_its_page_stays_light(client: FlaskClient, demo_county: County) -> None:
    for item in shown_powers(demo_county):
        page = client.get(f"/powers/{item['id']}").get_data(as_text=True)
        # A slow board may draw a first frame before the page is all read: it has the heading when nothing but
        # the top bar comes before it (the actions and QR code follow the text; the scripts come last).
        assert page.index("<h1") < page.index('class="qr-box"'), item["id"]
        assert page.index("<script") > page.index("</main>"), item["id"]
        elements = len(re.findall(r"<[a-zA-Z]", page))
        assert elements <= POWER_PAGE_ELEMENTS, f"{item['id']}: {elements} elements"


def test_flowchart_draws_every_step_and_each_branch(client: FlaskClient, demo_county: County) -> None:
    branching = [p for p in shown_powers(demo_county) if any(len(s["goes_to"]) > 1 for s in p["steps"])]
    assert branching, "the demo has branching procedures"
    for item in branching:
        body = client.get(f"/powers/{item['id']}").get_data(as_text=True)
        chart = body[body.index('class="flowchart"') : body.index("</ol>", body.index('class="flowchart"'))]
        assert chart.count('class="flow-step') == len(item["steps"]), item["id"]
        for step in item["steps"]:
            for go in step["goes_to"]:
                if go["when"]:
                    assert html.escape(go["when"], quote=False) in chart, (item["id"], go["when"])


def test_four_two_items_show_the_six_steps(client: FlaskClient, demo_county: County) -> None:
    items = [p for p in shown_powers(demo_county) if p["four_two"]]
    assert items
    for item in items:
        page = text_of(client.get(f"/powers/{item['id']}"))
        assert "按“四议两公开”决策" in page
        steps = ["党支部提议", "村“两委”商议", "党员大会审议", "村民会议或村民代表会议决议", "决议公开", "实施结果公开"]
        chart = page[page.index("运行流程") :]  # what to bring, above the chart, may name a step too
        positions = [chart.index(step) for step in steps]
        assert positions == sorted(positions), item["id"]
        assert "四议两公开 6/6" in page


def test_other_villages_items_are_not_on_this_kiosk(client: FlaskClient, demo_county: County) -> None:
    elsewhere = [p for p in demo_county.powers if not in_scope(p["scope"], village(demo_county))]
    assert elsewhere, "the demo has village-specific items of other villages"
    for item in elsewhere:
        assert client.get(f"/powers/{item['id']}").status_code == 404
    mine = [p for p in demo_county.powers if p["scope"] == f"village:{VILLAGE}"]
    assert mine and all(client.get(f"/powers/{p['id']}").status_code == 200 for p in mine)


def test_ten_ones_in_order_with_photos(client: FlaskClient, demo_county: County) -> None:
    response = client.get("/ten-ones")
    page = text_of(response)
    titles = [t["title"] for t in demo_county.ten_ones["items"]]
    positions = [page.index(t) for t in titles]
    assert len(titles) == 10 and positions == sorted(positions)
    photos = re.findall(r'src="(/media/[0-9a-f]{64}\.\w+)"', response.get_data(as_text=True))
    assert len(photos) == sum("photo" in t for t in demo_county.ten_ones["items"]) > 0
    for photo in photos:
        with client.get(photo) as image:
            assert image.status_code == 200 and image.mimetype == "image/jpeg" and image.data[:2] == b"\xff\xd8"


def notices_of(county: County) -> list[Notice]:
    return [n for n in county.notices if in_scope(n["scope"], village(county))]


@pytest.mark.parametrize("domain", ["党务", "村务", "财务", "政务"])
def test_notice_lists_current_first_pinned_on_top_expired_in_archive(
    app: Flask, client: FlaskClient, demo_county: County, domain: str
) -> None:
    app.config["PAGE_SIZE"] = 100
    mine = [n for n in notices_of(demo_county) if n["domain"] == domain]
    key = DOMAIN_KEYS[domain]
    current = re.findall(r'href="/notice/([a-z0-9-]+)"', client.get(f"/notices/{key}").get_data(as_text=True))
    archive = re.findall(r'href="/notice/([a-z0-9-]+)"', client.get(f"/notices/{key}/archive").get_data(as_text=True))
    expected_current = sorted(
        (n for n in mine if is_current(n)), key=lambda n: (not n["pinned"], [-ord(c) for c in n["published_at"]])
    )
    assert current == [n["id"] for n in expected_current]
    assert sorted(archive) == sorted(n["id"] for n in mine if n["expires_at"] and n["expires_at"] < now())


def test_demo_has_pinned_and_expired_notices_here(demo_county: County) -> None:
    mine = notices_of(demo_county)
    assert any(n["pinned"] and is_current(n, DEMO_WRITTEN) for n in mine)
    assert any(n["expires_at"] and n["expires_at"] < DEMO_WRITTEN for n in mine)


def test_notice_page_shows_text_photos_dates_and_posting_period(client: FlaskClient, demo_county: County) -> None:
    for notice in notices_of(demo_county):
        response = client.get(f"/notice/{notice['id']}")
        page = text_of(response)
        published = datetime.strptime(notice["published"][:10], "%Y-%m-%d")
        assert notice["title"] in page and f"发布日期 {published:%Y年%-m月%-d日}" in page
        first_line = re.sub(r"[#*|>`-]", "", notice["body_text"].splitlines()[0]).strip()
        assert first_line[:20] in page
        assert "公开截止" in page
        if notice.get("min_posting_days"):
            assert f"公示期 不少于 {notice['min_posting_days']} 个工作日" in page
        photos = re.findall(r'src="(/media/[0-9a-f]{64}\.\w+)"', response.get_data(as_text=True))
        assert len(photos) == len(notice.get("photos", []))
        for photo in photos:
            with client.get(photo) as image:
                assert image.status_code == 200


def test_notices_for_other_villages_are_absent(client: FlaskClient, demo_county: County) -> None:
    others = [n for n in demo_county.notices if not in_scope(n["scope"], village(demo_county))]
    assert others
    for notice in others:
        assert client.get(f"/notice/{notice['id']}").status_code == 404


def test_catalogue_has_26_areas_and_every_field(client: FlaskClient, demo_county: County) -> None:
    areas = re.findall(r'href="/catalogue/area/(\d+)"', client.get("/catalogue").get_data(as_text=True))
    assert len(areas) == 26
    for item in demo_county.catalogue:
        page = text_of(client.get(f"/catalogue/{item['id']}"))
        elements = [item["content"]] if isinstance(item["content"], str) else item["content"]
        for value in [
            item["level1"],
            *elements,
            item["time_limit"],
            item["body"],
            item["audience"],
            item["mode"],
        ]:
            assert value in page, (item["id"], value)
        for value in item["basis"] + item["channels"] + item["level"]:
            assert value in page, (item["id"], value)


def test_contacts_show_supervision_and_hotlines_large(client: FlaskClient, demo_county: County) -> None:
    response = client.get("/contacts")
    body = response.get_data(as_text=True)
    mine = [c for c in demo_county.contacts if in_scope(c["scope"], village(demo_county))]
    assert any(c["kind"] == "supervision" and c["scope"] == f"village:{VILLAGE}" for c in mine)
    for contact in mine:
        assert re.search(rf'class="phone phone-big" href="tel:{re.escape(contact["phone"])}"', body)
        assert contact["name"] in text_of(response)
    page = text_of(response)
    village_committee = next(c for c in mine if c["kind"] == "supervision" and c["scope"] == f"village:{VILLAGE}")
    township = [c for c in mine if c["kind"] == "supervision" and c["scope"].startswith("township:")]
    county_wide = [c for c in mine if c["kind"] == "supervision" and c["scope"] == "county"]
    assert township and county_wide
    order = [page.index(c["name"]) for c in [village_committee, *township, *county_wide]]
    assert order == sorted(order), "the village's own first, then the township's, then the county's"
    others = [c for c in demo_county.contacts if not in_scope(c["scope"], village(demo_county))]
    assert all(c["phone"] not in body or any(m["phone"] == c["phone"] for m in mine) for c in others)


@pytest.mark.parametrize("kind", ["power", "notice", "catalogue"])
def test_detail_pages_carry_the_qr_code_of_their_mobile_page(
    client: FlaskClient, demo_county: County, kind: str
) -> None:
    item_id = {
        "power": shown_powers(demo_county)[0]["id"],
        "notice": notices_of(demo_county)[0]["id"],
        "catalogue": demo_county.catalogue[0]["id"],
    }[kind]
    path = {"power": "/powers/", "notice": "/notice/", "catalogue": "/catalogue/"}[kind] + item_id
    body = client.get(path).get_data(as_text=True)
    url = mobile_url("https://gk.qinghe.example.cn", VILLAGE, kind, item_id)
    assert url in body, "the QR target is shown as text"
    (src,) = qr_sources(body)
    png = qr_image(client, src)
    assert png == qr_png(url) and decode_qr(png, scale=8) == url


SCREENS = [
    "/",
    "/powers",
    "/powers/category/0",
    "/ten-ones",
    "/notices",
    "/notices/finance",
    "/notices/finance/archive",
]
SCREENS += ["/catalogue", "/catalogue/area/0", "/contacts"]


@pytest.mark.parametrize("path", SCREENS)
def test_every_screen_answers_in_both_languages_with_a_switch(client: FlaskClient, path: str) -> None:
    zh = client.get(path)
    assert zh.status_code == 200 and '<html lang="zh-Hans">' in zh.get_data(as_text=True)
    assert "首页" in text_of(zh) and "English" in text_of(zh)
    assert f'href="/lang/en?next={path}"' in zh.get_data(as_text=True)
    client.get("/lang/en")
    en = client.get(path)
    assert en.status_code == 200 and '<html lang="en">' in en.get_data(as_text=True)
    assert "Home" in text_of(en) and "简体中文" in text_of(en)
    assert "首页" not in text_of(en) and "返回" not in text_of(en)


def test_language_switch_returns_to_the_same_page_and_only_on_the_kiosk(client: FlaskClient) -> None:
    response = client.get("/lang/en?next=/powers")
    assert response.status_code == 302 and response.headers["Location"] == "/powers"
    hostile_targets = ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]
    hostile_targets += ["/\t/evil.example/", "/\n/evil.example", "\r\nSet-Cookie: x=1", "///evil"]
    for hostile in hostile_targets:
        assert client.get("/lang/zh", query_string={"next": hostile}).headers["Location"] == "/"
    assert client.get("/lang/zh?next=/%09/evil.example/").headers["Location"] == "/", "a tab browsers would drop"
    assert client.get("/lang/fr").status_code == 404


def test_unknown_pages_say_so_in_the_kiosk_layout(client: FlaskClient) -> None:
    for path in ("/powers/no-such-item", "/notice/no-such", "/catalogue/area/99", "/notices/sports", "/media/../x"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "找不到这个页面" in text_of(response) and "回到首页" in text_of(response)


def test_kiosk_without_content_says_so(tmp_path: Path) -> None:
    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": "x"}).test_client()
    response = client.get("/")
    assert response.status_code == 503 and "本机还没有收到县里发布的内容" in text_of(response)


def test_pages_forbid_outside_requests(client: FlaskClient) -> None:
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy


def test_the_browser_keeps_the_stylesheet_and_script_until_a_release_changes_them(
    app: Flask, client: FlaskClient
) -> None:
    page = client.get("/").get_data(as_text=True)
    for name in ("kiosk.css", "kiosk.js"):
        digest = hashlib.sha256((Path(str(app.static_folder)) / name).read_bytes()).hexdigest()[:16]
        assert f"/static/{name}?v={digest}" in page, "the address names the file's content"
        with client.get(f"/static/{name}?v={digest}") as kept:
            assert kept.status_code == 200 and "max-age=31536000" in kept.headers["Cache-Control"]
        with client.get(f"/static/{name}?v=0123456789abcdef") as older:  # a page of the release before
            assert older.status_code == 200 and "no-cache" in older.headers["Cache-Control"], "asked for again"
    assert client.get("/static/nothing.css?v=").status_code == 404


def test_notices_expire_by_the_countys_clock_not_the_machines(tmp_path: Path) -> None:
    """Content dates are county time (Asia/Shanghai); this machine's clock may well be on UTC."""
    county = write_county(tmp_path / "county")
    expires = local_now("Asia/Shanghai") - timedelta(minutes=90)
    published = expires - timedelta(days=3)
    notice = county / "notices" / "finance.md"
    text = notice.read_text(encoding="utf-8").replace('"2026-11-05"', f'"{published:%Y-%m-%d %H:%M}"')
    notice.write_text(text.replace('"2026-12-05"', f'"{expires:%Y-%m-%d %H:%M}"'), encoding="utf-8")
    snapshot, media = village_snapshot(load_county(county), "apple", 1, "2026-11-27")
    install_snapshot(tmp_path / "data", snapshot, media)
    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": "x"}).test_client()
    assert "finance-10" in client.get("/notices/finance/archive").get_data(as_text=True)
    assert "finance-10" not in client.get("/notices/finance").get_data(as_text=True)


def test_page_numbers_past_the_end_or_not_numbers_are_not_found(client: FlaskClient) -> None:
    assert client.get("/notices/finance?page=1").status_code == 200
    for page in ("99999", "0", "-1", "abc", "1e3"):
        assert client.get(f"/notices/finance?page={page}").status_code == 404, page
        assert client.get(f"/powers/category/0?page={page}").status_code == 404, page


def test_a_notice_not_yet_published_cannot_be_opened(tmp_path: Path) -> None:
    data = install_with_a_notice_out_tomorrow(tmp_path)
    client = create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "x"}).test_client()
    assert client.get("/notice/finance-10").status_code == 404
    assert "finance-10" not in client.get("/notices/finance").get_data(as_text=True)


def test_qr_codes_drawn_by_many_threads_at_once_all_succeed(tmp_path: Path) -> None:
    url = mobile_url("https://gk.test.example.cn", "apple", "notice", "local-1")  # a village's own: drawn on request
    with ThreadPoolExecutor(max_workers=8) as pool:
        drawn = list(pool.map(lambda _n: qr_png_cached(tmp_path, url), range(32)))
    assert set(drawn) == {qr_png(url)} and len(list(tmp_path.glob("*.png"))) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_secret_key_is_made_once_per_install_and_private(tmp_path: Path) -> None:
    first = create_app({"DATA_DIR": str(tmp_path)}).config["SECRET_KEY"]
    second = create_app({"DATA_DIR": str(tmp_path)}).config["SECRET_KEY"]
    assert first == second and len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert create_app({"DATA_DIR": str(tmp_path / "other")}).config["SECRET_KEY"] != first
