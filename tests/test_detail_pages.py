"""Detail pages on portrait and landscape kiosks, in normal, elder and English modes, measured in Debian's Chromium.

A power item opens with what to bring, who handles it, the time limit and the fee; its flowchart takes
the column's full width, side boxes are wide enough to read, a loop is a jump back to a numbered step;
the QR code and the actions never squeeze the text into a narrow column. Screenshots are saved as
test-artifacts/screens/detail-*.png for people to look at.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, FloatRect, Page, ViewportSize, expect

from sync.contract.content import County
from tests.test_screen_sizes import set_mode
from tests.test_touch_browser import screen_path

SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screens"
PORTRAIT, LANDSCAPE = (1080, 1920), (1920, 1080)
SIZES = [PORTRAIT, LANDSCAPE]
MODES = ["normal", "elder", "en"]
POWER = "/powers/dibao-shenqing"  # 低保: materials, a dead end, and a loop back (有异议 → 重新调查核实 → 审核)
PAGES = {"power": "power item", "notice": "notice", "catalogue": "catalogue item"}  # the screens of test_touch_browser
MATERIALS = ("所需材料", "Materials to bring")
FIRST_FACTS = ("责任主体", "Responsible body", "监督", "Supervision", "办理时限", "Time limit", "收费标准", "Fee")

MEASURE = """([materials, facts]) => {
  const at = (element) => {
    const box = element.getBoundingClientRect();
    return {left: box.left, right: box.right, top: box.top + scrollY, bottom: box.bottom + scrollY, width: box.width};
  };
  const found = {overflow: document.documentElement.scrollWidth - innerWidth, viewport: innerWidth};
  found.body = at(document.querySelector('.detail-body'));
  found.aside = at(document.querySelector('.qr-box'));
  found.actions = [...document.querySelectorAll('.qr-box a, .qr-box button, .qr-box .qr-code')].map(at);
  const named = (selector, names) =>
    [...document.querySelectorAll(selector)].filter((e) => names.includes(e.textContent.trim()));
  const heading = named('.detail-body h2', materials)[0];
  if (heading) found.materials = at(heading.closest('section'));
  found.facts = named('.detail-body dt', facts).map(at);
  const chart = document.querySelector('.flowchart');
  if (!chart) return found;
  const column = chart.parentElement, style = getComputedStyle(column);
  found.column = column.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  found.chart = at(chart);
  const steps = [...chart.querySelectorAll('.flow-step')];
  found.main = steps.filter((step) => !step.classList.contains('flow-step-side')).map(at);
  found.drawn = {left: Math.min(...steps.map((s) => at(s).left)), right: Math.max(...steps.map((s) => at(s).right))};
  // Each side box: its width in characters of its title, and the fewest characters on a full line of its text.
  found.sides = [...chart.querySelectorAll('.flow-step-side')].map((side) => {
    const title = side.querySelector('.flow-title');
    const lines = [];
    for (const part of side.querySelectorAll('.flow-title, .flow-actor, .flow-description')) {
      const text = part.firstChild, range = document.createRange(), tops = [];
      for (let i = 0; i < text.length; i++) {
        if (!text.data[i].trim()) continue;
        range.setStart(text, i);
        range.setEnd(text, i + 1);
        const box = range.getClientRects()[0];
        if (box) tops.push(Math.round(box.top));
      }
      const perLine = [...new Set(tops)].map((top) => tops.filter((t) => t === top).length);
      lines.push({text: text.data.trim(), perLine});
    }
    const titleSize = parseFloat(getComputedStyle(title).fontSize);
    return {text: title.textContent, widthInTitleChars: side.clientWidth / titleSize, lines};
  });
  return found;
}"""


def title_box(tab: Page, title: str) -> FloatRect:
    """Where the flowchart box of the step called *title* is drawn."""
    box = tab.locator(".flow-step", has=tab.locator(".flow-title", has_text=title)).first.bounding_box()
    assert box is not None, f"no box for {title}"
    return box


@pytest.fixture(scope="module")
def tabs(browser: Browser, live_server: str) -> Iterator[dict[tuple[tuple[int, int], str], Page]]:
    """One tab per size and mode, the mode already chosen."""
    contexts: list[BrowserContext] = []
    opened = {}
    for width, height in SIZES:
        for mode in MODES:
            viewport: ViewportSize = {"width": width, "height": height}
            context = browser.new_context(base_url=live_server, viewport=viewport, has_touch=True)
            contexts.append(context)
            tab = context.new_page()
            set_mode(tab, mode)
            opened[(width, height), mode] = tab
    yield opened
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def paths(tabs: dict[tuple[tuple[int, int], str], Page]) -> dict[str, str]:
    tab = tabs[PORTRAIT, "normal"]
    found = {page: screen_path(tab, screen) for page, screen in PAGES.items()}
    assert found["power"] == POWER
    return found


@pytest.fixture(scope="module")
def measured(tabs: dict[tuple[tuple[int, int], str], Page], paths: dict[str, str]) -> dict[Any, dict[str, Any]]:
    """Every detail page measured at every size and mode; each one's screenshot saved."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    found = {}
    for (size, mode), tab in tabs.items():
        for page, path in paths.items():
            response = tab.goto(path)
            assert response is not None and response.status == 200, path
            tab.evaluate("document.fonts.ready.then(() => true)")
            found[page, size, mode] = tab.evaluate(MEASURE, [list(MATERIALS), list(FIRST_FACTS)])
            tab.screenshot(path=SHOTS / f"detail-{page}-{size[0]}x{size[1]}-{mode}.png", full_page=True)
    return found


