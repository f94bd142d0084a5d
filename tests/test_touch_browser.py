"""The touch experience in Debian's Chromium: targets, text sizes, accessibility, search, elder mode, idle reset."""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from kiosk.screens import create_app
from tests.browser import KIOSK_SCREEN
from tests.servers import serving

MIN_TARGET = 60  # CSS px, both ways (适老化 rules, WCAG 2.2 2.5.5)
MIN_TEXT = {"normal": 18, "elder": 24}  # CSS px
IDLE = 90  # seconds, the default of KIOSK_IDLE_SECONDS
# Every kind of screen: a path, or (a page, a link on it) for screens whose address depends on the content.
SCREENS: dict[str, str | tuple[str, str]] = {
    "home": "/",
    "power categories": "/powers",
    "power list": ("/powers", r"/powers/category/\d+$"),
    "power item": "/powers/dibao-shenqing",
    "ten ones": "/ten-ones",
    "notices": "/notices",
    "notices archive": "/notices/archive",
    "notice list": "/notices/finance",
    "notice archive": "/notices/party/archive",
    "notice": "/notice/caiwu-2026-10-taoyuan",
    "catalogue areas": "/catalogue",
    "catalogue area": ("/catalogue", r"/catalogue/area/\d+$"),
    "catalogue item": ("/catalogue/area/0", r"/catalogue/[a-z0-9-]+$"),
    "contacts": "/contacts",
    "about": "/about",
    "search": "/search",
    "search results": "/search?q=db",
    "attract": "/attract",
    "guides": "/guides",
    "guide question": "/guides/shenghuo-kunnan/1",
    "guide ending": "/guides/shenghuo-kunnan/1-1-1",
}
INTERACTIVE = "a[href], button, input, select, textarea, summary, [role=button], [tabindex]:not([tabindex='-1'])"
SMALL_TARGETS = """(selector) => [...document.querySelectorAll(selector)].flatMap((el) => {
  const box = el.getBoundingClientRect();
  if (box.width === 0 && box.height === 0) return [];  // not shown (display: none, hidden)
  const small = box.width < %(min)d || box.height < %(min)d;
  return small ? [`${el.outerHTML.slice(0, 100)}: ${box.width}x${box.height}`] : [];
})"""
SMALL_TEXT = """(least) => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const small = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!node.textContent.trim() || !element.getClientRects().length) continue;
    const size = parseFloat(getComputedStyle(element).fontSize);
    const text = node.textContent.trim().slice(0, 20);
    if (size < least) small.add(`${element.tagName}.${element.className}: ${size}px "${text}"`);
  }
  return [...small];
}"""


def screen_path(tab: Page, screen: str) -> str:
    where = SCREENS[screen]
    if isinstance(where, str):
        return where
    start, pattern = where
    tab.goto(start)
    hrefs = tab.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    return str(next(h for h in hrefs if re.search(pattern, h)))


def open_screen(tab: Page, screen: str) -> None:
    response = tab.goto(screen_path(tab, screen))
    assert response is not None and response.status == 200, screen


def set_elder_mode(tab: Page, on: bool) -> None:
    tab.goto("/")
    if (tab.locator(".elder-button").get_attribute("aria-pressed") == "true") != on:
        tab.locator(".elder-button").click()


@pytest.mark.parametrize("mode", ["normal", "elder"])
def test_every_target_is_big_and_every_text_large_enough_on_every_screen(page: Page, mode: str) -> None:
    set_elder_mode(page, mode == "elder")
    problems = {}
    for screen in SCREENS:
        open_screen(page, screen)
        small = page.evaluate(SMALL_TARGETS % {"min": MIN_TARGET}, INTERACTIVE)
        tiny = page.evaluate(SMALL_TEXT, MIN_TEXT[mode])
        if small or tiny:
            problems[screen] = small + tiny
        assert page.locator("html").get_attribute("class") == ("elder" if mode == "elder" else None), screen
    assert problems == {}


@pytest.fixture()
def axe_page(browser: Browser, live_server: str) -> Iterator[Page]:
    # axe-core is injected as a script: this context alone lets it past the page's script policy.
    context = browser.new_context(base_url=live_server, viewport=KIOSK_SCREEN, has_touch=True, bypass_csp=True)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("mode", ["normal", "elder"])
def test_the_not_found_screen_is_as_big_and_clear_as_the_others(axe_page: Page, mode: str) -> None:
    set_elder_mode(axe_page, mode == "elder")
    response = axe_page.goto("/powers/no-such-item")
    assert response is not None and response.status == 404
    assert axe_page.evaluate(SMALL_TARGETS % {"min": MIN_TARGET}, INTERACTIVE) == []
    assert axe_page.evaluate(SMALL_TEXT, MIN_TEXT[mode]) == []
    expect(axe_page.get_by_role("link", name="回到首页")).to_be_visible()


