"""What the content can say (issue 16, point 4), as `kiosk county validate` judges it: good and bad, with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.screens import create_app
from sync.authoring.steps import apply, read_steps, targets
from sync.contract.channel import CONTENT_FORMAT
from sync.contract.content import load_county
from sync.contract.snapshot import village_snapshot
from sync.receive.updater import sync_kiosk
from tests.county_files import CONTACTS, TEN_ONES, write_county
from tests.county_repo import CountyRepo
from tests.test_validate import edit, problems


@pytest.fixture()
def county(tmp_path: Path) -> Path:
    return write_county(tmp_path / "county")


def warnings_of(root: Path) -> list[str]:
    return [str(w) for w in load_county(root).warnings]


# The ten ones (十个一): descriptions optional, another count a warning.


def test_ten_ones_without_descriptions_are_valid(county: Path) -> None:
    (county / "ten_ones.yaml").write_text("items:\n" + "".join(f"  - title: 第{n}个一\n" for n in range(1, 11)))
    loaded = load_county(county)
    assert [one["title"] for one in loaded.ten_ones["items"]][:2] == ["第1个一", "第2个一"]
    assert loaded.warnings == []


def test_ten_ones_of_another_count_is_a_warning_with_its_line(county: Path) -> None:
    (county / "ten_ones.yaml").write_text(
        "intro: 本县标准\n" + TEN_ONES.replace("items:\n", "items:\n  - title: 第零个一\n")
    )
    assert warnings_of(county) == [
        "ten_ones.yaml:2: items: the ten ones (十个一) list 11 entries, not ten: check that none is missing or doubled"
    ]
    result = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"}).invoke(main, ["county", "validate", str(county)])
    assert result.exit_code == 0, result.output
    assert "warning: ten_ones.yaml:2: items: the ten ones (十个一) list 11 entries" in result.output


def test_ten_ones_still_need_a_title_and_at_least_one_entry(county: Path) -> None:
    (county / "ten_ones.yaml").write_text("items:\n  - description: 没有标题\n")
    assert problems(county) == ["ten_ones.yaml:2: items[1].title: missing"]
    (county / "ten_ones.yaml").write_text("items: []\n")
    assert problems(county) == ["ten_ones.yaml:1: items: needs at least 1 entries, has 0"]


# The catalogue's 公开内容（要素）: one text (as before) or a list.


def test_catalogue_content_as_a_list(county: Path) -> None:
    edit(county / "catalogue" / "18-shehui-jiuzhu.yaml", "content: 保障对象姓名、保障金额\n",
         "content:\n      - 保障对象姓名\n      - 保障金额\n")  # fmt: skip
    (entry,) = load_county(county).catalogue
    assert entry["content"] == ["保障对象姓名", "保障金额"]


def test_catalogue_content_as_one_text_is_kept(county: Path) -> None:
    (entry,) = load_county(county).catalogue
    assert entry["content"] == "保障对象姓名、保障金额"


def test_catalogue_content_list_with_an_empty_element_or_none(county: Path) -> None:
    file = county / "catalogue" / "18-shehui-jiuzhu.yaml"
    edit(file, "content: 保障对象姓名、保障金额\n", 'content:\n      - 保障对象姓名\n      - ""\n')
    assert problems(county) == ["catalogue/18-shehui-jiuzhu.yaml:8: items[1].content[2]: must not be empty"]
    edit(file, 'content:\n      - 保障对象姓名\n      - ""\n', "content: []\n")
    assert problems(county) == ["catalogue/18-shehui-jiuzhu.yaml:6: items[1].content: needs at least 1 entries, has 0"]
    edit(file, "content: []\n", "content: {a: 1}\n")
    assert problems(county) == [
        "catalogue/18-shehui-jiuzhu.yaml:6: items[1].content: must be text or a list, not a set of fields"
    ]


# Supervision: each village's own committee, filled from its contacts.

OWN = "supervision:\n  village: true\n"
APPLE_COMMITTEE = """\
  - id: apple-jianweihui
    name: 苹果村村务监督委员会
    phone: 0000-5550111
    kind: supervision
    village: apple
    person: 张三（主任）