@pytest.mark.parametrize("mode", MODES)
def test_what_to_bring_who_handles_it_time_limit_and_fee_come_before_the_flowchart(
    measured: dict[Any, dict[str, Any]], mode: str
) -> None:
    for size in SIZES:
        found = measured["power", size, mode]
        assert "materials" in found, "the 低保 item lists what to bring"
        assert found["materials"]["top"] < found["chart"]["top"], (size, "what to bring comes after the flowchart")
        assert len(found["facts"]) == 4 and all(fact["top"] < found["chart"]["top"] for fact in found["facts"]), size
    assert measured["power", PORTRAIT, mode]["materials"]["top"] <= PORTRAIT[1], "what to bring is on the first screen"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", SIZES, ids=["portrait", "landscape"])
def test_the_flowchart_takes_its_column_and_side_boxes_hold_eight_characters_a_line(
    measured: dict[Any, dict[str, Any]], size: tuple[int, int], mode: str
) -> None:
    found = measured["power", size, mode]
    column = found["column"]
    assert found["drawn"]["right"] - found["drawn"]["left"] >= 0.9 * column
    narrow = [box["width"] for box in found["main"] if box["width"] < 0.9 * column]
    assert narrow == [], f"main boxes narrower than 90% of the {column:.0f} px column"
    assert found["sides"], "the 低保 item has side boxes"
    for side in found["sides"]:
        assert side["widthInTitleChars"] >= 8, side
        for line in side["lines"]:
            if len(line["text"]) > 8:
                assert line["perLine"][0] >= 8, f"{line['text']} drawn {line['perLine']} characters a line"


def test_when_both_outcomes_end_the_first_one_is_the_next_box_of_the_main_column(
    tabs: dict[tuple[tuple[int, int], str], Page], demo_county: County
) -> None:
    tab = tabs[PORTRAIT, "normal"]
    # 村级举债: 镇（乡）审核 → 批准 → 纳入债务台账 (ends), 不予批准 → 终止举债 (ends)
    item = next(p for p in demo_county.powers if p["id"] == "cunji-jukuan")
    by_id = {step["id"]: step for step in item["steps"]}
    decision = next(s for s in item["steps"] if len(s["goes_to"]) > 1)
    first, other = (by_id[go["to"]] for go in decision["goes_to"])
    assert not first["goes_to"] and not other["goes_to"], "both outcomes end"
    tab.goto(f"/powers/{item['id']}")
    asked, continued, beside = (title_box(tab, step["title"]) for step in (decision, first, other))
    assert abs(continued["x"] - asked["x"]) <= 2, "drawn in the main column"
    assert continued["width"] >= asked["width"] - 2, "as wide as the main column"
    assert continued["y"] > beside["y"] > asked["y"], "below the decision, after the side box"
    assert beside["x"] > asked["x"] + 100, "the other outcome is drawn beside the main column"


@pytest.mark.parametrize(("mode", "says"), [("normal", "回到第 4 步：审核"), ("en", "Back to step 4: 审核")])
def test_a_loop_back_is_a_labelled_jump_to_the_numbered_step(
    tabs: dict[tuple[tuple[int, int], str], Page], mode: str, says: str
) -> None:
    tab = tabs[PORTRAIT, mode]
    tab.goto(POWER)
    jump = tab.locator(".flowchart a", has_text=says)
    expect(jump).to_have_count(1)
    expect(jump).to_contain_text("↩")
    target = tab.locator(".flow-step", has=tab.locator(".flow-number", has_text="4"))
    expect(target.locator(".flow-title")).to_have_text("审核")
    recheck = title_box(tab, "重新调查核实")
    box = jump.bounding_box()
    assert box is not None and recheck["y"] < box["y"] < recheck["y"] + recheck["height"] + 120, "under 重新调查核实"
    jump.tap()
    expect(target).to_be_in_viewport()
    top_bar = tab.locator(".topbar").bounding_box()
    step = target.bounding_box()
    assert top_bar is not None and step is not None
    assert step["y"] >= top_bar["y"] + top_bar["height"], "the step is not hidden under the top bar"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("page", list(PAGES))
def test_qr_code_and_actions_never_squeeze_the_text_and_nothing_overflows(
    measured: dict[Any, dict[str, Any]], page: str, mode: str
) -> None:
    portrait = measured[page, PORTRAIT, mode]
    assert portrait["body"]["width"] >= 0.85 * portrait["viewport"], "the text keeps 85% of a portrait screen"
    for size in SIZES:
        found = measured[page, size, mode]
        assert found["overflow"] <= 0, (size, "wider than the screen")
        assert found["actions"], "the QR code and actions are shown"
        for action in found["actions"]:
            assert action["left"] >= 0 and action["right"] <= found["viewport"], (size, action)
            assert action["top"] < size[1], (size, "the QR code and actions are on the first screen")


@pytest.mark.parametrize("size", SIZES, ids=["portrait", "landscape"])
def test_detail_pages_pass_axe(
    browser: Browser, live_server: str, paths: dict[str, str], size: tuple[int, int]
) -> None:
    source = importlib.resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")
    # axe-core is injected as a script: this context alone lets it past the page's script policy.
    context = browser.new_context(base_url=live_server, viewport={"width": size[0], "height": size[1]}, bypass_csp=True)
    tab = context.new_page()
    problems = {}
    try:
        for mode in ("normal", "elder"):
            set_mode(tab, mode)
            for path in paths.values():
                tab.goto(path)
                tab.add_script_tag(content=source)
                result: dict[str, Any] = tab.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
                violations = result["violations"]
                serious = [f"{v['id']}: {v['help']}" for v in violations if v["impact"] in ("serious", "critical")]
                if serious:
                    problems[mode, path] = serious
    finally:
        context.close()
    assert problems == {}
