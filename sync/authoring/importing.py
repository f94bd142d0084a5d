"""Import a county's small-power list from .xlsx into its content folder: plan, preview, then write.

Nothing is written while any row has a problem. A row with a name and a problem is still planned
(with its problems), for the studio to make a draft of it that the clerk fixes in the form. An item
whose name the folder already has is updated in its own file (ruamel.yaml: the file's comments and
field order stay); its steps are kept when the table lists the same step titles, so branches added
in the folder are not lost.
New items get an id made from their name in pinyin, unique in the folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sync.authoring import catalogue_table, items
from sync.authoring.catalogue_import import plan_catalogue
from sync.authoring.plan import ImportPlan, Planned, read_folder, unique_id
from sync.authoring.power_table import known_headers, read_powers, step_label
from sync.authoring.sheets import Table, read_table
from sync.contract.i18n import tr
from sync.contract.pinyin import slug
from sync.contract.procedure import procedure_problems
from sync.contract.schemas import field_name, schema_problems
from sync.contract.source import SourceError, SourceFile, read_yaml


def _existing(content_dir: Path) -> tuple[dict[str, tuple[str, dict[str, Any]]], set[str], list[str]]:
    """Items of the folder by name (path, data), every id in use, and files that cannot be read."""
    files, problems = read_folder(content_dir, "powers")
    by_name: dict[str, tuple[str, dict[str, Any]]] = {}
    for path, data in files:
        by_name.setdefault(str(data.get("name")), (path, data))
    return by_name, {str(data.get("id")) for _path, data in files}, problems


def _existing_named(
    content_dir: Path, names: set[str]
) -> tuple[dict[str, tuple[str, dict[str, Any]]], set[str], list[str]]:
    """As _existing, but only the items named *names* are read whole: the folder's list gives the rest."""
    listed, unreadable = items.scan(content_dir, items.KINDS["power"])
    by_name: dict[str, tuple[str, dict[str, Any]]] = {}
    problems = [tr("%(path)s cannot be read: run kiosk county validate to see why", path=path) for path in unreadable]
    for item in listed:
        if item.title in names and item.title not in by_name:
            try:
                by_name[item.title] = (item.path, read_yaml(content_dir / item.path, item.path).data)
            except SourceError as error:
                problems.append(str(error))
    return by_name, {item.id for item in listed}, problems


def _check(row: int, data: dict[str, Any]) -> list[str]:
    """The folder's own checks on one item: its schema, then its procedure."""
    found = [f"{p.field}: {p.message}" for p in schema_problems(SourceFile("", data), "power")]
    if not found:
        found = [f"{field_name(where)}: {message}" for where, message in procedure_problems(data["steps"])]
    return [tr("row %(row)s: %(problem)s", row=row, problem=problem) for problem in found]


def plan_import(sheet: Path, content_dir: Path, area: str | None = None) -> ImportPlan:
    """What importing *sheet* into *content_dir* would create and change, and every problem found.

    The table is the small-power list, or an area of the disclosure catalogue when its columns say so
    (公开内容, 公开依据 …); *area* names the catalogue's area when the table's title does not.
    """
    table = read_table(sheet, [*known_headers(), *catalogue_table.known_headers()], catalogue_table.sub_headers())
    if catalogue_table.is_catalogue(table):
        return plan_catalogue(table, content_dir, area)
    return _plan_powers(table, content_dir)


def _plan_powers(table: Table, content_dir: Path) -> ImportPlan:
    rows, problems = read_powers(table)
    existing, ids, unreadable = _existing_named(
        content_dir, {str(row.fields.get("name")) for row in rows if row.fields}
    )
    problems += unreadable
    seen: dict[str, int] = {}
    items = []
    for row in rows:
        problems += row.problems
        if not row.fields:  # a row without a name: nothing to make an item of
            continue
        name = row.fields["name"]
        if name in seen:
            problems.append(tr("row %(row)s: 「%(name)s」 is also on row %(other)s", row=row.row, name=name,
                               other=seen[name]))  # fmt: skip
            continue
        seen[name] = row.row
        if name in existing:
            path, old = existing[name]
            fields = dict(row.fields)
            if [step_label(s) for s in old.get("steps", [])] == [s["title"] for s in fields["steps"]]:
                fields["steps"] = old["steps"]  # same steps: keep the folder's branches and ends
            changed = [key for key, value in fields.items() if old.get(key) != value]
            merged = {**old, **fields}
            items.append(Planned(row.row, path, "changed" if changed else "unchanged", merged, name, changed))
        else:
            item_id = unique_id(slug(name) or "item", ids)
            merged = {"id": item_id, **row.fields}
            items.append(Planned(row.row, f"powers/{item_id}.yaml", "new", merged, name))
        items[-1].problems = list(row.problems) or _check(row.row, items[-1].fields)
        problems += items[-1].problems if not row.problems else []
    return ImportPlan(items, problems)


def export(content_dir: Path, sheet: Path, area: str | None = None) -> int:
    """Write the folder's small-power list, or its catalogue *area*, to *sheet* in the layout
    `plan_import` reads; return how many items it holds."""
    from sync.authoring.power_table import export_rows
    from sync.authoring.sheets import write_table

    if area is not None:
        files, problems = read_folder(content_dir, "catalogue")
        entries = [entry for _path, data in files if data.get("area") == area for entry in data.get("items") or []]
        if not problems and not entries:
            problems = [tr("the folder's catalogue has no area %(area)r", area=area)]
        columns, rows = catalogue_table.export_rows(entries)
        title = tr("%(area)s: standard disclosure catalogue", area=area)
    else:
        existing, _ids, problems = _existing(content_dir)
        powers = [data for _path, data in sorted(existing.values(), key=lambda found: found[0])]
        columns, rows = export_rows(powers)
        title = tr("Small-power list")
    if problems:
        raise SourceError(problems[0].split(":", 1)[0], 1, problems[0])
    write_table(sheet, title, columns, rows)
    return len(rows)
