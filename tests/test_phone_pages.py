"""Phones (360×740 and 390×844): every phone page and every staff console page fits, measured in Chromium.

One kiosk and its county server, for real on loopback: the kiosk synced from the county's signed
repository, its staff console served, a notice with a photo posted there and sent up through the
uplink. The staff pages come from the console's own url_map (a new page cannot be forgotten), the
phone pages from a crawl of the village's pages that must reach every page the phone blueprint
has. Screenshots go to test-artifacts/phones/ for people to look at.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import urllib3
from flask import Flask, url_for
from flask.testing import FlaskClient
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

from kiosk.county import CountyServer, create_county_app, village_photos
from kiosk.county import store as county_store
from kiosk.data import accounts, notices
from kiosk.data.local_db import local_media_dir, open_local
from kiosk.device.uplink import Uplink
from kiosk.screens import create_app
from kiosk.staff import create_staff_app
from kiosk.staff.notice_views import PREVIEW_SCREEN
from sync.contract.dates import local_now
from sync.receive.updater import init_kiosk, sync_kiosk
from tests.county_repo import VILLAGE, CountyRepo, make_county_repo
from tests.servers import serving
from tests.test_screen_sizes import STACKED, TOP_BAR
from tests.test_staff import PASSWORD, csrf_token
from tests.test_uplink import enrolled
from tests.test_village_notices import now, values

SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "phones"
PHONES: list[ViewportSize] = [{"width": 360, "height": 740}, {"width": 390, "height": 844}]
ADMIN, STAFF = "老王", "小李"
CRAWL_LIMIT = 120  # phone pages visited to find one of each kind (the guides add a few dozen)
# The kiosk's own screens (mounted under /kiosk for previews and links, and a notice's kiosk page for
# the preview's frame) are laid out at the kiosk's size in the preview's frame, never on a phone. A CSV
# download and static files are no pages.
NOT_PHONE_PAGES = ("screens.", "guides.", "notices.preview_screen", "static", "admin.audit_csv")

WIDE = """(width) => {
  const inScrollBox = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const overflow = getComputedStyle(up).overflowX;
      if (overflow === 'auto' || overflow === 'scroll') return true;
    }
    return false;
  };
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || box.right <= width + 1 || inScrollBox(el)) continue;
    const classes = typeof el.className === 'string' ? el.className.trim().split(/\\s+/).filter(Boolean) : [];
    const name = el.tagName.toLowerCase() + classes.map((c) => '.' + c).join('');
    const text = (el.textContent || '').trim().slice(0, 30);
    wide.push(`${name} "${text}" reaches ${Math.round(box.right)}`);
  }
  return {page: Math.max(document.documentElement.scrollWidth, window.innerWidth), wide: wide.slice(0, 6)};
}"""


@dataclass
class Kiosk:
    """A kiosk synced from its county, with its staff console, and the county server with its phone pages."""

    console: str
    county: str
    screens: str
    staff_app: Flask
    data: Path
    notice_id: str
    account_id: int
    setup_token: str


def photo_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1600, 1200), (200, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def post_notice_with_a_photo(client: FlaskClient) -> str:
    """Write a notice with a photo in the console and publish it, as staff do; return its id."""
    today = local_now("Asia/Shanghai").date()
    fields: dict[str, Any] = {
        "domain": "village", "title": "关于村道维修期间绕行的通知", "body": "本周六上午维修村道，请**绕行**。",
        "published": f"{today - timedelta(days=1):%Y-%m-%d} 08:00", "expires": "", "min_posting_days": "7",
        "csrf_token": csrf_token(client, "/notices/new"), "new_photos": (io.BytesIO(photo_jpeg()), "公告栏.jpg"),
    }  # fmt: skip
    response = client.post("/notices/new", data=fields, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    notice_id = response.headers["Location"].split("/")[2]
    published = client.post(f"/notices/{notice_id}/publish", data={"csrf_token": csrf_token(client, "/notices/")})
    assert published.status_code == 302
    return notice_id


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kiosk]:
    root = tmp_path_factory.mktemp("phones")
    repo: CountyRepo = make_county_repo(root / "county")
    data = root / "kiosk"
    init_kiosk(data, VILLAGE, str(repo.path), repo.root)
    assert sync_kiosk(data).outcome == "updated"
    db = open_local(data)
    accounts.add(db, ADMIN, "admin", PASSWORD, actor="test")
    account = accounts.add(db, STAFF, "staff", PASSWORD, actor="test")
    _new, token = accounts.add_with_setup_link(db, "小张", "staff", actor="test")
    db.close()
    county_app = create_county_app({"REPO": str(repo.path), "DATA_DIR": str(root / "county-server"), "SECRET_KEY": "c"})
    staff_app = create_staff_app({"DATA_DIR": str(data), "SECRET_KEY": "phones", "WTF_CSRF_ENABLED": True})
    client = staff_app.test_client()
    client.post("/sign-in", data={"name": STAFF, "password": PASSWORD, "csrf_token": csrf_token(client)})
    notice_id = post_notice_with_a_photo(client)
    screens_app = create_app({"DATA_DIR": str(data), "SECRET_KEY": "screens"})
    with (
        serving(CountyServer(repo.path, county_app)) as county,
        serving(staff_app) as console,
        serving(screens_app) as screens,
    ):
        county_db = county_store.open_store(root / "county-server")
        _kiosk_id, code = county_store.add_kiosk(county_db, VILLAGE)
        county_db.close()
        uplink = Uplink(data, sleep=lambda _seconds: None)
        uplink.enrol(county, code)
        uplink.upload_outbox()
        yield Kiosk(console, county, screens, staff_app, data, notice_id, account.id, token)


@pytest.fixture(scope="module", autouse=True)
def shots() -> None:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)


def phone(browser: Browser, base_url: str, size: ViewportSize, lang: str) -> BrowserContext:
    locale = "zh-CN" if lang == "zh" else "en-GB"
    context = browser.new_context(base_url=base_url, viewport=size, has_touch=True, is_mobile=True, locale=locale)
    context.set_default_timeout(15_000)
    return context


def sign_in(page: Page, lang: str) -> None:
    page.goto("/sign-in")
    if lang == "en":
        page.locator(".staff-languages a").first.click()
    page.fill("#name", ADMIN)
    page.fill("#password", PASSWORD)
    submit(page)


def submit(page: Page) -> None:
    """Send the page's form (as its button would; a button pushed off a too-wide page is measured, not tapped)."""
    with page.expect_navigation():
        page.locator("form.staff-form").evaluate("form => form.requestSubmit()")


