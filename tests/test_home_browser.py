"""The home screen on the kiosks people have, measured in Debian's Chromium: what leads comes first."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.test_screen_sizes import set_mode

# Where each part of the home screen is drawn, in CSS pixels from the top of the page.
PARTS = """() => {
  const box = (selector) => {
    const found = [...document.querySelectorAll(selector)].map((e) => e.getBoundingClientRect());
    if (!found.length) return null;
    return {top: Math.min(...found.map((r) => r.top)), bottom: Math.max(...found.map((r) => r.bottom))};
  };
  return {
    search: box('.search-entry'), matters: box('.matter'), notices: box('.home-notices .row'),
    areas: box('.tiles-areas .tile'), footer: box('.statusbar'), height: window.innerHeight,
  };
}"""


def parts(browser: Browser, live_server: str, size: tuple[int, int], mode: str) -> dict[str, Any]:
    width, height = size
    context = browser.new_context(base_url=live_server, viewport={"width": width, "height": height}, has_touch=True)
    try:
        tab = context.new_page()
        set_mode(tab, mode)
        tab.goto("/")
        tab.evaluate("document.fonts.ready.then(() => true)")
        found: dict[str, Any] = tab.evaluate(PARTS)
        return found
    finally:
        context.close()


@pytest.mark.parametrize("mode", ["normal", "en"])
def test_a_portrait_kiosk_is_filled_with_search_matters_notices_and_areas(
    browser: Browser, live_server: str, mode: str
) -> None:
    found = parts(browser, live_server, (1080, 1920), mode)
    order = [found[part] for part in ("search", "matters", "notices", "areas")]
    assert all(part is not None for part in order)
    assert [part["top"] for part in order] == sorted(part["top"] for part in order)  # in this order, top to bottom
    assert found["areas"]["bottom"] <= found["height"]  # all of it on the one screen, without scrolling
    # ... and the screen is used: what is left below the areas, above the status bar, is small.
    assert found["footer"]["top"] - found["areas"]["bottom"] < 0.15 * found["height"]


@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768)], ids=["1920x1080", "1366x768"])
def test_a_landscape_kiosk_shows_search_matters_notices_and_areas_side_by_side(
    browser: Browser, live_server: str, size: tuple[int, int]
) -> None:
    found = parts(browser, live_server, size, "normal")
    for part in ("search", "notices", "areas"):  # each starts on the first screen
        assert found[part]["top"] < 0.3 * found["height"], part
    assert found["matters"]["top"] < found["height"] / 2


def test_in_elder_mode_the_search_and_the_first_matters_are_on_the_first_screen(
    browser: Browser, live_server: str
) -> None:
    found = parts(browser, live_server, (1080, 1920), "elder")
    assert found["search"]["bottom"] < found["matters"]["top"] < found["height"] / 2