@pytest.mark.parametrize("mode", ["normal", "elder"])
def test_no_serious_accessibility_violation_on_any_screen(axe_page: Page, mode: str) -> None:
    source = importlib.resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")
    set_elder_mode(axe_page, mode == "elder")
    found: dict[str, list[str]] = {}
    for screen in SCREENS:
        open_screen(axe_page, screen)
        axe_page.add_script_tag(content=source)
        result: dict[str, Any] = axe_page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        serious = [
            f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if serious:
            found[screen] = serious
        assert result["passes"] or result["violations"] or result["incomplete"] is not None
    assert found == {}


def test_search_by_tapping_letters_updates_results_in_place(page: Page) -> None:
    page.goto("/")
    page.get_by_role("link", name="搜索", exact=True).click()
    expect(page).to_have_url(re.compile(r"/search$"))
    marker = page.evaluate("() => (window.__sameDocument = 'yes')")
    page.get_by_role("link", name="D", exact=True).click()
    expect(page.locator(".search-query")).to_have_text("D")
    page.get_by_role("link", name="B", exact=True).click()
    expect(page.locator(".search-query")).to_have_text("DB")
    expect(page).to_have_url(re.compile(r"/search\?q=db$"))
    assert page.evaluate("() => window.__sameDocument") == marker, "results came without loading a new page"
    english = page.get_by_role("link", name="English").get_attribute("href") or ""
    assert english.endswith("next=/search?q%3Ddb"), "switching language keeps what was typed"
    result = page.locator(".search-results .row", has_text="最低生活保障申请")
    expect(result).to_be_visible()
    page.get_by_role("link", name="删除最后一个字母").click()
    expect(page.locator(".search-query")).to_have_text("D")
    page.get_by_role("link", name="低保", exact=True).click()  # a common topic: Chinese without typing
    expect(page.locator(".search-results .row").first).to_contain_text("最低生活保障申请")
    page.locator(".search-results .row").first.click()
    expect(page).to_have_url(re.compile(r"/powers/dibao-shenqing$"))


# Resolves once the page has read the search answer for *query* (or after 5 s), and drawn a frame since.
ANSWERED = """(query) => new Promise((resolve) => {
  const read = () => performance.getEntriesByType("resource").some((e) => e.name.endsWith(`/search?q=${query}`));
  const drawn = () => requestAnimationFrame(() => setTimeout(resolve));
  const wait = (tries) => (read() || tries === 0 ? drawn() : setTimeout(() => wait(tries - 1), 20));
  wait(250);
})"""


def test_a_key_is_answered_as_the_finger_lands_and_sliding_off_changes_nothing(page: Page) -> None:
    page.goto("/search?q=d")
    box = page.get_by_role("link", name="B", exact=True).bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    with page.expect_request(re.compile(r"/search\?q=db$")):  # asked for while the finger is still down
        page.mouse.down()
    page.mouse.move(1, KIOSK_SCREEN["height"] - 1)  # slides off: no tap
    page.mouse.up()
    page.evaluate(ANSWERED, "db")
    expect(page.locator(".search-query")).to_have_text("D")
    expect(page).to_have_url(re.compile(r"/search\?q=d$"))
    page.get_by_role("link", name="B", exact=True).click()
    expect(page.locator(".search-query")).to_have_text("DB")


def _holding_back_d(page: Page) -> list[Route]:
    """Open the search screen with the answer to D held back: it is in the list returned, until continued."""
    page.goto("/search")
    held: list[Route] = []
    page.route(re.compile(r"/search\?q=d$"), lambda route: held.append(route))
    return held


def test_keys_tapped_before_the_results_come_are_each_added(page: Page) -> None:
    """A quick hand on a slow board: D, then B and S before D's results came, gives DBS (not S)."""
    held = _holding_back_d(page)
    page.get_by_role("link", name="D", exact=True).click()
    page.get_by_role("link", name="B", exact=True).click()
    page.get_by_role("link", name="S", exact=True).click()
    assert len(held) == 1
    expect(page).to_have_url(re.compile(r"/search$"))  # nothing shown yet
    held[0].continue_()
    expect(page.locator(".search-query")).to_have_text("DBS")
    expect(page).to_have_url(re.compile(r"/search\?q=dbs$"))


def test_an_answer_that_comes_late_never_covers_a_later_topic(page: Page) -> None:
    held = _holding_back_d(page)
    page.get_by_role("link", name="D", exact=True).click()
    page.get_by_role("link", name="低保", exact=True).click()
    expect(page.locator(".search-results .row").first).to_contain_text("最低生活保障申请")
    assert len(held) == 1
    held[0].continue_()
    page.evaluate(ANSWERED, "d")
    expect(page.locator(".search-results .row").first).to_contain_text("最低生活保障申请")
    expect(page).not_to_have_url(re.compile(r"/search\?q=d$"))


def test_every_button_shows_it_is_pressed_and_nothing_opens_a_long_press_menu(page: Page) -> None:
    for path in ("/", "/search", "/powers/dibao-shenqing", "/contacts"):
        page.goto(path)
        classes = page.eval_on_selector_all(
            INTERACTIVE, "els => [...new Set(els.map(e => e.className.baseVal ?? e.className))]"
        )
        for css_class in classes:
            target = page.locator(f"[class='{css_class}']").first
            if not target.is_visible():
                continue
            before = target.evaluate("e => getComputedStyle(e).transform + getComputedStyle(e).filter")
            target.scroll_into_view_if_needed()
            box = target.bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            pressed = target.evaluate("e => getComputedStyle(e).transform + getComputedStyle(e).filter")
            page.mouse.move(1, KIOSK_SCREEN["height"] - 1)  # slide off before letting go: no click, no navigation
            page.mouse.up()
            assert pressed != before, f"{path}: .{css_class} shows no change while pressed"
        prevented = page.evaluate(
            "() => !document.body.dispatchEvent(new MouseEvent('contextmenu', {bubbles: true, cancelable: true}))"
        )
        assert prevented, "a long press would open the browser's menu"
    assert "user-scalable=no" in (page.locator("meta[name=viewport]").get_attribute("content") or "")
    assert page.evaluate("() => getComputedStyle(document.body).userSelect") == "none", "no text selection"


def test_idle_countdown_then_reset_clears_language_and_elder_mode(page: Page) -> None:
    page.clock.install()
    page.goto("/")
    page.locator(".elder-button").click()
    page.get_by_role("link", name="English").click()
    page.goto("/search?q=db")
    overlay = page.locator("#idle-overlay")
    page.clock.run_for((IDLE - 1) * 1000)
    expect(overlay).to_be_hidden()
    page.clock.run_for(2000)
    expect(overlay).to_be_visible()
    expect(page.locator("#idle-seconds")).to_have_text(re.compile(r"^1[0-5]$"))
    box = page.get_by_role("button", name="Keep using").bounding_box()
    assert box is not None and min(box["width"], box["height"]) >= MIN_TARGET
    page.get_by_role("button", name="Keep using").click()  # someone is still here
    expect(overlay).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/search\?q=db$"))

    page.clock.run_for((IDLE + 1) * 1000)
    expect(overlay).to_be_visible()
    with page.expect_navigation():
        page.clock.run_for(16_000)
    expect(page).to_have_url(re.compile(r"/attract$"))
    assert (
        page.locator("html").get_attribute("lang") == "zh-Hans" and page.locator("html").get_attribute("class") is None
    )
    first = page.locator(".attract-slide.current .attract-title").inner_text()
    page.clock.run_for(6_500)
    assert page.locator(".attract-slide.current .attract-title").inner_text() != first, "the notices cycle"
    page.mouse.click(KIOSK_SCREEN["width"] / 2, KIOSK_SCREEN["height"] / 2)  # any tap starts
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator(".elder-button")).to_have_attribute("aria-pressed", "false")


def test_print_a_slip_from_a_detail_page(browser: Browser, demo_data: Path, tmp_path: Path) -> None:
    device = tmp_path / "printer"  # python-escpos's File printer: what a USB printer's /dev/usb/lp0 would get
    app = create_app({"DATA_DIR": str(demo_data), "SECRET_KEY": "print-test", "PRINTER": f"file:{device}"})
    with serving(app) as url:
        context = browser.new_context(base_url=url, viewport=KIOSK_SCREEN, has_touch=True, locale="zh-CN")
        page = context.new_page()
        page.goto("/powers/dibao-shenqing")
        button = page.get_by_role("button", name="打印")
        box = button.bounding_box()
        assert box is not None and min(box["width"], box["height"]) >= MIN_TARGET
        button.tap()
        expect(page.locator(".print-note")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/powers/dibao-shenqing\?print=done$"))
        context.close()
    printed = device.read_bytes()
    assert b"\x1d(k" in printed, "the QR code, drawn by the printer"
    assert "最低生活保障申请".encode("gb18030") in printed and b"/m/taoyuan/power/dibao-shenqing" in printed
