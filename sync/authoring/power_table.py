"""A county's small-power list as Excel keeps it (one row per item) read into power items.

Columns are found by their header names and the variants counties use. A procedure written as
numbered text ('1.…；2.…', '①…②…', '(1)…') or one step per line becomes a list of steps done by the
responsible body, one after the other; decisions and branches are added afterwards in the form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sync.authoring.sheets import Row, Table, columns_of, empty_problem, formula_problems
from sync.contract.i18n import tr

# field -> header names, the first as the export writes it
COLUMNS: dict[str, list[str]] = {
    "name": ["事项名称", "权力名称", "权力事项", "事项"],
    "number": ["编号", "事项编号", "权力编号", "清单编号"],
    "category": ["类别", "权力类别", "事项类别", "类型"],
    "summary": ["事项说明", "简要说明", "说明"],
    "keywords": ["俗称", "别名", "关键词"],
    "basis": ["实施依据", "办理依据", "法律依据", "依据"],
    "responsible": ["责任主体", "实施主体"],
    "participants": ["参与主体", "协办主体"],
    "materials": ["所需材料", "申请材料", "办理材料"],
    "steps": ["运行流程", "办理流程", "操作流程", "流程"],
    "time_limit": ["办理时限", "时限", "承诺时限"],
    "fee": ["收费标准", "收费", "收费依据及标准"],
    "phone": ["监督电话", "监督举报电话", "举报电话"],
    "supervision": ["监督方式", "监督主体", "监督单位"],
    "risks": ["风险点", "廉政风险点"],
    "controls": ["防控措施", "风险防控措施"],
}
REQUIRED = ["name", "category", "basis", "responsible", "steps", "time_limit", "fee"]
SUPERVISOR = "村务监督委员会"  # who supervises a village power when the table names only a phone
OWN_COMMITTEE = "本村村务监督委员会"  # a table's words for supervision: {village: true}, each village's own
_OWN = re.compile(r"^(本村|所在村|各村)村务监督委员会$")
_PHONE = re.compile(r"(?<![\d-])\d[\d-]{2,19}(?![\d-])")
_MARK = r"(?:\d{1,2}\s*[.、．)）]|[（(]\d{1,2}[)）]|[①-⑳])"
# A number ends the item before it after a separator; a circled or bracketed one needs none.
_MARKED = re.compile(rf"(?:(?:^|(?<=[\s；;。，,])){_MARK}|[（(]\d{{1,2}}[)）]|[①-⑳])\s*")


@dataclass
class RowItem:
    """What one row makes: the item's fields (without an id; as far as the row gives them), and its problems.

    A row with a name gives its fields even when it has problems, so that the studio can make a draft of
    it to be fixed in the form; the command line writes nothing while any row has a problem.
    """

    row: int
    fields: dict[str, Any]
    problems: list[str] = field(default_factory=list)


def step_label(step: dict[str, Any]) -> str:
    """A step as one line of a table: its title, or the standard procedure it stands for (四议两公开)."""
    return str(step.get("title") or step.get("procedure") or "")


def known_headers() -> list[str]:
    return [name for names in COLUMNS.values() for name in names]


def split_list(text: str) -> list[str]:
    """'1.甲；2.乙' / '①甲②乙' / lines / '甲；乙' -> ['甲', '乙'] (the marks and separators dropped)."""
    text = text.strip()
    if not text:
        return []
    marks = list(_MARKED.finditer(text))
    if len(marks) >= 2 and marks[0].start() == 0:
        ends = [m.start() for m in marks[1:]] + [len(text)]
        items = [text[m.end() : end] for m, end in zip(marks, ends, strict=True)]
    elif "\n" in text:
        items = [re.sub(rf"^{_MARK}\s*", "", line) for line in text.split("\n")]
    elif re.search(r"》[、，,]?《", text):
        items = re.split(r"(?<=》)[、，,]?(?=《)", text)
    else:
        items = re.split(r"[；;]", text)
    return [cleaned for item in items if (cleaned := item.strip().strip("；;，,。 ").strip())]


def _supervision(row: Row, columns: dict[str, str]) -> tuple[dict[str, Any] | None, str | None]:
    said = row.cells.get(columns.get("supervision", ""), "")
    phones = _PHONE.findall(row.cells.get(columns.get("phone", ""), "")) or _PHONE.findall(said)
    parts = [part.strip(" ：:，,。（）()") for part in re.split(r"[；;]", _PHONE.sub("", said))]
    if any(_OWN.match(part) for part in parts):  # each village's own committee: its kiosk has the phone
        rest = "；".join(part for part in parts if part and not _OWN.match(part))
        if not rest and not phones:
            return {"village": True}, None
        if rest and phones:
            return {"village": True, "body": rest, "phone": phones[0]}, None
    if not phones:
        problem = tr("row %(row)s: no supervision phone (a column 监督电话, or a number in 监督方式)", row=row.number)
        return {"body": said.strip() or SUPERVISOR}, problem
    body = _PHONE.sub("", said).strip(" ：:，,；;。（）()") or SUPERVISOR
    return {"body": body, "phone": phones[0]}, None


def read_row(row: Row, columns: dict[str, str]) -> RowItem:
    item = RowItem(row.number, {}, formula_problems(row))
    cell = {name: row.cells.get(column, "") for name, column in columns.items()}
    for name in REQUIRED:
        if not cell.get(name) and columns.get(name) not in row.formulas:
            item.problems.append(empty_problem(row, columns.get(name, COLUMNS[name][0])))
    supervision, problem = _supervision(row, columns)
    if problem:
        item.problems.append(problem)
    if not cell.get("name"):
        return item
    steps = split_list(cell.get("steps", ""))
    fields: dict[str, Any] = {"name": cell["name"], "category": cell.get("category", "")}
    if cell.get("number"):
        fields["number"] = cell["number"]
    if cell.get("summary"):
        fields["summary"] = cell["summary"]
    if keywords := split_list(cell.get("keywords", "").replace("、", "；")):
        fields["keywords"] = list(dict.fromkeys(keywords))
    fields["basis"] = split_list(cell.get("basis", ""))
    fields["responsible"] = cell.get("responsible", "")
    for name in ("participants", "materials"):
        if values := split_list(cell.get(name, "")):
            fields[name] = values
    fields.update({"fee": cell.get("fee", ""), "time_limit": cell.get("time_limit", ""), "supervision": supervision})
    risks, controls = split_list(cell.get("risks", "")), split_list(cell.get("controls", ""))
    if risks and controls:
        paired = len(risks) == len(controls)
        pairs = list(zip(risks, controls, strict=True)) if paired else [("；".join(risks), "；".join(controls))]
        fields["risks"] = [{"point": point, "control": control} for point, control in pairs]
    fields["steps"] = [
        {"id": f"s{n}", "title": title, "actor": cell.get("responsible", "")} for n, title in enumerate(steps, start=1)
    ]
    item.fields = {key: value for key, value in fields.items() if value not in ("", [])}  # empty: "missing" there
    return item


def read_powers(table: Table) -> tuple[list[RowItem], list[str]]:
    """Every row as an item or its problems; and the problems of the table as a whole (a column missing)."""
    columns = columns_of(table, COLUMNS)
    missing = [COLUMNS[name][0] for name in REQUIRED if name not in columns]
    if missing:
        variants = "；".join(f"{COLUMNS[name][0]}（{'/'.join(COLUMNS[name][1:])}）" for name in REQUIRED
                             if name not in columns)  # fmt: skip
        return [], [tr("columns missing: %(columns)s; the table's headers may also be %(variants)s",
                       columns="、".join(missing), variants=variants)]  # fmt: skip
    return [read_row(row, columns) for row in table.rows], []


EXPORTED = ["name", "category", "summary", "keywords", "basis", "responsible", "participants", "materials", "steps",
            "time_limit", "fee", "supervision", "phone", "risks", "controls", "number"]  # fmt: skip


def _supervision_cell(supervision: dict[str, Any]) -> str:
    """监督方式 as a table writes it: the village's own committee (村务监督委员会), then the body the item names."""
    return "；".join(filter(None, [OWN_COMMITTEE if supervision.get("village") else "", supervision.get("body", "")]))


