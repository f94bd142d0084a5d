"""What an import would do to the content folder: a plan the clerk sees first, then writes."""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.contract.files import atomic_write
from sync.contract.i18n import tr
from sync.contract.source import SourceError, read_yaml


@dataclass
class Planned:
    """One item to create or change: a file of its own (a power item) or an entry of an area's list."""

    row: int
    path: str  # in the content folder, e.g. powers/zuidi-shenghuo.yaml
    action: str  # "new", "changed" or "unchanged"
    fields: dict[str, Any]
    label: str  # how the clerk knows it: a name, or 一级 / 二级 事项
    changed: list[str] = field(default_factory=list)
    entry_of: dict[str, Any] | None = None  # an entry of the file's 'items': the new file's other fields
    problems: list[str] = field(default_factory=list)  # its row's: made a draft in the studio, never written here


@dataclass
class ImportPlan:
    items: list[Planned]
    problems: list[str]

    def counts(self) -> dict[str, int]:
        return {action: sum(1 for item in self.items if item.action == action and not item.problems)
                for action in ("new", "changed", "unchanged")}  # fmt: skip


def read_folder(content_dir: Path, folder: str) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """Every YAML file of *folder* as (path in the content folder, data), and the files that cannot be read."""
    found: list[tuple[str, dict[str, Any]]] = []
    problems = []
    for file in sorted((content_dir / folder).glob("*.yaml")) if (content_dir / folder).is_dir() else []:
        path = file.relative_to(content_dir).as_posix()
        try:
            data = read_yaml(file, path).data
        except SourceError as error:
            problems.append(str(error))
            continue
        if isinstance(data, dict):
            found.append((path, data))
    return found, problems


def unique_id(base: str, ids: set[str]) -> str:
    """*base*, or *base* with -2, -3 … when the folder has it already; the id is then taken."""
    candidate, number = base, 2
    while candidate in ids:
        candidate, number = f"{base[:36]}-{number}", number + 1
    ids.add(candidate)
    return candidate


def preview(plan: ImportPlan) -> list[str]:
    """The plan as lines for the clerk: counts, then each item to create or change."""
    lines = [tr("%(new)s new, %(changed)s changed, %(unchanged)s unchanged", **plan.counts())]
    for item in (item for item in plan.items if not item.problems):
        if item.action == "new":
            lines.append(tr("+ %(path)s  %(name)s (row %(row)s)", path=item.path, name=item.label, row=item.row))
        elif item.action == "changed":
            lines.append(tr("~ %(path)s  %(name)s (row %(row)s): %(fields)s", path=item.path, name=item.label,
                            row=item.row, fields=", ".join(item.changed)))  # fmt: skip
    return lines


SCHEMAS = {"powers": "power", "catalogue": "catalogue"}  # a folder's files and the schema they follow


def round_trip_yaml() -> Any:
    """ruamel.yaml as the folder's files are written: comments, order and quoting of a file read stay."""
    from ruamel.yaml import YAML  # only the county's authoring needs it

    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.preserve_quotes = True
    return yaml


def render(plan: ImportPlan, content_dir: Path) -> dict[str, str]:
    """The text of every file the plan creates or changes, by its path in the folder; nothing is written.

    A new file starts with the line that gives editors its schema, as the folder's files do.
    """
    yaml = round_trip_yaml()
    by_file: dict[str, list[Planned]] = defaultdict(list)
    for item in plan.items:
        if item.action != "unchanged":
            by_file[item.path].append(item)
    texts = {}
    for path, planned in by_file.items():
        target = content_dir / path
        header, data = "", None
        if target.exists():
            with target.open(encoding="utf-8-sig") as file:
                data = yaml.load(file)
        else:
            header = f"# yaml-language-server: $schema=../../schema/{SCHEMAS[path.split('/', 1)[0]]}.schema.json\n"
        for item in planned:
            if item.entry_of is None:  # the whole file is the item
                data = data if data is not None else {}
                for key in item.changed if item.action == "changed" else list(item.fields):
                    data[key] = item.fields[key]
                continue
            data = data if data is not None else {**item.entry_of, "items": []}
            entries = data["items"]
            found = next((entry for entry in entries if entry.get("id") == item.fields["id"]), None)
            if found is None:
                entries.append(item.fields)
            else:
                for key in item.changed:
                    found[key] = item.fields[key]
        text = io.StringIO(header)
        text.seek(0, io.SEEK_END)
        yaml.dump(data, text)
        texts[path] = text.getvalue()
    return texts


def write(plan: ImportPlan, content_dir: Path) -> None:
    """Write the plan's new and changed files; refuse a plan with problems."""
    if plan.problems:
        raise ValueError("a plan with problems is not written")
    for path, text in render(plan, content_dir).items():
        target = content_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, text.encode("utf-8"))
