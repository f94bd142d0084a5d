"""English mode: every interface word in English, the county's Chinese content marked lang="zh-Hans"."""

from __future__ import annotations

import json
import re
from collections import deque
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from flask_babel import force_locale
from playwright.sync_api import Page, expect

from kiosk.county import create_county_app
from kiosk.screens import filters, labels
from tests.county_repo import VILLAGE, CountyRepo

HAN = re.compile(r"[\u3400-\u9fff]")
MAX_PAGES = 1_000  # a bound per crawl, far above the demo's size, so a link loop fails instead of hanging
READABLE_ATTRIBUTES = frozenset({"alt", "title", "aria-label", "placeholder"})
VOID = frozenset({"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})
SCHEMAS = Path(__file__).parent.parent / "content" / "schema"


class _InterfaceText(HTMLParser):
    """Collect what a page says outside the elements marked lang="zh-Hans" (the county's content)."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._open: list[tuple[str, bool]] = []  # (tag, skipped: inside content, <title>, <script> or <style>)

    def _skipping(self) -> bool:
        return bool(self._open) and self._open[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        # <title> can mark no language inside it: it is the item's name and the village's, both content.
        skipped = self._skipping() or values.get("lang") == "zh-Hans" or tag in ("title", "script", "style")
        if not skipped:
            self.texts += [f"{tag}[{name}]: {value}" for name, value in attrs if name in READABLE_ATTRIBUTES and value]
        if tag not in VOID:
            self._open.append((tag, skipped))

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()[0] != tag:
            pass  # an element left open inside closes with its parent

    def handle_data(self, data: str) -> None:
        if not self._skipping() and data.strip():
            self.texts.append(data.strip())


# The same check on the page a browser drew (for Playwright's page.evaluate): texts and readable
# attributes holding Chinese outside a lang="zh-Hans" element, <title> apart.
UNMARKED_CHINESE_JS = """() => {
  const han = /[\\u3400-\\u9fff]/, found = [];
  const outside = (element) => !element.closest('[lang="zh-Hans"], title, script, style');
  const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (han.test(node.data) && outside(node.parentElement)) found.push(node.data.trim());
  }
  for (const element of document.querySelectorAll("[alt], [title], [aria-label], [placeholder]")) {
    for (const name of ["alt", "title", "aria-label", "placeholder"]) {
      const value = element.getAttribute(name);
      if (value && han.test(value) && outside(element)) found.push(`${element.tagName}[${name}]: ${value}`);
    }
  }
  return found;
}"""


def unmarked_chinese(html: str) -> list[str]:
    """Return the texts of *html* that hold Chinese outside a lang="zh-Hans" element."""
    parser = _InterfaceText()
    parser.feed(html)
    parser.close()
    return [text for text in parser.texts if HAN.search(text)]


def crawl(client: FlaskClient, start: list[str], follow: re.Pattern[str]) -> dict[str, str]:
    """Return every page reached from *start* through links matching *follow*: URL to HTML."""
    pages: dict[str, str] = {}
    queue = deque(start)
    while queue:
        url = queue.popleft()
        if url in pages:
            continue
        assert len(pages) < MAX_PAGES, f"more than {MAX_PAGES} pages: the crawl was cut off"
        response = client.get(url)
        assert response.status_code in (200, 404), (url, response.status_code)
        pages[url] = response.get_data(as_text=True)
        for link in re.findall(r'href="([^"#]+)', pages[url]):
            link = link.replace("&amp;", "&")
            if follow.fullmatch(link) and link not in pages:
                queue.append(link)
    return pages


# The kiosk's screens, but not language or elder switches, media, and the search keyboard's endless letters.
KIOSK_LINK = re.compile(r"/(?!lang/|elder|reset|media/|static/|search|speech/|slip/)[^?]*(\?page=\d+)?")


def test_every_kiosk_screen_in_english_has_chinese_only_in_marked_content(english: FlaskClient) -> None:
    searches = ["/search", "/search?q=db", "/search?q=zzzz", "/search?q=无此事项"]
    searches += [f"/search?q={word}" for word in labels.QUICK_SEARCHES]
    extra = ["/attract", "/no-such-page", "/powers/no-such", "/powers/dibao-shenqing?feedback=rate"]
    pages = crawl(english, ["/", *searches, *extra], KIOSK_LINK)
    paths = {urlsplit(url).path for url in pages}
    for kind in (r"/powers/category/\d+", r"/powers/[^/]+", r"/notices/\w+", r"/notices/\w+/archive", r"/notice/[^/]+",
                 r"/catalogue/area/\d+", r"/catalogue/[^/]+", "/ten-ones", "/contacts"):  # fmt: skip
        assert any(re.fullmatch(kind, path) for path in paths), f"the crawl never reached {kind}"
    found = {url: texts for url, html in pages.items() if (texts := unmarked_chinese(html))}
    assert found == {}


def test_chinese_content_on_an_english_page_is_marked(english: FlaskClient) -> None:
    html = english.get("/powers/dibao-shenqing").get_data(as_text=True)
    assert '<html lang="en"' in html
    assert '<h1 lang="zh-Hans">最低生活保障申请</h1>' in html, "the item's name is marked Chinese"
    assert re.search(r'<div class="place" lang="zh-Hans">\s*<span class="village">桃源村</span>', html)


def test_chinese_pages_carry_no_marks(client: FlaskClient) -> None:
    html = client.get("/powers/dibao-shenqing").get_data(as_text=True)
    assert '<html lang="zh-Hans"' in html and html.count('lang="zh-Hans"') == 2, "the page and 简体中文 only"


def test_catalogue_values_and_topics_read_in_english(app: Flask, english: FlaskClient) -> None:
    client = app.test_client()  # in Chinese, the default
    area = english.get("/catalogue/area/0").get_data(as_text=True)
    (detail,) = re.findall(r'href="(/catalogue/[a-z0-9-]+)"', area)[:1]
    english_page = english.get(detail).get_data(as_text=True)
    chinese_page = client.get(detail).get_data(as_text=True)
    for value in ("For whom", "How", "Level"):
        assert value in english_page
    assert re.search(r"<dd>(County|Township)(, (County|Township))?</dd>", english_page)
    assert re.search(r"<dd>(县级|乡级)(、(县级|乡级))?</dd>", chinese_page), "Chinese stays as written"
    assert re.search(r"<dd>(Everyone|The people concerned)</dd>", english_page)
    assert re.search(r"<dd>(Published without being asked|On request)</dd>", english_page)
    search = english.get("/search").get_data(as_text=True)
    assert "Subsistence allowance</a>" in search and 'href="/search?q=%E4%BD%8E%E4%BF%9D"' in search
    assert ">低保</a>" in client.get("/search").get_data(as_text=True)


@pytest.mark.parametrize(
    ("names", "schema", "path"),
    [
        (labels.CATALOGUE_AREA_LABELS, "catalogue", ["properties", "area"]),
        (labels.CATALOGUE_AUDIENCE_LABELS, "catalogue", ["properties", "items", "items", "properties", "audience"]),
        (labels.CATALOGUE_MODE_LABELS, "catalogue", ["properties", "items", "items", "properties", "mode"]),
        (labels.CATALOGUE_LEVEL_LABELS, "catalogue", ["properties", "items", "items", "properties", "level", "items"]),
    ],
)
def test_every_fixed_value_of_the_schemas_has_an_interface_name(
    names: dict[str, Any], schema: str, path: list[str]
) -> None:
    node = json.loads((SCHEMAS / f"{schema}.schema.json").read_text(encoding="utf-8"))
    for key in path:
        node = node[key]
    assert list(names) == node["enum"]


def test_procedures_have_an_interface_name() -> None:
    power = json.loads((SCHEMAS / "power.schema.json").read_text(encoding="utf-8"))
    found = re.findall(r'"procedure": \{\s*"enum": \[([^\]]*)\]', json.dumps(power, ensure_ascii=False, indent=1))
    assert found and [json.loads(f"[{values}]") for values in found] == [list(labels.PROCEDURE_LABELS)]


@pytest.fixture()
def county_app(county_repo: CountyRepo, tmp_path: Path) -> Flask:
    config = {"TESTING": True, "REPO": str(county_repo.path), "DATA_DIR": str(tmp_path / "county"), "SECRET_KEY": "t"}
    return create_county_app(config)


def test_every_phone_page_in_english_has_chinese_only_in_marked_content(county_app: Flask) -> None:
    phone = county_app.test_client()
    start = [f"/m/{VILLAGE}/?lang=en", f"/m/{VILLAGE}/power/no-such?lang=en", "/m/no-such-village/?lang=en"]
    pages = crawl(phone, start, re.compile(rf"/m/{VILLAGE}/[^?]*\?(page=\d+&)?lang=en"))
    kinds = {urlsplit(url).path.split("/")[3] for url in pages}
    assert {"power", "notice", "catalogue", "powers", "notices", "areas", "ten-ones"} <= kinds, kinds
    found = {url: texts for url, html in pages.items() if (texts := unmarked_chinese(html))}
    assert found == {}


def test_a_value_without_an_interface_name_shows_as_written_and_is_logged(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with app.test_request_context(), force_locale("en"):
        shown = filters.label("市级", labels.CATALOGUE_LEVEL_LABELS)  # newer content than this kiosk knows
        assert shown == '<span lang="zh-Hans">市级</span>'
        assert filters.labels_of(["县级", "乡级"], labels.CATALOGUE_LEVEL_LABELS) == "County, Township"
    with app.test_request_context(), force_locale("zh"):
        assert filters.labels_of(["县级", "乡级"], labels.CATALOGUE_LEVEL_LABELS) == "县级、乡级"
        assert filters.zh("<桃源村>") == "&lt;桃源村&gt;" and render_template_string("{{ zh_lang() }}") == ""
    with app.test_request_context(), force_locale("en"):
        assert render_template_string("{{ zh_lang() }}") == ' lang="zh-Hans"', "the page's language, looked up once"
    assert "no interface name for the content value '市级'" in caplog.text


def test_english_pages_as_the_browser_draws_them_have_chinese_only_in_marked_content(page: Page) -> None:
    page.goto("/lang/en")
    found = {}
    for path in ("/", "/powers/dibao-shenqing", "/catalogue", "/contacts", "/ten-ones", "/search"):
        page.goto(path)
        assert page.locator("html").get_attribute("lang") == "en"
        found[path] = page.evaluate(UNMARKED_CHINESE_JS)
    page.locator(".key", has_text="D").first.tap()  # the search keyboard updates the results in place
    page.locator(".key", has_text="B").first.tap()
    expect(page.locator(".search-query")).to_have_text("DB")
    page.locator(".search-results .row").first.wait_for()
    found["/search after D B"] = page.evaluate(UNMARKED_CHINESE_JS)
    assert {path: texts for path, texts in found.items() if texts} == {}
    # Unmarked and checked in one call: a navigation in between would bring the marks back.
    unmark = "document.querySelectorAll('[lang=\"zh-Hans\"]').forEach((e) => e.removeAttribute('lang'))"
    unmarked = page.evaluate(f"() => {{ {unmark}; return ({UNMARKED_CHINESE_JS})(); }}")
    assert "简体中文" in unmarked, "the check sees Chinese that is not marked"
