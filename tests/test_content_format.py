"""What the content can say (issue 16, point 4), as `kiosk county validate` judges it: good and bad, with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from sync.contract.content import load_county
from tests.county_files import TEN_ONES, write_county
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
    assert "Warning: ten_ones.yaml:2: items: the ten ones (十个一) list 11 entries" in result.output


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