def export_rows(powers: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The items as the import reads them: a header row of the first names, one row per item.

    Steps are numbered ('1.提出申请；2.审核'); decisions do not fit a cell, and importing the table
    again keeps the folder's steps as long as their titles are unchanged.
    """
    headers = ["序号"] + [COLUMNS[name][0] for name in EXPORTED]
    rows = []
    for number, power in enumerate(powers, start=1):
        risks = power.get("risks", [])
        steps = "；".join(f"{n}.{step_label(step)}" for n, step in enumerate(power["steps"], start=1))
        cells = {
            "name": power["name"],
            "number": power.get("number", ""),
            "category": power["category"],
            "summary": power.get("summary", ""),
            "keywords": "、".join(power.get("keywords", [])),
            "basis": "\n".join(power["basis"]),
            "responsible": power["responsible"],
            "participants": "\n".join(power.get("participants", [])),
            "materials": "\n".join(power.get("materials", [])),
            "steps": steps,
            "time_limit": power["time_limit"],
            "fee": power["fee"],
            "supervision": _supervision_cell(power["supervision"]),
            "phone": power["supervision"].get("phone", ""),
            "risks": "\n".join(f"{n}.{risk['point']}" for n, risk in enumerate(risks, start=1)),
            "controls": "\n".join(f"{n}.{risk['control']}" for n, risk in enumerate(risks, start=1)),
        }
        rows.append([str(number)] + [cells[name] for name in EXPORTED])
    return headers, rows
