"""Drive the real kiosk in Debian's Chromium like a villager: tap through screens, switch language, read Chinese."""

from __future__ import annotations

import os
import re
import shutil
import struct
import zlib
from pathlib import Path

from playwright.sync_api import Page, expect

from sync.contract.content import County
from tests.browser import KIOSK_SCREEN

REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"  # git-ignored; kept for people to look at
README_SCREENSHOT = REPO / "docs" / "screenshots" / "home.png"  # committed; refreshed with UPDATE_SCREENSHOTS=1
HAN = re.compile(r"[\u3400-\u9fff]")


def main_heading(page: Page) -> str:
    return page.locator("main h1").inner_text()


def test_tap_from_home_to_a_power_item_and_back(page: Page, demo_county: County) -> None:
    welcome = f"欢迎来到{demo_county.villages()[0]['name']}党群服务中心"
    page.goto("/")
    expect(page.locator("main h1")).to_have_text(welcome)

    page.get_by_role("link", name="小微权力清单").tap()
    expect(page).to_have_url(re.compile(r"/powers$"))
    expect(page.locator("main h1")).to_have_text("小微权力清单")

    category = page.locator("main .tile").first
    category_name = category.locator(".tile-title").inner_text()
    category.tap()
    expect(page).to_have_url(re.compile(r"/powers/category/\d+$"))
    expect(page.locator("main h1")).to_have_text(category_name)

    item = page.locator("main .row").first
    item_name = item.locator(".row-title").inner_text()
    item.tap()
    expect(page).to_have_url(re.compile(r"/powers/[^/]+$"))
    expect(page.locator("main h1")).to_have_text(item_name)
    expect(page.locator(".kicker")).to_contain_text(category_name)  # and its official number (编号), when it has one
    steps = page.locator(".flowchart .flow-step")
    assert steps.count() >= 4, f"{item_name}: the flowchart shows {steps.count()} steps"
    expect(steps.first).to_be_visible()
    expect(page.locator(".qr-box img.qr-code")).to_be_visible()
    page.wait_for_function("() => document.querySelector('.qr-box img.qr-code').naturalWidth > 20")  # loaded

    page.get_by_role("link", name="首页").tap()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("main h1")).to_have_text(welcome)


def test_switch_to_english_and_back(page: Page) -> None:
    page.goto("/powers")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")

    page.get_by_role("link", name="English").tap()
    expect(page).to_have_url(re.compile(r"/powers$"))  # the same screen, now in English
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main h1")).to_have_text("Small-power list")
    page.get_by_role("link", name="Home").tap()
    expect(page.get_by_role("link", name="Small-power list")).to_be_visible()
    expect(page.get_by_role("link", name="Contacts and supervision")).to_be_visible()

    page.get_by_role("link", name="简体中文").tap()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.get_by_role("link", name="小微权力清单")).to_be_visible()
    expect(page.get_by_role("link", name="Small-power list")).to_have_count(0)


