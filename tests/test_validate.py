"""`kiosk county validate`: every problem reported at once, with file, line and field."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from sync.contract import kinds
from sync.contract.channel import county_from_items, read_shard
from sync.contract.content import ContentInvalid, County, load_county
from sync.publish.bundle import build_bundles
from tests.county_files import NOTICE, POWER, write_county


def problems(root: Path) -> list[str]:
    with pytest.raises(ContentInvalid) as caught:
        load_county(root)
    return [str(p) for p in caught.value.problems]


def edit(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file}"
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture()
def county(tmp_path: Path) -> Path:
    return write_county(tmp_path / "county")


def test_valid_county_loads(county: Path) -> None:
    loaded = load_county(county)
    assert [v["code"] for v in loaded.villages()] == ["apple", "pear", "plum"]
    assert loaded.powers[0]["steps"][1]["goes_to"] == [
        {"when": "符合条件", "to": "post"},
        {"when": "不符合条件", "to": "refuse"},
    ]


def test_unknown_field_named_with_its_line(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "fee: 不收费\n", "fee: 不收费\nfees: 10元\n")
    assert problems(county) == [
        "powers/dibao.yaml:8: fees: unknown field; did you mean fee? allowed here: " + ", ".join(_power_fields())
    ]


def test_a_misspelt_field_gets_the_near_name(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "fee: 不收费\n", "fee: 不收费\ntime_limt: 30日\n")
    (found,) = problems(county)
    assert found.startswith("powers/dibao.yaml:8: time_limt: unknown field; did you mean time_limit? allowed here: ")


def test_a_code_of_digits_read_as_a_number_asks_for_quotes(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "fee: 不收费\n", "fee: 0\n")
    assert problems(county) == [
        'powers/dibao.yaml:7: fee: must be text, not a whole number: put it in quotes ("0101") to keep it as written'
    ]


def test_a_full_width_colon_is_named_on_its_own_line(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "fee: 不收费\n", "fee：不收费\n")
    assert problems(county) == [
        "powers/dibao.yaml:7: the colon after the field name is a full-width 「：」; type ': ' (colon, space)"
    ]
    edit(county / "powers" / "dibao.yaml", "fee：不收费\n", "fee: 不收费\n")
    edit(county / "powers" / "dibao.yaml", "  - id: apply\n", "  - id：apply\n")
    assert problems(county) == [
        "powers/dibao.yaml:13: the colon after the field name is a full-width 「：」; type ': ' (colon, space)"
    ]
    edit(county / "powers" / "dibao.yaml", "  - id：apply\n", "  - id: apply\n")
    with (county / "powers" / "dibao.yaml").open("a", encoding="utf-8") as power:
        power.write("  - id：sign\n")  # a list entry of one line is then one text
    (found,) = problems(county)
    assert found.startswith("powers/dibao.yaml:31: steps[5]: must be a set of fields, not text: a colon after a field")


def test_a_tab_is_named_on_its_own_line(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "    title: 提出申请\n", "\ttitle: 提出申请\n")
    assert problems(county) == ["powers/dibao.yaml:14: indent with spaces, not Tab"]


def _power_fields() -> list[str]:
    from sync.contract.schemas import load_schema

    return list(load_schema("power")["properties"])


def test_wrong_type(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "basis:\n  - 《社会救助暂行办法》\n", "basis: 《社会救助暂行办法》\n")
    assert problems(county) == ["powers/dibao.yaml:4: basis: must be a list, not text"]


def test_missing_required_field(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "fee: 不收费\n", "")
    assert problems(county) == ["powers/dibao.yaml:1: fee: missing"]


def test_duplicate_ids_across_files(county: Path) -> None:
    (county / "powers" / "copy.yaml").write_text(POWER.format(id="dibao"), encoding="utf-8")
    (county / "notices" / "copy.md").write_text(NOTICE.format(id="finance-10"), encoding="utf-8")
    found = problems(county)
    assert len(found) == 2
    assert found[0].startswith(
        "notices/finance.md:2: id: notice id 'finance-10' is used twice, first in notices/copy.md:2"
    )
    assert found[1].startswith(
        "powers/dibao.yaml:1: id: power item id 'dibao' is used twice, first in powers/copy.yaml:1"
    )


def test_broken_media_reference(county: Path) -> None:
    edit(county / "notices" / "finance.md", "expires:", "photos: [media/board.jpg]\nexpires:")
    assert problems(county) == ["notices/finance.md:6: photos[1]: media/board.jpg does not exist in the county folder"]


def test_step_pointing_to_missing_step(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "to: refuse", "to: refused")
    (found,) = problems(county)
    assert found.startswith("powers/dibao.yaml:23: steps[2].branches[2].to: step 'refused' does not exist in this item")


def test_notice_expiring_before_published(county: Path) -> None:
    edit(county / "notices" / "finance.md", '"2026-12-05"', '"2026-11-01"')
    assert problems(county) == ["notices/finance.md:6: expires: 2026-11-01 is not after published 2026-11-05"]


def test_bad_date_and_enum(county: Path) -> None:
    edit(county / "notices" / "finance.md", '"2026-11-05"', '"5 Nov 2026"')
    edit(county / "notices" / "finance.md", "domain: 财务", "domain: 财政")
    found = problems(county)
    assert found[0] == "notices/finance.md:3: domain: '财政' is not allowed; use one of: 党务, 村务, 财务, 政务"
    assert found[1].startswith("notices/finance.md:5: published: '5 Nov 2026' is not in the right form")


def test_unknown_village_scope(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "category: 便民服务\n", "category: 便民服务\nvillage: banana\n")
    assert problems(county) == ["powers/dibao.yaml:4: village: no village with code 'banana' in county.yaml"]


def test_yaml_syntax_error_has_its_line(county: Path) -> None:
    (county / "contacts.yaml").write_text("contacts:\n  - id: x\n    name: [unclosed\n", encoding="utf-8")
    (found,) = problems(county)
    assert found.startswith("contacts.yaml:4: not valid YAML")


def test_every_problem_is_reported_at_once(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "to: refuse", "to: nowhere")
    edit(county / "notices" / "finance.md", '"2026-12-05"', '"2026-01-01"')
    edit(county / "county.yaml", "code: plum", "code: apple")
    (county / "ten_ones.yaml").write_text("items: []\n", encoding="utf-8")
    files = {p.split(":")[0] for p in problems(county)}
    assert files == {"powers/dibao.yaml", "notices/finance.md", "county.yaml", "ten_ones.yaml"}


def test_cli_lists_problems_and_exits_non_zero(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "to: refuse", "to: nowhere")
    result = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"}).invoke(main, ["county", "validate", str(county)])
    assert result.exit_code == 1
    assert "powers/dibao.yaml:23: steps[2].branches[2].to" in result.output
    assert "1 problem(s) found" in result.output and "nothing was loaded" in result.output


def test_cli_reports_a_valid_county(county: Path) -> None:
    result = CliRunner(env={"KIOSK_DEFAULT_LOCALE": "en"}).invoke(main, ["county", "validate", str(county)])
    assert result.exit_code == 0, result.output
    assert "ok — 3 villages, 1 power items, 1 notices" in result.output


def test_cli_villages_prints_code_tab_name(county: Path) -> None:
    result = CliRunner().invoke(main, ["county", "villages", str(county)])
    assert result.output == "apple\t苹果村\npear\t梨村\nplum\t李村\n"


def test_folder_without_county_yaml(tmp_path: Path) -> None:
    assert problems(tmp_path) == [f"county.yaml:1: missing: {tmp_path} has no county.yaml, is it a county folder?"]


def test_non_utf8_file(county: Path) -> None:
    (county / "contacts.yaml").write_bytes("contacts:\n  - name: 县纪委\n".encode("gbk"))
    (found,) = problems(county)
    assert found.startswith("contacts.yaml:1: not UTF-8 text")


def test_a_date_that_does_not_exist(county: Path) -> None:
    edit(county / "notices" / "finance.md", '"2026-11-05"', '"2026-02-30"')
    assert problems(county) == ["notices/finance.md:5: published: 2026-02-30 is not a date that exists"]


def test_posting_period_shorter_than_the_public_notice_period(county: Path) -> None:
    # Published Thursday 2026-11-05; 7 working days end on Friday 2026-11-13.
    edit(county / "notices" / "finance.md", '"2026-12-05"', '"2026-11-12"\nmin_posting_days: 7')
    assert problems(county) == [
        "notices/finance.md:6: expires: posted for 6 working days, but its 公示期 (min_posting_days) is 7; "
        "set expires to 2026-11-13 or later"
    ]
    edit(county / "notices" / "finance.md", '"2026-11-12"', '"2026-11-13"')
    assert load_county(county).notices[0]["min_posting_days"] == 7


def test_yaml_aliases_are_refused_before_they_can_blow_up(county: Path) -> None:
    bomb = 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n'
    bomb += "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefg", "bcdefgh", strict=True)
    )
    (county / "contacts.yaml").write_text(bomb, encoding="utf-8")
    assert problems(county) == [
        "contacts.yaml:1: anchors and aliases (& and *) are not allowed; write the text out in full"
    ]


def test_a_field_written_twice(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "fee: 不收费\n", "fee: 不收费\nname: 又一个名字\n")
    assert problems(county) == ["powers/dibao.yaml:8: field 'name' appears twice (first on line 2)"]


def test_byte_order_mark_is_fine(county: Path) -> None:
    notice = county / "notices" / "finance.md"
    notice.write_bytes(b"\xef\xbb\xbf" + notice.read_bytes())
    assert load_county(county).notices[0]["id"] == "finance-10"


def test_procedure_loop_without_a_way_out(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "    title: 张榜公示\n", "    title: 张榜公示\n    next: post\n")
    assert problems(county) == [
        "powers/dibao.yaml:28: steps[4].id: from here the procedure never ends: it loops with no way out"
    ]


def test_an_outcome_that_runs_on_into_another_outcome_of_its_decision(county: Path) -> None:
    # The county's own table lists the approval before the refusal; nothing says the approval ends.
    power = county / "powers" / "dibao.yaml"
    edit(power, "  - id: refuse\n    title: 告知申请人并说明理由\n    actor: 村民委员会\n    end: true\n", "")
    power.write_text(
        power.read_text(encoding="utf-8") + "  - id: refuse\n    title: 告知申请人并说明理由\n    actor: 村民委员会\n",
        encoding="utf-8",
    )
    assert problems(county) == [
        "powers/dibao.yaml:24: steps[3].id: this step is what follows '符合条件' at '入户调查', but says nothing of"
        " where it goes, so it runs on into '告知申请人并说明理由', another outcome of the same decision; add"
        " 'end: true' if the procedure ends here, or 'next:' with the step that follows"
    ]
    edit(power, "    title: 张榜公示\n", "    title: 张榜公示\n    end: true\n")  # the clerk's fix
    assert [s["goes_to"] for s in load_county(county).powers[0]["steps"][2:]] == [[], []]


def test_procedure_step_nobody_reaches(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "to: refuse", "to: post")
    assert problems(county) == [
        "powers/dibao.yaml:24: steps[3].id: no step leads here: it cannot be reached from the first step"
    ]


def test_procedure_step_with_two_ways_on(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "    end: true\n", "    end: true\n    next: post\n")
    assert problems(county) == [
        "powers/dibao.yaml:27: steps[3].end: give only one of next, end and branches, not next + end"
    ]


def test_step_id_clashing_with_a_standard_procedure_step(county: Path) -> None:
    edit(
        county / "powers" / "dibao.yaml", "  - id: apply\n", "  - id: vote\n    procedure: 四议两公开\n  - id: apply\n"
    )
    edit(county / "powers" / "dibao.yaml", "  - id: post\n", "  - id: vote-1\n")
    edit(county / "powers" / "dibao.yaml", "to: post", "to: vote-1")
    (found,) = problems(county)
    assert found == "powers/dibao.yaml:30: steps[5].id: step id 'vote-1' is already used by step 1"


def test_files_that_would_be_silently_skipped_are_reported(county: Path) -> None:
    (county / "powers" / "extra.yml").write_text(POWER.format(id="extra"), encoding="utf-8")
    (county / "notices" / "old").mkdir()
    (county / "notices" / ".DS_Store").write_bytes(b"\0")
    assert problems(county) == [
        "notices/old:1: not read: only .md files directly in notices/ are content",
        "powers/extra.yml:1: not read: only .yaml files directly in powers/ are content",
    ]


def test_a_county_without_a_small_power_list(county: Path) -> None:
    for file in (county / "powers").iterdir():
        file.unlink()
    assert problems(county) == ["powers/:1: missing: put at least one .yaml file in powers/"]


def test_photos_must_be_real_images_inside_the_county(county: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"\xff\xd8\xff" + b"not the county's")
    (county / "media" / "linked.jpg").symlink_to(secret)
    (county / "media" / "fake.png").write_text("<script>alert(1)</script>")
    (county / "media" / "BOARD.JPG").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 100)
    edit(
        county / "notices" / "finance.md",
        "expires:",
        "photos: [media/linked.jpg, media/fake.png, media/BOARD.JPG]\nexpires:",
    )
    assert problems(county) == [
        "notices/finance.md:6: photos[1]: media/linked.jpg points outside the county's media folder; "
        "copy the photo in instead of linking it",
        "notices/finance.md:6: photos[2]: media/fake.png is not a PNG image, whatever its name says",
    ]


def test_broken_county_yaml_is_one_problem_not_a_cascade(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "category: 便民服务\n", "category: 便民服务\nvillage: apple\n")
    (county / "county.yaml").write_text("", encoding="utf-8")
    assert problems(county) == ["county.yaml:1: must be a set of fields, not nothing"]


def test_unknown_time_zone(county: Path) -> None:
    edit(county / "county.yaml", "sample: true\n", "sample: true\ntimezone: Asia/Beijing\n")
    assert problems(county) == [
        "county.yaml:4: timezone: 'Asia/Beijing' is not a known time zone; use a name such as Asia/Shanghai"
    ]


def test_county_staff_read_problems_in_chinese_by_default(county: Path) -> None:
    edit(county / "powers" / "dibao.yaml", "to: refuse", "to: nowhere")
    edit(county / "notices" / "finance.md", '"2026-12-05"', '"2026-11-01"')
    result = CliRunner(env={"KIOSK_DEFAULT_LOCALE": ""}).invoke(main, ["county", "validate", str(county)])
    assert result.exit_code == 1
    assert "notices/finance.md:6: expires: 截止时间 2026-11-01 不晚于发布时间 2026-11-05" in result.output
    assert "powers/dibao.yaml:23: steps[2].branches[2].to: 本事项没有步骤 'nowhere'" in result.output
    assert "发现 2 个问题；没有加载任何内容。" in result.output


def _kind_problems(kind: type, item: Mapping[str, Any], where: str) -> list[str]:
    keys = set(item)
    required, optional = kind.__required_keys__, kind.__optional_keys__  # type: ignore[attr-defined]
    return [f"{where}: {kind.__name__} lacks {sorted(required - keys)}"] * bool(required - keys) + [
        f"{where}: {kind.__name__} has no field {sorted(keys - required - optional)}"
    ] * bool(keys - required - optional)


def _county_problems(county: County) -> list[str]:
    problems = _kind_problems(kinds.CountyInfo, county.info, "county") + _kind_problems(
        kinds.TenOnes, county.ten_ones, "ten ones"
    )
    for power in county.powers:
        problems += _kind_problems(kinds.Power, power, power["id"])
        for step in power["steps"]:
            problems += _kind_problems(kinds.Step, step, f"{power['id']} step {step['id']}")
    for one in county.ten_ones.get("items", []):
        problems += _kind_problems(kinds.TenOne, one, one["title"])
    typed: list[tuple[type, list[Any]]] = [(kinds.Notice, county.notices), (kinds.CatalogueEntry, county.catalogue),
                                           (kinds.Contact, county.contacts), (kinds.Duty, county.duties)]  # fmt: skip
    for kind, items in typed:
        problems += [p for item in items for p in _kind_problems(kind, item, item["id"])]
    for guide in county.guides:
        problems += _kind_problems(kinds.Guide, guide, guide["id"])
        parts: list[tuple[type, Any]] = [(kinds.GuideQuestion, q) for q in guide["questions"]]
        parts += [(kinds.GuideEnding, e) for e in guide["endings"]]
        problems += [p for kind, part in parts for p in _kind_problems(kind, part, f"{guide['id']} {part['id']}")]
        answers = [a for q in guide["questions"] for a in q["answers"]]
        problems += [p for answer in answers for p in _kind_problems(kinds.GuideAnswer, answer, guide["id"])]
    return problems


def test_the_model_holds_each_kind_with_the_fields_its_type_declares(demo_county: County) -> None:
    # The types in sync/contract/kinds.py are what code relies on: a field the model adds or
    # drops without saying so there is caught here, on the county as loaded and as a kiosk rebuilds it.
    assert demo_county.powers and demo_county.notices and demo_county.duties and demo_county.ten_ones
    assert demo_county.guides
    assert _county_problems(demo_county) == []
    items = [item for bundle in build_bundles(demo_county).values() for shard in bundle.shards.values()
             for item in read_shard(shard)]  # fmt: skip
    assert _county_problems(county_from_items(items, demo_county.media)) == []