def staff_pages(kiosk: Kiosk) -> dict[str, str]:
    """Every page of the staff console, by endpoint, from its url_map with the fixture's ids filled in."""
    values: dict[str, Any] = {"notice_id": kiosk.notice_id, "account_id": kiosk.account_id, "token": kiosk.setup_token}
    pages: dict[str, str] = {}
    with kiosk.staff_app.test_request_context():
        for rule in kiosk.staff_app.url_map.iter_rules():
            if "GET" not in (rule.methods or ()) or rule.endpoint.startswith(NOT_PHONE_PAGES):
                continue
            missing = set(rule.arguments) - set(values)
            assert not missing, f"{rule.rule}: this test has no value for {missing}; add one"
            pages[rule.endpoint] = url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})
    return pages


def check_fits(page: Page, size: ViewportSize, name: str, lang: str) -> list[str]:
    """Measure the page; save its screenshot; return what reaches past the phone's width, and any text
    squeezed to two characters a line."""
    width = size["width"]
    measured = page.evaluate(WIDE, width)
    stacked = page.evaluate(STACKED)
    page.screenshot(path=SHOTS / f"{name}-{width}-{lang}.png", full_page=True)
    problems = [f"{name} ({lang}, {width} px): {text}, squeezed into too narrow a column" for text in stacked]
    if measured["page"] > width or measured["wide"]:
        problems.append(f"{name} ({lang}, {width} px) is {measured['page']} px wide: {'; '.join(measured['wide'])}")
    return problems


