"""A guide (我要办) as the studio's form edits it: ids made for new questions and endings, the questions and
endings an answer may lead to, and the file a new guide is written to.

A clerk need not type ids: a question or an ending left without one gets one made from its words
(pinyin, as an item's id is made from its name), unique among the guide's questions and endings, and
each answer chooses where it leads from those by their words. A new guide's file takes the next
number of the folder's (04-<id>.yaml after 03-…): the 我要办 screen lists guides in the order of
their file names. The rules a guide must keep are the validator's (sync.contract.guides).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sync.authoring import items
from sync.authoring.plan import unique_id
from sync.contract.pinyin import slug

WORDS = {"questions": "ask", "endings": "title"}  # what a question's, an ending's id is made from
_NUMBERED = re.compile(r"(\d{2})-.+\.yaml")


def with_ids(data: dict[str, Any]) -> dict[str, Any]:
    """*data* with an id made for each question and ending that has words but no id (first, as the schema has it)."""
    rows = [row for kind in WORDS for row in data.get(kind, []) if isinstance(row, dict)]
    taken = {str(row["id"]) for row in rows if row.get("id")}
    for kind, words in WORDS.items():
        entries = data.get(kind)
        if not isinstance(entries, list):
            continue
        for number, row in enumerate(entries):
            if isinstance(row, dict) and not row.get("id") and row.get(words):
                made = unique_id(slug(str(row[words]), 30) or kind[:-1], taken)
                entries[number] = {"id": made, **row}
    return data


def targets(data: dict[str, Any]) -> list[tuple[str, str, int, str]]:
    """Where an answer may lead: (id, "question" or "ending", its number, its words), questions first."""
    found = []
    for kind, words in WORDS.items():
        entries = data.get(kind)
        for number, row in enumerate(entries if isinstance(entries, list) else [], start=1):
            if isinstance(row, dict) and row.get("id"):
                found.append((str(row["id"]), kind[:-1], number, str(row.get(words, ""))))
    return found


def new_path(content_dir: Path, guide_id: str) -> str:
    """The file of a new guide *guide_id*: numbered after the folder's numbered guides, else named by its id."""
    folder = Path(content_dir) / "guides"
    numbers = [int(found.group(1)) for file in (folder.iterdir() if folder.is_dir() else [])
               if (found := _NUMBERED.fullmatch(file.name))]  # fmt: skip
    return (
        f"guides/{max(numbers) + 1:02d}-{guide_id}.yaml" if numbers and max(numbers) < 99 else f"guides/{guide_id}.yaml"
    )


def reference_names(content_dir: Path) -> dict[str, dict[str, str]]:
    """What each id an ending may name is called, by kind (powers, catalogue, notices, contacts): the form shows
    the name beside each id, so that a clerk sees at once the item meant (or that no item has that id)."""
    folder = Path(content_dir)
    names = {kind: {item.id: item.title for item in items.listed(folder, items.KINDS[name])}
             for kind, name in (("powers", "power"), ("notices", "notice"))}  # fmt: skip
    names["contacts"] = _entries(folder, "contacts.yaml", "contacts", ("name",))
    names["catalogue"] = {}
    for area in items.listed(folder, items.KINDS["catalogue"]):
        names["catalogue"].update(_entries(folder, area.path, "items", ("level2", "level1")))
    return names


def _entries(folder: Path, path: str, key: str, named_by: tuple[str, ...]) -> dict[str, str]:
    """The entries of the list *key* of the file *path*, by id: each one's first name of *named_by*."""
    listed = items.parse(items.text_of(folder, path)).get(key)
    return {str(entry["id"]): next((str(entry[name]) for name in named_by if entry.get(name)), "")
            for entry in (listed if isinstance(listed, list) else [])
            if isinstance(entry, dict) and entry.get("id")}  # fmt: skip
