"""我要办 in Debian's Chromium: a villager reaches 最低生活保障申请 from the home screen by tapping answers only.

On a portrait kiosk (1080×1920) with every target measured, in elder mode and in English, without
script, on a landscape kiosk, and on a phone (390 px). Screenshots go to test-artifacts/guides/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from kiosk.county import create_county_app
from tests.browser import guarded
from tests.county_repo import VILLAGE, CountyRepo
from tests.servers import serving
from tests.test_screen_sizes import OVERFLOW
from tests.test_touch_browser import INTERACTIVE, MIN_TARGET, MIN_TEXT, SMALL_TARGETS, SMALL_TEXT

SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "guides"
# The answers a villager taps, in order: 我要办's first step, then three questions.
WAY = ["生活困难，想申请补助", "家里收入一直很低，日子过不下去", "是，比低保标准低", "没有"]
MEASURE = """(selector) => [...document.querySelectorAll(selector)].map((e) => {
  const box = e.getBoundingClientRect();
  return {width: box.width, height: box.height};
})"""


def kiosk_tab(browser: Browser, live_server: str, width: int, height: int, **options: Any) -> tuple[Page, Any]:
    context, outside, errors = guarded(browser, live_server, base_url=live_server, has_touch=True, locale="zh-CN",
                                       viewport={"width": width, "height": height}, **options)  # fmt: skip
    tab = context.new_page()
    tab.on("pageerror", lambda error: errors.append(str(error)))
    return tab, (context, outside, errors)


def close(held: Any) -> None:
    context, outside, errors = held
    context.close()
    assert outside == [], "a guide page asked for something outside the kiosk"
    assert errors == [], "the browser reported errors"


def shoot(tab: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.evaluate("document.fonts.ready.then(() => true)")
    tab.screenshot(path=SHOTS / f"{name}.png")


def check_screen(tab: Page, least_text: int) -> list[str]:
    """Every target at least MIN_TARGET both ways, every text at least *least_text*, nothing wider than the screen."""
    problems: list[str] = tab.evaluate(SMALL_TARGETS % {"min": MIN_TARGET}, INTERACTIVE)
    problems += tab.evaluate(SMALL_TEXT, least_text)
    if (overflow := tab.evaluate(OVERFLOW)) > 0:
        problems.append(f"{overflow} px wider than the screen")
    return problems


def walk_to_dibao(tab: Page, mode: str, shots: str | None = None) -> list[str]:
    """From the home screen to 最低生活保障申请's page by taps alone; return what measured wrong on the way."""
    problems: list[str] = []
    least = MIN_TEXT["elder" if mode == "elder" else "normal"]
    tab.goto("/")
    if mode == "elder":
        tab.locator(".elder-button").tap()
        expect(tab.locator("html")).to_have_class("elder")
    elif mode == "en":
        tab.get_by_role("link", name="English").tap()
        expect(tab.locator("html")).to_have_attribute("lang", "en")
    tab.locator(".guide-entry").tap()
    for number, answer in enumerate(WAY, start=1):
        step = "Step" if mode == "en" else "第"
        expect(tab.locator(".guide-step")).to_contain_text(str(number))
        expect(tab.locator(".guide-step")).to_contain_text(step)
        tab.wait_for_load_state()  # its stylesheet applied: measured as drawn
        assert tab.locator("h1").count() == 1, "one question a screen"
        sizes = tab.evaluate(MEASURE, ".guide-answer")
        assert sizes and all(s["width"] >= MIN_TARGET and s["height"] >= MIN_TARGET for s in sizes), sizes
        problems += [f"step {number}: {p}" for p in check_screen(tab, least)]
        if shots:
            shoot(tab, f"{shots}-step-{number}")
        tab.locator(".guide-answer", has_text=answer).tap()
    expect(tab.locator("h1")).to_have_text("可以申请最低生活保障（低保）")
    expect(tab.locator(".qr-code")).to_have_count(3)
    tab.wait_for_load_state()
    problems += [f"ending: {p}" for p in check_screen(tab, least)]
    if shots:
        shoot(tab, f"{shots}-ending")
    tab.locator(".guide-matter-link", has_text="最低生活保障申请").tap()
    expect(tab.locator("h1")).to_have_text("最低生活保障申请")
    expect(tab).to_have_url(re.compile(r"/powers/dibao-shenqing$"))
    return problems


