"""A guide's form in Debian's Chromium, in Chinese, on a county office's laptop (1366×768) and on a phone
(390 px wide): a clerk writes a new guide with the form's own buttons and lists (no id typed, each answer's
way chosen by its words), a broken answer is shown at its field, and nothing on the page is wider than
the screen. Screenshots go to /tmp/studio-guides-shots/ for people to look at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from kiosk.county import CountyServer, create_county_app
from kiosk.county.store import open_store
from kiosk.data import accounts
from tests.browser import guarded
from tests.county_repo import CountyRepo
from tests.servers import serving
from tests.test_staff import PASSWORD

SHOTS = Path("/tmp/studio-guides-shots")
DESK: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
# Everything drawn wider than the screen, and the page's own width past it (a phone would scroll sideways).
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  if (document.documentElement.scrollWidth > width) {
    found.push(`the page is ${document.documentElement.scrollWidth} px wide`);
  }
  for (const element of document.querySelectorAll("body *")) {
    const box = element.getBoundingClientRect();
    if (box.width > 0 && (box.right > width + 1 || box.left < -1)) {
      const name = `${element.tagName.toLowerCase()}#${element.id}`;
      found.push(`${name} from ${Math.round(box.left)} to ${Math.round(box.right)}`);
    }
  }
  return found.slice(0, 12);
}"""


@pytest.fixture
def studio_url(county_repo: CountyRepo, tmp_path: Path) -> Iterator[str]:
    data = tmp_path / "county-server"
    app = create_county_app({"REPO": str(county_repo.path), "DATA_DIR": str(data), "SECRET_KEY": "s",
                             "CONTENT_DIR": str(county_repo.content)})  # fmt: skip
    db = open_store(data)
    accounts.add(db, "王芳", "editor", PASSWORD, "(test)", roles=accounts.COUNTY_ROLES)
    db.close()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with serving(CountyServer(county_repo.path, app)) as url:
        yield url


def signed_in(browser: Browser, url: str, viewport: ViewportSize) -> tuple[BrowserContext, Page, list[str]]:
    """王芳's browser at *viewport*, in Chinese; the list of errors it met, checked at the end."""
    context, outside, errors = guarded(browser, url, base_url=url, viewport=viewport, locale="zh-CN")
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/sign-in")
    page.fill("#name", "王芳")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".staff-who")).to_contain_text("王芳")
    return context, page, outside


def fits(page: Page, name: str) -> None:
    """The page as drawn now fits the screen's width; its screenshot, whole, under SHOTS."""
    found = page.evaluate(OVERFLOW)
    assert found == [], f"wider than the screen on {name}: {found}"
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_clerk_writes_a_guide_in_the_form_on_a_laptop(browser: Browser, studio_url: str) -> None:
    context, page, outside = signed_in(browser, studio_url, DESK)
    page.goto("/studio/guides")
    expect(page.locator("h1")).to_have_text("智能导办（我要办）")
    expect(page.locator(".staff-item-title").first).to_have_text("生活困难，想申请补助")  # in the kiosk's order
    fits(page, "desk-1-list")
    page.get_by_role("link", name="新建导办").click()
    expect(page.locator("h1")).to_have_text("新建导办")
    page.fill("#title", "家里有人去世，想办后事")
    page.fill("#questions\\.0\\.ask", "去世的老人享受低保或者是特困人员吗？")
    page.fill("#questions\\.0\\.answers\\.0\\.answer", "是")
    page.fill("#questions\\.0\\.answers\\.1\\.answer", "不是")
    page.fill("#endings\\.0\\.title", "可以申请临时救助")
    page.fill("#endings\\.0\\.what_next", "到村便民服务站说明情况，带上身份证和户口簿。")
    page.fill("#endings\\.0\\.powers", "linshi-jiuzhu")
    fits(page, "desk-2-new-form")
    page.get_by_role("button", name="添加空行并更新答案去向").click()  # ids made from the words, a row more each
    expect(page.locator("#questions\\.0\\.id")).not_to_have_value("")
    page.fill("#endings\\.1\\.title", "先问问县民政局")
    page.fill("#endings\\.1\\.what_next", "打县民政局社会救助热线问一问。")
    page.fill("#endings\\.1\\.contacts", "xian-minzheng-jiuzhu")
    page.fill("#endings\\.1\\.id", "wen-minzheng")  # named by hand: the answers' lists offer it at once
    page.select_option("#questions\\.0\\.answers\\.0\\.to", label="结果 1：可以申请临时救助")
    page.select_option("#questions\\.0\\.answers\\.1\\.to", label="结果 2：先问问县民政局")
    fits(page, "desk-3-answers-chosen")
    page.get_by_role("button", name="保存并提交审核").click()
    expect(page.locator("h1")).to_contain_text("家里有人去世，想办后事")
    expect(page.locator(".staff-flash").first).to_contain_text("已提交审核")
    expect(page.locator(".studio-diff")).to_contain_text("to: wen-minzheng")
    fits(page, "desk-4-submitted")
    page.get_by_role("link", name="在村查询机上预览").click()  # its questions on a village's kiosk, before review
    kiosk = page.frame_locator(".kiosk-frame")
    expect(kiosk.locator("body")).to_contain_text("去世的老人享受低保或者是特困人员吗？")
    fits(page, "desk-5-preview")
    context.close()
    assert outside == []


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
def test_the_calendar_pages_fit_the_screen(browser: Browser, studio_url: str, viewport: ViewportSize) -> None:
    context, page, outside = signed_in(browser, studio_url, viewport)
    size = "desk" if viewport == DESK else "phone"
    page.goto("/studio/county/calendar")
    expect(page.locator("h1")).to_have_text("节假日安排")
    fits(page, f"{size}-calendar-1-years")
    page.get_by_role("link", name="2026年节假日安排").click()
    expect(page.locator("#holidays\\.0\\.first")).to_have_value("2026-01-01")
    fits(page, f"{size}-calendar-2-year-form")
    context.close()
    assert outside == []


def test_a_guide_form_on_a_phone_fits_and_shows_a_broken_answer_at_its_field(browser: Browser, studio_url: str) -> None:
    context, page, outside = signed_in(browser, studio_url, PHONE)
    page.goto("/studio/guides/01-shenghuo-kunnan")
    expect(page.locator("h1")).to_have_text("生活困难，想申请补助")
    expect(page.locator("#questions\\.0\\.answers\\.0\\.to option:checked")).to_have_text(
        "问题 2：全家每个人每月平均的收入，比当地的低保标准还低吗？"
    )
    fits(page, "phone-1-guide-form")
    page.select_option("#questions\\.1\\.answers\\.0\\.to", label="问题 1：您家遇到的是哪种困难？")  # round in circles
    page.get_by_role("button", name="保存并提交审核").click()
    error = page.locator("#questions\\.1\\.answers\\.0\\.to-error")
    expect(error).to_contain_text("回到")
    error.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "phone-2-broken-answer.png"))
    fits(page, "phone-3-broken-answer-page")
    context.close()
    assert outside == []
