"""The dashboard's 群众关注 page in Debian's Chromium: on a phone (360 and 390 px) and at 1366×768 its charts'
words are as large as the page's small print, and nothing is wider than the screen. Screenshots go to
test-artifacts/looked-for/."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from kiosk.county import CountyServer
from tests.browser import guarded
from tests.county_repo import CountyRepo
from tests.servers import serving
from tests.test_dashboard import enrolled_kiosk, store_for_browser  # noqa: F401 (fixture)
from tests.test_looked_for import NOTICE, POWER, day_counts
from tests.test_screen_sizes import OVERFLOW
from tests.test_staff import PASSWORD

SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "looked-for"
SMALLEST_LABEL_PX = 12  # the chart's words drawn no smaller than this, at any width
CHART_WORDS = """() => [...document.querySelectorAll('figure.chart svg text')].map((t) => {
  const box = t.getBoundingClientRect();
  return {text: t.textContent, height: box.height, right: box.right};
})"""


@pytest.mark.parametrize(("width", "height"), [(360, 740), (390, 844), (1366, 768)])
def test_the_charts_words_stay_readable_on_a_phone_and_on_a_laptop(
    browser: Browser,
    county_repo: CountyRepo,
    store_for_browser: tuple[Flask, sqlite3.Connection],  # noqa: F811
    width: int,
    height: int,
) -> None:
    app, db = store_for_browser
    kiosk = enrolled_kiosk(db)
    day_counts(db, kiosk, "2026-11-03", [["power", POWER, 34], ["notice", NOTICE, 8], ["search_none", "xqz", 16],
               ["search_none", "宅基地 补偿标准", 8], ["guide_ending", "shenghuo-kunnan/dibao", 24]])  # fmt: skip
    with serving(CountyServer(county_repo.path, app)) as url:
        context, outside, errors = guarded(browser, url, base_url=url, locale="zh-CN",
                                           viewport={"width": width, "height": height})  # fmt: skip
        page = context.new_page()
        page.goto("/sign-in")
        page.get_by_label("账号名").fill("anna")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("一体机")
        page.goto("/dashboard/looked-for/?from=2026-11-01&to=2026-11-30")
        expect(page.get_by_role("heading", level=1)).to_have_text("群众关注")
        words = page.evaluate(CHART_WORDS)
        drawn = {w["text"] for w in words}
        assert {"最低生活保障申请", "34", "宅基地 补偿标准", "可以申请最低生活保障（低保）"} <= drawn
        small = [w for w in words if w["height"] < SMALLEST_LABEL_PX]
        assert small == [], f"chart words drawn smaller than {SMALLEST_LABEL_PX} px at {width} px"
        assert max(w["right"] for w in words) <= width and page.evaluate(OVERFLOW) <= 0, "nothing off the screen"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / f"{width}x{height}.png", full_page=True)
        context.close()
    assert outside == [] and errors == []