"""


def ask_for_the_villages_own(county: Path, also: str = "") -> None:
    edit(county / "powers" / "dibao.yaml", "supervision:\n  body: 村务监督委员会\n  phone: 0000-5550100\n", OWN + also)


def test_an_item_asks_for_the_villages_own_committee(county: Path) -> None:
    ask_for_the_villages_own(county)
    (county / "contacts.yaml").write_text(CONTACTS_WITH_APPLE, encoding="utf-8")
    loaded = load_county(county)
    assert loaded.powers[0]["supervision"] == {"village": True}
    _apple, pear, _plum = loaded.villages()
    snapshot, _ = village_snapshot(loaded, "apple", 1, "2026-11-27")
    assert snapshot["powers"][0]["supervisors"] == [
        {"body": "苹果村村务监督委员会", "phone": "0000-5550111", "person": "张三（主任）", "own": True}
    ]
    snapshot, _ = village_snapshot(loaded, "pear", 1, "2026-11-27")
    assert snapshot["powers"][0]["supervisors"] == [
        {"body": "县纪委监委举报电话", "phone": "0000-12388", "stand_in": True}
    ]
    assert [str(w) for w in loaded.warnings] == [
        f"powers/dibao.yaml:10: supervision.village: village {name} ({code}) has no supervision contact of its own in "
        f"contacts.yaml (kind: supervision, village: {code}): its kiosk shows 县纪委监委举报电话 in its place on the 1 "
        "items that name the village's own committee"
        for name, code in ((pear["name"], "pear"), ("李村", "plum"))
    ]


def test_the_villages_own_committee_and_another_body(county: Path) -> None:
    ask_for_the_villages_own(county, "  body: 县民政局\n  phone: 0000-5550201\n")
    (county / "contacts.yaml").write_text(CONTACTS_WITH_APPLE, encoding="utf-8")
    snapshot, _ = village_snapshot(load_county(county), "apple", 1, "2026-11-27")
    assert [s["body"] for s in snapshot["powers"][0]["supervisors"]] == ["苹果村村务监督委员会", "县民政局"]


def test_a_township_contact_stands_in_before_the_countys(county: Path) -> None:
    ask_for_the_villages_own(county)
    township = (
        "  - id: east-jiwei\n    name: 东镇纪委\n    phone: 0000-5550302\n    kind: supervision\n    township: east\n"
    )
    (county / "contacts.yaml").write_text(CONTACTS + township, encoding="utf-8")
    loaded = load_county(county)
    snapshot, _ = village_snapshot(loaded, "pear", 1, "2026-11-27")
    assert snapshot["powers"][0]["supervisors"][0]["body"] == "东镇纪委"
    snapshot, _ = village_snapshot(loaded, "plum", 1, "2026-11-27")  # west: the county's
    assert snapshot["powers"][0]["supervisors"][0]["body"] == "县纪委监委举报电话"


def test_nobody_to_stand_in_is_said(county: Path) -> None:
    ask_for_the_villages_own(county)
    (county / "contacts.yaml").write_text(CONTACTS.replace("kind: supervision", "kind: hotline"), encoding="utf-8")
    loaded = load_county(county)
    snapshot, _ = village_snapshot(loaded, "apple", 1, "2026-11-27")
    assert snapshot["powers"][0]["supervisors"] == []
    assert str(loaded.warnings[0]) == (
        "powers/dibao.yaml:10: supervision.village: village 苹果村 (apple) has no supervision contact of its own in "
        "contacts.yaml (kind: supervision, village: apple), nor a township or county one to stand in: the 1 items "
        "that name the village's own committee show no one in its place"
    )


def test_a_village_item_asks_only_its_own_village(county: Path) -> None:
    ask_for_the_villages_own(county)
    edit(county / "powers" / "dibao.yaml", "category: 便民服务\n", "category: 便民服务\nvillage: apple\n")
    (county / "contacts.yaml").write_text(CONTACTS_WITH_APPLE, encoding="utf-8")
    assert load_county(county).warnings == []


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (
            "supervision:\n  body: 县民政局\n",
            "powers/dibao.yaml:9: supervision.phone: missing: a supervision body needs its phone",
        ),
        (
            "supervision:\n  phone: 0000-5550201\n",
            "powers/dibao.yaml:9: supervision.body: missing: whose phone this is (body)",
        ),
        (
            "supervision:\n  village: false\n",
            "powers/dibao.yaml:9: supervision: give body and phone, "
            "or village: true for each village's own supervision committee",
        ),
        (
            "supervision:\n  village: 本村\n",
            "powers/dibao.yaml:10: supervision.village: must be true or false, not text",
        ),
    ],
)
def test_supervision_written_wrong(county: Path, written: str, expected: str) -> None:
    edit(county / "powers" / "dibao.yaml", "supervision:\n  body: 村务监督委员会\n  phone: 0000-5550100\n", written)
    assert problems(county) == [expected]


CONTACTS_WITH_APPLE = CONTACTS + APPLE_COMMITTEE


# 四议两公开 with outcomes: a failed vote goes back, and the item keeps its mark.

DECISION = """\
steps:
  - id: propose
    title: 征集议题
    actor: 村党组织
  - id: decide
    procedure: 四议两公开
    outcomes:
      - step: 4
        when: 未获通过
        to: {back}
    next: carry-out
  - id: carry-out
    title: 组织实施
    actor: 村民委员会
