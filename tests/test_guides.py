"""Guides (我要办) as county content: checked like procedures, every problem with file, line and field.

And the model a kiosk installs: the demo's guides, scoped, bundled and rebuilt as they were written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.contract.channel import county_from_items, read_shard
from sync.contract.checks import FolderReader
from sync.contract.content import ContentInvalid, County, load_county, with_file
from sync.contract.guides import walk
from sync.contract.snapshot import village_snapshot
from sync.publish.bundle import build_bundles
from tests.county_files import write_county
from tests.test_validate import edit, problems

# Lines: 4 start, 7-10 its answers, 11 income, 14-17 its answers, 19 dibao (22 powers), 24 help (27 contacts).
GUIDE = """\
id: kunnan
title: 生活困难
questions:
  - id: start
    ask: 您家遇到了什么困难？
    answers:
      - answer: 收入低
        to: income
      - answer: 出了急事
        to: help
  - id: income
    ask: 收入比低保标准低吗？
    answers:
      - answer: 是
        to: dibao
      - answer: 不是
        to: help
endings:
  - id: dibao
    title: 申请低保
    what_next: 到村委会申请。
    powers: [dibao]
    catalogue: [dibao-result]
  - id: help
    title: 打电话问问
    what_next: 打县里的电话。
    contacts: [hotline]
    notices: [finance-10]
