"""Import a county's small-power list from .xlsx into its content folder: plan, preview, then write.

Nothing is written while any row has a problem. An item whose name the folder already has is
updated in its own file (ruamel.yaml: the file's comments and field order stay); its steps are
kept when the table lists the same step titles, so branches added in the folder are not lost.
New items get an id made from their name in pinyin, unique in the folder.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.authoring.power_table import known_headers, read_powers
from sync.authoring.sheets import read_table
from sync.contract.i18n import tr
from sync.contract.pinyin import slug
from sync.contract.procedure import procedure_problems
from sync.contract.schemas import field_name, schema_problems
from sync.contract.source import SourceError, SourceFile, read_yaml

SCHEMA_LINE = "# yaml-language-server: $schema=../../schema/power.schema.json\n"


@dataclass
class Planned:
    row: int
    path: str  # in the content folder, e.g. powers/zuidi-shenghuo.yaml
    action: str  # "new", "changed" or "unchanged"
    fields: dict[str, Any]
    changed: list[str] = field(default_factory=list)


@dataclass
class ImportPlan:
    items: list[Planned]
    problems: list[str]

    def counts(self) -> dict[str, int]:
        return {action: sum(1 for item in self.items if item.action == action) for action in ("new", "changed",
                                                                                              "unchanged")}  # fmt: skip


def _existing(content_dir: Path) -> tuple[dict[str, tuple[str, dict[str, Any]]], set[str], list[str]]:
    """Items of the folder by name (path, data), every id in use, and files that cannot be read."""
    by_name: dict[str, tuple[str, dict[str, Any]]] = {}
    ids: set[str] = set()
    problems = []
    for file in sorted((content_dir / "powers").glob("*.yaml")) if (content_dir / "powers").is_dir() else []:
        path = file.relative_to(content_dir).as_posix()
        try:
            data = read_yaml(file, path).data
        except SourceError as error:
            problems.append(str(error))
            continue
        if isinstance(data, dict):
            ids.add(str(data.get("id")))
            by_name.setdefault(str(data.get("name")), (path, data))
    return by_name, ids, problems


def _new_id(name: str, ids: set[str]) -> str:
    base = slug(name) or "item"
    candidate, number = base, 2
    while candidate in ids:
        candidate, number = f"{base[:36]}-{number}", number + 1
    ids.add(candidate)
    return candidate


def _check(row: int, data: dict[str, Any]) -> list[str]:
    """The folder's own checks on one item: its schema, then its procedure."""
    found = [f"{p.field}: {p.message}" for p in schema_problems(SourceFile("", data), "power")]
    if not found:
        found = [f"{field_name(where)}: {message}" for where, message in procedure_problems(data["steps"])]
    return [tr("row %(row)s: %(problem)s", row=row, problem=problem) for problem in found]


def plan_import(sheet: Path, content_dir: Path) -> ImportPlan:
    """What importing *sheet* into *content_dir* would create and change, and every problem found."""
    rows, problems = read_powers(read_table(sheet, known_headers()))
    existing, ids, unreadable = _existing(content_dir)
    problems += unreadable
    seen: dict[str, int] = {}
    items = []
    for row in rows:
        problems += row.problems
        if not row.fields:
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
            if [s.get("title") for s in old.get("steps", [])] == [s["title"] for s in fields["steps"]]:
                fields["steps"] = old["steps"]  # same steps: keep the folder's branches and ends
            changed = [key for key, value in fields.items() if old.get(key) != value]
            merged = {**old, **fields}
            items.append(Planned(row.row, path, "changed" if changed else "unchanged", merged, changed))
        else:
            item_id = _new_id(name, ids)
            merged = {"id": item_id, **row.fields}
            items.append(Planned(row.row, f"powers/{item_id}.yaml", "new", merged))
        problems += _check(row.row, items[-1].fields)
    return ImportPlan(items, problems)


def preview(plan: ImportPlan) -> list[str]:
    """The plan as lines for the clerk: counts, then each item to create or change."""
    counts = plan.counts()
    lines = [tr("%(new)s new, %(changed)s changed, %(unchanged)s unchanged", **counts)]
    for item in plan.items:
        name = item.fields["name"]
        if item.action == "new":
            lines.append(tr("+ %(path)s  %(name)s (row %(row)s)", path=item.path, name=name, row=item.row))
        elif item.action == "changed":
            lines.append(tr("~ %(path)s  %(name)s (row %(row)s): %(fields)s", path=item.path, name=name, row=item.row,
                            fields=", ".join(item.changed)))  # fmt: skip
    return lines


def write(plan: ImportPlan, content_dir: Path) -> None:
    """Write the plan's new and changed items; refuse a plan with problems."""
    from ruamel.yaml import YAML  # only the county's authoring needs it

    if plan.problems:
        raise ValueError("a plan with problems is not written")
    yaml = YAML()  # round trip: comments, order and quoting of an existing file stay
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    for item in plan.items:
        target = content_dir / item.path
        if item.action == "unchanged":
            continue
        if item.action == "changed":
            with target.open(encoding="utf-8-sig") as file:
                data = yaml.load(file)
            for key in item.changed:
                data[key] = item.fields[key]
            header = ""
        else:
            data, header = item.fields, SCHEMA_LINE
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=target.parent, suffix=".tmp", delete=False) as out:
            out.write(header)
            yaml.dump(data, out)
        os.replace(out.name, target)
