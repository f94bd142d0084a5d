"""The county's phone pages behind the kiosks' QR codes: what each village's kiosk shows, light, in zh and en."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image, ImageOps
from playwright.sync_api import Browser

from kiosk.county import CountyServer, content, create_county_app
from kiosk.county.store import add_kiosk, enrol, open_store, store_uploads
from kiosk.data import notices
from kiosk.data.local_db import open_local
from kiosk.screens import create_app
from sync.contract.content import County, load_county
from sync.contract.dates import MONDAY_TO_FRIDAY, local_now
from sync.contract.kinds import in_scope
from sync.publish.repository import Repository
from sync.receive.updater import sync_kiosk
from tests.browser import KIOSK_SCREEN, guarded
from tests.county_repo import VILLAGE, CountyRepo
from tests.servers import serving
from tests.test_village_notices import values

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL

PAGE_LIMIT = 50 * 1024  # bytes of HTML per page, photos apart
PHONE = {"width": 390, "height": 844}
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture()
def county_app(county_repo: CountyRepo, tmp_path: Path) -> Flask:
    config = {"TESTING": True, "REPO": str(county_repo.path), "DATA_DIR": str(tmp_path / "county"), "SECRET_KEY": "t"}
    return create_county_app(config)


@pytest.fixture()
def phone(county_app: Flask) -> FlaskClient:
    return county_app.test_client()


def heading(html: str) -> str:
    """Return the page's first <h1>, as text."""
    found = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert found, "the page has a heading"
    return unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, [(k, v or "") for k, v in attrs]))