"""


def with_decision(county: Path, back: str = "decide-2") -> Path:
    file = county / "powers" / "dibao.yaml"
    text = file.read_text(encoding="utf-8")
    file.write_text(text[: text.index("steps:\n")] + DECISION.format(back=back), encoding="utf-8")
    return file


def test_a_failed_vote_goes_back_and_the_item_keeps_its_mark(county: Path) -> None:
    with_decision(county)
    (power,) = load_county(county).powers
    assert power["four_two"] is True
    vote = next(s for s in power["steps"] if s["id"] == "decide-4")
    assert vote["goes_to"] == [{"when": "通过", "to": "decide-5"}, {"when": "未获通过", "to": "decide-2"}]
    assert vote["procedure"] == "四议两公开" and vote["procedure_step"] == 4


@pytest.mark.parametrize("back", ["decide", "decide-1", "decide-3", "decide-4", "propose"])
def test_an_outcome_may_go_back_to_any_earlier_step(county: Path, back: str) -> None:
    with_decision(county, back)
    assert load_county(county).powers[0]["four_two"] is True


def test_an_outcome_may_leave_the_block_for_a_step_that_ends(county: Path) -> None:
    file = with_decision(county, "shelve")
    with file.open("a", encoding="utf-8") as written:
        written.write("    end: true\n  - id: shelve\n    title: 暂缓实施\n    actor: 村民委员会\n")
    (power,) = load_county(county).powers
    assert {"when": "未获通过", "to": "shelve"} in power["steps"][4]["goes_to"]


def test_an_outcome_that_skips_the_blocks_later_steps(county: Path) -> None:
    with_decision(county, "decide-6")
    assert problems(county) == [
        "powers/dibao.yaml:21: steps[2].outcomes[1].to: an outcome of step 4 of 四议两公开 cannot lead on to step 6: "
        "that skips the steps in between (or is the way on, 通过). Go back to an earlier step (decide-1, decide-2, "
        "decide-3) or out of the block"
    ]


def test_an_outcome_to_a_step_that_does_not_exist(county: Path) -> None:
    with_decision(county, "decide-9")
    (found,) = problems(county)
    assert found.startswith(
        "powers/dibao.yaml:21: steps[2].outcomes[1].to: step 'decide-9' does not exist in this item"
    )


def test_an_outcome_of_a_step_the_block_does_not_have(county: Path) -> None:
    edit(with_decision(county), "step: 4", "step: 6")
    assert problems(county) == ["powers/dibao.yaml:19: steps[2].outcomes[1].step: 6 is outside 1–5"]


def test_an_outcome_that_loops_with_no_way_out(county: Path) -> None:
    file = with_decision(county, "decide-2")
    edit(file, "    next: carry-out\n", "    next: decide-3\n")  # 实施结果公开 back into the vote: never ends
    assert problems(county) == [
        "powers/dibao.yaml:13: steps[1].id: from here the procedure never ends: it loops with no way out",
        "powers/dibao.yaml:16: steps[2].id: from here the procedure never ends: it loops with no way out",
        "powers/dibao.yaml:23: steps[3].id: no step leads here: it cannot be reached from the first step",
    ]


def test_the_studios_steps_editor_keeps_and_adds_a_blocks_outcomes() -> None:
    form = {
        "steps.0.id": "propose", "steps.0.title": "征集议题", "steps.0.actor": "村党组织", "steps.0.then": "next",
        "steps.1.id": "decide", "steps.1.kind": "four_two", "steps.1.then": "next",
        "steps.1.outcomes.0.step": "4", "steps.1.outcomes.0.when": "未获通过", "steps.1.outcomes.0.to": "decide-2",
    }  # fmt: skip
    read = read_steps(form)
    assert read[1] == {
        "id": "decide", "procedure": "四议两公开", "outcomes": [{"step": 4, "when": "未获通过", "to": "decide-2"}]
    }  # fmt: skip
    added = apply(read, "outcome:1")
    assert added[1]["outcomes"][1] == {"step": 4, "when": "", "to": ""}
    assert ("decide-2", "2.2 村“两委”商议") in targets(read), "a failed vote can go back inside the block"


# --- kiosks of older software ---------------------------------------------------------------------------


def test_a_kiosk_whose_software_reads_an_older_form_keeps_its_content_and_says_to_update_first(
    county_repo: CountyRepo, kiosk_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = sync_kiosk(kiosk_data)
    assert first.outcome == "updated" and not first.needs_software
    county_repo.edit("powers/dibao-shenqing.yaml", "name: 最低生活保障申请", "name: 最低生活保障（低保）申请")
    county_repo.publish()
    monkeypatch.setattr("sync.receive.updater.CONTENT_FORMAT", CONTENT_FORMAT - 1)  # the kiosk's older software
    refused = sync_kiosk(kiosk_data)
    assert refused.outcome == "failed" and refused.needs_software and refused.version == first.version
    assert f"newer form ({CONTENT_FORMAT})" in str(refused.error) and "kiosk update" in str(refused.error)
    page = create_app({"TESTING": True, "DATA_DIR": str(kiosk_data)}).test_client().get("/powers/dibao-shenqing")
    assert "最低生活保障申请" in page.get_data(as_text=True), "the content it had still shows"
    monkeypatch.setattr("sync.receive.updater.CONTENT_FORMAT", CONTENT_FORMAT)  # after kiosk update
    assert sync_kiosk(kiosk_data).outcome == "updated"
