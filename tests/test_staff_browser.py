"""The staff console on a phone, in Debian's Chromium: sign in, post a notice with a photo, withdraw it."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from kiosk.data import accounts
from kiosk.data.local_db import open_local
from kiosk.demo import install_demo
from kiosk.screens import create_app
from kiosk.staff import create_staff_app
from tests.browser import KIOSK_SCREEN
from tests.servers import serving
from tests.test_staff import PASSWORD

PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture()
def servers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    install_demo(tmp_path)
    db = open_local(tmp_path)
    accounts.add(db, "小李", "staff", PASSWORD, actor="test")
    db.close()
    staff_app = create_staff_app({"DATA_DIR": str(tmp_path), "SECRET_KEY": "staff-browser"})
    with serving(staff_app) as console, serving(create_app({"DATA_DIR": str(tmp_path), "SECRET_KEY": "k"})) as kiosk:
        yield console, kiosk


def photo_of_the_paper_notice() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (900, 1200), "white")
    ImageDraw.Draw(image).rectangle((100, 100, 800, 300), fill="red")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def fits_the_phone(page: Page) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def test_post_a_notice_with_a_photo_from_a_phone_then_withdraw_it_with_a_reason(
    browser: Browser, servers: tuple[str, str]
) -> None:
    console, kiosk = servers
    phone = browser.new_context(base_url=console, viewport=PHONE, has_touch=True, is_mobile=True, locale="zh-CN")
    page = phone.new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    page.get_by_label("账号名").fill("小李")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").tap()
    expect(page.get_by_text("当前登录：小李。")).to_be_visible()
    assert fits_the_phone(page)

    page.get_by_role("link", name="本村发布的通知").tap()
    page.get_by_role("link", name="写新通知").tap()
    page.get_by_label("公开类别").select_option("village")
    page.get_by_label("标题").fill("关于村道维修期间绕行的通知")
    page.get_by_label(re.compile("^正文")).fill("本周六上午维修村道，请**绕行**。")
    page.get_by_label("公示期（工作日）").fill("7")
    page.locator("input[type=file]").set_input_files(
        {"name": "公告栏.jpg", "mimeType": "image/jpeg", "buffer": photo_of_the_paper_notice()}
    )
    assert fits_the_phone(page)
    page.get_by_role("button", name="保存并预览").tap()
    expect(page.get_by_text("草稿：还没有上屏。")).to_be_visible()
    framed = page.frame_locator("iframe.kiosk-frame")  # the kiosk's page, at the kiosk's size
    expect(framed.locator(".detail-body h1")).to_have_text("关于村道维修期间绕行的通知")
    expect(framed.locator(".photos img")).to_have_count(1)
    notice_id = re.search(r"/notices/([^/]+)/preview", page.url).group(1)  # type: ignore[union-attr]
    page.get_by_role("button", name="发布").tap()
    expect(page.get_by_text("已发布：通知已在查询机上显示。")).to_be_visible()

    screen = browser.new_context(base_url=kiosk, viewport=KIOSK_SCREEN, has_touch=True, locale="zh-CN").new_page()
    screen.goto(f"/notice/{notice_id}")
    expect(screen.locator("main h1")).to_have_text("关于村道维修期间绕行的通知")
    photo = screen.locator(".photos img")
    expect(photo).to_be_visible()
    assert screen.evaluate("img => img.naturalWidth > 0", photo.element_handle()), "the photo loads on the kiosk"

    page.goto("/notices/")
    page.get_by_role("link", name="撤下").first.tap()
    expect(page.get_by_text("现在撤下必须说明理由")).to_be_visible()
    page.get_by_role("button", name="从查询机撤下").tap()
    expect(page.get_by_text("撤下须说明理由")).to_be_visible()  # asked again, nothing withdrawn
    assert screen.goto(f"/notice/{notice_id}").status == 200  # type: ignore[union-attr]
    page.get_by_label("理由").fill("维修提前完成")
    page.get_by_role("button", name="从查询机撤下").tap()
    expect(page.get_by_text("已撤下：查询机上不再显示这条通知。")).to_be_visible()
    assert screen.goto(f"/notice/{notice_id}").status == 404  # type: ignore[union-attr]
    phone.close()
    screen.context.close()
