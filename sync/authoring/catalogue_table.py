"""A county's standard disclosure catalogue (基层政务公开标准目录) as Excel keeps it, read into entries.

One table per area, titled with it ('某县社会救助领域基层政务公开标准目录'). 公开事项 is split into
一级事项 and 二级事项, the first merged down over its rows; 公开对象, 公开方式 and 公开层级 are either a
column of text or, under a second header row, a column per value ticked with √.
"""

from __future__ import annotations

from typing import Any

from sync.authoring.power_table import RowItem, split_list
from sync.authoring.sheets import Row, Table, column_key, columns_of, empty_problem, formula_problems
from sync.contract.i18n import tr
from sync.contract.schemas import load_schema
from sync.contract.search import elements_text

COLUMNS: dict[str, list[str]] = {
    "level1": ["一级事项", "公开事项"],
    "level2": ["二级事项"],
    "content": ["公开内容", "公开内容要素", "公开要素"],
    "basis": ["公开依据"],
    "time_limit": ["公开时限"],
    "body": ["公开主体"],
    "channels": ["公开渠道和载体", "公开渠道", "公开载体"],
    "audience": ["公开对象"],
    "mode": ["公开方式"],
    "level": ["公开层级"],
    "area": ["领域", "重点领域", "公开领域"],
}
TICKED = {"audience": ["全社会", "特定群众"], "mode": ["主动", "依申请"], "level": ["县级", "乡级"]}
_EVERY_COLUMN = {**COLUMNS, **{value: [value] for values in TICKED.values() for value in values}}  # ticked ones too
REQUIRED = ["level1", "content", "basis", "time_limit", "body", "channels", "audience", "mode", "level"]
_TICKS = {"√", "✓", "✔", "●", "○", "是", "y", "Y", "yes", "1", "☑", "v", "V"}


def areas() -> list[str]:
    """The 26 areas, as content/schema names them."""
    return list(load_schema("catalogue")["properties"]["area"]["enum"])


def known_headers() -> list[str]:
    return [name for names in COLUMNS.values() for name in names]


def sub_headers() -> list[str]:
    return ["一级事项", "二级事项", *(value for values in TICKED.values() for value in values)]


def is_catalogue(table: Table) -> bool:
    own = ("公开内容", "公开依据", "公开主体", "公开时限")
    return sum(1 for column in table.columns if column_key(column) in own) >= 2


def area_of(table: Table, named: str | None) -> str | None:
    """The area: as given, else the one the table's title names."""
    if named:
        return named
    found = [area for area in areas() if area in table.title]
    return max(found, key=len) if found else None


def _chosen(row: Row, columns: dict[str, str], name: str) -> list[str]:
    """The values of *name* a row gives: written in its column, or ticked in a column per value."""
    if name in columns:
        written = row.cells.get(columns[name], "")
        return [value for value in TICKED[name] if value in written]
    return [value for value in TICKED[name] if row.cells.get(columns.get(value, ""), "").strip() in _TICKS]


def read_catalogue(table: Table) -> tuple[list[RowItem], list[str]]:
    """Every row as a catalogue entry (without an id) or its problems; and the table's own problems."""
    columns = columns_of(table, _EVERY_COLUMN)
    missing = [COLUMNS[name][0] for name in REQUIRED
               if name not in columns and not all(value in columns for value in TICKED.get(name, ["-"]))]  # fmt: skip
    if missing:
        return [], [tr("columns missing: %(columns)s", columns="、".join(missing))]
    items = []
    above: dict[str, str] = {}  # 一级 and 二级 merged down over their rows
    for row in table.rows:
        cell = {name: row.cells.get(column, "") for name, column in columns.items()}
        if cell.get("level1"):
            above = {"level1": cell["level1"], "level2": cell.get("level2", "")}
        else:
            cell["level1"] = above.get("level1", "")
            cell["level2"] = cell.get("level2") or above.get("level2", "")
        item = RowItem(row.number, {}, formula_problems(row))
        for name in REQUIRED:
            given = _chosen(row, columns, name) if name in TICKED else cell.get(name)
            if not given:
                item.problems.append(empty_problem(row, columns.get(name, COLUMNS[name][0])))
        if not item.problems:
            fields: dict[str, Any] = {"level1": cell["level1"]}
            if cell.get("level2"):
                fields["level2"] = cell["level2"]
            fields.update({
                "content": _elements(cell["content"]),
                "basis": split_list(cell["basis"]),
                "time_limit": cell["time_limit"],
                "body": cell["body"],
                "channels": split_list(cell["channels"].replace("、", "；")),
                "audience": _chosen(row, columns, "audience")[0],
                "mode": _chosen(row, columns, "mode")[0],
                "level": _chosen(row, columns, "level"),
            })  # fmt: skip
            if "area" in columns:
                fields["area"] = cell.get("area", "")
            item.fields = fields
        items.append(item)
    return items, []


def _elements(cell: str) -> str | list[str]:
    """A 公开内容（要素） cell: one text, or a list of elements when it is written one per line."""
    lines = [line.strip() for line in cell.splitlines() if line.strip()]
    return lines if len(lines) > 1 else cell


EXPORTED = ["level1", "level2", "content", "basis", "time_limit", "body", "channels", "audience", "mode", "level"]
_CONTENT_HEADER = "公开内容（要素）"


def export_rows(entries: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """An area's entries as the import reads them: one header row (对象, 方式, 层级 as text), a row per entry."""
    headers = ["序号"] + [_CONTENT_HEADER if name == "content" else COLUMNS[name][0] for name in EXPORTED]
    rows = []
    for number, entry in enumerate(entries, start=1):
        cells = {name: entry.get(name, "") for name in EXPORTED}
        cells.update({"content": elements_text(entry["content"], "\n"),  # one element a line, as the import reads it
                      "basis": "\n".join(entry["basis"]), "channels": "、".join(entry["channels"]),
                      "level": "、".join(entry["level"])})  # fmt: skip
        rows.append([str(number)] + [str(cells[name]) for name in EXPORTED])
    return headers, rows
