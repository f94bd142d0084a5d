"""Search without a keyboard: pinyin initials and Chinese text of any length, over the installed demo."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from html import unescape as html_unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from kiosk.data import queries
from kiosk.screens.views import SEARCH_PAGE, UPDATE_HEADER
from sync.contract.pinyin import initials
from sync.contract.search import index_text, is_initials, phrase, query_text
from sync.receive.install import current_database
from tests.test_screens import now, text_of

DIBAO = ("power", "dibao-shenqing")  # 最低生活保障申请, keywords 低保申请 and 低保


@pytest.fixture()
def db(demo_data: Path) -> Iterator[sqlite3.Connection]:
    path = current_database(demo_data)
    assert path is not None
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    yield connection
    connection.close()


def found(db: sqlite3.Connection, query: str, at: str | None = None) -> list[tuple[str, str, str]]:
    results = queries.search(db, query, datetime.fromisoformat(at or now()))
    return [(r["kind"], r["item_id"], r["matched"]) for r in results]


def test_pinyin_initials_find_an_item_by_its_name_or_the_name_villagers_use(db: sqlite3.Connection) -> None:
    assert initials("低保申请") == "dbsq" and initials("村级财务公开") == "cjcwgk"
    assert found(db, "dbsq")[0] == (*DIBAO, "title")
    assert found(db, "DBSQ") == found(db, "dbsq"), "capitals are the same letters"
    assert found(db, "zdshbz")[0] == (*DIBAO, "title"), "and by its full name 最低生活保障"
    assert (*DIBAO, "title") in found(db, "db")


def test_initials_that_start_a_title_come_before_those_inside_one(db: sqlite3.Connection) -> None:
    results = queries.search(db, "cw", datetime.fromisoformat(now()))
    starts = [initials(r["title"]).startswith("cw") for r in results]
    assert any(starts) and starts == sorted(starts, reverse=True), [r["title"] for r in results]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("低", DIBAO), ("低保", DIBAO), ("宅基地", ("power", "zhaijidi-shenqing")), ("最低生活保障申请", DIBAO)],
    ids=["one character", "two characters", "three characters", "a whole title"],
)
def test_chinese_text_of_any_length_is_found(db: sqlite3.Connection, query: str, expected: tuple[str, str]) -> None:
    assert (*expected, "title") in found(db, query)


def test_digits_and_chinese_mixed_in_one_query(db: sqlite3.Connection) -> None:
    assert ("notice", "caiwu-2026-10-taoyuan", "title") in found(db, "2026年10月")
    assert ("notice", "caiwu-2026-10-taoyuan", "title") not in found(db, "2026年9月")


def test_titles_rank_above_text_that_mentions_the_query(db: sqlite3.Connection) -> None:
    results = found(db, "低保")
    matched = [m for _kind, _id, m in results]
    assert "title" in matched and "body" in matched
    assert matched == sorted(matched, key=lambda m: m != "title"), "every title match before any body match"
    assert ("notice", "cunwu-2026-q3-taoyuan", "body") in results, "a notice that mentions 低保 in its text"


def test_every_kind_of_content_is_searched(db: sqlite3.Connection) -> None:
    kinds = {kind for query in ("财务", "公开", "便民", "服务") for kind, _id, _m in found(db, query)}
    assert kinds == {"power", "notice", "catalogue", "ten_ones"}


def test_a_notice_is_not_found_before_it_is_published(db: sqlite3.Connection) -> None:
    notice = ("notice", "caiwu-2026-10-taoyuan", "title")  # published 2026-11-05
    assert notice in found(db, "桃源村2026年10月财务", "2026-11-06 00:00:00")
    assert notice not in found(db, "桃源村2026年10月财务", "2026-11-04 23:59:59")


@pytest.mark.parametrize("query", ["鼋鼍", "qqqqxz", "   ", "", "“”", '"', "*", "NEAR(低 保)", "a OR b", "x" * 500])
def test_no_result_or_hostile_input_is_an_empty_answer_not_an_error(db: sqlite3.Connection, query: str) -> None:
    assert queries.search(db, query, datetime.fromisoformat(now())) == []


def test_search_syntax_in_a_query_is_read_as_text(db: sqlite3.Connection) -> None:
    assert found(db, "低' --") == found(db, "低"), "quotes and dashes are not SQL or FTS5 syntax"


def test_a_query_is_a_phrase_of_its_characters() -> None:
    assert index_text("低保A1") == " 低  保 a1"
    assert phrase("低保") == '"低 保"' and phrase("低 保") == '"低 保"'
    assert phrase('NEAR("低") OR *') == '"near 低 or"', "FTS5 syntax is only text"
    assert phrase("，。！") is None
    assert is_initials("dbsq") and not is_initials("低保") and not is_initials("db2")


@pytest.mark.parametrize(
    "text", ["低保A1", "村x", "x村", "〇一二三，㐀𠀀𪜀。", "Phone 0571-1234 低保申请", "", "  ", "ÀB 鼋鼍"]
)
def test_a_query_is_split_into_the_tokens_its_items_were_indexed_with(text: str) -> None:
    """A query is spaced without the indexer's table (4.4 MB a screens process would keep): to the same text."""
    assert query_text(text) == index_text(text)