def png_ink(png: bytes) -> tuple[int, int, list[bool]]:
    """Decode a Chromium screenshot (8-bit RGB or RGBA PNG, not interlaced): width, height, ink per pixel.

    A pixel is ink when it is clearly darker or lighter than the top-left (background) pixel.
    """
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, data = 8, []
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position : position + 8])
        chunk = png[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            data.append(chunk)
        position += 12 + length
    assert (depth, interlace) == (8, 0) and color in (2, 6), f"unexpected PNG: depth {depth}, colour type {color}"
    channels = 3 if color == 2 else 4
    raw, stride = zlib.decompress(b"".join(data)), width * channels
    previous, grey = bytearray(stride), []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):  # undo the PNG row filter (PNG spec, section 9)
            left = line[i - channels] if i >= channels else 0
            up, up_left = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - up_left  # Paeth: the neighbour nearest the guess, ties in this order
                nearest = min((left, up, up_left), key=lambda neighbour: abs(guess - neighbour))
                line[i] = (line[i] + nearest) & 0xFF
        grey += [sum(line[x : x + 3]) // 3 for x in range(0, stride, channels)]
        previous = line
    return width, height, [abs(value - grey[0]) > 64 for value in grey]


def test_chinese_text_is_drawn_with_a_cjk_font_not_tofu(page: Page) -> None:
    page.goto("/")
    heading = page.locator("h1.welcome")
    text = heading.inner_text()
    han = HAN.findall(text)
    assert len(han) >= 8, f"the heading has too little Chinese to test: {text!r}"

    # The decisive check: which font Chromium actually drew the heading's glyphs with.
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    document = cdp.send("DOM.getDocument", {"depth": 0})
    node = cdp.send("DOM.querySelector", {"nodeId": document["root"]["nodeId"], "selector": "h1.welcome"})
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
    cjk_glyphs = sum(font["glyphCount"] for font in fonts if "Noto Sans CJK" in font["familyName"])
    assert cjk_glyphs >= len(han), f"{text!r} is drawn with {fonts}, not Noto Sans CJK"

    # And what a villager sees: the same heading as private-use characters, which always draw as
    # tofu (.notdef) boxes, must look quite different from the Chinese one.
    chinese = heading.screenshot()
    heading.evaluate("(element, count) => { element.textContent = '\\uE000'.repeat(count) }", len(text))
    tofu = heading.screenshot()
    chinese_width, chinese_height, chinese_ink = png_ink(chinese)
    tofu_width, tofu_height, tofu_ink = png_ink(tofu)
    assert (chinese_width, chinese_height) == (tofu_width, tofu_height)
    ink = sum(a or b for a, b in zip(chinese_ink, tofu_ink, strict=True))
    different = sum(a != b for a, b in zip(chinese_ink, tofu_ink, strict=True))
    assert sum(chinese_ink) > 20 * len(han), "the Chinese heading drew almost nothing"
    assert different / ink > 0.4, f"the Chinese heading looks like tofu boxes ({different} of {ink} ink pixels differ)"


def test_screenshot_every_main_screen(page: Page) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    taken: list[Path] = []

    def screenshot(name: str) -> None:
        page.wait_for_load_state("networkidle")
        page.evaluate("document.fonts.ready.then(() => true)")
        expect(page.locator("main h1")).not_to_be_empty()
        path = SCREENSHOTS / f"{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=path)
        width, height = struct.unpack(">II", path.read_bytes()[16:24])
        assert (width, height) == (KIOSK_SCREEN["width"], KIOSK_SCREEN["height"]), path
        taken.append(path)

    def open_first(selector: str) -> None:
        link = page.locator(selector).first
        href = link.get_attribute("href")
        assert href, f"no {selector} on {page.url}"
        page.goto(href)

    page.goto("/")
    screenshot("home")
    page.goto("/powers")
    screenshot("power-categories")
    open_first("main .tile")
    screenshot("power-list")
    open_first("main .row")
    screenshot("power-item")
    page.goto("/ten-ones")
    screenshot("ten-ones")
    page.goto("/notices")
    screenshot("notice-domains")
    domains: list[str] = page.locator("main .tile").evaluate_all("tiles => tiles.map(tile => tile.href)")
    for domain in domains:  # the first domain with current notices
        page.goto(domain)
        if page.locator("main .row").count():
            break
    expect(page.locator("main .row").first).to_be_visible()
    screenshot("notice-list")
    open_first("main .row")
    screenshot("notice")
    page.goto("/catalogue")
    screenshot("catalogue-areas")
    open_first("main .tile")
    screenshot("catalogue-list")
    open_first("main .row")
    screenshot("catalogue-item")
    page.goto("/contacts")
    screenshot("contacts")

    assert [path.name.split("-", 1)[1] for path in taken] == [
        "home.png",
        "power-categories.png",
        "power-list.png",
        "power-item.png",
        "ten-ones.png",
        "notice-domains.png",
        "notice-list.png",
        "notice.png",
        "catalogue-areas.png",
        "catalogue-list.png",
        "catalogue-item.png",
        "contacts.png",
    ]
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(taken[0], README_SCREENSHOT)