def elements(html: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Return every element a browser would make of *html*: (tag, attributes)."""
    parser = _Elements()
    parser.feed(html)
    return parser.found


def in_english(url: str) -> str:
    return url + ("&" if "?" in url else "?") + "lang=en"


def now() -> str:
    return local_now("Asia/Shanghai").strftime("%Y-%m-%d %H:%M:%S")


def village_of(county: County, code: str = VILLAGE) -> dict[str, str]:
    return next(v for v in county.villages() if v["code"] == code)


def expected_pages(county: County, code: str = VILLAGE) -> dict[str, str]:
    """Every detail page of a village's kiosk, by URL, with the title it must show."""
    village = village_of(county, code)
    pages = {f"/m/{code}/power/{p['id']}": p["name"] for p in county.powers if in_scope(p["scope"], village)}
    pages |= {
        f"/m/{code}/notice/{n['id']}": n["title"]
        for n in county.notices
        if in_scope(n["scope"], village) and n["published_at"] <= now()
    }
    pages |= {
        f"/m/{code}/catalogue/{c['id']}": c["level1"] + (f" · {c['level2']}" if c.get("level2") else "")
        for c in county.catalogue
    }
    return pages


def test_every_page_of_every_kind_answers_in_both_languages_and_stays_light(
    phone: FlaskClient, county_repo: CountyRepo
) -> None:
    county = load_county(county_repo.content)
    pages = expected_pages(county)
    assert {url.split("/")[3] for url in pages} == {"power", "notice", "catalogue"}
    index = phone.get(f"/m/{VILLAGE}/").text
    lists = set(re.findall(rf'href="(/m/{VILLAGE}/(?:powers|notices|areas)/[^"]+|/m/{VILLAGE}/ten-ones)"', index))
    assert len(lists) > 30, "the index links every category, domain with many notices, area and the ten ones"
    sizes = {}
    for url in [f"/m/{VILLAGE}/", *sorted(lists), *sorted(pages)]:
        for lang, marker in (("zh", 'lang="zh-Hans"'), ("en", 'lang="en"')):
            response = phone.get(in_english(url) if lang == "en" else url)
            assert response.status_code == 200, url
            html = response.text
            assert marker in html.split(">", 2)[1], (url, lang)
            if url in pages:
                assert heading(html) == pages[url], url
                assert f"<title>{pages[url]}" in unescape(html)
            sizes[f"{url} {lang}"] = len(response.data)
    assert max(sizes.values()) <= PAGE_LIMIT, max(sizes.items(), key=lambda kv: kv[1])
    power = next(url for url in pages if "/power/" in url)
    assert "Procedure" in phone.get(f"{power}?lang=en").text and "Procedure" not in phone.get(power).text
    with phone.get("/static/mobile.css") as css:
        assert css.status_code == 200 and len(css.data) < 8 * 1024


def test_links_keep_the_chosen_language_and_offer_the_other(phone: FlaskClient) -> None:
    english = phone.get(f"/m/{VILLAGE}/?lang=en").text
    switch, body = english.split("</nav>", 1)  # the header's language switch comes first
    assert f'href="/m/{VILLAGE}/" lang="zh-Hans" hreflang="zh">简体中文</a>' in switch
    links = re.findall(rf'href="(/m/{VILLAGE}/[^"#]*)"', body)
    assert len(links) > 30 and all(link.endswith("?lang=en") for link in links)
    switch, body = phone.get(f"/m/{VILLAGE}/").text.split("</nav>", 1)
    assert f'href="/m/{VILLAGE}/?lang=en" lang="en" hreflang="en">English</a>' in switch and "lang=" not in body
    page = phone.get(f"/m/{VILLAGE}/notices/village?page=1&lang=en").text
    assert f'href="/m/{VILLAGE}/notices/village?page=1" lang="zh-Hans"' in page, "the switch keeps the rest"


def test_a_village_sees_only_what_its_kiosk_shows(phone: FlaskClient, county_repo: CountyRepo) -> None:
    county = load_county(county_repo.content)
    taoyuan, liutang = expected_pages(county), expected_pages(county, "liutang")
    only_theirs = [
        u.replace("/m/liutang/", "/m/taoyuan/") for u in liutang if u.replace("liutang/", "taoyuan/", 1) not in taoyuan
    ]
    assert any("/notice/" in url for url in only_theirs) and any("/power/" in url for url in only_theirs)
    for url in only_theirs:
        assert phone.get(url).status_code == 404, url
        assert phone.get(url.replace("/m/taoyuan/", "/m/liutang/")).status_code == 200, url
    index = phone.get(f"/m/{VILLAGE}/").text
    assert "柳塘村三组至五组道路硬化工程开工公告" not in index and "桃源村2026年10月财务收支公开" in index


def test_the_index_lists_every_section_with_phone_numbers(phone: FlaskClient, county_repo: CountyRepo) -> None:
    county = load_county(county_repo.content)
    village = village_of(county)
    html = unescape(phone.get(f"/m/{VILLAGE}/?lang=en").text)
    for section in ("Village notices", "Small-power list", "Ten ones", "Disclosure catalogue", "Contacts"):
        assert section in html
    assert {p["category"] for p in county.powers if in_scope(p["scope"], village)} <= set(
        re.findall(r">([^<>]+)</a>", html)
    )
    chinese = unescape(phone.get(f"/m/{VILLAGE}/").text)  # in English, the areas have their English names
    assert {c["area"] for c in county.catalogue} <= set(re.findall(r">([^<>]+)</a>", chinese))
    assert f'href="/m/{VILLAGE}/ten-ones?lang=en"' in html
    ours = [c for c in county.contacts if in_scope(c["scope"], village)]
    assert all(f'href="tel:{c["phone"]}"' in html for c in ours)
    theirs = [c for c in county.contacts if not in_scope(c["scope"], village)]
    assert theirs and not any(c["name"] in html for c in theirs)
    ten_ones = phone.get(f"/m/{VILLAGE}/ten-ones?lang=en").text
    assert heading(ten_ones) == "Ten ones" and all(t["title"] in ten_ones for t in county.ten_ones["items"])


def test_a_removed_or_unknown_item_says_so_and_leads_to_the_village_index(
    phone: FlaskClient, county_repo: CountyRepo
) -> None:
    url = f"/m/{VILLAGE}/power/taoyuan-minsu-jingying"
    assert phone.get(url).status_code == 200
    (county_repo.content / "powers" / "taoyuan-minsu-jingying.yaml").unlink()
    assert county_repo.publish().version is not None
    for address in (url, f"/m/{VILLAGE}/notice/no-such-notice", f"/m/{VILLAGE}/catalogue/x", f"/m/{VILLAGE}/x/y/z",
                    f"/m/{VILLAGE}/powers/99", f"/m/{VILLAGE}/notices/village?page=9"):  # fmt: skip
        response = phone.get(in_english(address))
        assert response.status_code == 404, address
        assert (
            "No longer published" in response.text
            and 'This item is not published for <span lang="zh-Hans">桃源村</span>' in response.text
        )
        assert f'href="/m/{VILLAGE}/?lang=en"' in response.text, "a link to the village index"
    chinese = phone.get(url)
    assert chinese.status_code == 404 and f'href="/m/{VILLAGE}/"' in chinese.text
    unknown = phone.get("/m/nowhere/?lang=en")
    assert unknown.status_code == 404 and "This village is not in the county's published information" in unknown.text


def test_a_notice_not_out_yet_is_not_shown(phone: FlaskClient, county_repo: CountyRepo) -> None:
    source = (county_repo.content / "notices" / "minsu-jueyi-taoyuan-2026.md").read_text(encoding="utf-8")
    future = source.replace("id: minsu-jueyi-taoyuan-2026", "id: future-taoyuan").replace("2026-07-20", "2099-01-05")
    (county_repo.content / "notices" / "future-taoyuan.md").write_text(future.replace("决议公开", "决议预告"), "utf-8")
    county_repo.publish()
    response = phone.get(f"/m/{VILLAGE}/notice/future-taoyuan?lang=en")
    assert response.status_code == 404 and "No longer published" in response.text
    assert "决议预告" not in phone.get(f"/m/{VILLAGE}/").text


def test_a_republished_item_shows_its_new_text_and_nothing_else_rebuilds(
    county_app: Flask, phone: FlaskClient, county_repo: CountyRepo
) -> None:
    url = f"/m/{VILLAGE}/power/taoyuan-minsu-jingying"
    assert heading(phone.get(url).text) == "桃源村集体民宿委托经营"
    published = county_app.extensions["mobile_published"]
    first = published.current()
    county_repo.repository.refresh()  # the nightly re-signing of the timestamp: same content
    assert published.current() is first, "a new timestamp alone does not rebuild the county"
    county_repo.edit("powers/taoyuan-minsu-jingying.yaml", "name: 桃源村集体民宿委托经营", "name: 桃源村民宿合作经营")
    county_repo.publish()
    assert heading(phone.get(url).text) == "桃源村民宿合作经营"
    assert published.current() is not first and published.current().version == first.version + 1


def test_threads_arriving_together_read_the_repository_once(
    county_repo: CountyRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    original = content.read_published

    def counted(repository: Repository) -> content.Published:
        reads.append(1)
        time.sleep(0.2)  # a large county takes a while: the others arrive meanwhile
        return original(repository)

    monkeypatch.setattr(content, "read_published", counted)
    published = content.PublishedCounty(county_repo.path)
    with ThreadPoolExecutor(8) as pool:
        first = list(pool.map(lambda _n: published.current(), range(8)))
    assert len(reads) == 1 and all(p is first[0] for p in first), "nobody waits for nothing, nobody reads twice"
    county_repo.edit("powers/taoyuan-minsu-jingying.yaml", "name: 桃源村集体民宿委托经营", "name: 桃源村民宿合作经营")
    county_repo.publish()
    with ThreadPoolExecutor(8) as pool:
        during = list(pool.map(lambda _n: published.current(), range(8)))
    assert len(reads) == 2, "one thread reads the new version"
    assert any(p is first[0] for p in during), "the others go on with the version they had"
    assert published.current().version == first[0].version + 1


def test_photos_come_from_the_repository_and_may_be_cached_for_ever(phone: FlaskClient) -> None:
    html = phone.get(f"/m/{VILLAGE}/notice/caiwu-2026-10-taoyuan").text
    (photo,) = re.findall(r'<img src="([^"]+)"', html)
    with phone.get(photo) as response:
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert response.data[:3] == b"\xff\xd8\xff"
        assert (
            "immutable" in response.headers["Cache-Control"] and "max-age=31536000" in response.headers["Cache-Control"]
        )
    elsewhere = phone.get("/m/liutang/").text
    assert photo.rsplit("/", 1)[1] not in elsewhere
    assert phone.get(photo.replace("/m/taoyuan/", "/m/liutang/")).status_code == 404, "not that village's photo"
    assert phone.get(f"/m/{VILLAGE}/photos/{'0' * 64}.jpg").status_code == 404


def test_phone_pages_load_nothing_from_elsewhere(phone: FlaskClient) -> None:
    response = phone.get(f"/m/{VILLAGE}/notice/caiwu-2026-10-taoyuan")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert not re.search(r'(src|href)="(https?:)?//', response.text), "every address is on this server"
    assert "<script" not in response.text and "style=" not in response.text


# --- village notices, received through the kiosks' outbox ---------------------------------------


class Kiosk:
    """A kiosk's staff console writing notices, and what reaches the county from its outbox."""

    def __init__(self, county_db: sqlite3.Connection, local: Path, village: str = VILLAGE) -> None:
        _kiosk_id, code = add_kiosk(county_db, village)
        key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        self.id = enrol(county_db, code, village, key)
        self.county_db = county_db
        self.db = open_local(local)
        self.sent = 0

    def upload(self) -> None:
        """Send what the outbox holds that was not sent yet, as the uplink does."""
        rows = self.db.execute("select idempotency_key, kind, payload from outbox where id > ?", (self.sent,))
        items = [{"key": key, "kind": kind, "payload": json.loads(payload)} for key, kind, payload in rows]
        self.sent = self.db.execute("select max(id) from outbox").fetchone()[0] or 0
        store_uploads(self.county_db, self.id, items)


@pytest.fixture()
def county_db(county_app: Flask) -> Iterator[sqlite3.Connection]:
    db = open_store(Path(county_app.config["DATA_DIR"]))
    yield db
    db.close()


def staff_now() -> datetime:
    return local_now("Asia/Shanghai").replace(microsecond=0)


def test_a_village_notice_appears_and_a_withdrawn_one_disappears(
    phone: FlaskClient, county_db: sqlite3.Connection, tmp_path: Path
) -> None:
    kiosk = Kiosk(county_db, tmp_path / "kiosk")
    notice_id = notices.create(kiosk.db, "小李", values(), staff_now(), publish=True)
    draft = notices.create(kiosk.db, "小李", values(title="草稿"), staff_now(), publish=False)
    url = f"/m/{VILLAGE}/notice/{notice_id}"
    assert phone.get(url).status_code == 404, "not uploaded yet"
    kiosk.upload()
    page = phone.get(url)
    assert page.status_code == 200 and heading(page.text) == "关于村道维修的通知"
    assert "<strong>维修</strong>" in page.text, "its Markdown is rendered"
    index = phone.get(f"/m/{VILLAGE}/").text
    assert notice_id in index and draft not in index
    assert phone.get(f"/m/{VILLAGE}/notices/village").text.count(notice_id) == 1
    assert phone.get(f"/m/liutang/notice/{notice_id}").status_code == 404, "only its own village shows it"

    notices.update(
        kiosk.db, "小李", notice_id, values(title="关于村道维修的通知（更正）"), staff_now(), calendar=MONDAY_TO_FRIDAY
    )
    kiosk.upload()
    assert heading(phone.get(url).text) == "关于村道维修的通知（更正）"
    notices.withdraw(kiosk.db, "小李", notice_id, staff_now(), reason="施工推迟", calendar=MONDAY_TO_FRIDAY)
    kiosk.upload()
    assert phone.get(url).status_code == 404
    assert notice_id not in phone.get(f"/m/{VILLAGE}/").text


def test_the_latest_change_wins_whatever_order_it_arrives_in(
    phone: FlaskClient, county_db: sqlite3.Connection, tmp_path: Path
) -> None:
    kiosk = Kiosk(county_db, tmp_path / "kiosk")
    earlier = staff_now() - timedelta(hours=2)
    notice_id = notices.create(kiosk.db, "小李", values(), earlier, publish=True)
    notices.update(
        kiosk.db, "小李", notice_id, values(title="新标题"), earlier + timedelta(hours=1), calendar=MONDAY_TO_FRIDAY
    )
    rows = kiosk.db.execute("select idempotency_key, kind, payload from outbox order by id desc").fetchall()
    store_uploads(county_db, kiosk.id, [{"key": k, "kind": kind, "payload": json.loads(p)} for k, kind, p in rows])
    assert heading(phone.get(f"/m/{VILLAGE}/notice/{notice_id}").text) == "新标题"


def test_a_village_notice_never_replaces_a_county_one_and_bad_uploads_are_ignored(
    phone: FlaskClient, county_db: sqlite3.Connection, tmp_path: Path
) -> None:
    kiosk = Kiosk(county_db, tmp_path / "kiosk")
    notice = {"id": "caiwu-2026-10-taoyuan", "state": "published", "domain": "财务", "title": "伪造的财务公开",
              "body": "假", "photos": "[]", "published": "2026-01-01", "expires": None, "min_posting_days": None,
              "pinned": 1, "withdraw_reason": None}  # fmt: skip
    broken = [{"action": "publish", "at": "2026-01-01T00:00:00"}, {"action": "publish", "notice": [], "at": 1},
              {"action": "publish", "notice": {**notice, "id": "x", "domain": "unknown"}, "at": "2026"},
              {"action": "publish", "notice": {**notice, "id": "y", "published": "soon"}, "at": "2026"}]  # fmt: skip
    items = [{"action": "publish", "notice": notice, "at": "2026-01-01T00:00:00"}, *broken]
    store_uploads(
        county_db, kiosk.id, [{"key": f"k{n}", "kind": "village_notice", "payload": p} for n, p in enumerate(items)]
    )
    page = phone.get(f"/m/{VILLAGE}/notice/caiwu-2026-10-taoyuan").text
    assert heading(page) == "桃源村2026年10月财务收支公开"
    index = phone.get(f"/m/{VILLAGE}/")
    assert index.status_code == 200 and "伪造" not in index.text


def test_hostile_text_in_a_village_notice_is_inert(
    phone: FlaskClient, county_db: sqlite3.Connection, tmp_path: Path
) -> None:
    kiosk = Kiosk(county_db, tmp_path / "kiosk")
    body = XSS + '\n\n[link](javascript:alert(1))\n\n<a href="https://evil.example/">x</a>'
    notice_id = notices.create(kiosk.db, "小李", values(title=XSS, body=body), staff_now(), publish=True)
    kiosk.upload()
    for url in (f"/m/{VILLAGE}/notice/{notice_id}", f"/m/{VILLAGE}/", f"/m/{VILLAGE}/notices/village"):
        html = phone.get(url).text
        found = elements(html)
        assert not [tag for tag, _attrs in found if tag in ("script", "img", "iframe")], url
        assert not [attrs for _tag, attrs in found if any(k.startswith("on") or "javascript" in v for k, v in attrs)]
        assert all(v.startswith(("/", "#", "tel:")) for _tag, attrs in found for k, v in attrs if k in ("href", "src"))
        assert "&lt;script&gt;" in html, url
    assert heading(phone.get(f"/m/{VILLAGE}/notice/{notice_id}").text) == XSS


# --- the QR code on the kiosk, decoded, opened on a phone -----------------------------------------


def decode_qr(png: bytes) -> str:
    """Read the one QR code in a screenshot (with a wide white margin, as printed codes have)."""
    image = ImageOps.expand(Image.open(io.BytesIO(png)).convert("L"), border=40, fill=255)
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode, "one QR code in the picture"
    return str(found[0].text)


def test_the_kiosks_qr_code_opens_the_same_page_on_a_phone(
    browser: Browser, county_repo: CountyRepo, kiosk_data: Path, tmp_path: Path
) -> None:
    county_app = create_county_app({"REPO": str(county_repo.path), "DATA_DIR": str(tmp_path / "county"),
                                    "SECRET_KEY": "t"})  # fmt: skip
    with serving(CountyServer(county_repo.path, county_app)) as county_url:
        county_repo.edit(
            "county.yaml", "public_base_url: https://gk.qinghe.example.cn", f"public_base_url: {county_url}"
        )
        county_repo.publish()
        assert sync_kiosk(kiosk_data, county_url).outcome == "updated"
        kiosk_app = create_app({"DATA_DIR": str(kiosk_data), "SECRET_KEY": "k"})
        with serving(kiosk_app) as kiosk_url:
            screen, screen_outside, screen_errors = guarded(browser, kiosk_url, viewport=KIOSK_SCREEN, has_touch=True)
            handset, phone_outside, phone_errors = guarded(
                browser, county_url, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
            )
            kiosk_page, phone_page = screen.new_page(), handset.new_page()
            details = ("/powers/taoyuan-minsu-jingying", "/notice/caiwu-2026-10-taoyuan", "/catalogue/zdjs-zhaobiao")
            for detail, kind in zip(details, ("power", "notice", "catalogue"), strict=True):
                kiosk_page.goto(kiosk_url + detail)
                title = kiosk_page.locator("h1").inner_text()
                encoded = decode_qr(kiosk_page.locator(".qr-image img").screenshot())
                assert encoded.startswith(f"{county_url}/m/{VILLAGE}/{kind}/"), encoded
                phone_page.goto(encoded)
                assert phone_page.locator("h1").inner_text() == title
                assert phone_page.title().startswith(title)
                width = phone_page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], "nothing wider than the phone's screen"
            phone_page.get_by_role("link", name="English").click()
            assert phone_page.url.endswith("?lang=en") and phone_page.locator("html").get_attribute("lang") == "en"
            assert (
                phone_page.locator("h1").inner_text() == title and phone_page.get_by_text("What is published").count()
            )
            screen.close()
            handset.close()
    assert screen_outside == phone_outside == [], "no request outside the two servers"
    assert screen_errors == phone_errors == [], "the browser reported errors"


def test_a_village_notice_goes_up_on_phones_at_its_hour_not_at_midnight() -> None:
    from kiosk.county.content import _shown

    notice = {"id": "local-1", "title": "通知", "body": "正文", "domain": "村务", "published": "2026-11-27",
              "published_at": "2026-11-27 15:30:00", "expires": None, "expires_at": None}  # fmt: skip
    shown = _shown(notice)
    assert shown is not None and shown["published_at"] == "2026-11-27 15:30:00"
    older = _shown({**notice, "published_at": None})  # sent by a kiosk before the exact time was carried
    assert older is not None and older["published_at"] == "2026-11-27 00:00:00"