def test_a_screens_process_never_builds_the_indexers_table() -> None:
    script = (
        "import sys; from kiosk.screens import create_app\n"
        "app = create_app({'TESTING': True, 'DATA_DIR': sys.argv[1]})\n"
        "from sync.contract import search\n"
        "with app.test_request_context('/search?q=%E4%BD%8E'):\n"
        "    search.phrase('低保 dbsq')\n"
        "print(search._spaced.cache_info().currsize)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, "/nonexistent"], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    assert done.stdout.split() == ["0"], done.stderr


def test_the_search_screen_adds_each_tapped_letter_and_opens_results(client: FlaskClient) -> None:
    page = client.get("/search?q=db")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    keys = {parse_qs(urlsplit(href).query).get("q", [""])[0] for href in _hrefs(html, "key")}
    assert {"dba", "dbs", "dbz", "d", ""} <= keys, "each letter extends what was typed; delete and clear shorten it"
    assert "/powers/dibao-shenqing" in html and "DB" in text_of(page)
    assert client.get("/powers/dibao-shenqing").status_code == 200


def test_a_tap_gets_only_the_top_bar_and_the_search_panel_it_redraws(client: FlaskClient) -> None:
    whole = client.get("/search?q=db").get_data(as_text=True)
    update = client.get("/search?q=db", headers={UPDATE_HEADER: "search"})
    assert UPDATE_HEADER in update.headers["Vary"], "a cache keeps the page and the update apart"
    html = update.get_data(as_text=True)
    assert html.lstrip().startswith('<header class="topbar">') and "<html" not in html and "idle-overlay" not in html
    panel = html[html.index('<div class="search-panel"') :]
    assert panel.strip() in whole, "the same panel as on the page"
    assert html[: html.index("</header>")] in whole, "the same top bar: its language link keeps what was typed"
    # Nothing else of the page: its head, footer, scripts and idle screen stay as they are.
    assert not any(part in html for part in ("<head>", "<footer", "<script", "<main")) and len(html) < len(whole)


def test_a_common_topic_searches_chinese_without_typing(client: FlaskClient) -> None:
    home = client.get("/search").get_data(as_text=True)
    assert "/search?q=%E4%BD%8E%E4%BF%9D" in home, "a one-tap 低保 topic"
    page = client.get("/search?q=低保")
    assert "最低生活保障申请" in text_of(page)
    keys = {parse_qs(urlsplit(href).query).get("q", [""])[0] for href in _hrefs(page.get_data(as_text=True), "key")}
    assert "a" in keys, "after a topic, letters start a new query"


def test_search_input_is_shown_escaped(english: FlaskClient) -> None:
    page = english.get("/search?q=<script>alert(1)</script>")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body
    assert "Nothing found" in text_of(page)


def _hrefs(html: str, css_class: str) -> list[str]:
    import re

    return [
        m.group(2).replace("&amp;", "&")
        for m in re.finditer(rf'class="button ({css_class}[^"]*)" href="([^"]*)"', html)
    ]


def test_the_screens_never_load_the_pinyin_dictionaries(demo_data: Path) -> None:
    # pypinyin holds about 55 MB: searching and every screen must do without it (only install and read-aloud use it).
    script = (
        "import sys; from kiosk.screens import create_app\n"
        f"client = create_app({{'DATA_DIR': {str(demo_data)!r}, 'SECRET_KEY': 'x'}}).test_client()\n"
        "for path in ('/', '/search?q=dbsq', '/search?q=低保', '/powers/dibao-shenqing', '/attract'):\n"
        "    assert client.get(path).status_code == 200, path\n"
        "print('pypinyin' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"


def test_many_results_come_a_screen_at_a_time_and_every_page_keeps_the_query(
    client: FlaskClient, db: sqlite3.Connection
) -> None:
    query = "村"  # in most titles of the demo village
    expected = [f"{r['kind']}:{r['item_id']}" for r in queries.search(db, query, datetime.fromisoformat(now()))]
    assert len(expected) > SEARCH_PAGE
    seen, number = [], 1
    for _ in range(-(-len(expected) // SEARCH_PAGE)):
        html = client.get("/search", query_string={"q": query, "page": number}).get_data(as_text=True)
        rows = re.findall(r'<li><a class="row" href="([^"]+)"', html)
        assert 0 < len(rows) <= SEARCH_PAGE
        seen += rows
        assert f'<p class="result-count">共 {len(expected)} 条结果</p>' in html  # all of them counted, on every page
        following = re.search(r'<a class="button" href="\?([^"]+)" data-search>下一页</a>', html)
        if following is None:
            break
        assert parse_qs(html_unescape(following.group(1))) == {"q": [query], "page": [str(number + 1)]}
        number += 1
    assert len(seen) == len(expected) and len(set(seen)) == len(seen)  # each result once, none lost
    assert client.get("/search", query_string={"q": query, "page": number + 1}).status_code == 404