def staff_problems(browser: Browser, kiosk: Kiosk, lang: str) -> list[str]:
    """Visit every page of the console at both sizes, signed out and signed in as an admin; say what is too wide."""
    pages = staff_pages(kiosk)
    signed_out = {"auth.sign_in", "setup.choose_password"}
    problems: list[str] = []
    for size in PHONES:
        context = phone(browser, kiosk.console, size, lang)
        page = context.new_page()
        for endpoint in sorted(signed_out):
            page.goto(pages[endpoint])
            problems += check_fits(page, size, f"staff-{endpoint}", lang)
        sign_in(page, lang)
        for endpoint, path in sorted(pages.items()):
            if endpoint in signed_out:
                continue
            response = page.goto(path)
            assert response is not None and response.status == 200, f"{path}: {response and response.status}"
            problems += check_fits(page, size, f"staff-{endpoint}", lang)
        # Pages a form answers with: what is wrong with a notice, and the one-time link for a new account.
        page.goto(pages["notices.new"])
        submit(page)
        problems += check_fits(page, size, "staff-notice-form-problems", lang)
        page.goto(pages["admin.new_account"])
        page.fill("#name", f"新人{size['width']}{lang}")
        page.check("input[name=by][value=link]")
        submit(page)
        problems += check_fits(page, size, "staff-account-created", lang)
        context.close()
    return problems


def phone_pages(browser: Browser, kiosk: Kiosk) -> dict[str, str]:
    """One page of each kind the phone blueprint has, found by following links from the village's index."""
    config = {"REPO": "/nonexistent", "DATA_DIR": str(kiosk.data.parent / "url-map"), "SECRET_KEY": "x"}
    county_app = create_county_app(config)  # only for its url_map
    adapter = county_app.url_map.bind("127.0.0.1")
    endpoints = {rule.endpoint for rule in county_app.url_map.iter_rules() if rule.endpoint.startswith("mobile.")}
    found = {"mobile.elsewhere": f"/m/{VILLAGE}/no-such-page", "mobile.photo": ""}
    found["mobile.notice_detail"] = f"/m/{VILLAGE}/notice/{kiosk.notice_id}"  # the staff's own notice
    context = browser.new_context(base_url=kiosk.county)
    tab = context.new_page()
    queue, seen = [f"/m/{VILLAGE}/"], set()
    for _visit in range(CRAWL_LIMIT):
        if not queue or endpoints <= set(found):
            break
        path = queue.pop(0)
        seen.add(path)
        tab.goto(path)
        found.setdefault(adapter.match(path)[0], path)
        for href in tab.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
            link = urlsplit(href)
            if link.path.startswith(f"/m/{VILLAGE}/") and not link.query and link.path not in seen | set(queue):
                queue.append(link.path)
    context.close()
    assert endpoints <= set(found), f"no link leads to {endpoints - set(found)}"
    found.pop("mobile.photo")  # an image, shown on the pages that have one
    found["mobile.unknown_village"] = "/m/no-such-village/"
    return found


def phone_problems(browser: Browser, kiosk: Kiosk, lang: str) -> list[str]:
    """Visit one phone page of each kind at both sizes; say what is too wide."""
    pages = phone_pages(browser, kiosk)
    problems: list[str] = []
    for size in PHONES:
        context = phone(browser, kiosk.county, size, lang)
        page = context.new_page()
        for endpoint, path in sorted(pages.items()):
            page.goto(path + ("?lang=en" if lang == "en" else ""))
            page.wait_for_load_state("load")
            problems += check_fits(page, size, f"phone-{endpoint}", lang)
        context.close()
    return problems


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_phone_page_and_every_staff_page_fits_a_phone(browser: Browser, kiosk: Kiosk, lang: str) -> None:
    problems = phone_problems(browser, kiosk, lang) + staff_problems(browser, kiosk, lang)
    assert not problems, "\n".join(problems)


