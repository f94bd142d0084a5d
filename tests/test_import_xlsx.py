"""`kiosk county import`: a county's own Excel small-power list into its content folder."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from kiosk.cli import main
from sync.authoring.power_table import split_list
from sync.contract.content import load_county
from tests.county_files import write_county

# A county's table as it prints it: a title merged across the top, its own header names.
HEADERS = ["序号", "权力名称", "权力类别", "办理依据", "实施主体", "办理流程", "办理时限", "收费标准", "监督方式",
           "廉政风险点", "防控措施"]  # fmt: skip


def power_row(number: int, **changes: str) -> list[object]:
    cells: dict[str, object] = {
        "序号": number,
        "权力名称": f"村级事项{number:02d}审批",
        "权力类别": "村务管理",
        "办理依据": "《中华人民共和国村民委员会组织法》、《村级事务管理办法》",
        "实施主体": "村民委员会",
        "办理流程": "1.村民提出申请；2.村民委员会审核；3.张榜公示",
        "办理时限": "10个工作日",
        "收费标准": "不收费",
        "监督方式": "村务监督委员会 0000-5552411",
        "廉政风险点": "①优亲厚友②不按程序办理",
        "防控措施": "①公开公示②严格执行程序",
    }
    cells.update(changes)
    return [cells[name] for name in HEADERS]


def write_sheet(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["测试县村级小微权力清单"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def folder_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(root.rglob("*")):
        if file.is_file():
            digest.update(file.relative_to(root).as_posix().encode() + file.read_bytes())
    return digest.hexdigest()


@pytest.fixture()
def county(tmp_path: Path) -> Path:
    return write_county(tmp_path / "county")


def run(*args: str, language: str = "en") -> tuple[int, str, str]:
    result = CliRunner(env={"KIOSK_DEFAULT_LOCALE": language}).invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_twenty_items_with_two_bad_rows_are_named_by_row_and_nothing_is_written(county: Path, tmp_path: Path) -> None:
    rows = [power_row(n) for n in range(1, 21)]
    rows[6] = power_row(7, **{"办理时限": ""})  # the eighth row of the sheet: title, header, then items
    rows[11] = power_row(12, **{"监督方式": "村务监督委员会"})  # no phone anywhere
    sheet = write_sheet(tmp_path / "清单.xlsx", rows)
    before = folder_digest(county)
    code, out, err = run("county", "import", str(sheet), "--into", str(county), language="zh")  # as the clerk reads it
    assert code == 1
    assert "新增 18 项，修改 0 项，不变 0 项" in out
    assert "第 9 行「办理时限」为空" in err
    assert "第 14 行没有监督电话" in err
    assert "发现 2 个问题，未写入任何文件。" in err
    assert folder_digest(county) == before
    assert "row 9: 「办理时限」 is empty" in run("county", "import", str(sheet), "--into", str(county))[2]


def test_a_good_table_becomes_items_the_county_validates_and_reimporting_changes_nothing(
    county: Path, tmp_path: Path
) -> None:
    sheet = write_sheet(tmp_path / "清单.xlsx", [power_row(n) for n in range(1, 4)])
    code, out, _ = run("county", "import", str(sheet), "--into", str(county), "--dry-run")
    assert code == 0 and "3 new" in out and "+ powers/cunji-shixiang-01-shenpi.yaml" in out
    assert not (county / "powers" / "cunji-shixiang-01-shenpi.yaml").exists(), "a dry run writes nothing"
    code, out, err = run("county", "import", str(sheet), "--into", str(county))
    assert code == 0, err
    loaded = {p["id"]: p for p in load_county(county).powers}
    item = loaded["cunji-shixiang-01-shenpi"]
    assert item["basis"] == ["《中华人民共和国村民委员会组织法》", "《村级事务管理办法》"]
    assert [s["title"] for s in item["steps"]] == ["村民提出申请", "村民委员会审核", "张榜公示"]
    assert item["steps"][2]["goes_to"] == [], "the last step ends the procedure"
    assert item["supervision"] == {"body": "村务监督委员会", "phone": "0000-5552411"}
    assert item["risks"][1] == {"point": "不按程序办理", "control": "严格执行程序"}
    code, out, _ = run("county", "import", str(sheet), "--into", str(county))
    assert code == 0 and "0 new, 0 changed, 3 unchanged" in out


def test_a_changed_row_updates_its_file_and_keeps_the_folders_comments_and_branches(
    county: Path, tmp_path: Path
) -> None:
    sheet = write_sheet(tmp_path / "清单.xlsx", [power_row(1)])
    assert run("county", "import", str(sheet), "--into", str(county))[0] == 0
    file = county / "powers" / "cunji-shixiang-01-shenpi.yaml"
    text = file.read_text(encoding="utf-8")
    text = text.replace("fee: 不收费\n", "# 依据县财政局2026年文件\nfee: 不收费\n")
    file.write_text(text, encoding="utf-8")
    write_sheet(sheet, [power_row(1, **{"收费标准": "工本费5元"})])
    code, out, err = run("county", "import", str(sheet), "--into", str(county))
    assert code == 0, err
    assert "~ powers/cunji-shixiang-01-shenpi.yaml  村级事项01审批 (row 3): fee" in out
    written = file.read_text(encoding="utf-8")
    assert "# 依据县财政局2026年文件\nfee: 工本费5元\n" in written
    assert [p["fee"] for p in load_county(county).powers if p["id"] == "cunji-shixiang-01-shenpi"] == ["工本费5元"]


def test_formulas_are_never_taken_and_markup_stays_text(county: Path, tmp_path: Path) -> None:
    rows = [power_row(1, **{"收费标准": "=1+1"}), power_row(2, **{"权力名称": "<script>alert(1)</script>村务"})]
    sheet = write_sheet(tmp_path / "清单.xlsx", rows)
    code, _, err = run("county", "import", str(sheet), "--into", str(county))
    assert code == 1 and "row 3: 「收费标准」 holds a formula; paste its value instead" in err
    write_sheet(sheet, rows[1:])
    assert run("county", "import", str(sheet), "--into", str(county))[0] == 0
    assert "<script>alert(1)</script>村务" in [p["name"] for p in load_county(county).powers]


@pytest.mark.parametrize("kind", ["bomb", "not a zip", "too big", "no header"])
def test_hostile_or_wrong_files_are_refused_with_a_reason(county: Path, tmp_path: Path, kind: str) -> None:
    sheet = tmp_path / "清单.xlsx"
    if kind == "bomb":
        with zipfile.ZipFile(sheet, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("xl/workbook.xml", "<a/>")
            archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (20 * 1024 * 1024))  # 20 MB of nothing: 1000:1
        expected = "the file unpacks to far more than a table holds; it is refused"
    elif kind == "not a zip":
        sheet.write_text("序号,权力名称\n1,低保\n", encoding="utf-8")
        expected = "not an .xlsx file (save it from Excel or WPS as .xlsx)"
    elif kind == "too big":
        with sheet.open("wb") as file:
            file.truncate(21 * 1024 * 1024)
        expected = "the file is larger than 20 MB"
    else:
        book = Workbook()
        assert book.active is not None
        book.active.append(["甲", "乙"])
        book.save(sheet)
        expected = "no header row found in the first 10 rows"
    before = folder_digest(county)
    code, _, err = run("county", "import", str(sheet), "--into", str(county))
    assert code == 1 and expected in err
    assert folder_digest(county) == before


@pytest.mark.parametrize(
    ("written", "items"),
    [
        ("1.提出申请；2.审核；3.公示", ["提出申请", "审核", "公示"]),
        ("1、提出申请 2、审核", ["提出申请", "审核"]),
        ("①提出申请②审核③公示", ["提出申请", "审核", "公示"]),
        ("（1）提出申请（2）审核", ["提出申请", "审核"]),
        ("提出申请\n审核\n公示", ["提出申请", "审核", "公示"]),
        ("提出申请；审核", ["提出申请", "审核"]),
        ("按规定1.5万元以下的开支", ["按规定1.5万元以下的开支"]),
    ],
)
def test_procedures_written_the_ways_counties_write_them(written: str, items: list[str]) -> None:
    assert split_list(written) == items


def test_the_export_is_the_layout_the_import_reads_and_keeps_the_folders_decisions(tmp_path: Path) -> None:
    from tests.county_files import copy_demo

    county = copy_demo(tmp_path)
    sheet = tmp_path / "导出.xlsx"
    code, out, err = run("county", "export", str(county), "--out", str(sheet))
    assert code == 0, err
    count = len(list((county / "powers").glob("*.yaml")))
    assert f"{count} items written" in out
    before = folder_digest(county)
    code, out, err = run("county", "import", str(sheet), "--into", str(county))
    assert code == 0, err
    assert f"0 new, 0 changed, {count} unchanged" in out, "the folder's branches and 四议两公开 steps survive the table"
    assert folder_digest(county) == before


def write_catalogue_sheet(path: Path, title: str, rows: list[list[str]]) -> Path:
    """The standard catalogue's layout: 公开事项 over 一级/二级; 对象, 方式, 层级 ticked under a second header."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([title])
    sheet.append(["序号", "公开事项", "", "公开内容（要素）", "公开依据", "公开时限", "公开主体", "公开渠道和载体",
                  "公开对象", "", "公开方式", "", "公开层级", ""])  # fmt: skip
    sheet.append(["", "一级事项", "二级事项", "", "", "", "", "", "全社会", "特定群众", "主动", "依申请", "县级",
                  "乡级"])  # fmt: skip
    for start, end in ((2, 3), (9, 10), (11, 12), (13, 14)):
        sheet.merge_cells(start_row=2, start_column=start, end_row=2, end_column=end)
    for row in rows:
        sheet.append(row)
    sheet.merge_cells(start_row=4, start_column=2, end_row=5, end_column=2)  # 一级事项 over its two rows
    book.save(path)
    return path


