"""Every screen on the screens kiosks have, in normal, elder and English modes, measured in Debian's Chromium.

Portrait floor-standing kiosks (1080×1920), landscape wall ones (1920×1080, 1366×768) and the
1280×800 the other tests use. Measured, not compared with pictures; the screenshots are saved under
test-artifacts/screens/ for people to look at.
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.test_english import UNMARKED_CHINESE_JS
from tests.test_touch_browser import INTERACTIVE, MIN_TARGET, SCREENS, SMALL_TARGETS, screen_path

SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screens"
README_SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"  # refreshed with UPDATE_SCREENSHOTS=1
README_SIZES = {(1080, 1920): "portrait", (1920, 1080): "landscape"}
SIZES = [(1080, 1920), (1920, 1080), (1366, 768), (1280, 800)]
MODES = ["normal", "elder", "en"]
BAR_SHARE = {"normal": 0.10, "elder": 0.13, "en": 0.10}  # of the viewport's height, at most

TOP_BAR = """() => {
  const bar = document.querySelector('.topbar').getBoundingClientRect();
  const problems = [];
  for (const child of document.querySelector('.topbar').children) {
    const box = child.getBoundingClientRect();
    if (box.width === 0) continue;
    if (box.top < bar.top - 1 || box.bottom > bar.bottom + 1 || box.top > bar.top + bar.height / 2)
      problems.push(`not on the bar's one row: ${child.className}`);
  }
  const walker = document.createTreeWalker(document.querySelector('.topbar'), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim() || !node.parentElement.getClientRects().length) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
    if (lines.size > 1) problems.push(`split over ${lines.size} lines: "${node.textContent.trim()}"`);
  }
  return {height: bar.height, problems};
}"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"
# A text of more than 4 characters drawn two or fewer to a line has been squeezed into a column
# too narrow to read (the village name stacked one character per line, "便民服务代/办员").
STACKED = """() => {
  const stacked = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.replace(/\\s+/g, '');
    if (text.length <= 4 || !node.parentElement.getClientRects().length) continue;
    if (node.parentElement.closest('.idle-overlay, script, style')) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
    if (lines.size > 1 && text.length / lines.size <= 2) stacked.push(`"${text.slice(0, 20)}" on ${lines.size} lines`);
  }
  return stacked;
}"""


@pytest.fixture(scope="module")
def paths(browser: Browser, live_server: str) -> dict[str, str]:
    """Every kind of screen's address in the demo kiosk (some depend on its content)."""
    context = browser.new_context(base_url=live_server)
    tab = context.new_page()
    found = {screen: screen_path(tab, screen) for screen in SCREENS}
    context.close()
    return found


@pytest.fixture()
def axe_tab(browser: Browser, live_server: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    width, height = request.param
    # axe-core is injected as a script: this context alone lets it past the page's script policy.
    context = browser.new_context(base_url=live_server, viewport={"width": width, "height": height},
                                  has_touch=True, bypass_csp=True)  # fmt: skip
    yield context.new_page()
    context.close()


def set_mode(tab: Page, mode: str) -> None:
    tab.goto("/")
    if mode == "elder":
        tab.locator(".elder-button").click()
    if mode == "en":
        tab.goto("/lang/en?next=/")
    expected_class = "elder" if mode == "elder" else None
    assert tab.locator("html").get_attribute("class") == expected_class


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("mode", MODES)
def test_every_screen_fits_its_kiosk_in_every_mode(
    browser: Browser, live_server: str, paths: dict[str, str], size: tuple[int, int], mode: str
) -> None:
    width, height = size
    context = browser.new_context(base_url=live_server, viewport={"width": width, "height": height}, has_touch=True)
    tab = context.new_page()
    folder = SHOTS / f"{width}x{height}-{mode}"
    folder.mkdir(parents=True, exist_ok=True)
    problems: dict[str, list[str]] = {}
    try:
        set_mode(tab, mode)
        for number, (screen, path) in enumerate(paths.items(), start=1):
            response = tab.goto(path)
            assert response is not None and response.status == 200, path
            tab.evaluate("document.fonts.ready.then(() => true)")
            bar: dict[str, Any] = tab.evaluate(TOP_BAR)
            found: list[str] = list(bar["problems"])
            if bar["height"] > BAR_SHARE[mode] * height:
                found.append(f"top bar {bar['height']:.0f} px, over {BAR_SHARE[mode]:.0%} of {height}")
            if (overflow := tab.evaluate(OVERFLOW)) > 0:
                found.append(f"{overflow} px wider than the screen")
            found += tab.evaluate(STACKED)
            found += tab.evaluate(SMALL_TARGETS % {"min": MIN_TARGET}, INTERACTIVE)
            if mode == "en":  # every interface word in English; the county's Chinese is marked as such
                found += [f"unmarked Chinese: {text}" for text in tab.evaluate(UNMARKED_CHINESE_JS)]
            if found:
                problems[screen] = found
            shot = folder / f"{number:02d}-{screen.replace(' ', '-')}.png"
            tab.screenshot(path=shot)
            if (
                screen == "home"
                and size in README_SIZES
                and mode != "en"
                and os.environ.get("UPDATE_SCREENSHOTS") == "1"
            ):
                shutil.copyfile(shot, README_SHOTS / f"home-{README_SIZES[size]}-{mode}.png")
    finally:
        context.close()
    assert problems == {}


@pytest.mark.parametrize("axe_tab", [(1080, 1920)], indirect=True, ids=["1080x1920"])
@pytest.mark.parametrize("mode", MODES)
def test_every_screen_on_a_portrait_kiosk_passes_axe(axe_tab: Page, paths: dict[str, str], mode: str) -> None:
    source = importlib.resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")
    set_mode(axe_tab, mode)
    problems: dict[str, list[str]] = {}
    for screen, path in paths.items():
        axe_tab.goto(path)
        axe_tab.add_script_tag(content=source)
        result: dict[str, Any] = axe_tab.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        serious = [f"{v['id']}: {v['help']}" for v in result["violations"] if v["impact"] in ("serious", "critical")]
        if serious:
            problems[screen] = serious
    assert problems == {}