@pytest.mark.parametrize("mode", ["normal", "elder", "en"])
def test_a_villager_reaches_the_dibao_item_from_the_home_screen_by_answering(
    browser: Browser, live_server: str, mode: str
) -> None:
    tab, held = kiosk_tab(browser, live_server, 1080, 1920)
    try:
        assert walk_to_dibao(tab, mode, shots=f"1080x1920-{mode}") == []
    finally:
        close(held)


def test_back_and_start_over_and_the_browsers_own_back(browser: Browser, live_server: str) -> None:
    tab, held = kiosk_tab(browser, live_server, 1080, 1920)
    try:
        tab.goto("/guides/shenghuo-kunnan/1-1")
        tab.locator(".guide-back").tap()
        expect(tab.locator("h1")).to_have_text("全家每个人每月平均的收入，比当地的低保标准还低吗？")
        tab.locator(".guide-answer", has_text="不清楚低保标准是多少").tap()
        expect(tab.locator("h1")).to_have_text("先了解救助的标准和政策")
        tab.go_back()
        expect(tab.locator("h1")).to_have_text("全家每个人每月平均的收入，比当地的低保标准还低吗？")
        tab.locator(".guide-restart").tap()
        expect(tab).to_have_url(re.compile(r"/guides$"))
        expect(tab.locator(".guide-step")).to_have_text("第1步")
    finally:
        close(held)


def test_without_script_the_answers_still_lead_to_the_ending(browser: Browser, live_server: str) -> None:
    tab, held = kiosk_tab(browser, live_server, 1080, 1920, java_script_enabled=False)
    try:
        tab.goto("/guides")
        for answer in WAY:
            tab.locator(".guide-answer", has_text=answer).tap()
        expect(tab.locator("h1")).to_have_text("可以申请最低生活保障（低保）")
    finally:
        close(held)


@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768)], ids=["1920x1080", "1366x768"])
def test_on_a_landscape_kiosk_the_ending_shows_what_to_do_beside_the_matters(
    browser: Browser, live_server: str, size: tuple[int, int]
) -> None:
    tab, held = kiosk_tab(browser, live_server, *size)
    try:
        tab.goto("/guides/shenghuo-kunnan/1")
        assert check_screen(tab, MIN_TEXT["normal"]) == []
        shoot(tab, f"{size[0]}x{size[1]}-question")
        tab.goto("/guides/shenghuo-kunnan/1-1-1")
        assert check_screen(tab, MIN_TEXT["normal"]) == []
        what, where = tab.locator(".guide-next").bounding_box(), tab.locator(".guide-where").bounding_box()
        assert what and where and where["x"] > what["x"] + what["width"] and where["y"] < what["y"] + what["height"]
        shoot(tab, f"{size[0]}x{size[1]}-ending")
    finally:
        close(held)


@pytest.fixture()
def phone_server(county_repo: CountyRepo, tmp_path: Path) -> Iterator[str]:
    config = {"REPO": str(county_repo.path), "DATA_DIR": str(tmp_path / "county"), "SECRET_KEY": "t"}
    with serving(create_county_app(config)) as url:
        yield url


def test_on_a_phone_the_same_answers_lead_to_the_same_item(browser: Browser, phone_server: str) -> None:
    context, outside, errors = guarded(browser, phone_server, base_url=phone_server, has_touch=True, is_mobile=True,
                                       viewport={"width": 390, "height": 844}, locale="zh-CN")  # fmt: skip
    tab = context.new_page()
    try:
        tab.goto(f"/m/{VILLAGE}/")
        tab.locator(".guide-entry a").tap()
        for number, answer in enumerate(WAY, start=1):
            expect(tab.locator(".kicker")).to_contain_text(f"第{number}步")
            tab.wait_for_load_state()
            assert tab.locator("h1").count() == 1
            sizes = tab.evaluate(MEASURE, ".answer, .guide-nav .button")
            assert all(s["height"] >= 60 and s["width"] >= 60 for s in sizes), sizes
            assert tab.evaluate(OVERFLOW) <= 0
            shoot(tab, f"390-step-{number}")
            tab.locator(".answer", has_text=answer).tap()
        expect(tab.locator("h1")).to_have_text("可以申请最低生活保障（低保）")
        tab.wait_for_load_state()
        assert tab.evaluate(OVERFLOW) <= 0
        shoot(tab, "390-ending")
        tab.get_by_role("link", name="最低生活保障申请").tap()
        expect(tab.locator("h1")).to_have_text("最低生活保障申请")
    finally:
        context.close()
    assert outside == [] and errors == []
