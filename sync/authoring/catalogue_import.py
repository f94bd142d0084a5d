"""Plan the import of one area of the disclosure catalogue into the folder's catalogue/ files.

An entry the area's file already has (the same 一级 and 二级 事项, or 一级 事项 and content when there
is no 二级) keeps its id and is changed in place; others are added to the end of the area's list.
Entries the file has and the table does not are kept: a table never removes anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sync.authoring.catalogue_table import area_of, areas, read_catalogue
from sync.authoring.plan import ImportPlan, Planned, read_folder, unique_id
from sync.authoring.sheets import Table
from sync.contract.i18n import tr
from sync.contract.pinyin import initials, slug
from sync.contract.schemas import schema_problems
from sync.contract.source import SourceFile


def _key(entry: dict[str, Any]) -> tuple[str, str]:
    return str(entry.get("level1")), str(entry.get("level2") or entry.get("content"))


def _files(content_dir: Path) -> tuple[dict[str, tuple[str, dict[str, Any]]], set[str], list[str]]:
    """The catalogue's files by area (path, data), every entry id, files that cannot be read."""
    files, problems = read_folder(content_dir, "catalogue")
    by_area: dict[str, tuple[str, dict[str, Any]]] = {}
    ids: set[str] = set()
    for path, data in files:
        by_area.setdefault(str(data.get("area")), (path, data))
        ids.update(str(entry.get("id")) for entry in data.get("items") or [] if isinstance(entry, dict))
    return by_area, ids, problems


def plan_catalogue(table: Table, content_dir: Path, named: str | None) -> ImportPlan:
    rows, problems = read_catalogue(table)
    area = area_of(table, named)
    if area is not None and area not in areas():
        known = "、".join(areas())
        return ImportPlan([], [tr("%(area)r is not one of the 26 areas: %(areas)s", area=area, areas=known)])
    if area is None and any("area" not in row.fields for row in rows if row.fields):
        return ImportPlan([], [tr("the table's title names none of the 26 areas; give the area with --area")])
    files, ids, unreadable = _files(content_dir)
    problems += unreadable
    items: list[Planned] = []
    seen: dict[tuple[str, str, str], int] = {}
    for row in rows:
        problems += row.problems
        if not row.fields:
            continue
        fields = dict(row.fields)
        here = fields.pop("area", None) or area or ""
        key = (here, *_key(fields))
        label = " / ".join(part for part in (fields["level1"], fields.get("level2")) if part)
        if key in seen:
            problems.append(tr("row %(row)s: 「%(name)s」 is also on row %(other)s", row=row.row, name=label,
                               other=seen[key]))  # fmt: skip
            continue
        seen[key] = row.row
        number = areas().index(here) + 1 if here in areas() else 0
        path, data = files.get(here, (f"catalogue/{number:02d}-{slug(here, 20)}.yaml", {"area": here, "items": []}))
        old = next((entry for entry in data.get("items") or [] if _key(entry) == _key(fields)), None)
        if old is not None:
            fields = {"id": old["id"], **fields}
            changed = [name for name, value in fields.items() if old.get(name) != value]
            action = "changed" if changed else "unchanged"
            items.append(Planned(row.row, path, action, fields, label, changed, entry_of={"area": here}))
        else:
            base = f"{initials(here)[:4]}-{slug(fields.get('level2') or fields['level1'], 30)}"
            fields = {"id": unique_id(base, ids), **fields}
            items.append(Planned(row.row, path, "new", fields, label, entry_of={"area": here}))
        found = schema_problems(SourceFile("", {"area": here, "items": [fields]}), "catalogue")
        problems += [tr("row %(row)s: %(problem)s", row=row.row, problem=f"{p.field}: {p.message}") for p in found]
    return ImportPlan(items, problems)
