"""Notices in the studio's authoring layer: read and written as their files are (fields at the top, the
text below), checked as validate checks them, and tables pasted from Excel made Markdown tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.authoring import checking, items
from sync.authoring.tables import markdown_table
from sync.contract.render import render_markdown

pytestmark = pytest.mark.usefixtures("county_engine")  # on SQLite, then on PostgreSQL

DEMO = Path(__file__).resolve().parents[1] / "content" / "demo"
NOTICE = "notices/caiwu-2026-10-taoyuan.md"


def test_every_demo_notice_is_written_back_exactly_as_it_was_read() -> None:
    notices = items.listed(DEMO, items.KINDS["notice"])
    assert len(notices) == len(list((DEMO / "notices").glob("*.md")))
    for notice in notices:
        text, data = items.read_item(DEMO, notice.path)
        assert items.dump_notice(text, data) == text, notice.path
        assert data["title"] == notice.title


def test_a_notices_problems_are_found_as_validate_finds_them() -> None:
    text, data = items.read_item(DEMO, NOTICE)
    assert checking.check(DEMO, NOTICE, text, "notice") == []
    broken = items.dump_notice(text, {**data, "expires": "2026-11-01", items.BODY: "", "photos": ["media/nope.jpg"]})
    problems = checking.check(DEMO, NOTICE, broken, "notice")
    found = {(problem.field, problem.message.split(" ")[-1]) for problem in problems}
    assert ("photos[1]", "folder") in found and ("expires", "2026-11-05") in found
    assert any(problem.field == "" for problem in checking.check(DEMO, NOTICE, broken, "notice"))


def test_the_list_reads_only_a_notices_fields_not_its_text(tmp_path: Path) -> None:
    (tmp_path / "notices").mkdir()
    text = (DEMO / NOTICE).read_text(encoding="utf-8") + "\ntitle: 正文里的一行\nid: not-this\n"
    (tmp_path / NOTICE).write_text(text, encoding="utf-8")
    [listed] = items.listed(tmp_path, items.KINDS["notice"])
    assert (listed.id, listed.title) == ("caiwu-2026-10-taoyuan", "桃源村2026年10月财务收支公开")


def test_a_table_pasted_from_excel_becomes_a_table_with_its_amounts_aligned_right() -> None:
    pasted = "项目\t金额\t说明\r\n集体民宿委托经营收益\t36,000.00\t保底收益|分成\r\n上级转移支付\t42,000.00\r\n\r\n"
    table = markdown_table(pasted)
    assert table.splitlines() == [
        "| 项目 | 金额 | 说明 |",
        "| --- | ---: | --- |",
        "| 集体民宿委托经营收益 | 36,000.00 | 保底收益\\|分成 |",
        "| 上级转移支付 | 42,000.00 |  |",
    ]
    html = render_markdown(table)
    assert '<td class="align-right">36,000.00</td>' in html, "drawn aligned right on the kiosk"
    assert markdown_table("\n \n") == ""


def test_a_county_file_is_checked_against_the_rest_of_the_county_as_validate_checks_it() -> None:
    text = (DEMO / "contacts.yaml").read_text(encoding="utf-8")
    assert checking.check(DEMO, "contacts.yaml", text, "contacts") == []
    wrong = text.replace("  - id: xian-zhengwu-rexian\n", "  - id: xian-jiwei-jubao\n    village: nowhere\n", 1)
    found = {(problem.field, problem.message) for problem in checking.check(DEMO, "contacts.yaml", wrong, "contacts")}
    assert ("contacts[2].village", "no village with code 'nowhere' in county.yaml") in found
    assert any(field == "contacts[2].id" and "used twice" in message for field, message in found)

    area = "catalogue/02-gonggong-ziyuan.yaml"
    other = (DEMO / "catalogue" / "01-zhongda-jianshe.yaml").read_text(encoding="utf-8")
    [taken] = [line for line in other.splitlines() if line.startswith("area:")]
    mine = (DEMO / area).read_text(encoding="utf-8")
    [own] = [line for line in mine.splitlines() if line.startswith("area:")]
    twice = checking.check(DEMO, area, mine.replace(own, taken), "catalogue")
    assert any(problem.field == "area" and "used twice" in problem.message for problem in twice)
    assert checking.check(DEMO, area, mine, "catalogue") == []
