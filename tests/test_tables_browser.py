"""Tables in notices as a portrait kiosk draws them: columns aligned as written, cells not squeezed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize

from tests.browser import guarded

PORTRAIT: ViewportSize = {"width": 1080, "height": 1920}
FINANCE_NOTICE = "/notice/caiwu-2026-10-taoyuan"  # its 项目资金使用情况 has six columns, four of them money
# Each cell of the table with *columns* columns: its lines of text and where its text sits in its content box.
CELLS = """(columns) => {
  const table = [...document.querySelectorAll('.notice-text table')]
    .find((t) => t.querySelectorAll('thead th').length === columns);
  if (!table) return null;
  return [...table.querySelectorAll('th, td')].map((cell) => {
    const style = getComputedStyle(cell);
    const px = (name) => parseFloat(style[name]);
    const box = cell.getBoundingClientRect();
    const range = document.createRange();
    range.selectNodeContents(cell);
    const text = range.getBoundingClientRect();
    return {
      text: cell.textContent.trim(),
      right: cell.classList.contains('align-right'),
      lines: (box.height - px('paddingTop') - px('paddingBottom') - px('borderTopWidth') - px('borderBottomWidth'))
        / px('lineHeight'),
      contentLeft: box.left + px('borderLeftWidth') + px('paddingLeft'),
      contentRight: box.right - px('borderRightWidth') - px('paddingRight'),
      textLeft: text.left,
      textRight: text.right,
      figures: style.fontVariantNumeric,
    };
  });
}"""


@pytest.fixture()
def portrait(browser: Browser, live_server: str) -> Iterator[Page]:
    context, outside, errors = guarded(
        browser, live_server, base_url=live_server, viewport=PORTRAIT, has_touch=True, locale="zh-CN"
    )
    yield context.new_page()
    context.close()
    assert outside == [] and errors == []


def test_a_six_column_finance_table_keeps_its_columns_readable_and_its_money_right_aligned(portrait: Page) -> None:
    response = portrait.goto(FINANCE_NOTICE)
    assert response is not None and response.status == 200
    cells: list[dict[str, Any]] | None = portrait.evaluate(CELLS, 6)
    assert cells, "the demo's finance notice has a six-column table"

    squeezed = [f"{c['text']}: {c['lines']:.1f} lines" for c in cells if c["lines"] > 2.05]
    assert squeezed == [], "no cell is squeezed into a narrow column of many lines"

    money = [c for c in cells if c["right"]]
    assert len(money) >= 4 * 4, "the four money columns are right-aligned, heading and cells"
    for cell in money:
        assert abs(cell["textRight"] - cell["contentRight"]) <= 2, f"{cell['text']} ends at its cell's right edge"
        if cell["textRight"] - cell["textLeft"] < cell["contentRight"] - cell["contentLeft"] - 4:
            assert cell["textLeft"] > cell["contentLeft"] + 2, f"{cell['text']} does not start at the left edge"
    assert {c["figures"] for c in cells} == {"tabular-nums"}, "figures of one width, so amounts line up"

    page_width = portrait.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert page_width[0] <= page_width[1], "a wide table scrolls inside its box, never the page"