CATALOGUE_ROWS = [
    ["1", "最低生活保障", "审批结果", "保障对象姓名、保障金额", "《社会救助暂行办法》", "信息形成之日起20个工作日内",
     "县民政局", "便民服务站、政府网站", "√", "", "√", "", "√", "√"],
    ["2", "", "办理流程", "申请条件、办理程序", "《社会救助暂行办法》", "长期公开", "县民政局；镇（乡）人民政府",
     "政府网站", "√", "", "√", "", "", "√"],
    ["3", "特困人员救助供养", "救助标准", "供养标准", "《社会救助暂行办法》", "标准调整后10个工作日内", "县民政局",
     "政府网站", "", "√", "", "√", "√", ""],
]  # fmt: skip


def test_a_catalogue_area_with_merged_and_ticked_cells_joins_its_areas_file(county: Path, tmp_path: Path) -> None:
    sheet = write_catalogue_sheet(tmp_path / "目录.xlsx", "测试县社会救助领域基层政务公开标准目录", CATALOGUE_ROWS)
    code, out, err = run("county", "import", str(sheet), "--into", str(county))
    assert code == 0, err
    assert "2 new, 1 changed, 0 unchanged" in out  # the first row is the folder's entry, its channels now two
    assert "~ catalogue/18-shehui-jiuzhu.yaml  最低生活保障 / 审批结果 (row 4): channels\n" in out
    entries = {(e["level1"], e.get("level2")): e for e in load_county(county).catalogue if e["area"] == "社会救助"}
    assert entries[("最低生活保障", "审批结果")]["id"] == "dibao-result", "the folder's entry keeps its id"
    assert entries[("最低生活保障", "审批结果")]["channels"] == ["便民服务站", "政府网站"]
    flow = entries[("最低生活保障", "办理流程")]  # 一级事项 merged down from the row above
    assert (flow["audience"], flow["mode"], flow["level"]) == ("全社会", "主动", ["乡级"])
    special = entries[("特困人员救助供养", "救助标准")]
    assert (special["audience"], special["mode"], special["level"]) == ("特定群众", "依申请", ["县级"])