def test_the_preview_draws_the_kiosk_page_as_the_kiosk_draws_it(browser: Browser, kiosk: Kiosk) -> None:
    size: ViewportSize = {"width": PREVIEW_SCREEN["width"], "height": PREVIEW_SCREEN["height"]}
    on_the_kiosk = browser.new_context(base_url=kiosk.screens, viewport=size, locale="zh-CN").new_page()
    on_the_kiosk.goto(f"/notice/{kiosk.notice_id}")
    kiosks_bar = on_the_kiosk.evaluate(TOP_BAR)
    on_the_kiosk.context.close()

    context = phone(browser, kiosk.console, PHONES[1], "zh")
    page = context.new_page()
    sign_in(page, "zh")
    page.goto(f"/notices/{kiosk.notice_id}/preview")
    frame_element = page.query_selector("iframe.kiosk-frame")
    assert frame_element is not None, "the kiosk page is drawn in a frame of the kiosk's size"
    frame = frame_element.content_frame()
    assert frame is not None
    frame.wait_for_selector(".topbar")
    assert frame.evaluate("() => [window.innerWidth, window.innerHeight]") == list(PREVIEW_SCREEN.values())
    bar = frame.evaluate(TOP_BAR)
    assert not [p for p in bar["problems"] if "one row" in p], "the bar's buttons and names are on one row"
    assert bar == kiosks_bar, "the bar is drawn as on the kiosk, at the same size"
    assert frame.locator("main h1").inner_text() == "关于村道维修期间绕行的通知"
    assert frame.locator(".photos img").count() == 1
    box = frame_element.bounding_box()
    assert box is not None and box["width"] <= PHONES[1]["width"], "scaled down to the phone's width"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONES[1]["width"]
    page.screenshot(path=SHOTS / "staff-preview-390-zh.png", full_page=True)
    context.close()


def test_a_staff_notice_shows_its_photo_on_its_phone_page(kiosk: Kiosk) -> None:
    http = urllib3.PoolManager()
    page = http.request("GET", f"{kiosk.county}/m/{VILLAGE}/notice/{kiosk.notice_id}")
    assert page.status == 200 and "关于村道维修期间绕行的通知" in page.data.decode()
    sources = re.findall(r'<img src="([^"]+)"', page.data.decode())
    assert len(sources) == 1, "the notice's one photo is on its phone page"
    photo = http.request("GET", kiosk.county + sources[0])
    assert photo.status == 200 and photo.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(photo.data)).size == (1600, 1200)


def test_the_county_keeps_only_a_photo_whose_bytes_are_what_its_name_says() -> None:
    jpeg = photo_jpeg()
    name = hashlib.sha256(jpeg).hexdigest() + ".jpg"

    def sent(data: bytes, named: str = name) -> dict[str, Any]:
        return {"notice": "local-1", "name": named, "data": base64.b64encode(data).decode()}

    assert village_photos.problem(sent(jpeg)) is None
    assert "do not match its name" in str(village_photos.problem(sent(jpeg[:-1])))
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, "PNG")
    named_jpg = hashlib.sha256(png.getvalue()).hexdigest() + ".jpg"
    assert "is not a jpg file" in str(village_photos.problem(sent(png.getvalue(), named_jpg)))
    assert "base64" in str(village_photos.problem({**sent(jpeg), "data": "not base64!"}))
    assert "name" in str(village_photos.problem(sent(jpeg, "../county.db")))


@pytest.fixture()
def county_server(tmp_path: Path, county_repo: CountyRepo) -> Iterator[tuple[str, Path]]:
    data = tmp_path / "county-server"
    app = create_county_app({"REPO": str(county_repo.path), "DATA_DIR": str(data), "SECRET_KEY": "c"})
    with serving(CountyServer(county_repo.path, app)) as url:
        yield url, data


def test_a_photo_gone_before_it_is_sent_is_set_aside_and_the_rest_go_up(
    county_server: tuple[str, Path], kiosk_data: Path
) -> None:
    url, county_data = county_server
    assert sync_kiosk(kiosk_data).outcome == "updated"
    uplink = enrolled(kiosk_data, url, county_data)
    jpeg = photo_jpeg()
    kept, gone = hashlib.sha256(jpeg).hexdigest() + ".jpg", "0" * 64 + ".jpg"
    media = local_media_dir(kiosk_data)
    media.mkdir(parents=True, exist_ok=True)
    (media / kept).write_bytes(jpeg)
    db = open_local(kiosk_data)
    notice_id = notices.create(db, STAFF, values(photos=[kept, gone]), now(), publish=True)
    uplink.upload_outbox()
    assert db.execute("select count(*) from outbox").fetchone()[0] == 0
    aside = db.execute("select kind, reason from outbox_set_aside").fetchall()
    db.close()
    assert [row[0] for row in aside] == ["notice_photo"] and gone in aside[0][1]
    store = county_store.open_store(county_data)
    assert village_photos.held(store, VILLAGE) == {kept}
    store.close()
    page = urllib3.PoolManager().request("GET", f"{url}/m/{VILLAGE}/notice/{notice_id}").data.decode()
    assert f"/photos/{kept}" in page and gone not in page, "the phone page shows the photo the county holds"