"""
FILE = "guides/kunnan.yaml"


@pytest.fixture()
def county(tmp_path: Path) -> Path:
    root = write_county(tmp_path / "county")
    (root / "guides").mkdir()
    (root / FILE).write_text(GUIDE, encoding="utf-8")
    return root


def test_a_sound_guide_loads_with_its_scope_and_leads_where_it_says(county: Path) -> None:
    (guide,) = load_county(county).guides
    assert guide["scope"] == "county" and [q["id"] for q in guide["questions"]] == ["start", "income"]
    step = walk(guide, "1-1")
    assert step is not None and step.ending is not None and step.ending["powers"] == ["dibao"]
    assert [(question["id"], answer) for question, answer in step.trail] == [("start", "收入低"), ("income", "是")]
    first = walk(guide, "")
    assert first is not None and first.question is not None and first.question["id"] == "start" and first.number == 1
    for nowhere in ("3", "1-1-1", "0", "1-", "1--1", "x", "1-7", "1" + "-1" * 100):
        assert walk(guide, nowhere) is None, nowhere


def test_an_answer_leading_nowhere_is_named_with_its_line(county: Path) -> None:
    edit(county / FILE, "to: dibao", "to: nowhere")
    assert problems(county) == [
        f"{FILE}:15: questions[2].answers[1].to: 'nowhere' is no question or ending of this guide; "
        "it has: start, income, dibao, help"
    ]


def test_an_answer_leading_back_to_a_question_asked_before_is_a_circle(county: Path) -> None:
    edit(county / FILE, "      - answer: 不是\n        to: help", "      - answer: 不是\n        to: start")
    assert problems(county) == [
        f"{FILE}:17: questions[2].answers[2].to: leads back to question 'start', asked before this one: "
        "the questions would go round in circles"
    ]


def test_a_question_answering_itself_is_a_circle_too(county: Path) -> None:
    edit(county / FILE, "        to: income", "        to: start")
    found = problems(county)
    assert found[0] == (
        f"{FILE}:8: questions[1].answers[1].to: leads back to question 'start', asked before this one: "
        "the questions would go round in circles"
    )
    assert found == found[:1], "a circle is told alone: what it cuts off follows from it"


def test_two_answers_may_lead_to_the_same_question_or_ending(county: Path) -> None:
    edit(county / FILE, "        to: help\n  - id: income", "        to: income\n  - id: income")
    edit(county / FILE, "      - answer: 不是\n        to: help", "      - answer: 不是\n        to: dibao")
    assert problems(county) == [f"{FILE}:24: endings[2].id: no answer leads to this ending: nobody reaches it"]


@pytest.mark.parametrize(
    ("field", "old", "new", "message"),
    [
        ("powers", "powers: [dibao]", "powers: [nope]", "no power item 'nope' in powers/"),
        ("catalogue", "catalogue: [dibao-result]", "catalogue: [nope]", "no catalogue item 'nope' in catalogue/"),
        ("contacts", "contacts: [hotline]", "contacts: [nope]", "no contact 'nope' in contacts.yaml"),
        ("notices", "notices: [finance-10]", "notices: [nope]", "no notice 'nope' in notices/"),
    ],
)
def test_an_item_an_ending_names_must_exist(county: Path, field: str, old: str, new: str, message: str) -> None:
    edit(county / FILE, old, new)
    line = GUIDE.splitlines().index(f"    {old}") + 1
    ending = 1 if field in ("powers", "catalogue") else 2
    assert problems(county) == [f"{FILE}:{line}: endings[{ending}].{field}[1]: {message}"]


def test_too_few_answers(county: Path) -> None:
    edit(county / FILE, "      - answer: 出了急事\n        to: help\n", "")
    assert problems(county) == [f"{FILE}:6: questions[1].answers: needs at least 2 entries, has 1"]


def test_too_many_answers(county: Path) -> None:
    more = "".join(f"      - answer: 第{n}种\n        to: help\n" for n in range(3, 8))
    edit(county / FILE, "        to: help\n  - id: income", f"        to: help\n{more}  - id: income")
    assert problems(county) == [f"{FILE}:6: questions[1].answers: allows at most 6 entries, has 7"]


def test_a_question_nobody_reaches_an_ending_naming_nothing_and_an_id_used_twice(county: Path) -> None:
    edit(county / FILE, "        to: income", "        to: dibao")
    assert problems(county) == [f"{FILE}:11: questions[2].id: no answer leads to this question: it is never asked"]
    edit(county / FILE, "        to: dibao", "        to: income")
    edit(county / FILE, "    contacts: [hotline]\n    notices: [finance-10]\n", "")
    edit(county / FILE, "  - id: help", "  - id: income")
    gone = "'help' is no question or ending of this guide; it has: start, income, dibao"
    assert problems(county) == [  # every problem at once
        f"{FILE}:10: questions[1].answers[2].to: {gone}",
        f"{FILE}:17: questions[2].answers[2].to: {gone}",
        f"{FILE}:24: endings[2]: names nothing to go to: give powers, catalogue, notices or contacts (at least one)",
        f"{FILE}:24: endings[2].id: id 'income' is already used by question 2",
    ]


def test_a_long_answer_is_told_how_long_it_may_be(county: Path) -> None:
    edit(county / FILE, "answer: 收入低", "answer: " + "收入很低" * 11)
    assert problems(county) == [f"{FILE}:7: questions[1].answers[1].answer: is 44 characters long; keep it to 40"]


def test_what_an_ending_names_must_be_shown_in_every_village_showing_the_guide(county: Path) -> None:
    # The county's villages: apple and pear in township east, plum in west.
    edit(county / "powers" / "dibao.yaml", "category: 便民服务\n", "category: 便民服务\nvillage: apple\n")
    assert problems(county) == [
        f"{FILE}:22: endings[1].powers[1]: 'dibao' is not shown in 梨村、李村, which show this guide: give the guide "
        "the same village or township as the item, or name another item"
    ]
    edit(county / FILE, "title: 生活困难\n", "title: 生活困难\ntownship: east\n")
    (found,) = problems(county)
    assert found.startswith(f"{FILE}:23: endings[1].powers[1]: 'dibao' is not shown in 梨村, which show this guide")
    edit(county / FILE, "township: east\n", "village: apple\n")
    (guide,) = load_county(county).guides
    assert guide["scope"] == "village:apple"
    edit(county / FILE, "village: apple\n", "village: banana\n")
    assert problems(county) == [f"{FILE}:3: village: no village with code 'banana' in county.yaml"]


def test_guide_ids_are_unique_and_only_yaml_files_are_guides(county: Path) -> None:
    (county / "guides" / "again.yaml").write_text(GUIDE, encoding="utf-8")
    (county / "guides" / "notes.txt").write_text("草稿", encoding="utf-8")
    assert problems(county) == [
        "guides/kunnan.yaml:1: id: guide id 'kunnan' is used twice, first in guides/again.yaml:1",
        "guides/notes.txt:1: not read: only .yaml files directly in guides/ are content",
    ]


# --- The demo county's guides, as a kiosk gets them ------------------------------------------------


def _deepest(guide: dict[str, object], question: str, depth: int = 1) -> int:
    """The most questions asked on a way from *question* to an ending."""
    questions = {q["id"]: q for q in guide["questions"]}  # type: ignore[attr-defined]
    return max(
        (_deepest(guide, answer["to"], depth + 1) if answer["to"] in questions else depth)
        for answer in questions[question]["answers"]
    )


def test_the_demo_has_three_guides_each_three_questions_deep_somewhere(demo_county: County) -> None:
    titles = {guide["id"]: guide["title"] for guide in demo_county.guides}
    assert titles == {"shenghuo-kunnan": "生活困难，想申请补助", "jianfang": "想盖房子、翻修房子",
                      "yibao-yanglao": "看病报销、养老保险、老人补贴"}  # fmt: skip
    for guide in demo_county.guides:
        assert _deepest(dict(guide), guide["questions"][0]["id"]) >= 3, guide["id"]
    dibao = walk(demo_county.guides[0], "1-1-1")
    assert dibao is not None and dibao.ending is not None and dibao.ending["powers"] == ["dibao-shenqing"]


def test_guides_travel_in_the_bundles_and_reach_each_village_in_scope(demo_county: County, tmp_path: Path) -> None:
    items = [item for bundle in build_bundles(demo_county).values() for shard in bundle.shards.values()
             for item in read_shard(shard)]  # fmt: skip
    assert county_from_items(items, demo_county.media).guides == demo_county.guides
    snapshot, _media = village_snapshot(demo_county, "taoyuan", 1, "2026-12-01")
    assert [g["id"] for g in snapshot["guides"]] == ["shenghuo-kunnan", "jianfang", "yibao-yanglao"]


def test_the_studio_reads_a_changed_guide_against_the_rest_of_the_county(county: Path) -> None:
    loaded = load_county(county)
    edit(county / FILE, "title: 申请低保", "title: 可以申请低保")
    (guide,) = with_file(loaded, FolderReader(county), FILE).guides
    assert guide["endings"][0]["title"] == "可以申请低保"
    edit(county / FILE, "powers: [dibao]", "powers: [nope]")
    with pytest.raises(ContentInvalid) as caught:
        with_file(loaded, FolderReader(county), FILE)
    assert [str(p) for p in caught.value.problems] == [
        f"{FILE}:22: endings[1].powers[1]: no power item 'nope' in powers/"
    ]


def test_an_item_whose_own_file_is_broken_is_one_problem_not_also_the_guides(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "fee: ", "fees: ")
    assert [p.split(":")[0] for p in problems(county)] == ["powers/dibao.yaml", "powers/dibao.yaml"]