def test_a_catalogue_table_that_names_no_area_asks_for_one(county: Path, tmp_path: Path) -> None:
    sheet = write_catalogue_sheet(tmp_path / "目录.xlsx", "基层政务公开标准目录", CATALOGUE_ROWS[2:])
    code, _, err = run("county", "import", str(sheet), "--into", str(county))
    assert code == 1 and "give the area with --area" in err
    code, out, err = run("county", "import", str(sheet), "--into", str(county), "--area", "养老服务")
    assert code == 0 and "+ catalogue/19-yanglao-fuwu.yaml" in out, out + err
    assert [e["level1"] for e in load_county(county).catalogue if e["area"] == "养老服务"] == ["特困人员救助供养"]


def test_a_catalogue_area_exported_imports_back_unchanged(tmp_path: Path) -> None:
    from tests.county_files import copy_demo

    county = copy_demo(tmp_path)
    sheet = tmp_path / "社会救助.xlsx"
    code, out, err = run("county", "export", str(county), "--out", str(sheet), "--area", "社会救助")
    assert code == 0, err
    count = sum(1 for entry in load_county(county).catalogue if entry["area"] == "社会救助")
    assert count > 1 and f"{count} items written" in out
    before = folder_digest(county)
    code, out, err = run("county", "import", str(sheet), "--into", str(county))  # the area read from the title
    assert code == 0 and f"0 new, 0 changed, {count} unchanged" in out, out + err
    assert folder_digest(county) == before
    code, _, err = run("county", "export", str(county), "--out", str(sheet), "--area", "社会保障")  # not an area
    assert code == 1 and "has no area '社会保障'" in err
